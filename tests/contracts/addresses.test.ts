import { contractAddress, Dictionary } from '@ton/core';
import { JobEscrow, libraryCellOf, ProviderStake } from '../../wrappers';
import { createNetwork } from './fixtures';

// JobEscrow and ProviderStake authenticate each other by recomputing addresses from the other's code hash and a
// hand-built image of its initial data (contracts/utils.tact). If the compiler ever lays the data out differently,
// these derivations stop matching the real addresses and every claim would fail: this test says so first.
describe('address derivation without code (utils.tact)', () => {
    it.each(['library', 'inline'] as const)('the job derives the provider address the compiler computes, and vice versa (job code: %s)', async (jobCode) => {
        const net = await createNetwork({ jobCode });
        const p = await net.createProvider('alice', { stake: 10n ** 10n });
        const expected = await ProviderStake.fromInit(net.registry.address, p.owner.address, 0n, 0n, 0n, 0n, 0n, Dictionary.empty(), null);
        expect((await net.registry.getProviderAddress(p.owner.address)).equals(expected.address)).toBe(true);

        // the compiler's initial data, with the code the registry deploys (the library cell in library mode)
        const jobInit = (await JobEscrow.fromInit(net.registry.address, 7n, 0n, net.registry.address, null, null, 0n, 0n)).init!;
        const code = jobCode === 'library' ? libraryCellOf(jobInit.code) : jobInit.code;
        expect((await net.registry.getJobAddress(7n)).equals(contractAddress(0, { code, data: jobInit.data }))).toBe(true);

        // end to end: a claim only succeeds if the job derived the offering provider's address correctly, and a
        // settlement only unlocks if the provider derived the job's address correctly
        const client = await net.createClient('c');
        const { job, jobId } = await client.openJob();
        await p.claim(jobId);
        expect(await job.getStatus()).toBe(2n);
        await net.submitReceipt(job, p.keys, p.owner);
        await client.accept(job);
        expect((await p.state()).locked).toBe(0n);
    });
});
