import '@ton/test-utils';
import { beginCell, toNano } from '@ton/core';
import { ExitCode, loadJobClaim, Opcodes, storeOfferEnclave, tactConstant } from '../../wrappers';
import { claimInterleaved, createNetwork, events, hash256, MEASUREMENT, MODEL_OCR, MODEL_VAD, Network, totalFees } from './fixtures';

const EVT = Opcodes;
const OP = Opcodes;

describe('ProviderStake: stake, enclave, unstake', () => {
    let net: Network;
    beforeEach(async () => {
        net = await createNetwork();
    });

    it('deploys at the address the registry derives, stakes, tops up and returns the surplus', async () => {
        const p = await net.createProvider('alice');
        expect(p.contract.address.equals(await net.registry.getProviderAddress(p.owner.address))).toBe(true);
        const before = await p.owner.getBalance();
        const r = await p.stake(toNano('50'), toNano('60'));
        expect(events(r).map((e) => e.tag)).toEqual([EVT.Staked]);
        expect((await p.state()).stake).toBe(toNano('50'));
        // everything above the stake and the storage reserve came back
        expect(before - (await p.owner.getBalance())).toBe(toNano('50') + tactConstant('ProviderStorageReserve') + totalFees(r));
        await p.stake(toNano('5'));
        expect((await p.state()).stake).toBe(toNano('55'));
    });

    it('rejects stake from anyone but the owner and under-funded stake', async () => {
        const p = await net.createProvider('alice', { stake: toNano('20'), register: false });
        const mallory = await net.blockchain.treasury('mallory');
        const r = await p.contract.send(mallory.getSender(), { value: toNano('2') }, { $$type: 'Stake', queryId: 0n, amount: toNano('1') });
        expect(r.transactions).toHaveTransaction({ to: p.contract.address, exitCode: ExitCode.ErrNotOwner });
        const under = await p.stake(toNano('10'), toNano('10'));
        expect(under.transactions).toHaveTransaction({ to: p.contract.address, exitCode: ExitCode.ErrInsufficientValue });
        expect((await p.state()).stake).toBe(toNano('20'));
    });

    it('registers an enclave only when the registry allows its measurement and every model', async () => {
        const p = await net.createProvider('alice', { stake: toNano('20'), register: false });
        const badMeasurement = await p.register(undefined, { measurement: hash256('rogue image') });
        expect(badMeasurement.transactions).toHaveTransaction({ to: net.registry.address, op: OP.CheckEnclave, exitCode: ExitCode.ErrMeasurementNotAllowed });
        expect(events(badMeasurement).map((e) => e.tag)).toEqual([EVT.EnclaveRejected]);
        expect(await p.contract.getEnclave()).toBeNull();
        const badModel = await p.register([[MODEL_OCR, 1n], [hash256('unlisted model'), 1n]]);
        expect(badModel.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrModelNotAllowed });
        expect(await p.contract.getEnclave()).toBeNull();
        // a free model would make a claim without its receipt lock nothing, and settle as if it carried one
        const free = await p.register([[MODEL_OCR, 0n]]);
        expect(free.transactions).toHaveTransaction({ to: p.contract.address, op: OP.RegisterEnclave, exitCode: ExitCode.ErrBadEnclaveRecord });
        expect(free.transactions).not.toHaveTransaction({ to: net.registry.address });
        expect(await p.contract.getEnclave()).toBeNull();
        const ok = await p.register();
        expect(events(ok).map((e) => e.tag)).toEqual([EVT.EnclaveRegistered]);
        const e = await p.contract.getEnclave();
        expect(e!.measurement).toBe(MEASUREMENT);
        expect(e!.receiptKey).toBe(BigInt('0x' + p.keys.publicKey.toString('hex')));
        expect((await p.contract.getModels()).get(MODEL_OCR)).toBe(toNano('1'));
    });

    it('refuses a forged registry approval and a forged job finish', async () => {
        const p = await net.createProvider('alice', { stake: toNano('20') });
        const mallory = await net.blockchain.treasury('mallory');
        const forged = await p.contract.send(mallory.getSender(), { value: toNano('0.1') }, {
            $$type: 'JobFinished', lock: 0n, slash: toNano('20'), jobId: 0n, pay: 0n, client: mallory.address,
        });
        expect(forged.transactions).toHaveTransaction({ to: p.contract.address, exitCode: ExitCode.ErrNotJobContract });
        const forgedRevocation = await p.contract.send(mallory.getSender(), { value: toNano('0.1') }, {
            $$type: 'ApplyRevocation', kind: 1n, hash: MEASUREMENT, excessTo: mallory.address,
        });
        expect(forgedRevocation.transactions).toHaveTransaction({ to: p.contract.address, exitCode: ExitCode.ErrNotRegistry });
        expect((await p.state()).stake).toBe(toNano('20'));
    });

    it('unstakes through the cooldown; locked stake cannot leave until its job ends', async () => {
        net = await createNetwork({ params: { unstakeCooldown: 300n } }); // shorter than the job's deadline
        const p = await net.createProvider('alice', { stake: toNano('20') });
        const client = await net.createClient('c');
        const { job, jobId } = await client.openJob();
        await p.claim(jobId); // locks 2 TON
        const tooMuch = await p.requestUnstake(toNano('21'));
        expect(tooMuch.transactions).toHaveTransaction({ to: p.contract.address, exitCode: ExitCode.ErrBadAmount });
        await p.requestUnstake(toNano('20'));
        const early = await p.withdrawStake();
        expect(early.transactions).toHaveTransaction({ to: p.contract.address, exitCode: ExitCode.ErrCooldownActive });
        net.blockchain.now! += 300;
        const locked = await p.withdrawStake();
        expect(locked.transactions).toHaveTransaction({ to: p.contract.address, exitCode: ExitCode.ErrStakeLocked });
        await net.submitReceipt(job, p.keys, p.owner);
        await client.accept(job);
        const before = await p.owner.getBalance();
        const ok = await p.withdrawStake();
        expect(ok.transactions).toHaveTransaction({ from: p.contract.address, to: p.owner.address, success: true });
        expect((await p.owner.getBalance()) - before).toBeGreaterThan(toNano('20'));
        const s = await p.state();
        expect(s.stake).toBe(0n);
        expect(s.pendingUnstake).toBe(0n);
        const none = await p.withdrawStake();
        expect(none.transactions).toHaveTransaction({ to: p.contract.address, exitCode: ExitCode.ErrNothingToWithdraw });
    });

    it('stops claiming below the minimum stake or without free stake', async () => {
        const small = await net.createProvider('small', { stake: toNano('5') });
        const client = await net.createClient('c');
        const { jobId } = await client.openJob();
        const r = await small.claim(jobId);
        expect(r.transactions).toHaveTransaction({ to: small.contract.address, exitCode: ExitCode.ErrInsufficientStake });
        const tight = await net.createProvider('tight', { stake: toNano('11') });
        for (let i = 0; i < 5; i++) await client.openJob();
        for (let i = 1; i <= 5; i++) await tight.claim(BigInt(i)); // 2 TON each: 10 of 11 locked
        const s = await tight.state();
        expect(s.locked).toBe(toNano('10'));
        const { jobId: last } = await client.openJob();
        const r2 = await tight.claim(last);
        expect(r2.transactions).toHaveTransaction({ to: tight.contract.address, exitCode: ExitCode.ErrInsufficientFreeStake });
        const underfunded = await tight.claim(last, MODEL_OCR, toNano('0.005'));
        expect(underfunded.transactions).toHaveTransaction({ to: tight.contract.address, exitCode: ExitCode.ErrInsufficientValue });
        const notServed = await tight.claim(last, hash256('model:other'));
        expect(notServed.transactions).toHaveTransaction({ to: tight.contract.address, exitCode: ExitCode.ErrModelNotServed });
    });

    it('lets the owner withdraw earnings but never stake', async () => {
        const p = await net.createProvider('alice', { stake: toNano('20') });
        const client = await net.createClient('c');
        const { job, jobId } = await client.openJob();
        await p.claim(jobId);
        await net.submitReceipt(job, p.keys, p.owner);
        await client.accept(job);
        const earned = (await p.state()).earnings;
        expect(earned).toBeGreaterThan(toNano('0.975'));
        const before = await p.owner.getBalance();
        const r = await p.withdrawEarnings();
        expect((await p.owner.getBalance()) - before).toBe(earned - totalFees(r) + 0n);
        const s = await p.state();
        expect(s.stake).toBe(toNano('20'));
        expect((await net.blockchain.getContract(p.contract.address)).balance).toBe(toNano('20') + tactConstant('ProviderStorageReserve'));
    });

    it('lets governance slash unlocked stake to the treasury, and nobody else', async () => {
        const p = await net.createProvider('alice', { stake: toNano('20') });
        const mallory = await net.blockchain.treasury('mallory');
        const denied = await net.registry.send(mallory.getSender(), { value: toNano('0.1') }, { $$type: 'SlashProvider', queryId: 0n, owner: p.owner.address, amount: toNano('5') });
        expect(denied.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrNotOwner });
        const r = await net.registry.send(net.governance.getSender(), { value: toNano('0.1') }, { $$type: 'SlashProvider', queryId: 0n, owner: p.owner.address, amount: toNano('5') });
        expect(r.transactions).toHaveTransaction({ from: p.contract.address, to: net.treasury.address, value: toNano('5') });
        expect((await p.state()).stake).toBe(toNano('15'));
    });
});

describe('ProviderStake: claims', () => {
    let net: Network;
    beforeEach(async () => {
        net = await createNetwork();
    });

    it('concurrent claims on one job: exactly one winner, every loser unlocked', async () => {
        const providers = await Promise.all(['a', 'b', 'c'].map((n) => net.createProvider(n, { stake: toNano('50') })));
        const client = await net.createClient('c');
        const { job, jobId } = await client.openJob();
        // all three offers are in flight before the job processes any of them (interleaved delivery)
        const results = await claimInterleaved(net, providers.map((p) => p.contract.address), providers.map((p) => p.owner.address), jobId);
        const winners = results.filter((r) => events(r).some((e) => e.tag === EVT.JobClaimed));
        expect(winners).toHaveLength(1);
        const losers = results.filter((r) => events(r).some((e) => e.tag === EVT.LockReleased));
        expect(losers).toHaveLength(2);
        for (const r of losers) expect(r.transactions).toHaveTransaction({ to: job.address, op: OP.OfferClaim, exitCode: ExitCode.ErrJobNotOpen });
        const states = await Promise.all(providers.map((p) => p.state()));
        expect(states.filter((s) => s.locked === toNano('2'))).toHaveLength(1);
        expect(states.filter((s) => s.locked === 0n && s.inFlight === 0n)).toHaveLength(2);
    });

    it('a claim for a job that does not exist bounces and releases the lock', async () => {
        const p = await net.createProvider('alice', { stake: toNano('20') });
        const r = await p.claim(42n);
        expect(events(r).map((e) => e.tag)).toEqual([EVT.LockReleased]);
        expect((await p.state()).locked).toBe(0n);
    });

    it('enforces candidates, max price and the lock ratio at the job', async () => {
        const a = await net.createProvider('a', { stake: toNano('50') });
        const b = await net.createProvider('b', { stake: toNano('50') });
        const client = await net.createClient('c');
        const { jobId } = await client.openJob({ candidates: [a.owner.address] });
        const notCandidate = await b.claim(jobId);
        expect(notCandidate.transactions).toHaveTransaction({ op: OP.OfferClaim, exitCode: ExitCode.ErrNotCandidate });
        expect((await b.state()).locked).toBe(0n);
        const ok = await a.claim(jobId);
        expect(events(ok).map((e) => e.tag)).toEqual([EVT.JobClaimed]);

        const { jobId: cheap } = await client.openJob({ maxPrice: toNano('0.5') });
        const tooExpensive = await a.claim(cheap); // a asks 1 TON for OCR
        expect(tooExpensive.transactions).toHaveTransaction({ op: OP.OfferClaim, exitCode: ExitCode.ErrPriceAboveMax });
        const { jobId: vadJob } = await client.openJob({ modelHash: MODEL_VAD });
        const wrongModel = await a.claim(vadJob, MODEL_OCR);
        expect(wrongModel.transactions).toHaveTransaction({ op: OP.OfferClaim, exitCode: ExitCode.ErrWrongModel });
        const { jobId: late } = await client.openJob();
        net.blockchain.now! += 601;
        const expired = await a.claim(late);
        expect(expired.transactions).toHaveTransaction({ op: OP.OfferClaim, exitCode: ExitCode.ErrDeadlinePassed });
        expect((await a.state()).locked).toBe(toNano('2'));
    });

    it('a revoked measurement or model stops new claims once anyone prunes the provider', async () => {
        const p = await net.createProvider('alice', { stake: toNano('50') });
        const client = await net.createClient('c');
        const keeper = await net.blockchain.treasury('keeper');
        const prune = (kind: bigint, hash: bigint) =>
            net.registry.send(keeper.getSender(), { value: toNano('0.05') }, { $$type: 'PruneProvider', queryId: 0n, owner: p.owner.address, kind, hash });

        const stillAllowed = await prune(2n, MODEL_OCR);
        expect(stillAllowed.transactions).toHaveTransaction({ to: net.registry.address, exitCode: ExitCode.ErrStillAllowed });

        await net.gov.revokeModel(MODEL_OCR);
        const pr = await prune(2n, MODEL_OCR);
        expect(pr.transactions).toHaveTransaction({ from: net.registry.address, to: p.contract.address, op: OP.ApplyRevocation, success: true });
        expect(events(pr).map((e) => e.tag)).toContain(EVT.EnclaveRevoked);
        expect((await p.contract.getModels()).get(MODEL_OCR)).toBeUndefined();
        await net.gov.allowModel(MODEL_OCR); // re-allowing does not restore the provider's listing
        const { jobId } = await client.openJob();
        const r = await p.claim(jobId);
        expect(r.transactions).toHaveTransaction({ to: p.contract.address, exitCode: ExitCode.ErrModelNotServed });

        await net.gov.revokeMeasurement(MEASUREMENT);
        await prune(1n, MEASUREMENT);
        expect(await p.contract.getEnclave()).toBeNull();
        const { jobId: vad } = await client.openJob({ modelHash: MODEL_VAD });
        const r2 = await p.claim(vad, MODEL_VAD);
        expect(r2.transactions).toHaveTransaction({ to: p.contract.address, exitCode: ExitCode.ErrNoEnclave });
    });

    it('offers carry the enclave and prices of the latest approval: re-registering replaces them', async () => {
        const p = await net.createProvider('alice', { stake: toNano('50') });
        const client = await net.createClient('c');
        // a new receipt key and a new OCR price: every offer cell is rebuilt at approval
        const newKey = hash256('rotated receipt key');
        await p.register([[MODEL_OCR, toNano('1.5')]], { receiptKey: newKey });
        const { jobId, job } = await client.openJob({ maxPrice: toNano('2') });
        const r = await p.claim(jobId);
        expect(r.transactions).toHaveTransaction({ to: job.address, op: OP.OfferClaim, success: true });
        const claim = loadJobClaim((await job.getState()).claim!.beginParse());
        expect([claim.receiptKey, claim.price, claim.measurement]).toEqual([newKey, toNano('1.5'), MEASUREMENT]);
        // VAD is no longer served after the new registration
        const { jobId: vad } = await client.openJob({ modelHash: MODEL_VAD });
        const r2 = await p.claim(vad, MODEL_VAD);
        expect(r2.transactions).toHaveTransaction({ to: p.contract.address, op: OP.ClaimJob, exitCode: ExitCode.ErrModelNotServed });
    });

    it('refuses an offer from a contract that is not a genuine ProviderStake', async () => {
        const client = await net.createClient('c');
        const { job } = await client.openJob();
        const mallory = await net.blockchain.treasury('mallory');
        const r = await job.send(mallory.getSender(), { value: toNano('0.1') }, {
            $$type: 'OfferClaim', lock: 0n, jobId: 0n, owner: mallory.address,
            enclave: beginCell().store(storeOfferEnclave({ $$type: 'OfferEnclave', modelHash: MODEL_OCR, receiptKey: 1n, measurement: MEASUREMENT, price: 1n })).endCell(),
            receipt: null,
        });
        expect(r.transactions).toHaveTransaction({ to: job.address, exitCode: ExitCode.ErrNotProviderContract });
    });
});
