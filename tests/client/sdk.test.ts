/**
 * The client SDK against a real devnet (bootstrapped registry), a real redis-server behind the real orchestrator API,
 * and "manual providers" (tests/helpers/manualProvider.ts): real enclaves with a SIMULATED TEE (no hardware
 * protection), real onnxruntime inference, real receipts checked on chain.
 */
import * as fs from 'fs';
import * as path from 'path';
import { toNano } from '@ton/core';
import { CocoonClient, CocoonError, findProviderPayout, JobEventName, ProgressEvent } from '../../client/sdk';
import { MAX_PAYLOAD_BYTES } from '../../protocol/envelope';
import { SHIPPED_MODEL_HASHES } from '../../worker/inference';
import { ProviderStake, Registry } from '../../wrappers';
import { startSdkNetwork, SdkNetwork } from '../helpers/manualProvider';

const OCR = SHIPPED_MODEL_HASHES.ocr;
const TENSOR = SHIPPED_MODEL_HASHES.tensor;
const PNG = fs.readFileSync(path.join(__dirname, '..', '..', 'demo', 'assets', 'ocr-confidential.png'));
const tensorInput = (v: number) => Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [1, 64], data: new Array(64).fill(v) } } }));

async function codeOf(p: Promise<unknown>): Promise<string> {
    try {
        await p;
    } catch (e) {
        if (e instanceof CocoonError) return e.code;
        throw e;
    }
    throw new Error('expected a CocoonError');
}

describe('client SDK: CocoonClient', () => {
    let s: SdkNetwork;
    let client: CocoonClient;

    beforeAll(async () => {
        s = await startSdkNetwork({
            providers: [
                { name: 'p1', prices: { [OCR]: toNano('0.2'), [TENSOR]: toNano('0.05') } },
                { name: 'p2', prices: { [OCR]: toNano('0.3'), [TENSOR]: toNano('0.06') }, active: false },
                // the cheapest, but the API serves a quote that is not the one on chain
                { name: 'p3', prices: { [OCR]: toNano('0.1'), [TENSOR]: toNano('0.01') }, active: false, quote: 'mismatch' },
            ],
        });
        client = new CocoonClient({ network: s.network, wallet: s.net.client.wallet, pollMs: 100 });
    }, 120_000);

    afterAll(async () => {
        await s?.close();
    });

    const [p1, p2, p3] = [0, 1, 2].map((i) => () => s.providers[i]);

    it('listProviders verifies each provider against the chain and rejects a quote that does not match it', async () => {
        const list = await client.listProviders('ocr');
        expect(list.model.hash).toBe(OCR);
        expect(list.verified.map((p) => p.owner.toRawString()).sort()).toEqual([p1().owner.toRawString(), p2().owner.toRawString()].sort());
        const v1 = list.verified.find((p) => p.owner.equals(p1().owner))!;
        expect(v1.price).toBe(toNano('0.2'));
        expect(v1.encryptionKey.equals(p1().enclave.x25519PublicKey)).toBe(true);
        expect(v1.teeType).toBe('simulated');
        expect(v1.warning).toMatch(/no hardware protection/);
        expect(list.rejected).toEqual([{ owner: p3().owner.toRawString(), error: expect.stringMatching(/^attestation hash matches the chain failed/) }]);
    });

    it('runs an OCR job end to end: events in order, verified result, accept settles and pays the provider', async () => {
        const stake = s.chain.open(ProviderStake.fromAddress(p1().stakeContract));
        const earningsBefore = (await stake.getState()).earnings;
        const clientBefore = await s.net.client.wallet.getBalance();
        const stages: string[] = [];
        const job = await client.submit({ model: 'ocr', input: PNG, onProgress: (p: ProgressEvent) => stages.push(p.stage) });
        const events: JobEventName[] = [];
        for (const e of ['opened', 'claimed', 'committed', 'settled', 'cancelled', 'expired'] as JobEventName[]) job.on(e, () => events.push(e));

        // default candidates: the two cheapest verified providers (p3 is cheaper but rejected); max price = the higher
        expect(job.candidates.map((c) => ('owner' in c ? c.owner.toRawString() : '')).sort()).toEqual([p1().owner.toRawString(), p2().owner.toRawString()].sort());
        const opened = await job.status();
        expect(opened.maxPrice).toBe(toNano('0.3'));
        expect(opened.client.equals(s.net.client.address)).toBe(true);
        expect(opened.inputCommitment).toBe(job.inputCommitment);

        const r = await job.result({ timeoutMs: 60_000 });
        expect((r.output as { text: string }).text).toContain('CONFIDENTIAL 42');
        expect(r.provider.equals(p1().owner)).toBe(true);
        expect(r.price).toBe(toNano('0.2'));
        expect(r.verifications).toHaveLength(6);

        const settled = await job.accept();
        expect(settled.state).toBe('Settled');
        await new Promise((res) => setTimeout(res, 300)); // one more poll for the listeners
        expect(events).toEqual(['opened', 'claimed', 'committed', 'settled']);
        expect(stages).toEqual(['verifying', 'providers-verified', 'encrypting', 'uploading', 'opening', 'opened', 'claimed', 'committed', 'verified', 'settled']);

        await s.devnet.waitIdle();
        const pay = toNano('0.2') - (toNano('0.2') * 250n) / 10000n; // price net of the 2.5 % protocol fee
        // this provider claims first and posts the receipt after (it holds a lock), so it is paid through its stake
        const payout = await findProviderPayout(s.chain, job.address);
        expect(payout).toMatchObject({ via: 'stake', value: pay });
        expect(payout!.to.equals(p1().stakeContract)).toBe(true);
        const earned = (await stake.getState()).earnings - earningsBefore;
        expect(earned).toBeGreaterThanOrEqual(pay);
        expect(earned).toBeLessThan(pay + toNano('0.05'));
        const paid = clientBefore - (await s.net.client.wallet.getBalance());
        expect(paid).toBeGreaterThan(toNano('0.2'));
        expect(paid).toBeLessThan(toNano('0.2') + toNano('0.05')); // price + network fees, the rest refunded
        expect(await codeOf(job.cancel())).toBe('WRONG_STATE');
    }, 120_000);

    it('concurrent submits from one wallet share its transactions, and each finds its own job in them', async () => {
        p1().paused = true;
        try {
            const seqnoBefore = await s.net.client.wallet.getSeqno();
            const jobs = await Promise.all([1, 2, 3, 4, 5].map((v) => client.submit({ model: 'tensor', input: tensorInput(v), maxPrice: toNano('1'), candidates: 1 })));
            // fewer wallet transactions than OpenJobs: the submits that reached the wallet while it waited for its
            // previous transaction left together (how many share depends on when each upload finished)
            expect((await s.net.client.wallet.getSeqno()) - seqnoBefore).toBeLessThan(5);
            expect(new Set(jobs.map((j) => String(j.jobId))).size).toBe(5);
            for (const j of jobs) {
                const st = await j.status();
                expect(st.inputCommitment).toBe(j.inputCommitment);
                expect(st.client.equals(s.net.client.address)).toBe(true);
            }
            for (const j of jobs) expect((await j.cancel()).state).toBe('Cancelled');
        } finally {
            p1().paused = false;
        }
    }, 90_000);

    it('cancel while Open refunds everything but fees; two concurrent clients each find their own job; a dead-lettered job says so', async () => {
        p1().paused = true;
        try {
            const other = new CocoonClient({ network: s.network, wallet: s.net.operator.wallet, pollMs: 100 });
            const before = await s.net.client.wallet.getBalance();
            const [mine, theirs] = await Promise.all([
                client.submit({ model: 'tensor', input: tensorInput(1), maxPrice: toNano('1'), candidates: 1 }),
                other.submit({ model: 'tensor', input: tensorInput(2), maxPrice: toNano('1'), candidates: 1 }),
            ]);
            expect(mine.jobId).not.toBe(theirs.jobId);
            const [a, b] = await Promise.all([mine.status(), theirs.status()]);
            expect(a.client.equals(s.net.client.address) && a.inputCommitment === mine.inputCommitment).toBe(true);
            expect(b.client.equals(s.net.operator.address) && b.inputCommitment === theirs.inputCommitment).toBe(true);
            expect(a.candidates.map((c) => c.toRawString())).toEqual([p1().owner.toRawString()]);

            // the orchestrator gave up on it: waiting for the result says so and points at cancel
            s.jobStatuses.set(mine.address.toRawString(), { jobId: String(mine.jobId), status: 'Open', dispatch: { state: 'dead', attempts: [], reason: 'NOT_A_RECIPIENT: every provider failed' } });
            const dead = await mine.waitFor('committed', { timeoutMs: 15_000 }).catch((e) => e);
            expect(dead).toBeInstanceOf(CocoonError);
            expect(dead.code).toBe('DEAD_LETTER');
            expect(dead.hint).toMatch(/cancel/);

            // a handle opened on the job elsewhere cannot cancel it for another wallet
            expect(await codeOf((await other.job(mine.address)).cancel())).toBe('NOT_CLIENT');

            const cancelled = await mine.cancel();
            expect(cancelled.state).toBe('Cancelled');
            await theirs.cancel();
            await s.devnet.waitIdle();
            const lost = before - (await s.net.client.wallet.getBalance());
            expect(lost).toBeGreaterThan(0n);
            expect(lost).toBeLessThan(toNano('0.05')); // the 1 TON max price and the open fee came back
            expect(await codeOf(mine.waitFor('committed', { timeoutMs: 5_000 }))).toBe('JOB_CANCELLED');
        } finally {
            p1().paused = false;
        }
    }, 90_000);

    it('a result blob altered in storage is RESULT_MISMATCH; the genuine one verifies', async () => {
        s.tamperResults.all = true;
        try {
            const job = await client.submit({ model: 'tensor', input: tensorInput(3), candidates: [p1().owner] });
            const err = await job.result({ timeoutMs: 60_000 }).catch((e) => e);
            expect(err).toBeInstanceOf(CocoonError);
            expect(err.code).toBe('RESULT_MISMATCH');
            expect(err.message).toMatch(/escrow committed to/);
            s.tamperResults.all = false;
            const r = await job.result();
            expect(Object.keys((r.output as { outputs: object }).outputs)).toContain('y');
            await job.accept();
        } finally {
            s.tamperResults.all = false;
        }
    }, 90_000);

    it('submit reuses a provider list verified moments ago; providerCacheMs 0 verifies every time', async () => {
        const providerCalls = async () => {
            const m = (await s.api.metrics.getMetricsAsJSON()).find((x) => x.name === 'cocoon_api_requests_total');
            return (m?.values ?? []).filter((v) => v.labels.route === '/v1/providers').reduce((a, v) => a + v.value, 0);
        };
        const count = async (c: CocoonClient, n: number) => {
            const before = await providerCalls();
            for (let i = 0; i < n; i++) {
                const job = await c.submit({ model: 'tensor', input: tensorInput(10 + i), candidates: [p2().owner] }); // p2 runs no worker: the job stays Open
                job.close();
                await job.cancel();
            }
            return (await providerCalls()) - before;
        };
        expect(await count(new CocoonClient({ network: s.network, wallet: s.net.client.wallet, pollMs: 100 }), 2)).toBe(1);
        expect(await count(new CocoonClient({ network: s.network, wallet: s.net.client.wallet, pollMs: 100, providerCacheMs: 0 }), 2)).toBe(2);
    });

    it('rejects bad input before any TON moves or anything is uploaded', async () => {
        const registry = s.chain.open(Registry.fromAddress(s.net.registry));
        const balance = await s.net.client.wallet.getBalance();
        const jobs = await registry.getJobCount();
        const blobs = await s.redis.dbsize();
        expect(await codeOf(client.submit({ model: 'ocr', input: Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 1) }))).toBe('INPUT_TOO_LARGE');
        expect(await codeOf(client.submit({ model: 'gpt-9', input: PNG }))).toBe('UNKNOWN_MODEL');
        expect(await codeOf(client.submit({ model: 'ocr', input: Buffer.alloc(0) }))).toBe('EMPTY_INPUT');
        expect(await codeOf(client.submit({ model: 'ocr', input: PNG, maxPrice: toNano('0.05') }))).toBe('PRICE_TOO_LOW');
        expect(await codeOf(client.submit({ model: 'ocr', input: PNG, deadlineSeconds: 3601 }))).toBe('BAD_DEADLINE');
        expect(await codeOf(client.submit({ model: 'ocr', input: PNG, candidates: [p3().owner] }))).toBe('PROVIDER_NOT_ATTESTED');
        expect(await codeOf(client.submit({ model: 'ocr', input: PNG, candidates: 5 }))).toBe('BAD_ARGUMENT');
        const poor = new CocoonClient({ network: s.network, wallet: s.net.treasury.wallet });
        expect(await codeOf(poor.submit({ model: 'ocr', input: PNG, maxPrice: toNano('5') }))).toBe('INSUFFICIENT_FUNDS');
        await s.devnet.waitIdle();
        expect(await s.net.client.wallet.getBalance()).toBe(balance);
        expect(await registry.getJobCount()).toBe(jobs);
        expect(await s.redis.dbsize()).toBe(blobs);
    }, 60_000);
});
