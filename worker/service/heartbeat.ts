/**
 * The worker's heartbeat (protocol/work.ts): one MULTI writing its public facts to KEYS.worker(owner) and its
 * liveness to the KEYS.workers ZSET (both in the {workers} slot, so this works on a Redis Cluster), then its owner
 * to KEYS.providers (the {chain} slot: a separate, idempotent SADD), now and every HEARTBEAT_INTERVAL_MS. The quote is
 * public (clients check it against the on-chain attestation hash); nothing about jobs is written here but a count.
 */
import type { RedisClient } from '../../protocol/redis';
import { encodeHeartbeat, HEARTBEAT_INTERVAL_MS, KEYS, WorkerHeartbeat } from '../../protocol/work';

/** The facts that do not change while the worker runs. */
export type HeartbeatFacts = Omit<WorkerHeartbeat, 'load' | 'heartbeatAtMs' | 'draining'>;

export interface HeartbeatOptions {
    redis: RedisClient;
    facts: HeartbeatFacts;
    /** current number of running jobs */
    load: () => number;
    draining: () => boolean;
    intervalMs?: number;
    /** called when a beat fails (Redis down): the worker keeps running and retries at the next tick */
    onError?: (e: Error) => void;
}

export class Heartbeat {
    private timer?: NodeJS.Timeout;
    private inFlight: Promise<void> = Promise.resolve();

    constructor(private readonly opts: HeartbeatOptions) {}

    /** Beats now, then every interval. Resolves after the first beat (it throws if Redis is unreachable). */
    async start(): Promise<void> {
        await this.beat();
        this.timer = setInterval(() => {
            this.beat().catch((e: Error) => this.opts.onError?.(e));
        }, this.opts.intervalMs ?? HEARTBEAT_INTERVAL_MS);
        this.timer.unref();
    }

    /** One heartbeat; beats never overlap (a slow Redis delays the next one instead of piling them up). */
    beat(): Promise<void> {
        const next = this.inFlight.catch(() => undefined).then(() => this.write());
        this.inFlight = next;
        return next;
    }

    private async write(): Promise<void> {
        const now = Date.now();
        const h: WorkerHeartbeat = { ...this.opts.facts, load: this.opts.load(), heartbeatAtMs: now, draining: this.opts.draining() };
        const results = await this.opts.redis
            .multi()
            .hset(KEYS.worker(h.owner), encodeHeartbeat(h))
            .zadd(KEYS.workers, now, h.owner)
            .exec();
        const failed = results?.find(([err]) => err);
        if (!results || failed) throw failed?.[0] ?? new Error('the heartbeat MULTI was discarded');
        // another slot than the MULTI's; SADD is idempotent, so a lost one is simply repeated at the next beat
        await this.opts.redis.sadd(KEYS.providers, h.owner);
    }

    /** Stops the timer (and waits for a beat in progress). */
    async stop(): Promise<void> {
        if (this.timer) clearInterval(this.timer);
        this.timer = undefined;
        await this.inFlight.catch(() => undefined);
    }

    /** Removes the worker from the live set (the hash stays, with draining set, for status views). */
    async leave(): Promise<void> {
        await this.opts.redis.zrem(KEYS.workers, this.opts.facts.owner);
    }
}
