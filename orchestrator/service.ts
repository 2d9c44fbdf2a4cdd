/**
 * OrchestratorService: one orchestrator process. Several run against one Redis; every instance serves the API,
 * keeps its own provider directory (DirectorySync) and dispatches (BullMQ workers share the dispatch queue); the
 * one holding the leader lease also runs the chain watcher (intake), the expirer and the pruner. docs/operations.md.
 *
 *   const svc = new OrchestratorService({ chain, registry, redisUrl, operator, api: { port: 8080 } });
 *   await svc.start();        // svc.url → http://127.0.0.1:8080
 *   ...
 *   await svc.close();        // stops dispatching (in-flight jobs are handed back), releases the lease, closes all
 */
import { randomBytes } from 'crypto';
import * as os from 'os';
import { Address } from '@ton/core';
import type { RedisOptions } from 'ioredis';
import pino, { Logger } from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import type { ChainClient, WalletSender } from '../protocol/chain';
import { QUEUE_PREFIX } from '../protocol/work';
import { connectRedis, isClusterUrl, RedisClient } from '../protocol/redis';
import { BlobStore } from './blobs';
import { ApiServer, createApiServer } from './api/server';
import { renderDashboard } from './api/dashboard';
import { Dispatcher, DispatcherOptions } from './dispatch/dispatcher';
import { DispatchStatus } from './dispatch/status';
import { Expirer } from './dispatch/expirer';
import { Pruner } from './dispatch/pruner';
import { createIntakeHandler, IntakeOptions } from './dispatch/intake';
import { OutcomeWaiters } from './dispatch/outcomes';
import { QueueSet } from './dispatch/queues';
import { LeaderLock } from './leader';
import { ServiceMetrics, createServiceMetrics } from './metrics';
import { DirectorySync, DirectorySyncOptions } from './providers/sync';
import type { ProviderDirectory } from './router';
import { ChainWatcher, ChainWatcherOptions, EventHandler } from './watcher';

export type ServiceChain = Pick<ChainClient, 'call' | 'open' | 'isDeployed'>;

export interface OrchestratorServiceOptions {
    chain: ServiceChain;
    registry: Address;
    /**
     * Redis URL (default redis://127.0.0.1:6379); redis+cluster://host:port,host:port for a Redis Cluster (every
     * multi-key operation stays in one hash slot: protocol/work.ts)
     */
    redisUrl?: string;
    /** extra ioredis options (TLS, password...); on a cluster they apply to every node connection */
    redisOptions?: RedisOptions;
    /** unique per process; default `<host>-<pid>-<random>` */
    instanceId?: string;
    /** wallet that pays for ExpireJob / Settle / PruneProvider (leader only); without it this instance expires and prunes nothing */
    operator?: WalletSender;
    /** API listener; false: no HTTP server (tests that drive the parts directly) */
    api?: { port?: number; host?: string; blobTtlSeconds?: number } | false;
    /**
     * BullMQ key prefix. Default `cocoon`. Workers must use the same. Queue names carry their own hash tags, so no
     * tag is needed here on a Redis Cluster (a tagged prefix such as `{cocoon}` also works, with every queue on one slot)
     */
    queuePrefix?: string;
    leaderTtlMs?: number;
    dispatcher?: Omit<DispatcherOptions, 'queues' | 'redis' | 'waiters' | 'directory' | 'chain' | 'instanceId' | 'logger' | 'metrics'>;
    sync?: Pick<DirectorySyncOptions, 'refreshIntervalMs' | 'heartbeatIntervalMs' | 'heartbeatTtlMs' | 'minTimeLeftMs' | 'concurrency'>;
    watcher?: Pick<ChainWatcherOptions, 'pollIntervalMs' | 'registryStart' | 'concurrency' | 'keyPrefix'>;
    intake?: Pick<IntakeOptions, 'followJobs' | 'expiryGraceMs' | 'keepFinishedSec' | 'dispatchRetries'>;
    expirer?: { settle?: boolean; confirmTimeoutMs?: number };
    pruner?: { confirmTimeoutMs?: number };
    /** the network's TEE is the simulated one (no hardware protection): logged at start, shown on the dashboard */
    simulatedTee?: boolean;
    logger?: Logger;
}

export class OrchestratorService {
    readonly instanceId: string;
    /** connected to a Redis Cluster (redis+cluster:// URL) */
    readonly cluster: boolean;
    readonly metrics: ServiceMetrics;
    readonly log: Logger;
    readonly redis: RedisClient;
    readonly queues: QueueSet;
    readonly sync: DirectorySync;
    readonly leader: LeaderLock;
    readonly status: DispatchStatus;
    /** the leader's watcher handler (exposed for tests and tools that replay events) */
    readonly intake: EventHandler;
    dispatcher?: Dispatcher;
    api?: ApiServer;
    private readonly bull: RedisClient;
    private readonly subscriber: RedisClient;
    private readonly waiters: OutcomeWaiters;
    private watcher?: ChainWatcher;
    private expirer?: Expirer;
    private pruner?: Pruner;
    private depthTimer?: NodeJS.Timeout;
    private closing?: Promise<void>;
    private started = false;

    constructor(private readonly opts: OrchestratorServiceOptions) {
        this.instanceId = opts.instanceId ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
        this.log = (opts.logger ?? pino({ name: 'cocoon-orchestrator' })).child({ instance: this.instanceId });
        this.metrics = createServiceMetrics(new MetricsRegistry());
        const url = opts.redisUrl ?? 'redis://127.0.0.1:6379';
        const base: RedisOptions = { ...opts.redisOptions, lazyConnect: false };
        this.redis = connectRedis(url, { redisOptions: base });
        // BullMQ's blocking commands must not give up after a number of retries
        this.bull = connectRedis(url, { redisOptions: { ...base, maxRetriesPerRequest: null } });
        this.subscriber = connectRedis(url, { redisOptions: base });
        this.cluster = isClusterUrl(url);
        for (const [name, c] of [['commands', this.redis], ['bullmq', this.bull], ['subscriber', this.subscriber]] as const) {
            c.on('error', (e: Error) => this.log.warn({ connection: name, err: e.message }, 'redis connection error'));
        }
        this.queues = new QueueSet(this.bull, opts.queuePrefix ?? QUEUE_PREFIX);
        this.waiters = new OutcomeWaiters(this.subscriber);
        this.sync = new DirectorySync({
            chain: opts.chain,
            redis: this.redis,
            subscriber: this.subscriber,
            registry: opts.registry,
            logger: this.log,
            metrics: this.metrics,
            ...opts.sync,
        });
        this.status = new DispatchStatus(this.queues, this.redis, opts.chain, () => [...this.sync.directory.entries()].map((e) => e.owner));
        this.intake = createIntakeHandler({ queues: this.queues, logger: this.log, metrics: this.metrics, ...opts.intake });
        this.leader = new LeaderLock({
            redis: this.redis,
            instanceId: this.instanceId,
            ttlMs: opts.leaderTtlMs,
            logger: this.log,
            onChange: (leading) => (leading ? this.becomeLeader() : this.stopLeading()),
        });
    }

    get directory(): ProviderDirectory {
        return this.sync.directory;
    }

    get url(): string | undefined {
        return this.api?.url;
    }

    get leading(): boolean {
        return this.leader.leading;
    }

    /** The watcher while this instance leads. */
    get chainWatcher(): ChainWatcher | undefined {
        return this.watcher;
    }

    async start(): Promise<void> {
        if (this.started) throw new Error('the orchestrator service is already started');
        this.started = true;
        if (this.opts.simulatedTee) this.log.warn('this network uses the SIMULATED TEE: attestation gives no hardware protection (development only)');
        await this.waiters.start();
        await this.sync.start();
        this.dispatcher = new Dispatcher({
            queues: this.queues,
            redis: this.redis,
            waiters: this.waiters,
            directory: this.sync.directory,
            chain: this.opts.chain,
            instanceId: this.instanceId,
            logger: this.log,
            metrics: this.metrics,
            ...this.opts.dispatcher,
        });
        if (this.opts.api !== false) {
            const a = this.opts.api ?? {};
            this.api = createApiServer({
                blobs: new BlobStore(this.redis, a.blobTtlSeconds ? { ttlSeconds: a.blobTtlSeconds } : {}),
                providers: async (model) => this.sync.providersForModel(model),
                jobStatus: (address) => this.status.jobStatus(address),
                queues: () => this.status.queueCounts(),
                dashboard: () => this.dashboard(),
                metricsRegistry: this.metrics.registry,
                logger: this.log.child({ component: 'api' }),
            });
            await this.api.listen(a.port ?? 8080, a.host ?? '127.0.0.1');
        }
        await this.leader.start();
        this.depthTimer = setInterval(() => void this.updateQueueDepth(), 5_000);
        void this.updateQueueDepth();
        this.log.info({ api: this.url ?? null, leading: this.leading, redis: this.cluster ? 'cluster' : 'single', registry: this.opts.registry.toString(), operator: this.opts.operator?.address.toString() ?? null }, 'orchestrator started');
    }

    /** Stops dispatching (jobs in progress are handed back for another instance), gives up the lease, closes all. */
    close(): Promise<void> {
        if (!this.closing) this.closing = this.shutdown();
        return this.closing;
    }

    private async shutdown(): Promise<void> {
        clearInterval(this.depthTimer);
        const step = async (what: string, fn: () => Promise<unknown> | undefined) => {
            try {
                await fn();
            } catch (e) {
                this.log.warn({ step: what, err: (e as Error).message }, 'error while closing');
            }
        };
        await step('dispatcher', () => this.dispatcher?.close());
        await step('leader', () => this.leader.stop());
        await step('api', () => this.api?.close());
        await step('directory sync', () => this.sync.stop());
        await step('outcome waiters', () => this.waiters.close());
        await step('queues', () => this.queues.close());
        for (const c of [this.subscriber, this.bull, this.redis]) await step('redis', () => c.quit().catch(() => c.disconnect()));
        this.log.info('orchestrator stopped');
    }

    private async becomeLeader(): Promise<void> {
        if (this.closing) return;
        this.metrics.leader.set(1);
        this.watcher = new ChainWatcher({
            chain: this.opts.chain,
            redis: this.redis,
            registry: this.opts.registry,
            handler: this.intake,
            logger: this.log,
            metrics: this.metrics.registry,
            ...this.opts.watcher,
        });
        const watcher = this.watcher;
        try {
            await watcher.start();
        } catch (e) {
            // Redis hiccup at the wrong moment: try again while we still hold the lease
            this.log.error({ err: (e as Error).message }, 'could not start the chain watcher; retrying in 2 s');
            setTimeout(() => {
                if (this.watcher === watcher && !this.closing && !watcher.running) watcher.start().catch((err: Error) => this.log.error({ err: err.message }, 'chain watcher still not started'));
            }, 2_000);
        }
        this.expirer = new Expirer({
            queues: this.queues,
            chain: this.opts.chain,
            operator: this.opts.operator,
            logger: this.log,
            metrics: this.metrics,
            ...this.opts.expirer,
        });
        this.pruner = new Pruner({
            queues: this.queues,
            redis: this.redis,
            chain: this.opts.chain,
            registry: this.opts.registry,
            operator: this.opts.operator,
            logger: this.log,
            metrics: this.metrics,
            ...this.opts.pruner,
        });
    }

    private async stopLeading(): Promise<void> {
        this.metrics.leader.set(0);
        const watcher = this.watcher;
        const expirer = this.expirer;
        const pruner = this.pruner;
        this.watcher = undefined;
        this.expirer = undefined;
        this.pruner = undefined;
        // lost lease: stop committing at once (abort); shutting down: let the batch in flight commit (stop)
        if (watcher) await (this.closing ? watcher.stop() : watcher.abort());
        if (expirer) await expirer.close();
        if (pruner) await pruner.close();
    }

    private async updateQueueDepth(): Promise<void> {
        try {
            const q = await this.status.queueCounts();
            const set = (queue: string, c: Record<string, number>) => {
                for (const [state, n] of Object.entries(c)) this.metrics.queueDepth.set({ queue, state }, n);
            };
            set('dispatch', q.dispatch);
            set('dead-letter', q['dead-letter']);
            set('expiry', q.expiry);
            set('work', q.work.total);
        } catch (e) {
            this.log.debug({ err: (e as Error).message }, 'queue depth update failed');
        }
    }

    private async dashboard(): Promise<string> {
        const now = Date.now();
        const [queues, jobs] = await Promise.all([this.status.queueCounts(), this.status.recentJobs(30)]);
        const providers = [...this.sync.directory.entries()].map((e) => {
            const health = this.sync.health(e.owner, now);
            return {
                owner: e.owner,
                active: e.active,
                health,
                load: e.load,
                capacity: e.capacity,
                models: e.models.size,
                stake: e.stake.toString(),
                locked: e.locked.toString(),
                successes: e.successCount,
                failures: e.failureCount,
                lastHeartbeatMs: Number.isFinite(e.lastHeartbeatMs) ? e.lastHeartbeatMs : null,
            };
        });
        return renderDashboard({
            instance: this.instanceId,
            leader: this.leading,
            generatedAtMs: now,
            simulatedTee: this.opts.simulatedTee ?? false,
            queues: { dispatch: queues.dispatch, 'dead-letter': queues['dead-letter'], expiry: queues.expiry, work: queues.work.total },
            providers,
            jobs,
        });
    }
}
