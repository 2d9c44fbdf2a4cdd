/**
 * LeaderLock: which orchestrator instance runs the chain watcher and the expirer.
 *
 * A Redis lease: `SET KEYS.leader <instanceId> NX PX ttl` takes it, a Lua compare-and-pexpire renews it every
 * ttl/3, a Lua compare-and-del releases it. An instance that cannot renew (someone else holds the key, or Redis did
 * not answer before its own lease ran out on its local clock) stops leading at once. Leadership only decides who
 * polls the chain: the watcher commits exactly once (WATCH on its cursors), so two leaders overlapping for a moment
 * (a paused process waking up) cost duplicated reads, never duplicated effects.
 */
import type { RedisClient } from '../protocol/redis';
import pino, { Logger } from 'pino';
import { KEYS } from '../protocol/work';

export const DEFAULT_LEADER_TTL_MS = 6_000;

/** PEXPIRE only if we still hold the key (a lease that expired and was taken by another instance stays theirs). */
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;
/** DEL only our own lease. */
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

export interface LeaderLockOptions {
    redis: RedisClient;
    instanceId: string;
    /** Lease length (ms). Default 6 000; renewed every ttl/3. */
    ttlMs?: number;
    /** Redis key. Default KEYS.leader. */
    key?: string;
    logger?: Logger;
    /** Called (serialized, awaited) whenever this instance starts or stops leading. */
    onChange?: (leading: boolean) => void | Promise<void>;
}

export class LeaderLock {
    readonly ttlMs: number;
    readonly key: string;
    private readonly log: Logger;
    private timer?: NodeJS.Timeout;
    private leadingNow = false;
    /** local time until which our last successful SET/renew guarantees the lease */
    private leaseUntil = 0;
    private running = false;
    private ticking?: Promise<void>;
    private transitions: Promise<void> = Promise.resolve();

    constructor(private readonly opts: LeaderLockOptions) {
        this.ttlMs = opts.ttlMs ?? DEFAULT_LEADER_TTL_MS;
        if (!(this.ttlMs >= 30)) throw new RangeError('the leader ttl must be at least 30 ms');
        this.key = opts.key ?? KEYS.leader;
        this.log = (opts.logger ?? pino({ name: 'cocoon-orchestrator' })).child({ component: 'leader', instance: opts.instanceId });
    }

    get leading(): boolean {
        return this.leadingNow;
    }

    get instanceId(): string {
        return this.opts.instanceId;
    }

    /** Tries to take the lease at once, then keeps trying / renewing every ttl/3. */
    async start(): Promise<void> {
        if (this.running) return;
        this.running = true;
        await this.tick();
        this.schedule();
    }

    /** Stops renewing and gives the lease up (DEL if it is still ours), so another instance leads at once. */
    async stop(): Promise<void> {
        this.running = false;
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
        await this.ticking;
        const wasLeading = this.leadingNow;
        await this.setLeading(false, 'stopped');
        if (wasLeading) {
            try {
                await this.opts.redis.eval(RELEASE, 1, this.key, this.opts.instanceId);
            } catch (e) {
                this.log.warn({ err: (e as Error).message }, 'could not release the leader lease; it expires by itself');
            }
        }
        await this.transitions;
    }

    /**
     * Crash drill: stops the renewal timer WITHOUT releasing the lease or telling anyone, as a frozen or killed
     * process would. Another instance takes over once the lease expires (at most ttl later).
     */
    abandon(): void {
        this.running = false;
        if (this.timer) clearTimeout(this.timer);
        this.timer = undefined;
    }

    /** Who holds the lease now (any instance), or null. */
    async holder(): Promise<string | null> {
        return this.opts.redis.get(this.key);
    }

    private schedule(): void {
        if (!this.running) return;
        this.timer = setTimeout(() => {
            this.ticking = this.tick().finally(() => this.schedule());
        }, Math.max(10, Math.floor(this.ttlMs / 3)));
    }

    private async tick(): Promise<void> {
        const { redis, instanceId } = this.opts;
        const now = Date.now();
        try {
            if (this.leadingNow) {
                const renewed = Number(await redis.eval(RENEW, 1, this.key, instanceId, String(this.ttlMs)));
                if (renewed === 1) {
                    this.leaseUntil = now + this.ttlMs;
                } else {
                    await this.setLeading(false, 'lease lost to another instance');
                }
            } else {
                const ok = await redis.set(this.key, instanceId, 'PX', this.ttlMs, 'NX');
                if (ok === 'OK') {
                    this.leaseUntil = now + this.ttlMs;
                    await this.setLeading(true, 'lease acquired');
                }
            }
        } catch (e) {
            // Redis did not answer: we may still hold the lease until it runs out on our clock, not a moment longer.
            if (this.leadingNow && Date.now() >= this.leaseUntil - Math.floor(this.ttlMs / 6)) {
                await this.setLeading(false, 'could not renew the lease before it expired');
            }
            this.log.warn({ err: (e as Error).message, leading: this.leadingNow }, 'leader lease check failed');
        }
    }

    private setLeading(leading: boolean, why: string): Promise<void> {
        if (this.leadingNow === leading) return this.transitions;
        this.leadingNow = leading;
        this.log.info({ leading, why }, leading ? 'leading' : 'not leading');
        const cb = this.opts.onChange;
        this.transitions = this.transitions.then(async () => {
            try {
                await cb?.(leading);
            } catch (e) {
                this.log.error({ err: (e as Error).message, leading }, 'leadership change handler failed');
            }
        });
        return this.transitions;
    }
}
