/**
 * WorkerService end to end on one machine: the in-process devnet (real contracts, real wallets), a private
 * redis-server, the orchestrator's blob API, real onnxruntime and real envelopes. The test plays the client
 * (seal, upload, OpenJob) and the dispatcher (SET assignment, enqueue); the worker does the rest.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Writable } from 'stream';
import { Address, beginCell, toNano } from '@ton/core';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import pino from 'pino';
import { startDevnet, Devnet } from '../../devnet';
import { ChainClient } from '../../protocol/chain';
import { attestationHash, devVendorKeyPair, SimulatedTee } from '../../protocol/attestation';
import { generateX25519KeyPair, openResult, x25519Recipient } from '../../protocol/envelope';
import { bufferToUint256 } from '../../protocol/receipt';
import { decodeHeartbeat, KEYS, QUEUE_PREFIX, WorkItem, WorkOutcome, workQueueName } from '../../protocol/work';
import { bootstrapNetwork, BootstrappedNetwork } from '../../localnet/bootstrap';
import { BlobStore } from '../../orchestrator/blobs';
import { ApiServer, createApiServer } from '../../orchestrator/api';
import { Enclave } from '../../worker/enclave/enclave';
import { InferenceEngine, SHIPPED_MODEL_HASHES } from '../../worker/inference';
import { WorkerService } from '../../worker/service';
import { refusedAt, sendClaim } from '../../worker/service/chain';
import { JobEscrow, JobStatus, ProviderStake, providerEnclave, storeAcceptResult } from '../../wrappers';
import { RedisServer, startRedis } from '../helpers/redis';
import { dispatchItem, openTestJob, OpenedTestJob, outcomeListener, workItemFor } from '../helpers/workItem';

jest.setTimeout(60_000);

const ROOT = path.join(__dirname, '..', '..');
const OCR_IMAGE = fs.readFileSync(path.join(ROOT, 'demo', 'assets', 'ocr-confidential.png'));
const OCR_TEXT = 'CONFIDENTIAL 42';
const OCR = SHIPPED_MODEL_HASHES.ocr;

let devnet: Devnet;
let redisServer: RedisServer;
let redis: Redis;
let blobRedis: Redis;
let api: ApiServer;
let apiUrl: string;
let net: BootstrappedNetwork;
let chain: ChainClient;
let engine: InferenceEngine;
let logLines: string[];
const services: WorkerService[] = [];

/** Every log line of the services, to check that no plaintext is ever logged. */
function captureLogger() {
    const sink = new Writable({
        write(chunk, _enc, cb) {
            logLines.push(chunk.toString());
            cb();
        },
    });
    return pino({ level: 'debug' }, sink);
}

async function startWorker(providerIndex: number, capacity?: number, workerChain: ChainClient = chain): Promise<{ service: WorkerService; enclave: Enclave; quote: Buffer; queue: Queue<WorkItem> }> {
    const provider = net.providers[providerIndex];
    const tee = new SimulatedTee({ vendorPrivateKey: devVendorKeyPair(net.vendorSeed).privateKey, measurement: net.measurement });
    const enclave = new Enclave({ attestation: tee });
    const { quote } = await enclave.attest();
    const service = new WorkerService({
        redis: redisServer.url,
        chain: workerChain,
        registry: net.registry,
        wallet: provider.wallet,
        enclave,
        quote,
        engine,
        apiUrl,
        endpoint: `test://${provider.name}`,
        logger: captureLogger(),
        heartbeatIntervalMs: 500,
        capacity,
    });
    services.push(service);
    await service.start();
    const queue = new Queue<WorkItem>(workQueueName(provider.address), { connection: { host: '127.0.0.1', port: redisServer.port }, prefix: QUEUE_PREFIX });
    return { service, enclave, quote, queue };
}

async function upload(envelope: Buffer): Promise<void> {
    const res = await fetch(`${apiUrl}/v1/blobs/input`, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: envelope });
    expect(res.status).toBe(201);
}

/** The client opens an OCR job on the demo image, sealed to `enclave`, with `candidate` as its only candidate. */
const openOcrJobFor = (enclave: Enclave, candidate: Address): Promise<OpenedTestJob> =>
    openTestJob({
        chain,
        registry: net.registry,
        networkId: net.networkId,
        client: net.client.wallet,
        modelHash: OCR,
        payload: OCR_IMAGE,
        recipients: [enclave.x25519PublicKey],
        candidates: [candidate],
    });

const escrowState = (job: Address) => chain.open(JobEscrow.fromAddress(job)).getState();
const stakeState = (i: number) => chain.open(ProviderStake.fromAddress(net.providers[i].stakeContract)).getState();

beforeAll(async () => {
    logLines = [];
    [devnet, redisServer] = await Promise.all([startDevnet({ port: 0 }), startRedis()]);
    redis = new Redis(redisServer.port);
    blobRedis = new Redis(redisServer.port);
    api = createApiServer({ blobs: new BlobStore(blobRedis), logger: pino({ level: 'silent' }) });
    apiUrl = (await api.listen(0, '127.0.0.1')).url;
    chain = new ChainClient({ endpoint: devnet.endpoint });
    [net, engine] = await Promise.all([
        bootstrapNetwork({ chain: devnet, providers: ['provider-1', 'provider-2'], api: apiUrl, redisUrl: redisServer.url }),
        InferenceEngine.fromCatalogFile(),
    ]);
    await engine.warmup([OCR]);
}, 60_000);

afterAll(async () => {
    for (const s of services) await s.stop({ drain: false }).catch(() => undefined);
    await api?.close();
    await engine?.close();
    await redis?.quit();
    await blobRedis?.quit();
    await redisServer?.stop();
    await devnet?.close();
});

describe('one worker (provider-1)', () => {
    let w: Awaited<ReturnType<typeof startWorker>>;
    let outcomes: Awaited<ReturnType<typeof outcomeListener>>;
    const owner = () => net.providers[0].address;

    beforeAll(async () => {
        w = await startWorker(0);
        outcomes = await outcomeListener(redisServer.url, w.queue);
    }, 60_000);

    afterAll(async () => {
        await w?.service.stop({ drain: true });
        await outcomes?.close();
        await w?.queue.close();
    });

    const open = (payload: Buffer, recipients: Buffer[] = [w.enclave.x25519PublicKey]): Promise<OpenedTestJob> =>
        openTestJob({ chain, registry: net.registry, networkId: net.networkId, client: net.client.wallet, modelHash: OCR, payload, recipients, candidates: [owner()] });

    // refusedAt follows ClaimJob to the stake, then the offer to the job, so the worker learns at once why a claim
    // failed instead of waiting for the escrow to change
    it('a claim refused at the stake or at the job is reported with that contract\'s exit code; a good one is not', async () => {
        const provider = net.providers[0];
        const j = await open(OCR_IMAGE);
        const notServed = await sendClaim(provider.wallet, provider.stakeContract, j.jobId, 1234n);
        await devnet.waitIdle();
        expect(await refusedAt(chain, notServed)).toBe('ErrModelNotServed');

        const forged = await sendClaim(provider.wallet, provider.stakeContract, j.jobId, BigInt('0x' + OCR), { outputCommitment: Buffer.alloc(32, 1), signature: Buffer.alloc(64, 2) });
        await devnet.waitIdle();
        expect(await refusedAt(chain, forged)).toBe('ErrBadSignature at the job');
        expect(Number((await escrowState(j.job)).status)).toBe(JobStatus.Open);
        expect((await stakeState(0)).locked).toBe(0n); // the bounce released the lock

        const plain = await sendClaim(provider.wallet, provider.stakeContract, j.jobId, BigInt('0x' + OCR));
        await devnet.waitIdle();
        expect(await refusedAt(chain, plain)).toBeNull();
        expect(Number((await escrowState(j.job)).status)).toBe(JobStatus.Claimed);
    });

    it('registers this enclave on chain and heartbeats its quote', async () => {
        const record = await providerEnclave(chain.open(ProviderStake.fromAddress(net.providers[0].stakeContract)));
        expect(record).not.toBeNull();
        expect(record!.receiptKey).toBe(bufferToUint256(w.enclave.ed25519PublicKey));
        expect(record!.encryptionKey).toBe(bufferToUint256(w.enclave.x25519PublicKey));
        expect(record!.measurement.toString(16).padStart(64, '0')).toBe(net.measurement);

        const hb = decodeHeartbeat(await redis.hgetall(KEYS.worker(owner().toRawString())));
        expect(hb).not.toBeNull();
        expect(hb!.owner).toBe(owner().toRawString());
        expect(hb!.stakeContract).toBe(net.providers[0].stakeContract.toRawString());
        expect(hb!.draining).toBe(false);
        expect(hb!.teeType).toBe('simulated');
        expect(hb!.models[OCR]).toBe('200000000');
        // the quote in Redis is the one whose sha256 the chain holds
        const quote = Buffer.from(hb!.quote, 'base64');
        expect(quote.equals(w.quote)).toBe(true);
        expect(bufferToUint256(attestationHash(quote))).toBe(record!.attestationHash);
        expect(hb!.attestationHash).toBe(attestationHash(quote).toString('hex'));
        expect(await redis.zscore(KEYS.workers, owner().toRawString())).not.toBeNull();
        expect(await redis.sismember(KEYS.providers, owner().toRawString())).toBe(1);
    });

    it('runs an OCR job end to end: committed on chain, result blob decrypts to the text', async () => {
        const j = await open(OCR_IMAGE);
        await upload(j.envelope);
        const item = workItemFor(j);
        await dispatchItem(redis, w.queue, item);

        const o = await outcomes.wait(item.attemptId);
        expect(o.state).toBe('completed'); // recorded before it was published
        const outcome = o.returnvalue as WorkOutcome;
        expect(outcome).toMatchObject({ status: 'committed', jobId: item.jobId, attemptId: item.attemptId, owner: owner().toRawString() });
        expect(Object.keys(outcome.timingsMs).sort()).toEqual(['claim', 'enclave', 'fetch', 'upload']);
        expect(outcome.claimTx).toMatch(/^[0-9a-f]{64}$/);

        const state = await escrowState(j.job);
        expect(Number(state.status)).toBe(JobStatus.Committed);
        expect(state.outputCommitment.toString(16).padStart(64, '0')).toBe(outcome.outputCommitment);

        const res = await fetch(`${apiUrl}/v1/blobs/${outcome.outputCommitment}`);
        expect(res.status).toBe(200);
        const plaintext = openResult(
            Buffer.from(await res.arrayBuffer()),
            { networkId: net.networkId, job: j.job, modelHash: Buffer.from(OCR, 'hex') },
            x25519Recipient(j.resultKeys.privateKey),
        );
        expect(JSON.parse(plaintext.toString('utf8')).text).toBe(OCR_TEXT);
        expect(logLines.join('')).not.toContain(OCR_TEXT);
    });

    it('SUPERSEDED when the assignment names another attempt: nothing claimed', async () => {
        const lockedBefore = (await stakeState(0)).locked;
        const j = await open(OCR_IMAGE);
        await upload(j.envelope);
        const item = workItemFor(j);
        await dispatchItem(redis, w.queue, item, 'job-' + j.jobId + '-a2');
        const o = await outcomes.wait(item.attemptId);
        expect(o.state).toBe('failed');
        expect(o.failedReason).toMatch(/^SUPERSEDED: job \d+ is assigned to attempt job-\d+-a2, not job-\d+-a1$/);
        expect(Number((await escrowState(j.job)).status)).toBe(JobStatus.Open);
        expect((await stakeState(0)).locked).toBe(lockedBefore); // no claim was attempted
    });

    it('INPUT_MISSING when the input envelope was never uploaded: escrow stays Open, no stake locked', async () => {
        const lockedBefore = (await stakeState(0)).locked;
        const j = await open(OCR_IMAGE);
        const item = workItemFor(j);
        await dispatchItem(redis, w.queue, item);
        const o = await outcomes.wait(item.attemptId);
        expect(o.state).toBe('failed');
        expect(o.failedReason).toBe(`INPUT_MISSING: input envelope ${j.inputCommitment} is not in the blob store (not uploaded or expired)`);
        expect(Number((await escrowState(j.job)).status)).toBe(JobStatus.Open);
        expect((await stakeState(0)).locked).toBe(lockedBefore); // no claim was attempted
    });

    it('NOT_A_RECIPIENT when the envelope is sealed for another enclave only', async () => {
        const lockedBefore = (await stakeState(0)).locked;
        const j = await open(OCR_IMAGE, [generateX25519KeyPair().publicKey]);
        await upload(j.envelope);
        const item = workItemFor(j);
        await dispatchItem(redis, w.queue, item);
        const o = await outcomes.wait(item.attemptId);
        expect(o.state).toBe('failed');
        expect(o.failedReason).toMatch(/^NOT_A_RECIPIENT: no slot for recipient [0-9a-f]+ among 1$/);
        expect(Number((await escrowState(j.job)).status)).toBe(JobStatus.Open);
        expect((await stakeState(0)).locked).toBe(lockedBefore); // no claim was attempted
    });

    it('INPUT_REJECTED (final) when the decrypted input is not an image: no claim, message without plaintext', async () => {
        const secret = Buffer.from('not an image: SECRET-PAYLOAD-7f3a');
        const lockedBefore = (await stakeState(0)).locked;
        const j = await open(secret);
        await upload(j.envelope);
        const item = workItemFor(j);
        await dispatchItem(redis, w.queue, item);
        const o = await outcomes.wait(item.attemptId);
        expect(o.state).toBe('failed');
        expect(o.failedReason).toMatch(/^INPUT_REJECTED: IMAGE_FORMAT: /);
        expect(o.failedReason).not.toContain('SECRET-PAYLOAD');
        expect(logLines.join('')).not.toContain('SECRET-PAYLOAD');
        expect(Number((await escrowState(j.job)).status)).toBe(JobStatus.Open);
        expect((await stakeState(0)).locked).toBe(lockedBefore);
    });
});

describe('drain (provider-2)', () => {
    it('stop({drain:true}) finishes the running job, hands back the waiting one, leaves the live set', async () => {
        const w = await startWorker(1, 1); // capacity 1, so the second item waits behind the running one
        const outcomes = await outcomeListener(redisServer.url, w.queue);
        const owner = net.providers[1].address;
        try {
            const j = await openOcrJobFor(w.enclave, owner);
            await upload(j.envelope);
            const running = workItemFor(j);
            await dispatchItem(redis, w.queue, running);
            const until = Date.now() + 20_000;
            while (w.service.load === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
            expect(w.service.load).toBe(1);

            // capacity 1: this one waits behind the running job
            const waiting: WorkItem = { ...workItemFor({ ...j, jobId: j.jobId + 1000n }), attemptId: `job-${j.jobId + 1000n}-a1` };
            await dispatchItem(redis, w.queue, waiting);

            const stopping = w.service.stop({ drain: true });
            // the heartbeat says draining at once, while the job still runs
            await waitUntil(async () => (await redis.hget(KEYS.worker(owner.toRawString()), 'draining')) === '1');
            expect(w.service.load).toBe(1);
            await stopping;

            const done = await outcomes.wait(running.attemptId);
            expect(done.state).toBe('completed');
            expect((done.returnvalue as WorkOutcome).status).toBe('committed');
            expect(Number((await escrowState(j.job)).status)).toBe(JobStatus.Committed);

            const handedBack = await outcomes.wait(waiting.attemptId);
            expect(handedBack.state).toBeNull(); // removed from the queue, not run
            expect(await w.queue.getJob(waiting.attemptId)).toBeUndefined();

            expect(await redis.zscore(KEYS.workers, owner.toRawString())).toBeNull();
            expect(decodeHeartbeat(await redis.hgetall(KEYS.worker(owner.toRawString())))!.draining).toBe(true);
        } finally {
            await outcomes.close();
            await w.queue.close();
        }
    });
});

/**
 * The worker's chain, except that the first time the worker reads an armed escrow after its receipt landed, the
 * client accepts the result first and the read waits until that is on chain: a fast client, deterministically.
 */
class ClientAcceptsBeforeWorkerReads extends ChainClient {
    armed?: Address;
    accepted = false;

    async runGetMethod(...a: Parameters<ChainClient['runGetMethod']>): ReturnType<ChainClient['runGetMethod']> {
        const [address, method] = a;
        if (this.armed && address.equals(this.armed) && method === 'state' && Number((await escrowState(address)).status) === JobStatus.Committed) {
            this.armed = undefined;
            const body = beginCell().store(storeAcceptResult({ $$type: 'AcceptResult', queryId: 0n })).endCell();
            await net.client.wallet.transfer([{ to: address, value: toNano('0.05'), body, bounce: true }]);
            await devnet.waitIdle();
            this.accepted = true;
        }
        return super.runGetMethod(...a);
    }
}

describe('a client that accepts at once (provider-2)', () => {
    it('a job the client settled before the worker saw it committed is still a committed outcome, not a failure', async () => {
        const racingChain = new ClientAcceptsBeforeWorkerReads({ endpoint: devnet.endpoint });
        const w = await startWorker(1, undefined, racingChain);
        const outcomes = await outcomeListener(redisServer.url, w.queue);
        try {
            const j = await openOcrJobFor(w.enclave, net.providers[1].address);
            await upload(j.envelope);
            racingChain.armed = j.job;
            const item = workItemFor(j);
            await dispatchItem(redis, w.queue, item);
            const o = await outcomes.wait(item.attemptId);
            expect(racingChain.accepted).toBe(true); // the race happened
            const state = await escrowState(j.job);
            expect(Number(state.status)).toBe(JobStatus.Settled);
            expect(o.state).toBe('completed');
            const outcome = o.returnvalue as WorkOutcome;
            expect(outcome.status).toBe('committed');
            expect(state.outputCommitment.toString(16).padStart(64, '0')).toBe(outcome.outputCommitment);
        } finally {
            await w.service.stop({ drain: true });
            await outcomes.close();
            await w.queue.close();
        }
    });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!(await check())) {
        if (Date.now() > until) throw new Error('condition not reached');
        await new Promise((r) => setTimeout(r, 10));
    }
}
