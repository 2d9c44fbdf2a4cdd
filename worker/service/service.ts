/**
 * WorkerService: one provider's worker process. It binds the on-chain enclave record to its enclave, announces
 * itself with heartbeats, and consumes its own BullMQ queue (`work-<owner>`), running each WorkItem through the
 * pipeline (pipeline.ts) and PUBLISHing every finished attemptId on OUTCOME_CHANNEL once BullMQ recorded the result.
 *
 *   const service = new WorkerService({ redis, chain, registry, wallet, enclave, quote, engine, apiUrl, logger });
 *   await service.start();            // registration, first heartbeat, queue consumer
 *   ...
 *   await service.stop({ drain: true }); // SIGTERM: finish running jobs, hand back waiting ones
 *
 * With a simulated TEE the enclave's keys live in this process's memory: no hardware protection (logged at start).
 */
import { randomBytes } from 'crypto';
import * as os from 'os';
import { Address } from '@ton/core';
import { Job, Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Registry as PromRegistry } from 'prom-client';
import { ChainClient, WalletSender } from '../../protocol/chain';
import { attestationHash, SIMULATED_WARNING } from '../../protocol/attestation';
import { HEARTBEAT_INTERVAL_MS, OUTCOME_CHANNEL, QUEUE_PREFIX, WorkItem, WorkOutcome, workQueueName } from '../../protocol/work';
import type { RedisClient } from '../../protocol/redis';
import { Enclave } from '../enclave/enclave';
import { InferenceEngine } from '../inference/engine';
import { ConfidentialJobRunner } from '../job/runner';
import { BlobClient } from './blobs';
import { checkRedisConnection, LOCK_DURATION_MS, openRedis, RedisConnection, resolvePrices } from './config';
import { asWorkFailure, WorkFailure } from './failures';
import { Heartbeat } from './heartbeat';
import { createWorkerMetrics, WorkerMetrics } from './metrics';
import { WorkPipeline } from './pipeline';
import { ensureEnclaveRegistered } from './registration';

export interface WorkerServiceOptions {
    /** Redis URL (redis://, or redis+cluster://host:port,… for a Redis Cluster) or ioredis options (the orchestrators' Redis) */
    redis: RedisConnection;
    chain: ChainClient;
    registry: Address;
    /** the provider owner's wallet: registers the enclave, claims, posts receipts */
    wallet: WalletSender;
    enclave: Enclave;
    /** the enclave's attestation quote (its sha256 goes on chain; the quote itself in the heartbeat) */
    quote: Buffer;
    /** the models; the caller owns it (stop() does not close it) */
    engine: InferenceEngine;
    /** price overrides, nanoTON, keyed by task name (ocr|vad|tensor) or model hash hex; defaults DEFAULT_PRICES_TON */
    prices?: Record<string, bigint>;
    /**
     * orchestrator HTTP API base, e.g. http://127.0.0.1:8080, or several (in order of preference): blob fetches and
     * result uploads fail over to the next one on connection errors and 5xx answers
     */
    apiUrl: string | readonly string[];
    /** concurrent jobs (default 2: one job is sealed, claimed and committed while the next one runs its model) */
    capacity?: number;
    /** public endpoint name in the enclave record and heartbeat (default `worker://<host>`) */
    endpoint?: string;
    logger: Logger;
    metrics?: PromRegistry;
    heartbeatIntervalMs?: number;
    lockDurationMs?: number;
    /** refuse jobs with less time left (default 20 s) */
    minTimeLeftMs?: number;
    /** how long to wait for the claim / the receipt on chain (default 30 s each) */
    confirmTimeoutMs?: number;
}

export interface StopOptions {
    /** true (SIGTERM): finish running jobs, hand back waiting ones, leave the live set. false (tests): stop now, like a crash. */
    drain?: boolean;
}

export class WorkerService {
    private readonly log: Logger;
    private readonly instance = `${os.hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
    private readonly metrics?: WorkerMetrics;
    private redis?: RedisClient;
    /** BullMQ's connection (maxRetriesPerRequest: null); BullMQ duplicates it for its blocking reads */
    private bull?: RedisClient;
    private worker?: Worker<WorkItem, WorkOutcome>;
    private heartbeat?: Heartbeat;
    private pipeline?: WorkPipeline;
    private running = 0;
    private drainingFlag = false;
    private stopping?: Promise<void>;
    private readonly publishes = new Set<Promise<unknown>>();
    private pricesResolved: Record<string, bigint> = {};
    private stakeAddress?: Address;

    constructor(private readonly opts: WorkerServiceOptions) {
        this.log = opts.logger.child({ component: 'worker', owner: opts.wallet.address.toRawString() });
        checkRedisConnection(opts.redis);
        if (opts.metrics) this.metrics = createWorkerMetrics(opts.metrics);
    }

    get owner(): string {
        return this.opts.wallet.address.toRawString();
    }
    get queueName(): string {
        return workQueueName(this.opts.wallet.address);
    }
    /** jobs running now */
    get load(): number {
        return this.running;
    }
    get draining(): boolean {
        return this.drainingFlag;
    }
    get stakeContract(): Address | undefined {
        return this.stakeAddress;
    }
    /** model hash hex → nanoTON, as registered */
    get prices(): Record<string, bigint> {
        return { ...this.pricesResolved };
    }

    /** Registration, first heartbeat, queue consumer. On failure everything opened so far is closed again. */
    async start(): Promise<void> {
        try {
            await this.startUp();
        } catch (e) {
            await this.stopNow().catch(() => undefined);
            throw e;
        }
    }

    private async startUp(): Promise<void> {
        const { opts } = this;
        const capacity = opts.capacity ?? 2;
        if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`capacity must be a positive integer, got ${capacity}`);
        const measurement = opts.enclave.measurement;
        if (!measurement) throw new Error('the enclave has no measurement: build it with an attestation source or options.measurement');
        const teeType = opts.enclave.teeType ?? 'unknown';
        if (teeType === 'simulated') this.log.warn({ tee: teeType }, `${SIMULATED_WARNING}: enclave keys and job plaintext are in this process's memory`);

        this.pricesResolved = resolvePrices(this.opts.engine.models(), opts.prices);
        const endpoint = opts.endpoint ?? `worker://${os.hostname()}`;
        const registration = await ensureEnclaveRegistered({
            chain: opts.chain,
            registry: opts.registry,
            wallet: opts.wallet,
            ed25519PublicKey: opts.enclave.ed25519PublicKey,
            x25519PublicKey: opts.enclave.x25519PublicKey,
            measurement,
            quote: opts.quote,
            prices: this.pricesResolved,
            endpoint,
        });
        this.stakeAddress = registration.stakeContract;
        this.log.info({ stakeContract: registration.stakeContract.toRawString(), sent: registration.sent, tx: registration.tx }, registration.sent ? 'enclave record registered' : 'enclave record already current');

        const redis = openRedis(opts.redis);
        redis.on('error', (e: Error) => this.log.warn({ err: e.message }, 'redis connection error'));
        this.redis = redis;
        const bull = openRedis(opts.redis, { maxRetriesPerRequest: null });
        bull.on('error', (e: Error) => this.log.warn({ err: e.message }, 'redis (queue) connection error'));
        this.bull = bull;
        this.heartbeat = new Heartbeat({
            redis,
            facts: {
                owner: this.owner,
                stakeContract: registration.stakeContract.toRawString(),
                instance: this.instance,
                capacity,
                endpoint,
                models: Object.fromEntries(Object.entries(this.pricesResolved).map(([m, p]) => [m, p.toString()])),
                teeType,
                quote: opts.quote.toString('base64'),
                attestationHash: attestationHash(opts.quote).toString('hex'),
                startedAtMs: Date.now(),
            },
            load: () => this.running,
            draining: () => this.drainingFlag,
            intervalMs: opts.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS,
            onError: (e) => this.log.warn({ err: e.message }, 'heartbeat failed'),
        });
        await this.heartbeat.start();

        this.pipeline = new WorkPipeline({
            redis,
            chain: opts.chain,
            wallet: opts.wallet,
            stakeContract: registration.stakeContract,
            runner: new ConfidentialJobRunner(opts.enclave, opts.engine, { logger: this.log }),
            blobs: new BlobClient({ apiUrl: opts.apiUrl, onFailover: (from, to, why) => this.log.warn({ from, to, why }, 'orchestrator API unavailable: failing over') }),
            prices: this.pricesResolved,
            logger: this.log,
            minTimeLeftMs: opts.minTimeLeftMs,
            confirmTimeoutMs: opts.confirmTimeoutMs,
            onStage: (stage, ms) => this.metrics?.stageSeconds.observe({ stage }, ms / 1000),
        });

        const worker = new Worker<WorkItem, WorkOutcome>(this.queueName, (job) => this.processJob(job), {
            connection: bull,
            prefix: QUEUE_PREFIX,
            concurrency: capacity,
            lockDuration: opts.lockDurationMs ?? LOCK_DURATION_MS,
            // a work item runs once per attempt; a stalled one is re-routed by the dispatcher, not re-run here
            maxStalledCount: 0,
        });
        // BullMQ has written the outcome when these fire: only then may the dispatcher read it.
        worker.on('completed', (job) => this.publish(job.id));
        worker.on('failed', (job) => this.publish(job?.id));
        worker.on('error', (e) => this.log.warn({ err: e.message }, 'queue consumer error'));
        this.worker = worker;
        await worker.waitUntilReady();
        this.log.info({ queue: this.queueName, capacity, models: Object.keys(this.pricesResolved), instance: this.instance }, 'worker ready');
    }

    private async processJob(job: Job<WorkItem, WorkOutcome>): Promise<WorkOutcome> {
        const item = job.data;
        const meta = { jobId: item?.jobId, attemptId: job.id };
        if (this.drainingFlag) {
            this.metrics?.items.inc({ outcome: 'DRAINING' });
            throw new WorkFailure('DRAINING', 'the worker is shutting down and did not start this job').toBullError();
        }
        this.running++;
        this.metrics?.running.set(this.running);
        this.beatSoon();
        const started = Date.now();
        this.log.info(meta, 'work item started');
        try {
            const outcome = await this.pipeline!.process(item);
            this.metrics?.items.inc({ outcome: 'committed' });
            this.log.info({ ...meta, outputCommitment: outcome.outputCommitment, timingsMs: outcome.timingsMs, ms: Date.now() - started }, 'job committed');
            return outcome;
        } catch (e) {
            const failure = asWorkFailure(e, 'work item');
            this.metrics?.items.inc({ outcome: failure.code });
            this.log.warn({ ...meta, code: failure.code, retryable: failure.retryable, reason: failure.message, ms: Date.now() - started }, 'work item failed');
            throw failure.toBullError();
        } finally {
            this.running--;
            this.metrics?.running.set(this.running);
            this.beatSoon();
        }
    }

    /** A heartbeat right away when the load changes, so routers see it before the next tick. */
    private beatSoon(): void {
        this.heartbeat?.beat().catch((e: Error) => this.log.warn({ err: e.message }, 'heartbeat failed'));
    }

    private publish(attemptId: string | undefined): void {
        if (!attemptId || !this.redis) return;
        const p = this.redis
            .publish(OUTCOME_CHANNEL, attemptId)
            .catch((e: Error) => this.log.warn({ attemptId, err: e.message }, 'publishing the outcome failed'))
            .finally(() => this.publishes.delete(p));
        this.publishes.add(p);
    }

    /** Removes the work items still waiting in this worker's queue and publishes their attemptIds (the dispatcher re-routes them). */
    private async handBackWaiting(): Promise<string[]> {
        if (!this.bull) return [];
        const queue = new Queue<WorkItem>(this.queueName, { connection: this.bull, prefix: QUEUE_PREFIX });
        const removed: string[] = [];
        try {
            const jobs = await queue.getJobs(['waiting', 'prioritized', 'delayed']);
            for (const job of jobs) {
                if (!job?.id) continue;
                try {
                    await job.remove();
                } catch (e) {
                    // taken by a consumer in between: it finishes (or fails) and publishes as usual
                    this.log.warn({ attemptId: job.id, err: (e as Error).message }, 'could not hand back a waiting work item');
                    continue;
                }
                removed.push(job.id);
                this.publish(job.id);
            }
        } finally {
            await queue.close();
        }
        if (removed.length > 0) this.log.info({ attemptIds: removed }, 'handed back waiting work items');
        return removed;
    }

    /**
     * drain (default): heartbeat says draining at once, no new jobs are taken, running jobs finish, waiting ones are
     * removed from the queue and their attemptIds published, a final heartbeat, then the worker leaves the live set.
     * drain false: stops at once without touching Redis state (as if the process died).
     */
    stop(options: StopOptions = {}): Promise<void> {
        if (!this.stopping) this.stopping = options.drain === false ? this.stopNow() : this.drain();
        return this.stopping;
    }

    private async drain(): Promise<void> {
        this.drainingFlag = true;
        this.metrics?.draining.set(1);
        this.log.info({ running: this.running }, 'draining: finishing running jobs, handing back waiting ones');
        await this.heartbeat?.beat().catch((e: Error) => this.log.warn({ err: e.message }, 'heartbeat failed'));
        const closing = this.worker?.close() ?? Promise.resolve();
        await this.handBackWaiting().catch((e: Error) => this.log.warn({ err: e.message }, 'handing back waiting work items failed'));
        await closing;
        // items routed to us while the consumer was closing (before routers saw the draining heartbeat)
        await this.handBackWaiting().catch((e: Error) => this.log.warn({ err: e.message }, 'handing back waiting work items failed'));
        await Promise.all([...this.publishes]);
        if (this.heartbeat && this.redis) {
            await this.heartbeat.stop();
            await this.heartbeat.beat().catch(() => undefined);
            await this.heartbeat.leave().catch((e: Error) => this.log.warn({ err: e.message }, 'leaving the live set failed'));
        }
        await this.bull?.quit().catch(() => undefined);
        await this.redis?.quit().catch(() => undefined);
        this.log.info({}, 'worker stopped');
    }

    private async stopNow(): Promise<void> {
        await this.heartbeat?.stop();
        await this.worker?.close(true).catch(() => undefined);
        await Promise.all([...this.publishes]);
        await this.bull?.quit().catch(() => undefined);
        await this.redis?.quit().catch(() => undefined);
    }
}
