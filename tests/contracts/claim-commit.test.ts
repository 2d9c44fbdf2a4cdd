import '@ton/test-utils';
import { Address, toNano } from '@ton/core';
import { ExitCode, JobStatus, loadJobClaim, loadJobClaimedAndCommitted, Opcodes } from '../../wrappers';
import { createNetwork, events, hash256, MODEL_VAD, Network, NETWORK_ID, Provider, seededKeyPair, txOn } from './fixtures';

const OP = Opcodes;
const EVT = Opcodes;

// The worker's path: ClaimJob carries the enclave's receipt, and the job goes Open -> Committed in one chain
// (ClaimJob at the provider's stake, OfferClaim at the job). Any fault in the receipt rejects the whole offer,
// which bounces and releases the lock: the job stays Open for the next provider.
describe('JobEscrow: claim with the receipt attached', () => {
    let net: Network;
    let alice: Provider;

    beforeEach(async () => {
        net = await createNetwork();
        alice = await net.createProvider('alice', { stake: toNano('100') });
    });

    it('claims and commits in one chain, then settles on accept', async () => {
        const client = await net.createClient('c1');
        const { job, jobId } = await client.openJob({ maxPrice: toNano('2') });

        const { result, outputCommitment } = await alice.claimCommit(job);
        expect(result.transactions).toHaveTransaction({ from: alice.contract.address, to: job.address, op: OP.OfferClaim, success: true });
        // one event, carrying both the claim and the output commitment
        const evs = events(result);
        expect(evs.map((e) => e.tag)).toEqual([EVT.JobClaimedAndCommitted]);
        const ev = loadJobClaimedAndCommitted(evs[0].body.beginParse());
        expect(ev.jobId).toBe(jobId);
        expect(ev.provider.equals(alice.owner.address)).toBe(true);
        expect(ev.price).toBe(toNano('1'));
        expect(ev.lock).toBe(toNano('2'));
        expect(ev.outputCommitment).toBe(outputCommitment);

        const state = await job.getState();
        expect(state.status).toBe(BigInt(JobStatus.Committed));
        expect(state.outputCommitment).toBe(outputCommitment);
        expect(state.committedAt).toBe(BigInt(net.blockchain.now!));
        const claim = loadJobClaim(state.claim!.beginParse());
        expect(claim.provider.equals(alice.owner.address)).toBe(true);
        expect(claim.receiptKey).toBe(BigInt('0x' + alice.keys.publicKey.toString('hex')));
        expect(claim.measurement).toBe(alice.measurement);
        const locked = await alice.state();
        expect([locked.locked, locked.inFlight]).toEqual([toNano('2'), 1n]);

        const settled = await client.accept(job);
        expect(settled.transactions).toHaveTransaction({ from: job.address, to: alice.contract.address, op: OP.JobFinished, success: true });
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Settled));
        expect((await net.blockchain.getContract(job.address)).balance).toBe(0n);
        const after = await alice.state();
        expect([after.locked, after.inFlight]).toEqual([0n, 0n]);
    });

    // Each forgery is signed correctly by some key over some receipt: only the exact receipt of this job, network,
    // input and output, by the key the provider registered, is accepted.
    const forgeries: [string, (net: Network) => Parameters<Provider['claimCommit']>[1]][] = [
        ['signed by another key', () => ({ keys: seededKeyPair('mallory') })],
        ['for another network', () => ({ networkId: NETWORK_ID + 1 })],
        ['for another job', () => ({ jobAddress: new Address(0, Buffer.alloc(32, 7)) })],
        ['over another input', () => ({ inputCommitment: hash256('other input') })],
        ['over another output than the one sent', () => ({ signedOutput: hash256('other output') })],
    ];
    for (const [what, forge] of forgeries) {
        it(`rejects a receipt ${what} with ErrBadSignature, releases the lock and leaves the job Open`, async () => {
            const client = await net.createClient('c1');
            const { job } = await client.openJob();
            const { result } = await alice.claimCommit(job, forge(net));
            expect(result.transactions).toHaveTransaction({ from: alice.contract.address, to: job.address, op: OP.OfferClaim, exitCode: ExitCode.ErrBadSignature });
            expect(result.transactions).toHaveTransaction({ from: job.address, to: alice.contract.address, inMessageBounced: true, success: true });
            expect(events(result).map((e) => e.tag)).toEqual([EVT.LockReleased]);
            const s = await alice.state();
            expect([s.locked, s.inFlight]).toEqual([0n, 0n]);
            const state = await job.getState();
            expect(state.status).toBe(BigInt(JobStatus.Open));
            expect(state.claim).toBeNull();

            // the job is still there for an honest provider
            const bob = await net.createProvider('bob', { stake: toNano('100') });
            const { result: ok } = await bob.claimCommit(job);
            expect(txOn(ok, job.address, OP.OfferClaim).description).toMatchObject({ computePhase: { success: true } });
            expect(await job.getStatus()).toBe(BigInt(JobStatus.Committed));
        });
    }

    it('rejects a late claim with ErrDeadlinePassed and releases the lock', async () => {
        const client = await net.createClient('c1');
        const { job } = await client.openJob({ deadline: net.blockchain.now! + 60 });
        net.blockchain.now! += 60;
        const { result } = await alice.claimCommit(job);
        expect(result.transactions).toHaveTransaction({ to: job.address, op: OP.OfferClaim, exitCode: ExitCode.ErrDeadlinePassed });
        expect((await alice.state()).locked).toBe(0n);
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Open));
    });

    it('rejects a second claim on a committed job with ErrJobNotOpen, and a receipt or expiry after it', async () => {
        const bob = await net.createProvider('bob', { stake: toNano('100') });
        const client = await net.createClient('c1');
        const { job } = await client.openJob();
        await alice.claimCommit(job);

        const { result: second } = await bob.claimCommit(job);
        expect(second.transactions).toHaveTransaction({ to: job.address, op: OP.OfferClaim, exitCode: ExitCode.ErrJobNotOpen });
        expect((await bob.state()).locked).toBe(0n);

        const { result: receipt } = await net.submitReceipt(job, alice.keys, alice.owner);
        expect(receipt.transactions).toHaveTransaction({ to: job.address, op: OP.SubmitReceipt, exitCode: ExitCode.ErrJobNotClaimed });

        net.blockchain.now! += 3600;
        const expired = await net.expire(job, await net.anyone('keeper'));
        expect(expired.transactions).toHaveTransaction({ to: job.address, op: OP.ExpireJob, exitCode: ExitCode.ErrAlreadyCommitted });
        expect(loadJobClaim((await job.getState()).claim!.beginParse()).provider.equals(alice.owner.address)).toBe(true);
    });

    it('checks the claim like any other: a model the job is not for gets ErrWrongModel', async () => {
        const client = await net.createClient('c1');
        const { job } = await client.openJob();
        // alice serves VAD too; her stake prices the VAD model, the job is OCR
        const { result } = await alice.claimCommit(job, { modelHash: MODEL_VAD });
        expect(result.transactions).toHaveTransaction({ to: job.address, op: OP.OfferClaim, exitCode: ExitCode.ErrWrongModel });
        expect((await alice.state()).locked).toBe(0n);
    });
});
