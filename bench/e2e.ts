/**
 * End-to-end benchmark: jobs per second through the whole network, against a bare BullMQ queue in the same run.
 *
 *   full path   client SDK (verify providers, seal, upload, OpenJob on chain) → watcher → dispatch queue → route →
 *               the provider's work queue → worker process (fetch, enclave: decrypt + infer + seal + sign, upload
 *               the result, ClaimJob carrying the receipt on chain) → client (fetch, verify against the chain,
 *               decrypt). The chain is the devnet in this process; orchestrator and 2 workers are child processes,
 *               exactly as `cocoon up` runs them.
 *   raw BullMQ  the same plaintext requests through one bare queue to one bare worker process-local consumer that
 *               runs the same model on them (no chain, no encryption, no routing): the floor of what a queue costs.
 *
 * Both run `--jobs` jobs with `--concurrency` in flight on the ~1 ms tensor model (the shipped MLP, binary tensor
 * requests, batch calibrated to ~1 ms); ratio = full / raw. Stage latencies come from the client's progress events,
 * the dispatch records (watcher lag, routing) and the workers' outcomes (their own stage timings).
 * `sequential` runs 10 more jobs one at a time: the full path's latency when nothing queues; `sequentialPolling`
 * runs them again on a second network where every process polls instead of waiting on the devnet's push
 * (COCOON_CHAIN_PUSH=off), and pushLatencyRatio = polling p50 / push p50.
 * routingMicrosAt10kProviders is one routing decision over a synthetic directory of 10,000 providers
 * (bench/routing.ts, same process). chainOnly runs just the full path's chain transactions (OpenJob, then ClaimJob
 * with the receipt, and what they cause: 7 transactions a job) back to back on the sandbox emulator the devnet runs, with the sandbox's
 * light treasury wallets and nothing else in the process: the most jobs per second this chain can carry, so
 * chainOnly.jobsPerSecond / rawBullmqJobsPerSecond bounds `ratio` from above.
 *
 * Run: npm run bench:e2e [-- --jobs 40 --concurrency 4]   → bench/results/e2e.json
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance } from 'perf_hooks';
import { Queue, QueueEvents, Worker } from 'bullmq';
import Redis from 'ioredis';
import { toNano } from '@ton/core';
import { ChainClient } from '../protocol/chain';
import { walletFromSeed } from '../protocol/network-file';
import { encodeTensorRequest } from '../protocol/tensor-binary';
import { DISPATCH_QUEUE, DispatchJobData, QUEUE_PREFIX, WorkOutcome, dispatchJobId, workQueueName } from '../protocol/work';
import { CocoonClient, ProgressEvent } from '../client/sdk';
import { startLocalNetwork } from '../localnet/up';
import { startPrivateRedis } from '../localnet/redis';
import { InferenceEngine, SHIPPED_MODEL_HASHES } from '../worker/inference';
import { spawnSync } from 'child_process';
import type { runSize } from './routing';
import { pseudoRandom } from './data';
import { createNetwork } from '../tests/contracts/fixtures';

const TARGETS = { ratio: 0.8, routingMicrosAt10kProviders: 50 };
/** Jobs run one at a time after the measured run, for the latency view. */
const SEQUENTIAL_JOBS = 10;

function arg(name: string, def: number): number {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

function pct(xs: number[], q: number): number {
    if (xs.length === 0) return NaN;
    const s = [...xs].sort((a, b) => a - b);
    return r3(s[Math.min(s.length - 1, Math.floor(q * s.length))]);
}

function summary(xs: number[]) {
    return { n: xs.length, p50Ms: pct(xs, 0.5), p99Ms: pct(xs, 0.99), meanMs: r3(xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)) };
}

/** Runs `jobs` tasks with at most `concurrency` in flight; returns the wall time (ms). */
async function pool(jobs: number, concurrency: number, task: (i: number, lane: number) => Promise<void>): Promise<number> {
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
        Array.from({ length: concurrency }, async (_, lane) => {
            for (;;) {
                const i = next++;
                if (i >= jobs) return;
                await task(i, lane);
            }
        }),
    );
    return performance.now() - t0;
}

interface Sequential {
    jobs: number;
    jobsPerSecond: number;
    total: ReturnType<typeof summary>;
}

/** SEQUENTIAL_JOBS jobs through `client`, one at a time. */
async function oneAtATime(client: CocoonClient, requests: Buffer[]): Promise<Sequential> {
    const totals: number[] = [];
    const wallMs = await pool(SEQUENTIAL_JOBS, 1, async (i) => {
        const t = performance.now();
        const h = await client.submit({ model: 'tensor', input: requests[i % requests.length], candidates: 2 });
        await h.result({ timeoutMs: 120_000 });
        h.close();
        totals.push(performance.now() - t);
    });
    return { jobs: SEQUENTIAL_JOBS, jobsPerSecond: r3((SEQUENTIAL_JOBS / wallMs) * 1000), total: summary(totals) };
}

function routingInFreshProcess(): ReturnType<typeof runSize> {
    const script = `require('ts-node').register({ transpileOnly: true, swc: true });
const { runSize } = require(${JSON.stringify(path.join(__dirname, 'routing'))});
process.stdout.write(JSON.stringify(runSize(10000, 20000, 3, 1)));`;
    const r = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..'), encoding: 'utf8', maxBuffer: 16 << 20 });
    if (r.status !== 0) throw new Error(`the routing measurement failed: ${r.stderr}`);
    return JSON.parse(r.stdout);
}

/** Jobs per second of the full path's chain transactions alone, on the sandbox emulator (see the header). */
async function chainOnlyCeiling(jobs: number): Promise<{ jobs: number; jobsPerSecond: number; transactionsPerJob: number }> {
    const net = await createNetwork();
    const provider = await net.createProvider('bench', { stake: toNano('1000') });
    const client = await net.createClient('bench');
    const one = async () => {
        const { job, result: opened } = await client.openJob();
        const { result: claimed } = await provider.claimCommit(job);
        return opened.transactions.length + claimed.transactions.length;
    };
    for (let i = 0; i < 5; i++) await one(); // warm-up: the emulator's first transactions are slower
    let transactions = 0;
    const start = performance.now();
    for (let i = 0; i < jobs; i++) transactions += await one();
    const seconds = (performance.now() - start) / 1000;
    return { jobs, jobsPerSecond: r3(jobs / seconds), transactionsPerJob: transactions / jobs };
}

async function main(): Promise<void> {
    const JOBS = arg('jobs', 40);
    const CONCURRENCY = arg('concurrency', 4);
    const POLL_MS = arg('poll', 100);
    const loadAvgAtStart = os.loadavg().map(r3);
    const t0 = performance.now();

    // routing first, in a fresh process: this one has the inference engine, BullMQ and the SDK loaded, and their
    // heap makes the same decisions measure ~2× slower than bench:routing does alone
    console.log('routing: one decision over 10,000 synthetic providers (separate process) …');
    const routing = routingInFreshProcess();

    // ------------------------------------------------------------------ the model and the requests
    const engine = await InferenceEngine.fromCatalogFile();
    await engine.warmup([SHIPPED_MODEL_HASHES.tensor]);
    let batch = 64;
    for (const b of [64, 128, 256, 384, 512, 768]) {
        const req = encodeTensorRequest({ x: { dtype: 'float32', shape: [b, 64], data: pseudoRandom(b * 64, b) } });
        const times: number[] = [];
        for (let i = 0; i < 30; i++) {
            const a = performance.now();
            await engine.run('tensor', SHIPPED_MODEL_HASHES.tensor, req);
            times.push(performance.now() - a);
        }
        batch = b;
        if (pct(times, 0.5) >= 1) break;
    }
    const requests = Array.from({ length: JOBS }, (_, i) => encodeTensorRequest({ x: { dtype: 'float32', shape: [batch, 64], data: pseudoRandom(batch * 64, 1000 + i) } }));
    console.log(`model: MLP batch ${batch} (~1 ms), request ${requests[0].length} bytes, ${JOBS} jobs, ${CONCURRENCY} in flight`);

    // ------------------------------------------------------------------ raw BullMQ baseline
    const rawRedis = await startPrivateRedis();
    let rawWallMs: number;
    const rawLatencies: number[] = [];
    {
        const connection = { host: '127.0.0.1', port: rawRedis.port, maxRetriesPerRequest: null };
        const queue = new Queue('raw', { connection });
        const events = new QueueEvents('raw', { connection });
        await events.waitUntilReady();
        const worker = new Worker(
            'raw',
            async (job) => (await engine.run('tensor', SHIPPED_MODEL_HASHES.tensor, Buffer.from(job.data.request, 'base64'))).toString('base64'),
            { connection, concurrency: CONCURRENCY },
        );
        await worker.waitUntilReady();
        rawWallMs = await pool(JOBS, CONCURRENCY, async (i) => {
            const a = performance.now();
            const job = await queue.add('run', { request: requests[i].toString('base64') }, { jobId: `raw-${i}` });
            const out = await job.waitUntilFinished(events, 60_000);
            if (typeof out !== 'string' || out.length === 0) throw new Error('raw BullMQ returned no result');
            rawLatencies.push(performance.now() - a);
        });
        await worker.close();
        await events.close();
        await queue.close();
    }
    await rawRedis.stop();
    const rawJobsPerSecond = r3((JOBS / rawWallMs) * 1000);
    console.log(`raw BullMQ: ${rawJobsPerSecond} jobs/s`);

    // ------------------------------------------------------------------ the whole network
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-bench-e2e-'));
    console.log('starting the network (devnet, redis, orchestrator, 2 workers) …');
    const net = await startLocalNetwork({ workers: 2, networkFile: path.join(workDir, 'network.json') });
    const stages: Record<string, number[]> = {};
    const add = (k: string, v: number | undefined) => {
        if (v !== undefined && Number.isFinite(v)) (stages[k] ??= []).push(v);
    };
    let fullWallMs: number;
    let sequential: Sequential | undefined;
    const handles: { address: string; jobId: bigint }[] = [];
    try {
        const chain = new ChainClient({ endpoint: net.network.endpoint });
        // one client wallet per lane: a wallet sends one message at a time
        const clients: CocoonClient[] = [];
        for (let lane = 0; lane < CONCURRENCY; lane++) {
            const seed = Buffer.from(Array.from({ length: 32 }, (_, i) => (lane * 31 + i * 7 + 1) & 0xff)).toString('hex');
            const wallet = walletFromSeed(chain, seed, { pollIntervalMs: 20 });
            await net.devnet.fund(wallet.address, toNano('50'));
            clients.push(new CocoonClient({ network: net.network, wallet, chain, pollMs: POLL_MS }));
        }
        // warm-up: one job per lane (first sessions, first wallet deploys)
        await pool(CONCURRENCY, CONCURRENCY, async (i, lane) => {
            const h = await clients[lane].submit({ model: 'tensor', input: requests[i % JOBS], candidates: 2 });
            await h.result({ timeoutMs: 120_000 });
            h.close();
        });
        console.log(`full path: running ${JOBS} jobs …`);
        fullWallMs = await pool(JOBS, CONCURRENCY, async (i, lane) => {
            const seen = new Map<string, number>();
            const onProgress = (p: ProgressEvent) => seen.set(p.stage, p.atMs);
            const h = await clients[lane].submit({ model: 'tensor', input: requests[i], candidates: 2, onProgress });
            const r = await h.result({ timeoutMs: 120_000 });
            seen.set('result', Date.now());
            h.close();
            if (r.bytes.length === 0) throw new Error('empty result');
            handles.push({ address: h.address.toRawString(), jobId: h.jobId });
            const span = (a: string, b: string) => (seen.has(a) && seen.has(b) ? seen.get(b)! - seen.get(a)! : undefined);
            add('clientVerifyProviders', span('verifying', 'providers-verified'));
            add('clientSealAndUpload', span('encrypting', 'opening'));
            add('openEscrowOnChain', span('opening', 'opened'));
            add('openedToClaimed', span('opened', 'claimed'));
            add('claimedToCommitted', span('claimed', 'committed'));
            add('fetchVerifyDecrypt', span('committed', 'result'));
            add('total', span('verifying', 'result'));
        });
        console.log(`full path: ${r3((JOBS / fullWallMs) * 1000)} jobs/s`);

        // the latency view: one job at a time, so no job queues behind another on the chain or the workers
        sequential = await oneAtATime(clients[0], requests);
        console.log(`one at a time: ${sequential.jobsPerSecond} jobs/s, p50 ${sequential.total.p50Ms} ms`);

        // the orchestrator's and the workers' view of the same jobs (from Redis: dispatch records, work outcomes)
        const redis = new Redis(net.redisUrl, { maxRetriesPerRequest: null });
        const dispatch = new Queue<DispatchJobData>(DISPATCH_QUEUE, { connection: redis, prefix: QUEUE_PREFIX });
        for (const h of handles) {
            const d = await dispatch.getJob(dispatchJobId(h.jobId));
            const a = d?.data.attempts?.[d.data.attempts.length - 1];
            if (!d || !a) continue;
            add('watcherSeenToRouted', a.routedAtMs - d.data.seenAtMs);
            const wq = new Queue(workQueueName(a.owner), { connection: redis, prefix: QUEUE_PREFIX });
            const w = await wq.getJob(a.attemptId);
            const out = w?.returnvalue as WorkOutcome | undefined;
            if (out?.timingsMs) for (const [k, v] of Object.entries(out.timingsMs)) add(`worker.${k}`, v);
            if (w?.processedOn && w.finishedOn) add('workerTotal', w.finishedOn - w.processedOn);
            if (w?.processedOn) add('routedToWorkerStart', w.processedOn - a.routedAtMs);
            await wq.close();
        }
        await dispatch.close();
        await redis.quit();
    } finally {
        await net.stop();
    }

    // the baseline of the push: the same one-at-a-time jobs on a second network where every process polls
    // (COCOON_CHAIN_PUSH=off, inherited by the orchestrator and workers), with the same poll intervals as above
    console.log('polling baseline: a second network without the push …');
    process.env.COCOON_CHAIN_PUSH = 'off';
    const pollNet = await startLocalNetwork({ workers: 2, networkFile: path.join(workDir, 'network-polling.json') });
    let sequentialPolling: Sequential;
    try {
        const chain = new ChainClient({ endpoint: pollNet.network.endpoint, push: false });
        const wallet = walletFromSeed(chain, 'ab'.repeat(32), { pollIntervalMs: 20 });
        await pollNet.devnet.fund(wallet.address, toNano('50'));
        const client = new CocoonClient({ network: pollNet.network, wallet, chain, pollMs: POLL_MS });
        const warm = await client.submit({ model: 'tensor', input: requests[0], candidates: 2 });
        await warm.result({ timeoutMs: 120_000 });
        warm.close();
        sequentialPolling = await oneAtATime(client, requests);
        console.log(`one at a time, polling: ${sequentialPolling.jobsPerSecond} jobs/s, p50 ${sequentialPolling.total.p50Ms} ms`);
    } finally {
        delete process.env.COCOON_CHAIN_PUSH;
        await pollNet.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
        await engine.close();
    }
    const jobsPerSecond = r3((JOBS / fullWallMs) * 1000);
    console.log('chain only: the full path\'s transactions on the bare emulator …');
    const chainOnly = await chainOnlyCeiling(JOBS);
    console.log(`chain only: ${chainOnly.jobsPerSecond} jobs/s (${chainOnly.transactionsPerJob} transactions a job)`);

    const ratio = r3(jobsPerSecond / rawJobsPerSecond);
    const stageLatencies = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, summary(v)]));
    const result = {
        benchmark: 'e2e',
        timestamp: new Date().toISOString(),
        command: `npm run bench:e2e -- --jobs ${JOBS} --concurrency ${CONCURRENCY} --poll ${POLL_MS}`,
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, node: process.version, loadAvgAtStart, loadAvgAtEnd: os.loadavg().map(r3) },
        workload: { model: `mlp-64x16 (${SHIPPED_MODEL_HASHES.tensor})`, batch, requestBytes: requests[0].length, jobs: JOBS, concurrency: CONCURRENCY, workers: 2, workerCapacity: 2, clientPollMs: POLL_MS },
        jobsPerSecond,
        rawBullmqJobsPerSecond: rawJobsPerSecond,
        ratio,
        routingMicrosAt10kProviders: routing.medianMicros,
        routingP99MicrosAt10kProviders: routing.p99Micros,
        targets: TARGETS,
        meetsTargets: { ratio: ratio >= TARGETS.ratio, routingMicrosAt10kProviders: routing.medianMicros <= TARGETS.routingMicrosAt10kProviders },
        // the chain alone, after the measured run: no SDK, Redis, orchestrator, workers, HTTP or blocks
        chainOnly: { ...chainOnly, ratioCeiling: r3(chainOnly.jobsPerSecond / rawJobsPerSecond) },
        rawBullmqLatency: summary(rawLatencies),
        // the same full path with one job in flight: its latency without queueing (after the measured run)
        sequential,
        // the same, on a network without the push (started after the measured one, same poll intervals)
        sequentialPolling,
        pushLatencyRatio: sequential && r3(sequentialPolling.total.p50Ms / sequential.total.p50Ms),
        stageLatencies,
        note:
            'The full path carries two wallet transactions per job on the devnet (OpenJob from the client, ClaimJob with the ' +
            'receipt from the provider), each waited for by its wallet, and the contract transactions they cause; the raw ' +
            'queue has none of these. stageLatencies shows where the time goes.',
        totalRunMs: r3(performance.now() - t0),
    };
    const out = path.join(__dirname, 'results', 'e2e.json');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    console.log(JSON.stringify({ jobsPerSecond, rawBullmqJobsPerSecond: rawJobsPerSecond, ratio, routingMicrosAt10kProviders: routing.medianMicros }, null, 2));
    for (const [k, v] of Object.entries(stageLatencies)) console.log(`  ${k.padEnd(24)} p50 ${String(v.p50Ms).padStart(8)} ms   p99 ${String(v.p99Ms).padStart(8)} ms   (n=${v.n})`);
    console.log(`wrote ${path.relative(process.cwd(), out)}`);
}

main().then(
    () => process.exit(0),
    (e) => {
        console.error(e);
        process.exit(1);
    },
);
