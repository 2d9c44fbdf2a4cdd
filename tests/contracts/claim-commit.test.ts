import '@ton/test-utils';
import { Address, toNano } from '@ton/core';
import { DEFAULT_PARAMS, ExitCode, JobStatus, loadJobClaim, loadJobClaimedAndCommitted, Opcodes } from '../../wrappers';
import { createNetwork, events, EXT_OUT_INLINE_BODY_BITS, hash256, MODEL_OCR, MODEL_VAD, Network, NETWORK_ID, Provider, seededKeyPair, txOn } from './fixtures';

const OP = Opcodes;
const EVT = Opcodes;

// The worker's path: ClaimJob carries the enclave's receipt, and the job goes Open -> Committed in one chain
// (ClaimJob at the provider's stake, OfferClaim at the job). Such a claim cannot miss its deadline, so it needs the
// free stake a lock would take but takes none, and the job pays the provider's owner directly at settlement. Any
// fault in the receipt rejects the whole offer, which bounces back to the stake: the job stays Open for the next
// provider.
describe('JobEscrow: claim with the receipt attached', () => {
    let net: Network;
    let alice: Provider;

    beforeEach(async () => {
        net = await createNetwork();
        alice = await net.createProvider('alice', { stake: toNano('100') });
    });

    it('claims and commits in one chain, then settles on accept', async () => {
        const client = await net.createClient('c1');
        const { job } = await client.openJob({ maxPrice: toNano('2') });

        const { result, outputCommitment } = await alice.claimCommit(job);
        expect(result.transactions).toHaveTransaction({ from: alice.contract.address, to: job.address, op: OP.OfferClaim, success: true });
        // one event, carrying both the claim and the output commitment
        const evs = events(result);
        expect(evs.map((e) => e.tag)).toEqual([EVT.JobClaimedAndCommitted]);
        const ev = loadJobClaimedAndCommitted(evs[0].body.beginParse());
        expect(evs[0].from.equals(job.address)).toBe(true); // the job is the emitter: the event needs no job id
        expect(ev.provider.equals(alice.owner.address)).toBe(true);
        expect(ev.price).toBe(toNano('1'));
        expect(ev.outputCommitment).toBe(outputCommitment);
        // the body fits beside the header in the message's root cell: the event pays only the forwarding lump
        expect(evs[0].body.bits.length).toBeLessThanOrEqual(EXT_OUT_INLINE_BODY_BITS);
        expect(evs[0].body.refs).toHaveLength(0);

        const state = await job.getState();
        expect(state.status).toBe(BigInt(JobStatus.Committed));
        expect(state.outputCommitment).toBe(outputCommitment);
        expect(state.committedAt).toBe(BigInt(net.blockchain.now!));
        const claim = loadJobClaim(state.claim!.beginParse());
        expect(claim.provider.equals(alice.owner.address)).toBe(true);
        expect(claim.receiptKey).toBe(BigInt('0x' + alice.keys.publicKey.toString('hex')));
        expect(claim.measurement).toBe(alice.measurement);
        expect(claim.lock).toBe(0n);
        // what the offer carried beyond this transaction's budget is the provider's, held for its pay
        const offer = txOn(result, job.address, OP.OfferClaim);
        const offerValue = offer.inMessage!.info.type === 'internal' ? offer.inMessage!.info.value.coins : 0n;
        expect(claim.credit).toBeGreaterThan(0n);
        expect(claim.credit).toBeLessThan(offerValue);
        const claimed = await alice.state();
        expect([claimed.locked, claimed.inFlight]).toEqual([0n, 0n]);

        const earningsBefore = claimed.earnings;
        const settled = await client.accept(job);
        // the price net of the protocol fee, plus the credit, straight to the provider's owner: no stake transaction
        const fee = (toNano('1') * DEFAULT_PARAMS.protocolFeeBps) / 10000n;
        expect(settled.transactions).toHaveTransaction({ from: job.address, to: alice.owner.address, op: OP.JobPayment, value: toNano('1') - fee + claim.credit, success: true });
        expect(settled.transactions).not.toHaveTransaction({ to: alice.contract.address });
        expect(settled.transactions).toHaveTransaction({ from: job.address, to: net.treasury.address, value: fee });
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Settled));
        expect((await net.blockchain.getContract(job.address)).balance).toBe(0n);
        const after = await alice.state();
        expect([after.locked, after.inFlight, after.earnings]).toEqual([0n, 0n, earningsBefore]);
    });

    it('needs the free stake a lock would take: ErrInsufficientFreeStake, and the job stays Open', async () => {
        const client = await net.createClient('c1');
        const { job } = await client.openJob({ maxPrice: toNano('6') });
        // price 6 TON at lock ratio 2: the claim needs 12 TON of free stake, the stake has 11
        const poor = await net.createProvider('poor', { stake: DEFAULT_PARAMS.minProviderStake + toNano('1'), models: [[MODEL_OCR, toNano('6')]] });
        const { result } = await poor.claimCommit(job);
        expect(result.transactions).toHaveTransaction({ to: poor.contract.address, op: OP.ClaimJob, exitCode: ExitCode.ErrInsufficientFreeStake });
        expect(result.transactions).not.toHaveTransaction({ to: job.address });
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Open));
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
        it(`rejects a receipt ${what} with ErrBadSignature, returns the offer's value and leaves the job Open`, async () => {
            const client = await net.createClient('c1');
            const { job } = await client.openJob();
            const { result } = await alice.claimCommit(job, forge(net));
            expect(result.transactions).toHaveTransaction({ from: alice.contract.address, to: job.address, op: OP.OfferClaim, exitCode: ExitCode.ErrBadSignature });
            expect(result.transactions).toHaveTransaction({ from: job.address, to: alice.contract.address, inMessageBounced: true, success: true });
            expect(result.transactions).toHaveTransaction({ from: alice.contract.address, to: alice.owner.address, success: true });
            expect(events(result)).toEqual([]); // no lock was taken, so none is released
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
