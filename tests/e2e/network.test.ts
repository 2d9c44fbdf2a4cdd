/**
 * The whole network as `cocoon up` runs it (localnet/up.ts): the devnet in this process, a private redis-server,
 * the bootstrapped registry with two staked providers, and real `cocoon orchestrator` / `cocoon worker` child
 * processes (SIMULATED TEE: no hardware protection). Through the client SDK and the `cocoon` CLI, OCR, VAD and
 * tensor jobs run to settlement and pay the providers and the treasury; then Redis and every child's log are
 * scanned for a plaintext marker carried by the inputs (a PNG tEXt chunk, float32 bytes of a tensor).
 */
import { execFile } from 'child_process';
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Address, toNano } from '@ton/core';
import Redis from 'ioredis';
import { ChainClient, WalletSender } from '../../protocol/chain';
import { walletFromSeed } from '../../protocol/network-file';
import { decodeTensorResponse, encodeTensorRequest } from '../../protocol/tensor-binary';
import { CocoonClient, findProviderPayout, JobEventName, JobHandle, JobResult } from '../../client/sdk';
import { LocalNetwork, startLocalNetwork } from '../../localnet/up';
import { loadCatalog, sessionOptionsFor, SHIPPED_MODEL_HASHES } from '../../worker/inference';
import * as ort from '../../worker/inference/ort';
import { MLP_FILE } from '../../worker/models/make-mlp';
import { DEFAULT_PARAMS, ProviderStake } from '../../wrappers';
import { pngWithTextChunk, scanForMarker } from '../helpers/plaintextScan';

const ROOT = path.join(__dirname, '..', '..');
// 32 ASCII bytes: eight float32 values in the tensor request, all finite (the high byte of each is printable ASCII)
const MARKER = `MKR-${randomBytes(14).toString('hex')}`;
const MARKER_BYTES = Buffer.from(MARKER, 'latin1');
const FEE_BPS = DEFAULT_PARAMS.protocolFeeBps;

const markedPng = pngWithTextChunk(fs.readFileSync(path.join(ROOT, 'demo', 'assets', 'ocr-confidential.png')), 'Comment', MARKER);
const speechWav = fs.readFileSync(path.join(ROOT, 'demo', 'assets', 'speech-16k.wav'));

/** x: float32 [1, 64] whose first 32 bytes are the marker, the rest deterministic pseudo-random values. */
function markedTensorInput(): Float32Array {
    const x = new Float32Array(64);
    let s = 4242;
    for (let i = 0; i < x.length; i++) {
        s = (s * 1103515245 + 12345) >>> 0;
        x[i] = (s / 0x100000000 - 0.5) * 4;
    }
    Buffer.from(x.buffer).set(MARKER_BYTES, 0);
    return x;
}

const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('a local Cocoon network (2 workers): happy paths and privacy', () => {
    let tmp: string;
    let net: LocalNetwork;
    let chain: ChainClient;
    let wallet: WalletSender;
    let client: CocoonClient;
    const childLogs: { name: string; line: string }[] = [];
    const settledJobs: { jobId: bigint; inputCommitment: string }[] = [];

    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-e2e-net-'));
        net = await startLocalNetwork({ workers: 2, networkFile: path.join(tmp, 'network.json'), onChildLog: (name, _stream, line) => childLogs.push({ name, line }) });
        chain = new ChainClient({ endpoint: net.network.endpoint });
        wallet = walletFromSeed(chain, net.bootstrap.client.seed);
        client = new CocoonClient({ network: net.network, wallet, chain });
    }, 120_000);

    afterAll(async () => {
        await net?.stop();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }, 60_000);

    const stakeOf = (owner: Address) => chain.open(ProviderStake.fromAddress(net.bootstrap.providers.find((p) => p.address.equals(owner))!.stakeContract));
    const earnings = async () => Promise.all(net.bootstrap.providers.map(async (p) => (await stakeOf(p.address).getState()).earnings));

    /**
     * submit → result (verified against the chain, decrypted) → accept → Settled, with what it moved: the provider
     * that ran it was paid at least its price minus the protocol fee (straight to its wallet: the worker claims with
     * the receipt, so no lock and no stake transaction), the treasury got that fee, the client paid the price plus
     * network fees.
     */
    async function runSettled(model: string, input: Buffer, onHandle?: (h: JobHandle) => void): Promise<JobResult & { jobId: bigint }> {
        const clientBefore = await wallet.getBalance();
        const treasuryBefore = await chain.getBalance(net.bootstrap.treasury.address);
        const earnedBefore = await earnings();

        const handle = await client.submit({ model, input });
        onHandle?.(handle);
        const result = await handle.result({ timeoutMs: 60_000 });
        const settled = await handle.accept({ timeoutMs: 60_000 });
        handle.close();
        expect(settled.state).toBe('Settled');
        expect((await handle.status()).state).toBe('Settled');
        expect(result.verifications.length).toBeGreaterThanOrEqual(5);
        settledJobs.push({ jobId: handle.jobId, inputCommitment: handle.inputCommitment });

        const fee = (result.price * FEE_BPS) / 10_000n;
        expect(fee).toBeGreaterThan(0n);
        const pi = net.bootstrap.providers.findIndex((p) => p.address.equals(result.provider));
        expect(pi).toBeGreaterThanOrEqual(0);
        const payout = await findProviderPayout(chain, handle.address);
        expect(payout?.via).toBe('wallet');
        expect(payout!.to.equals(result.provider)).toBe(true);
        expect(payout!.value).toBeGreaterThanOrEqual(result.price - fee);
        expect(payout!.value).toBeLessThan(result.price + toNano('0.05')); // + the claim's unused gas credit
        // nothing was paid through a stake (a claiming stake only pays its storage fee, well under 0.001 TON)
        const earnedAfter = await earnings();
        for (let i = 0; i < earnedAfter.length; i++) {
            expect(earnedBefore[i] - earnedAfter[i]).toBeGreaterThanOrEqual(0n);
            expect(earnedBefore[i] - earnedAfter[i]).toBeLessThan(toNano('0.001'));
        }
        // the treasury wallet receives the fee, less the storage fee of its own receiving transaction (a nanoTON)
        const treasuryGot = (await chain.getBalance(net.bootstrap.treasury.address)) - treasuryBefore;
        expect(treasuryGot).toBeLessThanOrEqual(fee);
        expect(treasuryGot).toBeGreaterThan(fee - 1_000n);
        const clientPaid = clientBefore - (await wallet.getBalance());
        expect(clientPaid).toBeGreaterThan(result.price);
        expect(clientPaid).toBeLessThan(result.price + 100_000_000n); // + network fees, well under 0.1 TON
        return { ...result, jobId: handle.jobId };
    }

    it('SDK: OCR of a PNG carrying a plaintext marker, verified, accepted, settled; provider and treasury paid', async () => {
        const r = await runSettled('ocr', markedPng);
        expect((r.output as { text: string }).text.replace(/\s+/g, ' ').trim()).toBe('CONFIDENTIAL 42');
    }, 90_000);

    it('SDK: VAD of a recording finds the speech between the silences, settled and paid', async () => {
        const r = await runSettled('vad', speechWav);
        const out = r.output as { segments: { start: number; end: number }[]; durationSec: number };
        expect(out.segments.length).toBeGreaterThan(0);
        // 0.8 s of silence, speech, 0.8 s of silence
        expect(out.segments[0].start).toBeGreaterThan(0.5);
        expect(out.segments[0].start).toBeLessThan(1.1);
        expect(out.segments[out.segments.length - 1].end).toBeLessThan(out.durationSec - 0.4);
    }, 90_000);

    it('SDK: a binary tensor request spelling the marker; the result equals a direct onnxruntime run bit for bit; events in order', async () => {
        const x = markedTensorInput();
        expect(bytesOf(x).subarray(0, MARKER_BYTES.length).equals(MARKER_BYTES)).toBe(true);
        const request = encodeTensorRequest({ x: { dtype: 'float32', shape: [1, 64], data: x } });
        expect(request.includes(MARKER_BYTES)).toBe(true);

        const events: JobEventName[] = [];
        const r = await runSettled('tensor', request, (h) => {
            for (const ev of ['opened', 'claimed', 'committed', 'settled', 'cancelled', 'expired'] as JobEventName[]) h.on(ev, () => events.push(ev));
        });
        expect(events).toEqual(['opened', 'claimed', 'committed', 'settled']);

        expect(r.output).toBeNull(); // a binary request gets a binary (CTB1) response, not JSON
        const y = decodeTensorResponse(r.bytes).y;
        expect(y.dtype).toBe('float32');
        expect(y.shape).toEqual([1, 16]);
        const catalog = await loadCatalog();
        const entry = catalog.byHash.get(SHIPPED_MODEL_HASHES.tensor)!;
        const direct = await ort.InferenceSession.create(MLP_FILE, sessionOptionsFor(entry));
        try {
            const ref = (await direct.run({ x: new ort.Tensor('float32', x, [1, 64]) })).y.data as Float32Array;
            expect(bytesOf(y.data).equals(bytesOf(ref))).toBe(true);
        } finally {
            await direct.release();
        }
    }, 90_000);

    it('CLI: cocoon job run --model ocr --input <marked png> --json → ok, Settled, "CONFIDENTIAL 42"', async () => {
        const input = path.join(tmp, 'marked.png');
        fs.writeFileSync(input, markedPng);
        const env: NodeJS.ProcessEnv = { ...process.env, HOME: tmp, COCOON_KEYS_DIR: path.join(tmp, 'keys') };
        delete env.COCOON_WALLET_SEED;
        delete env.COCOON_NETWORK;
        const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
            execFile(process.execPath, ['bin/cocoon.js', 'job', 'run', '--network', net.networkFile, '--model', 'ocr', '--input', input, '--json'], { cwd: ROOT, env, timeout: 80_000 }, (err, stdout, stderr) =>
                resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
            ),
        );
        expect({ code: r.code, stderr: r.code ? r.stderr : '' }).toEqual({ code: 0, stderr: '' });
        const j = JSON.parse(r.stdout);
        expect(j).toMatchObject({ ok: true, state: 'Settled', model: 'ocr' });
        expect(j.output.text.replace(/\s+/g, ' ').trim()).toBe('CONFIDENTIAL 42');
        expect(net.providers.map((p) => Address.parse(p.owner).toString())).toContain(Address.parse(j.provider).toString());
        expect(j.tee).toMatch(/simulated/);
        settledJobs.push({ jobId: BigInt(j.jobId), inputCommitment: '' });
    }, 90_000);

    it('privacy: after all of that, the marker is nowhere in Redis (any encoding) nor in any orchestrator or worker log line', async () => {
        expect(settledJobs).toHaveLength(4);
        const redis = new Redis(net.redisUrl);
        try {
            // the scan is able to see the marker: a key holding the marked PNG in base64 is found, then removed
            await redis.set('e2e:control', markedPng.toString('base64'));
            const control = await scanForMarker(redis, MARKER_BYTES);
            expect(control.hits.map((h) => h.key)).toEqual(['e2e:control']);
            await redis.del('e2e:control');

            const scan = await scanForMarker(redis, MARKER_BYTES);
            expect(scan.hits).toEqual([]);
            // it covered what the jobs left: queues (dispatch, work, expiry), the encrypted blobs, heartbeats
            const keys = await redis.keys('*');
            const has = (re: RegExp) => keys.filter((k) => re.test(k)).length;
            // (each queue name and the heartbeat keys carry a Redis Cluster hash tag: protocol/work.ts)
            expect(has(/^cocoon:\{dispatch\}:/)).toBeGreaterThan(0);
            expect(has(/^cocoon:\{work-/)).toBeGreaterThan(0);
            expect(has(/^cocoon:\{expiry\}:/)).toBeGreaterThan(0);
            expect(has(/^cocoon:\{workers\}:worker:/)).toBe(2);
            // 4 input envelopes + 4 result envelopes
            expect(has(/^cocoon:blob:[0-9a-f]{64}$/)).toBeGreaterThanOrEqual(8);
            for (const j of settledJobs.filter((j) => j.inputCommitment)) expect(await redis.exists(`cocoon:blob:${j.inputCommitment}`)).toBe(1);
            expect(scan.keys).toBeGreaterThanOrEqual(50);
            // the OCR envelopes alone (PNG ciphertexts) are tens of kilobytes each
            expect(scan.bytes).toBeGreaterThan(100_000);
        } finally {
            await redis.quit();
        }

        // the children did log the jobs (ids, owners, commitments), and never the marker
        const names = new Set(childLogs.map((l) => l.name));
        expect([...names].sort()).toEqual(['orchestrator', 'worker provider-1', 'worker provider-2']);
        const allLogs = childLogs.map((l) => l.line).join('\n');
        for (const j of settledJobs) expect(allLogs).toMatch(new RegExp(`"jobId":"?${j.jobId}\\b`));
        expect(allLogs.length).toBeGreaterThan(10_000);
        for (const form of [MARKER, MARKER_BYTES.toString('hex'), MARKER_BYTES.toString('base64').slice(1, -4)]) expect(allLogs.includes(form)).toBe(false);
    }, 30_000);
});
