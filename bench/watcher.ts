/**
 * bench:watcher — events from the devnet through the ChainWatcher into its handler.
 *
 *   npx ts-node --transpile-only bench/watcher.ts [--events 2000] [--poll 500] [--rate 10] [--lag-events 300]
 *
 * Setup: a private redis-server, the devnet in this process (it produces the events), the watcher in a child process
 * (tests/orchestrator/watcher-child.ts: a ChainClient over HTTP, as an orchestrator would run it). Events are
 * Registry governance events (AllowModel / RevokeModel): one event per transaction, the watcher's worst case.
 *
 *  - Backlog: N events are on chain before the watcher starts; time from start to the handler's N-th call.
 *    Measured twice: "cold", the first read of every transaction (the devnet renders each one on first request,
 *    ~2-3 ms of its own CPU per transaction), and "warm", the same history read again by a fresh watcher (the devnet
 *    answers from its render cache, as an indexed API such as toncenter would). eventsPerSecond is the warm figure.
 *  - Lag: events produced at a steady rate while the watcher runs; lag = handler call time − the time the devnet
 *    finished executing the transaction (sendMessage resolved; devnet utime has only second precision).
 *
 * Writes bench/results/watcher.json with targets { eventsPerSecond: 2000, lagP99Ms: poll + 100 }.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Redis from 'ioredis';
import { Devnet, startDevnet } from '../devnet';
import { startRedis } from '../tests/helpers/redis';
import { DevnetNetwork, deployNetwork } from '../tests/orchestrator/devnet-network';

const ROOT = path.join(__dirname, '..');
const CHILD = path.join(ROOT, 'tests', 'orchestrator', 'watcher-child.ts');

function arg(name: string, dflt: number): number {
    const i = process.argv.indexOf(`--${name}`);
    if (i < 0) return dflt;
    const v = Number(process.argv[i + 1]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} needs a positive number`);
    return v;
}

const EVENTS = arg('events', 2000);
const POLL_MS = arg('poll', 500);
const RATE = arg('rate', 10);
const LAG_EVENTS = arg('lag-events', 300);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Entry {
    a: string;
    lt: string;
    o: number;
    id: string;
    t: number;
}

function percentile(sorted: number[], p: number): number {
    if (sorted.length === 0) return NaN;
    const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
    return sorted[i];
}

class WatcherProcess {
    private out = '';
    private err = '';
    readonly exited: Promise<void>;

    private constructor(readonly child: ChildProcess) {
        child.stdout!.on('data', (d) => (this.out += d.toString()));
        child.stderr!.on('data', (d) => (this.err += d.toString()));
        this.exited = new Promise((r) => child.once('exit', () => r()));
    }

    static async spawn(env: Record<string, string>): Promise<WatcherProcess> {
        const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', CHILD], {
            cwd: ROOT,
            env: { ...process.env, ...env, WATCHER_WAIT_FOR_GO: '1' },
            stdio: ['pipe', 'pipe', 'pipe'],
        });
        const w = new WatcherProcess(child);
        await w.until('loaded');
        return w;
    }

    async until(key: string): Promise<void> {
        for (;;) {
            if (this.out.includes(`"${key}":true`)) return;
            if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`watcher process exited: ${this.err.slice(-2000)}`);
            await sleep(10);
        }
    }

    /** Starts the watcher; returns the wall-clock time of the start signal. */
    go(): number {
        const t = Date.now();
        this.child.stdin!.write('go\n');
        return t;
    }

    async stop(): Promise<void> {
        if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
        await this.exited;
        clearTimeout(timer);
        if (this.err.trim()) process.stderr.write(`watcher process stderr:\n${this.err.slice(-2000)}\n`);
    }
}

async function waitForCount(redis: Redis, list: string, n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while ((await redis.llen(list)) < n) {
        if (Date.now() > deadline) throw new Error(`only ${await redis.llen(list)} of ${n} events reached the handler within ${timeoutMs} ms`);
        await sleep(10);
    }
}

async function entries(redis: Redis, list: string): Promise<Entry[]> {
    return (await redis.lrange(list, 0, -1)).map((s) => JSON.parse(s) as Entry);
}

function checkExactlyOnce(es: Entry[], expected: number, what: string): void {
    const ids = new Set(es.map((e) => e.id));
    if (es.length !== expected || ids.size !== expected) throw new Error(`${what}: ${es.length} entries, ${ids.size} distinct, expected ${expected}`);
    for (let i = 1; i < es.length; i++) if (BigInt(es[i].lt) <= BigInt(es[i - 1].lt)) throw new Error(`${what}: out of lt order at ${i}`);
}

async function produce(net: DevnetNetwork, n: number, from = 0): Promise<void> {
    // queued together: the devnet executes them one after another, like a busy chain
    const all: Promise<unknown>[] = [];
    for (let i = from; i < from + n; i++) all.push(net.governanceEvent(i));
    await Promise.all(all);
}

async function backlogRun(devnet: Devnet, redisPort: number, redis: Redis, net: DevnetNetwork, prefix: string) {
    const list = `${prefix}list`;
    const w = await WatcherProcess.spawn({
        WATCHER_ENDPOINT: devnet.endpoint,
        WATCHER_REDIS_PORT: String(redisPort),
        WATCHER_REGISTRY: net.registry.address.toRawString(),
        WATCHER_PREFIX: prefix,
        WATCHER_LIST: list,
        WATCHER_POLL_MS: String(POLL_MS),
    });
    try {
        const goAt = w.go();
        await waitForCount(redis, list, EVENTS, 600_000);
        const es = await entries(redis, list);
        checkExactlyOnce(es, EVENTS, prefix);
        const lastCall = Math.max(...es.map((e) => e.t));
        const seconds = (lastCall - goAt) / 1000;
        return { seconds, eventsPerSecond: Math.round(EVENTS / seconds) };
    } finally {
        await w.stop();
    }
}

async function main(): Promise<void> {
    const server = await startRedis();
    const redis = new Redis(server.port);
    const devnet = await startDevnet({ port: 0 });
    try {
        // ---- backlog ----
        const net = await deployNetwork(devnet, 'bench-backlog');
        let t = Date.now();
        await produce(net, EVENTS);
        const produceSeconds = (Date.now() - t) / 1000;
        console.log(`backlog: ${EVENTS} registry events produced in ${produceSeconds.toFixed(1)} s (devnet execution)`);
        const cold = await backlogRun(devnet, server.port, redis, net, 'bench:cold:');
        console.log(`backlog, cold API (first read of every transaction): ${cold.eventsPerSecond} events/s (${cold.seconds.toFixed(2)} s)`);
        const warm = await backlogRun(devnet, server.port, redis, net, 'bench:warm:');
        console.log(`backlog, warm API (devnet render cache hit):          ${warm.eventsPerSecond} events/s (${warm.seconds.toFixed(2)} s)`);

        // ---- lag at a steady rate ----
        const lagNet = await deployNetwork(devnet, 'bench-lag');
        const list = 'bench:lag:list';
        const w = await WatcherProcess.spawn({
            WATCHER_ENDPOINT: devnet.endpoint,
            WATCHER_REDIS_PORT: String(server.port),
            WATCHER_REGISTRY: lagNet.registry.address.toRawString(),
            WATCHER_PREFIX: 'bench:lag:',
            WATCHER_LIST: list,
            WATCHER_POLL_MS: String(POLL_MS),
        });
        const included = new Map<string, number>();
        let lagSeconds: number;
        try {
            w.go();
            await w.until('ready');
            await sleep(POLL_MS * 2);
            const registryRaw = lagNet.registry.address.toRawString();
            const interval = 1000 / RATE;
            const pending: Promise<void>[] = [];
            t = Date.now();
            for (let i = 0; i < LAG_EVENTS; i++) {
                const due = t + i * interval;
                const wait = due - Date.now();
                if (wait > 0) await sleep(wait);
                pending.push(
                    lagNet.governanceEvent(i).then((txs) => {
                        const at = Date.now();
                        const tx = txs.find((x) => x.account === registryRaw);
                        if (!tx) throw new Error('governance message did not reach the registry');
                        included.set(tx.hash.toString('hex'), at);
                    }),
                );
            }
            await Promise.all(pending);
            lagSeconds = (Date.now() - t) / 1000;
            await waitForCount(redis, list, LAG_EVENTS, 60_000);
        } finally {
            await w.stop();
        }
        const es = await entries(redis, list);
        checkExactlyOnce(es, LAG_EVENTS, 'lag');
        const lags = es
            .map((e) => {
                const at = included.get(e.id.split(':')[0]);
                if (at === undefined) throw new Error(`event ${e.id} has no inclusion time`);
                return e.t - at;
            })
            .sort((a, b) => a - b);
        const lagP50 = percentile(lags, 50);
        const lagP90 = percentile(lags, 90);
        const lagP99 = percentile(lags, 99);
        const lagMax = lags[lags.length - 1];
        const achievedRate = LAG_EVENTS / lagSeconds;
        console.log(
            `lag at ${achievedRate.toFixed(1)} events/s (target rate ${RATE}/s), poll ${POLL_MS} ms: p50 ${lagP50} ms, p90 ${lagP90} ms, p99 ${lagP99} ms, max ${lagMax} ms (${LAG_EVENTS} events)`,
        );

        const targets = { eventsPerSecond: 2000, lagP99Ms: POLL_MS + 100 };
        const meetsTargets = warm.eventsPerSecond >= targets.eventsPerSecond && lagP99 <= targets.lagP99Ms;
        const result = {
            bench: 'watcher',
            command: 'npm run bench:watcher  (ts-node --transpile-only bench/watcher.ts ' + process.argv.slice(2).join(' ') + ')',
            date: new Date().toISOString(),
            machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadAverage1m: Number(os.loadavg()[0].toFixed(2)), node: process.version },
            setup:
                'devnet in the bench process, watcher in a child process (ChainClient over HTTP, Redis MULTI commits), private redis-server; ' +
                'events are Registry AllowModel/RevokeModel governance events, one per transaction',
            pollIntervalMs: POLL_MS,
            eventsPerSecond: warm.eventsPerSecond,
            eventsPerSecondColdApi: cold.eventsPerSecond,
            lagP50Ms: lagP50,
            lagP99Ms: lagP99,
            backlog: {
                events: EVENTS,
                pageSize: 100,
                batchSize: 100,
                producedInSeconds: Number(produceSeconds.toFixed(2)),
                warmSeconds: Number(warm.seconds.toFixed(3)),
                coldSeconds: Number(cold.seconds.toFixed(3)),
            },
            lag: {
                events: LAG_EVENTS,
                targetRatePerSecond: RATE,
                achievedRatePerSecond: Number(achievedRate.toFixed(2)),
                p50Ms: lagP50,
                p90Ms: lagP90,
                p99Ms: lagP99,
                maxMs: lagMax,
                inclusionTime: 'wall clock when devnet.sendMessage resolved (the transaction and its chain were executed)',
            },
            targets,
            meetsTargets,
            notes: [
                'eventsPerSecond reads a history the devnet has already rendered once (an indexed API); eventsPerSecondColdApi includes the devnet rendering every transaction on first request, which runs on the same 2 cores.',
                'lag includes up to one poll interval of waiting by design (fixed-cadence polling of getTransactions).',
            ],
        };
        const out = path.join(ROOT, 'bench', 'results', 'watcher.json');
        fs.mkdirSync(path.dirname(out), { recursive: true });
        fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
        console.log(
            `\nwatcher: ${warm.eventsPerSecond} events/s (target ${targets.eventsPerSecond}), cold API ${cold.eventsPerSecond} events/s; ` +
                `lag p50 ${lagP50} ms, p99 ${lagP99} ms (target ${targets.lagP99Ms}); poll ${POLL_MS} ms; meetsTargets=${meetsTargets}\nwrote ${path.relative(ROOT, out)}`,
        );
    } finally {
        redis.disconnect();
        await devnet.close();
        await server.stop();
    }
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
