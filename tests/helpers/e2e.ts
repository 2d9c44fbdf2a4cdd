/**
 * Shared pieces of the end-to-end failure tests (tests/e2e/*): a whole local network with real processes
 * (localnet/up.ts: in-process devnet, private redis-server, `cocoon orchestrator` and `cocoon worker` children) in a
 * temp dir, a client on it, chain readers (escrow events, provider stakes), the orchestrator's job status, and
 * polling waits that fail with a message saying what was awaited and what was seen last.
 *
 * SIMULATED TEE: the workers' enclaves are simulated and give no hardware protection (test network only).
 *
 * Children's log lines are kept (bounded) and printed only when a test fails, so a failure shows what the
 * orchestrator and workers were doing without flooding a passing run; COCOON_E2E_LOG=<file> writes all of them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Address } from '@ton/core';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { CocoonClient } from '../../client/sdk';
import { decodeEvent, EventName } from '../../orchestrator/watcher/events';
import { ChainClient, WalletSender } from '../../protocol/chain';
import { walletFromSeed } from '../../protocol/network-file';
import { isAlive } from './cli';
import { AttemptRecord, QUEUE_PREFIX, WorkItem, workQueueName } from '../../protocol/work';
import { liveChildCount, ManagedChild, startCocoon } from '../../localnet/processes';
import { LocalNetwork, startLocalNetwork } from '../../localnet/up';
import { ProviderStake } from '../../wrappers';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------ logs

/**
 * A bounded tail of the log lines the network and its children printed, for failure messages. Successful API
 * request lines are dropped: the tests poll the API, and those lines would push out the ones that explain a failure.
 */
export class LogTail {
    private readonly lines: string[] = [];
    constructor(private readonly max = 5_000) {}
    push(line: string): void {
        if (/"msg":"request"/.test(line) && /"status":[23]\d\d/.test(line)) return;
        this.lines.push(line.length > 600 ? `${line.slice(0, 600)}…` : line);
        if (this.lines.length > this.max) this.lines.splice(0, this.lines.length - this.max);
    }
    /** every kept line */
    all(): string[] {
        return this.lines.slice();
    }
    /** the last n lines, optionally only those matching `filter` */
    tail(n = 60, filter?: RegExp): string {
        const l = filter ? this.lines.filter((x) => filter.test(x)) : this.lines;
        return l.slice(-n).join('\n');
    }
}

// ------------------------------------------------------------------------------------------------ waits

/**
 * Polls `probe` until it returns something other than undefined/false, and returns that. On timeout throws
 * `timed out after N ms waiting for <what>; last seen: <describe(last)>`.
 */
export async function waitUntil<T>(what: string, probe: () => Promise<T | undefined | false>, opts: { timeoutMs: number; intervalMs?: number; describe?: () => string }): Promise<T> {
    const until = Date.now() + opts.timeoutMs;
    let lastError = '';
    for (;;) {
        try {
            const v = await probe();
            if (v !== undefined && v !== false) return v as T;
            lastError = '';
        } catch (e) {
            lastError = ` (last probe failed: ${(e as Error).message.slice(0, 300)})`;
        }
        if (Date.now() > until) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${what}${lastError}${opts.describe ? `; last seen: ${opts.describe()}` : ''}`);
        await sleep(opts.intervalMs ?? 250);
    }
}

// ------------------------------------------------------------------------------------------------ network

export interface E2eNetwork {
    net: LocalNetwork;
    dir: string;
    chain: ChainClient;
    /** the bootstrap's client wallet (dev wallet funded on the devnet) */
    clientWallet: WalletSender;
    /** a commands connection to the network's Redis (closed by stop()) */
    redis: Redis;
    logs: LogTail;
    /** a client whose orchestrator API is `api` (default: the network's) */
    client(api?: string): CocoonClient;
    /** ProviderStake state of a provider (by owner) */
    stakeOf(owner: Address | string): Promise<ProviderStateView>;
    /** the provider's name (provider-1, …) */
    nameOf(owner: Address | string): string;
    /** the orchestrator's arguments as localnet/up.ts passes them, with another port */
    orchestratorArgs(port: number): string[];
    /** starts one more `cocoon orchestrator` on this network (stopped by stop()) */
    startOrchestrator(name: string, port: number): Promise<ManagedChild>;
    /** stops extra children, the network, Redis, the chain; removes the temp dir. Idempotent, never throws. */
    stop(): Promise<void>;
}

export interface ProviderStateView {
    stake: bigint;
    locked: bigint;
    inFlight: bigint;
    earnings: bigint;
}

export async function startE2eNetwork(opts: { workers: number }): Promise<E2eNetwork> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-e2e-'));
    const logs = new LogTail();
    let net: LocalNetwork;
    try {
        net = await startLocalNetwork({
            workers: opts.workers,
            networkFile: path.join(dir, 'network.json'),
            log: (l) => logs.push(`[up] ${l}`),
            onChildLog: (name, _stream, line) => logs.push(`[${name}] ${line}`),
            readyTimeoutMs: 120_000,
            // a worker that does not stop in time is killed: afterAll must not hang on it
            stopGraceMs: 8_000,
        });
    } catch (e) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw new Error(`the local network did not start: ${(e as Error).message}\n${logs.tail(40)}`);
    }
    const chain = new ChainClient({ endpoint: net.network.endpoint });
    const clientWallet = walletFromSeed(chain, net.bootstrap.client.seed);
    const redis = new Redis(net.redisUrl, { maxRetriesPerRequest: 2 });
    const extra: ManagedChild[] = [];
    const provider = (owner: Address | string) => {
        const a = typeof owner === 'string' ? Address.parse(owner) : owner;
        const p = net.bootstrap.providers.find((x) => x.address.equals(a));
        if (!p) throw new Error(`${a.toString()} is not a provider of this network`);
        return p;
    };
    const orchestratorArgs = (port: number) => ['orchestrator', '--endpoint', net.network.endpoint, '--registry', net.bootstrap.registry.toString(), '--redis', net.redisUrl, '--port', String(port)];
    let stopping: Promise<void> | undefined;
    return {
        net,
        dir,
        chain,
        clientWallet,
        redis,
        logs,
        client: (api?: string) => new CocoonClient({ network: { ...net.network, api: api ?? net.api }, wallet: clientWallet, chain }),
        async stakeOf(owner) {
            const s = await chain.open(ProviderStake.fromAddress(provider(owner).stakeContract)).getState();
            return { stake: s.stake, locked: s.locked, inFlight: s.inFlight, earnings: s.earnings };
        },
        nameOf: (owner) => provider(owner).name,
        orchestratorArgs,
        async startOrchestrator(name, port) {
            const child = await startCocoon(name, orchestratorArgs(port), {
                // the operator seed goes in the environment, as localnet/up.ts does (argv shows in `ps`)
                env: { COCOON_OPERATOR_SEED: net.bootstrap.operator.seed },
                onLog: (n, _s, line) => logs.push(`[${n}] ${line}`),
                readyTimeoutMs: 60_000,
                stopGraceMs: 8_000,
            });
            extra.push(child);
            return child;
        },
        stop() {
            stopping ??= (async () => {
                // COCOON_E2E_LOG=<file>: keep every log line of the run (the failure messages show only a tail)
                if (process.env.COCOON_E2E_LOG) fs.writeFileSync(process.env.COCOON_E2E_LOG, logs.all().join('\n') + '\n');
                await redis.quit().catch(() => redis.disconnect());
                // workers first (they need the orchestrators' API and Redis to drain), then every orchestrator
                await Promise.all(net.workers.map((w) => w.stop().catch(() => undefined)));
                await Promise.all(extra.map((c) => c.stop().catch(() => undefined)));
                await net.stop().catch(() => undefined);
                fs.rmSync(dir, { recursive: true, force: true });
            })();
            return stopping;
        },
    };
}

/** SIGKILL (no drain, no cleanup: a crash) and wait until the process is gone. */
export async function killHard(child: ManagedChild): Promise<void> {
    child.process.kill('SIGKILL');
    const exit = await Promise.race([child.exited, sleep(10_000).then(() => null)]);
    if (!exit) throw new Error(`${child.name} (pid ${child.pid}) did not die within 10 s of SIGKILL`);
}

/** Every child this test process started has exited and none of the given pids is alive: no leftovers. */
export function leftoverProcesses(pids: number[]): string[] {
    const left = pids.filter(isAlive).map((p) => `pid ${p}`);
    if (liveChildCount() > 0) left.push(`${liveChildCount()} managed child(ren) still running`);
    return left;
}

// ------------------------------------------------------------------------------------------------ queues

/**
 * Watches the work queues of these owners every `intervalMs` and resolves with the first owner whose queue has an
 * active job (a worker took a work item), and that item's escrow (raw). Closes its queue connections before it
 * resolves or rejects.
 */
export async function firstActiveProvider(redisUrl: string, owners: string[], opts: { timeoutMs: number; intervalMs?: number }): Promise<{ owner: string; job: string }> {
    const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
    const queues = owners.map((o) => ({ owner: o, q: new Queue<WorkItem>(workQueueName(o), { connection, prefix: QUEUE_PREFIX }) }));
    try {
        const until = Date.now() + opts.timeoutMs;
        for (;;) {
            const counts = await Promise.all(queues.map(({ q }) => q.getActiveCount()));
            const i = counts.findIndex((c) => c > 0);
            if (i >= 0) {
                const [item] = await queues[i].q.getJobs(['active'], 0, 0);
                return { owner: queues[i].owner, job: item?.data.job ?? '' };
            }
            if (Date.now() > until) throw new Error(`no worker of ${owners.length} provider(s) took a work item within ${opts.timeoutMs} ms`);
            await sleep(opts.intervalMs ?? 20);
        }
    } finally {
        await Promise.all(queues.map(({ q }) => q.close().catch(() => undefined)));
        await connection.quit().catch(() => connection.disconnect());
    }
}

// ------------------------------------------------------------------------------------------------ chain

/** The names of the events an escrow emitted, oldest first (JobClaimed, JobCommitted, JobSettled, …). */
export async function escrowEvents(chain: ChainClient, escrow: Address): Promise<EventName[]> {
    const names: EventName[] = [];
    for await (const t of chain.transactions(escrow)) {
        for (const m of t.tx.outMessages.values()) {
            if (m.info.type !== 'external-out') continue;
            const d = decodeEvent(m.body, 'job');
            if (d.ok) names.push(d.name);
        }
    }
    return names.reverse();
}

// ------------------------------------------------------------------------------------------------ orchestrator API

export interface JobStatusBody {
    address: string;
    jobId: string;
    status: string;
    dispatch: { state: string; attempts: AttemptRecord[]; reason?: string };
}

/** The `status` of GET /v1/jobs/<address> (body `{address, status}`) of an orchestrator; null on 404 (no JobOpened seen for it yet). */
export async function jobStatus(api: string, escrow: Address): Promise<JobStatusBody | null> {
    const res = await fetch(`${api.replace(/\/+$/, '')}/v1/jobs/${escrow.toRawString()}`, { signal: AbortSignal.timeout(10_000) });
    if (res.status === 404) return null;
    if (!res.ok) throw new Error(`GET /v1/jobs/${escrow.toRawString()} answered HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
    const body = (await res.json()) as { address: string; status: JobStatusBody };
    return body.status;
}

/** GET /v1/queues of an orchestrator. */
export async function queueCounts(api: string): Promise<Record<string, Record<string, number>> & { work: { total: Record<string, number> } }> {
    const res = await fetch(`${api.replace(/\/+$/, '')}/v1/queues`, { signal: AbortSignal.timeout(10_000) });
    if (!res.ok) throw new Error(`GET /v1/queues answered HTTP ${res.status}`);
    return (await res.json()) as never;
}
