import '@ton/test-utils';
import { Address, Dictionary, toNano } from '@ton/core';
import { Blockchain } from '@ton/sandbox';
import { codeLibrarianInit, ExitCode, JobCodeKind, jobEscrowCode, JobStatus, libraryCellOf, Opcodes, openJobMessage, registryInit, loadLibraryPublished } from '../../wrappers';
import { createNetwork, defaultParams, events, NETWORK_ID, START_TIME } from './fixtures';
import { runLifecycle } from './lifecycle';

// Jobs deployed with a library cell for JobEscrow's code instead of the code: the library is published in the
// masterchain by a CodeLibrarian (contracts/code_librarian.tact), and the registry refuses jobs while it is not.
describe('JobEscrow code as a masterchain library', () => {
    it('a library-mode registry deploys jobs whose code is the library cell, and they run a whole lifecycle', async () => {
        const net = await createNetwork({ jobCode: 'library' });
        const code = await jobEscrowCode();
        expect(Number(await net.registry.getJobCodeKind())).toBe(JobCodeKind.library);
        const libCell = await net.registry.getJobCode();
        expect(libCell.isExotic).toBe(true);
        expect(libCell.equals(libraryCellOf(code))).toBe(true);

        const provider = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c');
        const { job } = await runLifecycle(net, provider, client);
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Settled));
        const account = await net.blockchain.getContract(job.address);
        const state = account.accountState;
        expect(state?.type).toBe('active');
        if (state?.type === 'active') expect(state.state.code!.hash().equals(libCell.hash())).toBe(true);
    });

    it('forwards far less with every job than an inline-code registry, for the same gas at the job', async () => {
        const forwarding = async (jobCode: 'library' | 'inline') => {
            const net = await createNetwork({ jobCode });
            const client = await net.createClient('c');
            const { result, job } = await client.openJob({ maxPrice: toNano('2'), value: toNano('2.03') });
            const tx = result.transactions.find((t) => t.inMessage?.info.dest instanceof Address && t.inMessage.info.dest.equals(net.registry.address))!;
            const d = tx.description;
            if (d.type !== 'generic' || !d.actionPhase) throw new Error('no action phase');
            const init = result.transactions.find((t) => t.inMessage?.info.dest instanceof Address && t.inMessage.info.dest.equals(job.address))!;
            const g = init.description.type === 'generic' && init.description.computePhase.type === 'vm' ? init.description.computePhase.gasUsed : -1n;
            return { fwd: d.actionPhase.totalFwdFees ?? 0n, initJobGas: g };
        };
        const lib = await forwarding('library');
        const inline = await forwarding('inline');
        expect(lib.initJobGas).toBe(inline.initJobGas);
        // the deployment carries 264 bits instead of the code: less than a third of the forwarding
        expect(lib.fwd * 3n).toBeLessThan(inline.fwd);
    });

    it('refuses jobs with ErrJobCodeUnavailable (value bounced to the client) while the library is not published', async () => {
        const blockchain = await Blockchain.create({ autoDeployLibs: true });
        blockchain.now = START_TIME;
        const governance = await blockchain.treasury('governance');
        const treasury = await blockchain.treasury('treasury');
        const registry = blockchain.openContract(await registryInit(NETWORK_ID, defaultParams, treasury.address, governance.address, { jobCode: 'library' }));
        await registry.send(governance.getSender(), { value: toNano('1') }, null);
        const model = 77n;
        await registry.send(governance.getSender(), { value: toNano('0.05') }, { $$type: 'AllowModel', queryId: 0n, modelHash: model });
        const client = await blockchain.treasury('client');
        const open = async () =>
            registry.send(client.getSender(), { value: toNano('1.03') }, openJobMessage({
                maxPrice: toNano('1'), deadline: BigInt(START_TIME + 600), modelHash: model, inputCommitment: 1n, resultKey: 2n, network: await registry.getJobNetwork(),
            }));
        const refused = await open();
        expect(refused.transactions).toHaveTransaction({ to: registry.address, op: Opcodes.OpenJob, exitCode: ExitCode.ErrJobCodeUnavailable });
        expect(refused.transactions).toHaveTransaction({ from: registry.address, to: client.address, inMessageBounced: true });
        expect(await registry.getJobCount()).toBe(0n);

        // once a librarian publishes the code, the same registry opens jobs
        const librarian = blockchain.openContract(await codeLibrarianInit(governance.address, await jobEscrowCode()));
        const published = await librarian.send(governance.getSender(), { value: toNano('1') }, { $$type: 'PublishLibrary', queryId: 0n });
        const ev = events(published).find((e) => e.tag === Opcodes.LibraryPublished)!;
        expect(loadLibraryPublished(ev.body.beginParse()).codeHash).toBe(BigInt('0x' + (await jobEscrowCode()).hash().toString('hex')));
        const opened = await open();
        expect(opened.transactions).toHaveTransaction({ to: registry.address, op: Opcodes.OpenJob, success: true });
        expect(opened.transactions).toHaveTransaction({ from: registry.address, deploy: true, success: true });
        expect(await registry.getJobCount()).toBe(1n);
    });

    it('lives in the masterchain and publishes only for its owner', async () => {
        const net = await createNetwork({ jobCode: 'inline' });
        expect(net.librarian.address.workChain).toBe(-1);
        const mallory = await net.blockchain.treasury('mallory');
        const r = await net.librarian.send(mallory.getSender(), { value: toNano('1') }, { $$type: 'PublishLibrary', queryId: 0n });
        expect(r.transactions).toHaveTransaction({ to: net.librarian.address, exitCode: ExitCode.ErrNotOwner });
        expect(net.blockchain.libs).toBeUndefined();
    });

    it('an inline-code registry says so', async () => {
        const net = await createNetwork({ jobCode: 'inline' });
        expect(Number(await net.registry.getJobCodeKind())).toBe(JobCodeKind.inline);
        expect((await net.registry.getJobCode()).equals(await jobEscrowCode())).toBe(true);
    });
});
