/**
 * A whole Cocoon network on this machine, as `cocoon up` runs it: a devnet chain in this process, a private
 * redis-server (or the one at REDIS_URL), the registry bootstrapped with N staked providers, one orchestrator and
 * N workers as child processes, and the network file clients read (.cocoon/network.json).
 *
 * SIMULATED TEE: the workers' enclaves are simulated and give no hardware protection; the network file says so.
 * DEV ONLY: the network file holds the seeds of devnet-funded wallets.
 *
 * Stopping order matters: workers first (they drain and deregister while the orchestrator, Redis and the chain
 * still answer), then the orchestrator, then Redis, then the chain.
 */
import * as fs from 'fs';
import * as path from 'path';
import { startDevnet, Devnet } from '../devnet';
import { DEFAULT_NETWORK_FILE, NetworkFile, writeNetworkFile } from '../protocol/network-file';
import { bootstrapNetwork, BootstrappedNetwork } from './bootstrap';
import { freePort } from './ports';
import { ChildOptions, ManagedChild, startCocoon } from './processes';
import { PrivateRedis, startPrivateRedis } from './redis';

export interface LocalNetworkOptions {
    /** how many providers (each with one worker), default 2 */
    workers?: number;
    /** jobs each worker runs at once (default 2: one job's chain waits overlap another's inference) */
    workerCapacity?: number;
    /** use this Redis instead of starting a private one */
    redisUrl?: string;
    /** orchestrator API port; 0 (default) picks a free one */
    apiPort?: number;
    /** devnet port; 0 (default) picks a free one */
    chainPort?: number;
    /** where to write the network file (default .cocoon/network.json) */
    networkFile?: string;
    /** the chain runs in this process (the only mode so far) */
    inProcessDevnet?: true;
    /** progress lines */
    log?: (line: string) => void;
    /** the children's log lines (default: kept, not shown) */
    onChildLog?: ChildOptions['onLog'];
    /** ready-line timeout per child (default 90 s: a worker loads its models first) */
    readyTimeoutMs?: number;
    /** SIGTERM → SIGKILL grace period per child (default 10 s) */
    stopGraceMs?: number;
}

export interface LocalProvider {
    name: string;
    owner: string;
    stakeContract: string;
    /** the worker's ready line (owner, queue, measurement) */
    ready: Record<string, unknown>;
    pid: number;
}

export interface LocalNetwork {
    network: NetworkFile;
    networkFile: string;
    api: string;
    redisUrl: string;
    devnet: Devnet;
    bootstrap: BootstrappedNetwork;
    orchestrator: ManagedChild;
    workers: ManagedChild[];
    providers: LocalProvider[];
    /** stops every child (workers first), Redis (if private), the chain; removes the network file. Idempotent. */
    stop(): Promise<void>;
}

const MAX_WORKERS = 16;

export async function startLocalNetwork(opts: LocalNetworkOptions = {}): Promise<LocalNetwork> {
    const log = opts.log ?? (() => undefined);
    const workerCount = opts.workers ?? 2;
    if (!Number.isInteger(workerCount) || workerCount < 1 || workerCount > MAX_WORKERS) {
        throw new Error(`workers must be an integer from 1 to ${MAX_WORKERS}, got ${workerCount}`);
    }
    const networkFile = path.resolve(opts.networkFile ?? DEFAULT_NETWORK_FILE);
    const childOptions = { onLog: opts.onChildLog, readyTimeoutMs: opts.readyTimeoutMs ?? 90_000, stopGraceMs: opts.stopGraceMs };

    // Everything started so far, stopped in reverse order if a later step fails.
    const undo: (() => Promise<unknown>)[] = [];
    const rollback = async () => {
        for (const f of undo.reverse()) await f().catch(() => undefined);
    };
    try {
        log('starting the local chain (devnet, in this process)');
        const devnet = await startDevnet({ port: opts.chainPort ?? 0 });
        undo.push(() => devnet.close());

        let redis: PrivateRedis | undefined;
        let redisUrl = opts.redisUrl;
        if (redisUrl) {
            log(`using Redis at ${redactUrl(redisUrl)}`);
        } else {
            log('starting a private redis-server (no persistence)');
            redis = await startPrivateRedis();
            undo.push(() => redis!.stop());
            redisUrl = redis.url;
        }

        const providerNames = Array.from({ length: workerCount }, (_, i) => `provider-${i + 1}`);
        const net = await bootstrapNetwork({ chain: devnet, providers: providerNames, redisUrl, log });

        const apiPort = opts.apiPort || (await freePort());
        log(`starting the orchestrator on port ${apiPort}`);
        const orchestrator = await startCocoon(
            'orchestrator',
            ['orchestrator', '--endpoint', devnet.endpoint, '--registry', net.registry.toString(), '--redis', redisUrl, '--port', String(apiPort)],
            // seeds go in the environment (what --operator-seed / --wallet-seed fall back to), not in argv where `ps` shows them
            { ...childOptions, env: { COCOON_OPERATOR_SEED: net.operator.seed } },
        );
        undo.push(() => orchestrator.stop());
        const api = typeof orchestrator.ready.api === 'string' ? orchestrator.ready.api : `http://127.0.0.1:${apiPort}`;

        log(`starting ${workerCount} worker(s) (SIMULATED TEE: no hardware protection)`);
        const started = await Promise.allSettled(
            net.providers.map((p) =>
                startCocoon(
                    `worker ${p.name}`,
                    [
                        'worker',
                        '--endpoint', devnet.endpoint,
                        '--registry', net.registry.toString(),
                        '--api', api,
                        '--redis', redisUrl!,
                        '--sim-vendor-seed', net.vendorSeed,
                        '--endpoint-name', p.name,
                        '--capacity', String(opts.workerCapacity ?? 2),
                    ],
                    { ...childOptions, env: { COCOON_WALLET_SEED: p.seed } },
                ),
            ),
        );
        const workers: ManagedChild[] = [];
        for (const s of started) if (s.status === 'fulfilled') workers.push(s.value);
        // workers are stopped before the orchestrator: push them last so the rollback stops them first
        undo.push(() => Promise.all(workers.map((w) => w.stop())));
        const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
        if (failed) throw failed.reason;

        const providers: LocalProvider[] = net.providers.map((p, i) => ({
            name: p.name,
            owner: p.address.toString(),
            stakeContract: p.stakeContract.toString(),
            ready: workers[i].ready,
            pid: workers[i].pid,
        }));
        const pids: Record<string, number> = { up: process.pid, orchestrator: orchestrator.pid };
        if (redis?.process.pid) pids.redis = redis.process.pid;
        for (const p of providers) pids[`worker ${p.name}`] = p.pid;
        // ready means routable: the orchestrator has read every provider's record from the chain and its heartbeat
        log('waiting until the orchestrator routes to every worker');
        await waitUntilRoutable(api, Object.values(net.models), net.providers.map((p) => p.address.toRawString()), opts.readyTimeoutMs ?? 90_000);
        const network = net.networkFile({ api, redisUrl, pids });
        writeNetworkFile(networkFile, network);
        undo.push(async () => removeIfOurs(networkFile));
        log(`network file written to ${networkFile}`);

        let stopping: Promise<void> | undefined;
        const stop = () => {
            stopping ??= (async () => {
                removeIfOurs(networkFile);
                log('stopping the workers');
                await Promise.all(workers.map((w) => w.stop()));
                log('stopping the orchestrator');
                await orchestrator.stop();
                if (redis) {
                    log('stopping redis-server');
                    await redis.stop();
                }
                log('stopping the local chain');
                await devnet.close();
            })();
            return stopping;
        };
        return { network, networkFile, api, redisUrl, devnet, bootstrap: net, orchestrator, workers, providers, stop };
    } catch (e) {
        await rollback();
        throw e;
    }
}

/**
 * Polls GET /v1/providers for every model until each provider is listed healthy with its attestation quote: until
 * then a client could find no provider, or one without the quote it must verify.
 */
async function waitUntilRoutable(api: string, models: string[], owners: string[], timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let missing: string[] = [];
    for (;;) {
        missing = [];
        for (const model of models) {
            let listed: { owner: string; healthy?: boolean; quote?: string }[] = [];
            try {
                const res = await fetch(`${api}/v1/providers?model=${model}`);
                if (res.ok) listed = ((await res.json()) as { providers: typeof listed }).providers;
            } catch {
                // not answering yet
            }
            for (const o of owners) {
                const p = listed.find((x) => x.owner === o);
                if (!p || !p.healthy || !p.quote) missing.push(`${o.slice(0, 10)}… for ${model.slice(0, 8)}…`);
            }
        }
        if (missing.length === 0) return;
        if (Date.now() > until) throw new Error(`the orchestrator did not list every worker as routable within ${timeoutMs} ms (missing: ${missing.join(', ')})`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

/** Deletes the network file unless another `cocoon up` has overwritten it since (its pids.up differs). */
function removeIfOurs(file: string): void {
    try {
        const current = JSON.parse(fs.readFileSync(file, 'utf8')) as NetworkFile;
        if (current.pids?.up === process.pid) fs.unlinkSync(file);
    } catch {
        // already gone or unreadable: nothing of ours to remove
    }
}

/** redis://user:secret@host → redis://user:***@host, for logs. */
export function redactUrl(url: string): string {
    return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}
