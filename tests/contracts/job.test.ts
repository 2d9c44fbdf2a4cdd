import '@ton/test-utils';
import { Address, beginCell, toNano } from '@ton/core';
import { ExitCode, jobSpecCell, JobStatus, loadJobClaim, loadJobTerms, Opcodes, tactConstant } from '../../wrappers';
import {
    createNetwork,
    events,
    hash256,
    MODEL_VAD,
    MODEL_OCR,
    Network,
    NETWORK_ID,
    seededKeyPair,
    totalFees,
    txOn,
} from './fixtures';

const OP = Opcodes;
const EVT = Opcodes;

describe('JobEscrow lifecycle', () => {
    let net: Network;

    beforeEach(async () => {
        net = await createNetwork();
    });

    it('opens, is claimed, commits a receipt relayed by anyone, and settles when the client accepts', async () => {
        const alice = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c1');
        const clientBefore = await client.wallet.getBalance();

        const { result: opened, jobId, job } = await client.openJob({ maxPrice: toNano('2') });
        expect(opened.transactions).toHaveTransaction({ from: net.registry.address, to: job.address, deploy: true, success: true });
        expect(events(opened).map((e) => e.tag)).toContain(EVT.JobOpened);
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Open));

        const claimed = await alice.claim(jobId);
        expect(claimed.transactions).toHaveTransaction({ from: alice.contract.address, to: job.address, op: OP.OfferClaim, success: true });
        expect(events(claimed).map((e) => e.tag)).toEqual([EVT.JobClaimed]);
        let s = await alice.state();
        expect(s.locked).toBe(toNano('2')); // price 1 TON x lock ratio 2
        expect(s.inFlight).toBe(1n);
        const claim = loadJobClaim((await job.getState()).claim!.beginParse());
        expect(claim.provider.equals(alice.owner.address)).toBe(true);
        expect(claim.price).toBe(toNano('1'));

        const relayer = await net.anyone('relayer');
        const { result: committed, outputCommitment } = await net.submitReceipt(job, alice.keys, relayer);
        expect(committed.transactions).toHaveTransaction({ from: relayer.address, to: job.address, op: OP.SubmitReceipt, success: true });
        expect((await job.getState()).outputCommitment).toBe(outputCommitment);

        const earningsBefore = s.earnings;
        const settled = await client.accept(job);
        // a claim with a lock is paid through the stake, which releases the lock: pay, the offer's credit, and the
        // gas allowance of the stake's transaction
        const fee = (toNano('1') * 250n) / 10000n;
        const allowance = tactConstant('ProviderFinishAllowance');
        expect(claim.lock).toBe(toNano('2'));
        expect(claim.credit).toBeGreaterThan(0n);
        expect(settled.transactions).toHaveTransaction({ from: job.address, to: alice.contract.address, op: OP.JobFinished, value: toNano('1') - fee + claim.credit + allowance, success: true });
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Settled));
        expect((await net.blockchain.getContract(job.address)).balance).toBe(0n);

        s = await alice.state();
        expect(s.locked).toBe(0n);
        expect(s.inFlight).toBe(0n);
        expect(s.earnings - earningsBefore).toBeGreaterThanOrEqual(toNano('1') - fee);
        expect(settled.transactions).toHaveTransaction({ from: job.address, to: net.treasury.address, value: fee });
        // the client paid the price plus fees, far less than the 2 TON max price
        const spent = clientBefore - (await client.wallet.getBalance());
        expect(spent).toBeGreaterThan(toNano('1'));
        expect(spent).toBeLessThan(toNano('1.05'));
    });

    it('refunds a large overpayment at open and keeps price + fee in the job', async () => {
        const client = await net.createClient('c1');
        const { result, job } = await client.openJob({ maxPrice: toNano('1'), value: toNano('11') });
        expect(result.transactions).toHaveTransaction({ from: net.registry.address, to: client.wallet.address, success: true });
        const balance = (await net.blockchain.getContract(job.address)).balance;
        expect(balance).toBeLessThanOrEqual(toNano('1.03'));
        expect(balance).toBeGreaterThan(toNano('1'));
    });

    it('rejects under-payment with ErrInsufficientValue and bounces the value back', async () => {
        const client = await net.createClient('c1');
        const before = await client.wallet.getBalance();
        const { result, job } = await client.openJob({ maxPrice: toNano('1'), value: toNano('1.01') });
        expect(result.transactions).toHaveTransaction({ to: net.registry.address, success: false, exitCode: ExitCode.ErrInsufficientValue });
        expect(result.transactions).toHaveTransaction({ from: net.registry.address, to: client.wallet.address, inMessageBounced: true });
        expect(before - (await client.wallet.getBalance())).toBeLessThan(toNano('0.01'));
        expect((await net.blockchain.getContract(job.address)).accountState?.type).not.toBe('active');
        expect(await net.registry.getJobCount()).toBe(0n);
    });

    it('rejects a spec carrying other network terms than the current ones (ErrStaleNetworkTerms), value bounced', async () => {
        const client = await net.createClient('c1');
        const current = await net.registry.getJobNetwork();
        // the terms a client read before governance raised the protocol fee
        await net.gov.setParams({ protocolFeeBps: 500n });
        const before = await client.wallet.getBalance();
        const stale = await client.openJob({ network: current });
        expect(stale.result.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrStaleNetworkTerms });
        expect(stale.result.transactions).toHaveTransaction({ from: net.registry.address, to: client.wallet.address, inMessageBounced: true });
        expect(before - (await client.wallet.getBalance())).toBeLessThan(toNano('0.01'));
        expect(await net.registry.getJobCount()).toBe(0n);
        // the new terms open the job, and the job runs under them
        const { job } = await client.openJob();
        expect(loadJobTerms((await job.getState()).terms!.beginParse()).network.protocolFeeBps).toBe(500n);
    });

    it('rejects a spec cell with anything after its fields (cell underflow of the whole parse: exit code 9)', async () => {
        const client = await net.createClient('c1');
        const spec = jobSpecCell({ modelHash: MODEL_OCR, inputCommitment: 1n, resultKey: 2n, maxPrice: toNano('1'), deadline: BigInt(net.blockchain.now! + 600), network: await net.registry.getJobNetwork() });
        const longer = beginCell().storeSlice(spec.beginParse()).storeUint(1, 8).endCell();
        const r = await net.registry.send(client.wallet.getSender(), { value: toNano('1.05') }, { $$type: 'OpenJob', queryId: 0n, spec: longer });
        expect(r.transactions).toHaveTransaction({ to: net.registry.address, success: false, exitCode: 9 });
        expect(r.transactions).toHaveTransaction({ from: net.registry.address, to: client.wallet.address, inMessageBounced: true });
        expect(await net.registry.getJobCount()).toBe(0n);
    });

    it('opens a job for a model off the allowlist, which nobody can claim, and the client cancels it for a full refund', async () => {
        // the allowlist is enforced where models are served: the registry approves only allowed models into a
        // provider's offers, so OpenJob does not look the model up (the SDK and scripts check it before paying)
        const alice = await net.createProvider('alice', { stake: toNano('100') });
        const unknown = hash256('model:unknown');
        const refused = await alice.register([[MODEL_OCR, toNano('1')], [unknown, toNano('1')]]);
        expect(refused.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrModelNotAllowed });
        const client = await net.createClient('c1');
        const before = await client.wallet.getBalance();
        const { jobId, job, result: opened } = await client.openJob({ modelHash: unknown });
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Open));
        const notServed = await alice.claim(jobId, unknown);
        expect(notServed.transactions).toHaveTransaction({ to: alice.contract.address, op: OP.ClaimJob, exitCode: ExitCode.ErrModelNotServed });
        const otherModel = await alice.claim(jobId, MODEL_OCR);
        expect(otherModel.transactions).toHaveTransaction({ to: job.address, op: OP.OfferClaim, exitCode: ExitCode.ErrWrongModel });
        expect((await alice.state()).locked).toBe(0n);
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Open));
        const cancelled = await client.cancel(job);
        expect(events(cancelled).map((e) => e.tag)).toEqual([EVT.JobCancelled]);
        expect(before - (await client.wallet.getBalance())).toBe(totalFees(opened) + totalFees(cancelled));
    });

    it('rejects a deadline in the past or too far, too many candidates and a zero price', async () => {
        const client = await net.createClient('c1');
        const past = await client.openJob({ deadline: net.blockchain.now! - 1 });
        expect(past.result.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrBadDeadline });
        const far = await client.openJob({ deadline: net.blockchain.now! + 86401 });
        expect(far.result.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrBadDeadline });
        const many = await client.openJob({
            candidates: [1, 2, 3, 4, 5].map((i) => new Address(0, Buffer.alloc(32, i))),
        });
        expect(many.result.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrTooManyCandidates });
        const zero = await client.openJob({ maxPrice: 0n });
        expect(zero.result.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrBadPrice });
        expect(await net.registry.getJobCount()).toBe(0n);
    });

    it('lets the client cancel before any claim for a full refund, and only the client', async () => {
        const client = await net.createClient('c1');
        const before = await client.wallet.getBalance();
        const { job, result: opened } = await client.openJob({ maxPrice: toNano('2') });
        const stranger = await net.anyone('stranger');
        const denied = await job.send(stranger.getSender(), { value: toNano('0.05') }, { $$type: 'CancelJob', queryId: 0n });
        expect(denied.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrNotClient });
        const cancelled = await client.cancel(job);
        expect(events(cancelled).map((e) => e.tag)).toEqual([EVT.JobCancelled]);
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Cancelled));
        expect((await net.blockchain.getContract(job.address)).balance).toBe(0n);
        // the client lost exactly the network fees of opening and cancelling: nothing stays in any contract
        expect(before - (await client.wallet.getBalance())).toBe(totalFees(opened) + totalFees(cancelled));
        const again = await client.cancel(job);
        expect(again.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrJobFinished });
    });

    it('cannot be cancelled once claimed', async () => {
        const alice = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c1');
        const { job, jobId } = await client.openJob();
        await alice.claim(jobId);
        const r = await client.cancel(job);
        expect(r.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrJobNotOpen });
    });

    it('settles permissionlessly only after the dispute window', async () => {
        const alice = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c1');
        const { job, jobId } = await client.openJob();
        await alice.claim(jobId);
        await net.submitReceipt(job, alice.keys, alice.owner);
        const early = await net.settle(job, alice.owner);
        expect(early.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrDisputeWindowOpen });
        net.blockchain.now! += 3600;
        const ok = await net.settle(job, alice.owner);
        expect(ok.transactions).toHaveTransaction({ to: job.address, op: OP.Settle, success: true });
        expect(events(ok).map((e) => e.tag)).toContain(EVT.JobSettled);
        const twice = await net.settle(job, alice.owner);
        expect(twice.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrJobFinished });
        const acceptAfter = await client.accept(job);
        expect(acceptAfter.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrJobFinished });
    });

    it('only the client may accept, and not before a receipt', async () => {
        const alice = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c1');
        const { job, jobId } = await client.openJob();
        await alice.claim(jobId);
        const tooEarly = await client.accept(job);
        expect(tooEarly.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrJobNotCommitted });
        await net.submitReceipt(job, alice.keys, alice.owner);
        const byProvider = await job.send(alice.owner.getSender(), { value: toNano('0.05') }, { $$type: 'AcceptResult', queryId: 0n });
        expect(byProvider.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrNotClient });
    });
});

describe('JobEscrow receipts', () => {
    let net: Network;
    beforeEach(async () => {
        net = await createNetwork();
    });

    async function claimedJob() {
        const alice = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c1');
        const { job, jobId } = await client.openJob();
        await alice.claim(jobId);
        return { alice, client, job, jobId };
    }

    it('rejects a receipt signed by another key', async () => {
        const { job } = await claimedJob();
        const { result } = await net.submitReceipt(job, seededKeyPair('mallory'), await net.anyone('m'));
        expect(result.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrBadSignature });
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Claimed));
    });

    it('rejects a receipt signed for another job, another network or another input', async () => {
        const { alice, job } = await claimedJob();
        const relayer = await net.anyone('r');
        const otherJob = await net.submitReceipt(job, alice.keys, relayer, { jobAddress: await net.registry.getJobAddress(99n) });
        expect(otherJob.result.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrBadSignature });
        const otherNet = await net.submitReceipt(job, alice.keys, relayer, { networkId: NETWORK_ID + 1 });
        expect(otherNet.result.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrBadSignature });
        const otherInput = await net.submitReceipt(job, alice.keys, relayer, { inputCommitment: hash256('other input') });
        expect(otherInput.result.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrBadSignature });
        const good = await net.submitReceipt(job, alice.keys, relayer);
        expect(good.result.transactions).toHaveTransaction({ to: job.address, op: OP.SubmitReceipt, success: true });
    });

    it('rejects a late receipt, and a receipt on an open job', async () => {
        const client = await net.createClient('c1');
        const { job: openJob } = await client.openJob();
        const relayer = await net.anyone('r');
        const sig = await openJob.send(relayer.getSender(), { value: toNano('0.05') }, {
            $$type: 'SubmitReceipt', queryId: 0n, outputCommitment: 1n, signature: Buffer.alloc(64),
        });
        expect(sig.transactions).toHaveTransaction({ to: openJob.address, exitCode: ExitCode.ErrJobNotClaimed });

        const { alice, job } = await claimedJob();
        net.blockchain.now! += 601;
        const { result } = await net.submitReceipt(job, alice.keys, relayer);
        expect(result.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrDeadlinePassed });
    });

    it('rejects a second receipt once committed', async () => {
        const { alice, job } = await claimedJob();
        await net.submitReceipt(job, alice.keys, alice.owner);
        const { result } = await net.submitReceipt(job, alice.keys, alice.owner, { outputCommitment: 7n });
        expect(result.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrJobNotClaimed });
    });
});

describe('JobEscrow expiry and slashing', () => {
    let net: Network;
    beforeEach(async () => {
        net = await createNetwork();
    });

    it('expires a claimed job after the deadline: full refund plus the slashed half of the lock, rest unlocked', async () => {
        const alice = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c1');
        const before = await client.wallet.getBalance();
        const { job, jobId } = await client.openJob({ maxPrice: toNano('2') });
        await alice.claim(jobId);
        const keeper = await net.anyone('keeper');
        const early = await net.expire(job, keeper);
        expect(early.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrDeadlineNotReached });

        net.blockchain.now! += 601;
        const credit = loadJobClaim((await job.getState()).claim!.beginParse()).credit;
        const r = await net.expire(job, keeper);
        expect(events(r).map((e) => e.tag).sort()).toEqual([EVT.JobExpired, EVT.StakeSlashed].sort());
        // the unlock returns the offer's credit to the provider's stake (no pay)
        expect(r.transactions).toHaveTransaction({ from: job.address, to: alice.contract.address, op: OP.JobFinished, value: credit + tactConstant('ProviderFinishAllowance') });
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Expired));
        const s = await alice.state();
        expect(s.locked).toBe(0n);
        expect(s.inFlight).toBe(0n);
        expect(s.stake).toBe(toNano('99')); // lock 2 TON x slash 50 %
        const gained = (await client.wallet.getBalance()) - before;
        expect(gained).toBeGreaterThan(toNano('0.95'));
        expect(gained).toBeLessThan(toNano('1'));
        const again = await net.expire(job, keeper);
        expect(again.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrJobFinished });
    });

    it('expires an unclaimed job with a full refund and no slash', async () => {
        const client = await net.createClient('c1');
        const before = await client.wallet.getBalance();
        const { job, result: opened } = await client.openJob({ maxPrice: toNano('2') });
        net.blockchain.now! += 601;
        const r = await net.expire(job, client.wallet);
        expect(events(r).map((e) => e.tag)).toEqual([EVT.JobExpired]);
        expect(before - (await client.wallet.getBalance())).toBe(totalFees(opened) + totalFees(r));
    });

    it('cannot expire a job whose receipt arrived in time', async () => {
        const alice = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c1');
        const { job, jobId } = await client.openJob();
        await alice.claim(jobId);
        await net.submitReceipt(job, alice.keys, alice.owner);
        net.blockchain.now! += 601;
        const r = await net.expire(job, client.wallet);
        expect(r.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrAlreadyCommitted });
    });

    it('keeps a finished job readable a year later with nothing left to pay storage from', async () => {
        const alice = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c1');
        const { job, jobId } = await client.openJob();
        await alice.claim(jobId);
        await net.submitReceipt(job, alice.keys, alice.owner);
        await client.accept(job);
        net.blockchain.now! += 365 * 86400;
        // a year of storage debt is tiny: a late message still executes and is rejected by state, not by freezing
        const late = await client.accept(job);
        expect(late.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrJobFinished });
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Settled));
        // the provider contract pays a year of storage from its reserve and keeps its full stake
        const s = await alice.state();
        expect(s.stake).toBe(toNano('100'));
        const balance = (await net.blockchain.getContract(alice.contract.address)).balance;
        expect(balance).toBeGreaterThan(s.stake);
    });
});
