/**
 * Worker API failover: a worker given several orchestrator API URLs fetches the input envelope and uploads the
 * result through the first one that answers. Real pieces: the in-process devnet, a private redis-server, the
 * orchestrator's blob API (two instances over one Redis, as two orchestrators run), real onnxruntime and envelopes.
 * One API is killed before the job, another answers 503 to everything: the job still completes through the third.
 *
 * SIMULATED TEE: the worker's enclave is simulated and gives no hardware protection (test network only).
 */
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import type { AddressInfo } from 'net';
import { Writable } from 'stream';
import { createHash, randomBytes } from 'crypto';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import pino from 'pino';
import { startDevnet, Devnet } from '../../devnet';
import { ChainClient } from '../../protocol/chain';
import { devVendorKeyPair, SimulatedTee } from '../../protocol/attestation';
import { RESULT_MAGIC } from '../../protocol/envelope';
import { QUEUE_PREFIX, WorkItem, WorkOutcome, workQueueName } from '../../protocol/work';
import { bootstrapNetwork, BootstrappedNetwork } from '../../localnet/bootstrap';
import { BlobStore } from '../../orchestrator/blobs';
import { ApiServer, createApiServer } from '../../orchestrator/api';
import { Enclave } from '../../worker/enclave/enclave';
import { InferenceEngine, SHIPPED_MODEL_HASHES } from '../../worker/inference';
import { BlobClient, WorkerService, WorkFailure } from '../../worker/service';
import { JobEscrow, JobStatus } from '../../wrappers';
import { freePort } from '../helpers/net';
import { RedisServer, startRedis } from '../helpers/redis';
import { dispatchItem, openTestJob, outcomeListener, workItemFor } from '../helpers/workItem';

jest.setTimeout(60_000);

const ROOT = path.join(__dirname, '..', '..');
const OCR_IMAGE = fs.readFileSync(path.join(ROOT, 'demo', 'assets', 'ocr-confidential.png'));
const OCR = SHIPPED_MODEL_HASHES.ocr;

let devnet: Devnet;
let redisServer: RedisServer;
let redis: Redis;
let blobRedis: Redis;
let apiA: ApiServer;
let apiB: ApiServer;
let urlA: string;
let urlB: string;
/** answers 503 to every request, counting them */
let unavailable: http.Server;
let urlUnavailable: string;
let unavailableHits = 0;
let net: BootstrappedNetwork;
let chain: ChainClient;
let engine: InferenceEngine;
const logLines: string[] = [];

const captureLogger = () =>
    pino(
        { level: 'debug' },
        new Writable({
            write(chunk, _enc, cb) {
                logLines.push(chunk.toString());
                cb();
            },
        }),
    );

beforeAll(async () => {
    [devnet, redisServer] = await Promise.all([startDevnet({ port: 0 }), startRedis()]);
    redis = new Redis(redisServer.port);
    blobRedis = new Redis(redisServer.port);
    // two orchestrators' APIs over the same Redis (the same blob store)
    apiA = createApiServer({ blobs: new BlobStore(blobRedis), logger: pino({ level: 'silent' }) });
    apiB = createApiServer({ blobs: new BlobStore(blobRedis), logger: pino({ level: 'silent' }) });
    urlA = (await apiA.listen(0, '127.0.0.1')).url;
    urlB = (await apiB.listen(0, '127.0.0.1')).url;
    unavailable = http.createServer((_req, res) => {
        unavailableHits++;
        res.writeHead(503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: { code: 'UPSTREAM_UNAVAILABLE', message: 'redis is down' } }));
    });
    await new Promise<void>((r) => unavailable.listen(0, '127.0.0.1', () => r()));
    urlUnavailable = `http://127.0.0.1:${(unavailable.address() as AddressInfo).port}`;
    chain = new ChainClient({ endpoint: devnet.endpoint });
    [net, engine] = await Promise.all([
        bootstrapNetwork({ chain: devnet, providers: ['provider-1'], api: urlA, redisUrl: redisServer.url }),
        InferenceEngine.fromCatalogFile(),
    ]);
    await engine.warmup([OCR]);
}, 60_000);

afterAll(async () => {
    await apiA?.close().catch(() => undefined);
    await apiB?.close();
    unavailable?.closeAllConnections();
    await new Promise((r) => unavailable?.close(() => r(undefined)));
    await engine?.close();
    await redis?.quit();
    await blobRedis?.quit();
    await redisServer?.stop();
    await devnet?.close();
});

describe('BlobClient with several API URLs', () => {
    const hash = () => randomBytes(32).toString('hex');

    it('fails over on a refused connection and on 503, and stays with the URL that answered', async () => {
        const dead = `http://127.0.0.1:${await freePort()}`;
        const moves: [string, string][] = [];
        const c = new BlobClient({ apiUrl: [dead, urlUnavailable, urlB], retryForMs: 5_000, onFailover: (from, to) => moves.push([from, to]) });
        const before = unavailableHits;
        // ciphertext-shaped bytes (the store only checks the magic)
        const envelope = Buffer.concat([RESULT_MAGIC, randomBytes(200)]);
        const h = createHash('sha256').update(envelope).digest('hex');
        await c.uploadResult(envelope, h);
        expect(moves).toEqual([
            [dead, urlUnavailable],
            [urlUnavailable, urlB],
        ]);
        expect(unavailableHits - before).toBe(1);
        expect(c.apiUrl).toBe(urlB);
        // stored in the shared blob store; the next request starts at B: no more failovers
        expect((await c.fetchInput(h)).equals(envelope)).toBe(true);
        expect(moves).toHaveLength(2);
        expect(unavailableHits - before).toBe(1);
    });

    it('404 is an answer, not an outage: INPUT_MISSING from the first URL without trying the next', async () => {
        const moves: string[] = [];
        const c = new BlobClient({ apiUrl: [urlB, urlUnavailable], retryForMs: 5_000, onFailover: (from) => moves.push(from) });
        const before = unavailableHits;
        const err = (await c.fetchInput(hash()).catch((e) => e)) as WorkFailure;
        expect(err).toBeInstanceOf(WorkFailure);
        expect(err.code).toBe('INPUT_MISSING');
        expect(moves).toEqual([]);
        expect(unavailableHits).toBe(before);
    });

    it('every URL down: WORKER_ERROR once the retry budget is spent, naming the last URL tried', async () => {
        const dead = `http://127.0.0.1:${await freePort()}`;
        const c = new BlobClient({ apiUrl: [dead, urlUnavailable], retryForMs: 600 });
        const t0 = Date.now();
        const err = (await c.fetchInput(hash()).catch((e) => e)) as WorkFailure;
        expect(err.code).toBe('WORKER_ERROR');
        expect(err.message).toMatch(new RegExp(`from ${urlUnavailable} failed: HTTP 503 UPSTREAM_UNAVAILABLE|cannot reach the blob API at ${dead}`));
        expect(Date.now() - t0).toBeLessThan(5_000);
    });

    it('refuses a list with a non-http URL', () => {
        expect(() => new BlobClient({ apiUrl: [urlB, 'ftp://x'] })).toThrow('orchestrator API URL "ftp://x" must be an http(s) URL');
        expect(() => new BlobClient({ apiUrl: [] })).toThrow('no orchestrator API URL given');
    });
});

describe('a worker with three API URLs, the first killed and the second failing', () => {
    let service: WorkerService;
    let queue: Queue<WorkItem>;
    let outcomes: Awaited<ReturnType<typeof outcomeListener>>;
    let enclave: Enclave;

    beforeAll(async () => {
        const tee = new SimulatedTee({ vendorPrivateKey: devVendorKeyPair(net.vendorSeed).privateKey, measurement: net.measurement });
        enclave = new Enclave({ attestation: tee });
        const { quote } = await enclave.attest();
        service = new WorkerService({
            redis: redisServer.url,
            chain,
            registry: net.registry,
            wallet: net.providers[0].wallet,
            enclave,
            quote,
            engine,
            apiUrl: [urlA, urlUnavailable, urlB],
            endpoint: 'test://provider-1',
            logger: captureLogger(),
            heartbeatIntervalMs: 500,
        });
        await service.start();
        queue = new Queue<WorkItem>(workQueueName(net.providers[0].address), { connection: { host: '127.0.0.1', port: redisServer.port }, prefix: QUEUE_PREFIX });
        outcomes = await outcomeListener(redisServer.url, queue);
    }, 60_000);

    afterAll(async () => {
        await service?.stop({ drain: true });
        await outcomes?.close();
        await queue?.close();
    });

    it('the job completes through the third API; the result is stored there', async () => {
        const j = await openTestJob({ chain, registry: net.registry, networkId: net.networkId, client: net.client.wallet, modelHash: OCR, payload: OCR_IMAGE, recipients: [enclave.x25519PublicKey], candidates: [net.providers[0].address] });
        const put = await fetch(`${urlB}/v1/blobs/input`, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: j.envelope });
        expect(put.status).toBe(201);
        // the preferred orchestrator dies before the job arrives
        apiA.close().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 50));
        expect(await fetch(`${urlA}/healthz`).then(() => 'up', () => 'down')).toBe('down');
        const hitsBefore = unavailableHits;

        const item = workItemFor(j);
        await dispatchItem(redis, queue, item);
        const o = await outcomes.wait(item.attemptId);
        expect({ state: o.state, failedReason: o.failedReason }).toEqual({ state: 'completed', failedReason: undefined });
        const outcome = o.returnvalue as WorkOutcome;
        expect(outcome.status).toBe('committed');
        expect(Number((await chain.open(JobEscrow.fromAddress(j.job)).getState()).status)).toBe(JobStatus.Committed);
        // fetched and uploaded through B: the result blob is in the shared store, readable from B
        expect((await fetch(`${urlB}/v1/blobs/${outcome.outputCommitment}`)).status).toBe(200);
        // the 503 API was asked once (the fetch), then the worker stayed with B for the upload
        expect(unavailableHits - hitsBefore).toBe(1);
        const failovers = logLines.filter((l) => l.includes('orchestrator API unavailable: failing over')).map((l) => JSON.parse(l));
        expect(failovers.map((f) => [f.from, f.to])).toEqual([
            [urlA, urlUnavailable],
            [urlUnavailable, urlB],
        ]);
    });
});
