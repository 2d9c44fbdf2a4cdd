/**
 * ChainWatcher: follows the registry and the provider and job contracts it discovers (or is told about), turns
 * their events into typed values, and hands them to an async handler — in lt order per address, exactly once in
 * effect.
 *
 * Per address and poll: page getTransactions newest-first down to the stored cursor (lt + hash), then process the
 * new transactions oldest-first in batches. For a batch, the handler is called for every event not yet in the
 * address's processed set; it may queue its own Redis writes on `ctx.multi`, which is one MULTI together with the
 * processed ids and the new cursor. The MULTI is guarded by WATCH on the cursor key, so it only commits if the
 * cursor is still the one the batch started from (a second watcher, or a restarted one, cannot commit the same
 * batch twice). A crash before EXEC commits nothing: the batch is delivered again after the restart.
 *
 * Chain errors back off per address with jitter; a handler error does the same (the address waits, others go on);
 * an unknown tag, a malformed body or an event from the wrong kind of contract is logged (tag + tx hash only) and
 * skipped. See docs/watcher.md.
 */
import { Address, Cell, Slice, loadTransaction } from '@ton/core';
import type { ChainableCommander } from 'ioredis';
import pino, { Logger } from 'pino';
import { Counter, Gauge, Registry as MetricsRegistry } from 'prom-client';
import type { ChainClient } from '../../protocol/chain';
import { Registry } from '../../wrappers';
import { bodySlice } from './boc';
import { ChainEvent, ContractKind, DecodeResult, EventName, SkipReason, TERMINAL_JOB_EVENTS, decodeEvent, tagHex } from './events';
import { Cursor, DEFAULT_KEY_PREFIX, WatcherKeys, decodeCursor, encodeCursor } from './keys';
import { CHAIN_TAG, hashTagOf } from '../../protocol/work';
import { isCluster, RedisClient } from '../../protocol/redis';

/**
 * What the watcher needs from the chain: raw toncenter calls (getTransactions), get methods via open(), and
 * optionally waitForTransactions (without it the watcher polls on its interval only).
 */
export type WatcherChain = Pick<ChainClient, 'call' | 'open'> & Partial<Pick<ChainClient, 'waitForTransactions'>>;

export interface HandlerContext {
    /**
     * The batch's MULTI: Redis writes queued here commit atomically with the cursor, so they happen exactly once.
     * Queued commands run at commit time: reads in the same batch do not see them.
     */
    multi: ChainableCommander;
    /** The watcher's Redis connection (one node or a cluster), for reads. */
    redis: RedisClient;
    /** Follow another contract from the next poll on (committed with this batch). */
    follow(address: Address, kind: ContractKind): void;
    /** Stop following a contract (committed with this batch). */
    unfollow(address: Address): void;
    /** The registry's `jobAddress(jobId)` getter (cached). */
    jobAddress(jobId: bigint): Promise<Address>;
    /** The registry's `providerAddress(owner)` getter (cached). */
    providerAddress(owner: Address): Promise<Address>;
}

export type EventHandler = (event: ChainEvent, ctx: HandlerContext) => Promise<void> | void;

export interface ChainWatcherOptions {
    chain: WatcherChain;
    redis: RedisClient;
    registry: Address;
    handler: EventHandler;
    /** Time between the starts of two polls (ms). Default 500. */
    pollIntervalMs?: number;
    /** Transactions per getTransactions call (toncenter serves at most 100 a call in practice). Default 100. */
    pageSize?: number;
    /** Transactions per handler batch / MULTI. Default 100. */
    batchSize?: number;
    /** Addresses polled in parallel. Default 4. Events of one address are always handled in order. */
    concurrency?: number;
    /**
     * Prefix of every Redis key. Default `cocoon:{chain}:watcher:`. On a Redis Cluster it must carry the `{chain}`
     * hash tag: the batch MULTI also holds the handler's writes (KEYS.providers, KEYS.jobByAddress), all in that slot.
     */
    keyPrefix?: string;
    /** Handled event ids kept per address for duplicate suppression. Default 10 000. */
    processedMax?: number;
    /** How long the cursor and processed set of an unfollowed address are kept (s). Default 7 days. */
    unfollowRetentionSec?: number;
    /** Backoff after chain / handler / Redis errors: capped exponential with jitter. Defaults: poll interval, 30 s. */
    backoff?: { baseMs?: number; maxMs?: number };
    /** Follow provider contracts seen in the registry's history (CheckEnclave senders, ProviderPruned / ProviderSlashRequested owners). Default true. */
    followProviders?: boolean;
    /** Follow every job escrow the registry opens (JobOpened). Default false: the handler decides (ctx.follow). */
    followJobs?: boolean;
    /** Stop following a job escrow after its terminal event (settled, cancelled, expired). Default true. */
    unfollowFinishedJobs?: boolean;
    /** Where to start on the registry when it has no cursor yet. Default 'genesis' (its whole history). */
    registryStart?: 'genesis' | 'latest';
    logger?: Logger;
    /** Register the watcher's Prometheus metrics here. */
    metrics?: MetricsRegistry;
}

export interface WatcherStats {
    /** Events handed to the handler and committed. */
    events: number;
    /** Handler invocations (more than `events` when batches were redelivered after a crash or conflict). */
    handlerCalls: number;
    skipped: Record<SkipReason, number>;
    /** Events skipped because their id was already processed. */
    duplicates: number;
    batches: number;
    conflicts: number;
    errors: { chain: number; handler: number; redis: number };
    followed: number;
}

export interface FollowedInfo {
    address: Address;
    kind: ContractKind;
    cursor: Cursor | null;
    failures: number;
}

interface RawMessage {
    source?: string;
    destination?: string;
    msg_data?: { '@type'?: string; body?: string; text?: string };
}

interface RawTransaction {
    utime: number;
    data: string;
    transaction_id: { lt: string; hash: string };
    in_msg?: RawMessage;
    out_msgs?: RawMessage[];
}

/** A transaction reduced to what the watcher uses. */
interface LightTx {
    lt: bigint;
    hash: Buffer;
    utime: number;
    /** External-out messages: index in out_msgs, body (null: a text comment, which is never an event). */
    outs: { index: number; body: Slice | null }[];
    /** Registry only: the sender of a CheckEnclave the registry accepted (a genuine provider contract). */
    provider?: Address;
    /** The inbound message's body, parsed on first use (a JobOpened's terms are the OpenJob's spec). */
    inBody: () => Cell | null;
}

interface Followed {
    address: Address;
    raw: string;
    kind: ContractKind;
    cursor: Cursor | null;
    failures: number;
    retryAt: number;
}

const OP_CHECK_ENCLAVE = 0x7c0c100a;

/** Most followed accounts named in one push wait; beyond it the watcher waits for news on any account. */
const MAX_PUSH_ADDRESSES = 5_000;

class Stopped extends Error {}

/** Where an error came from, for logs, metrics and tests. */
class PhaseError extends Error {
    constructor(
        readonly phase: 'chain' | 'handler' | 'redis',
        readonly cause: unknown,
    ) {
        super(`${phase}: ${(cause as Error)?.message ?? String(cause)}`);
    }
}

/** Capped exponential backoff with "equal jitter": uniform in [cap/2, cap]. */
export function watcherBackoff(baseMs: number, maxMs: number, failures: number, random: () => number = Math.random): number {
    const cap = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
    return Math.round(cap / 2 + (random() * cap) / 2);
}

class Mutex {
    private tail: Promise<void> = Promise.resolve();
    run<T>(fn: () => Promise<T>): Promise<T> {
        const result = this.tail.then(fn);
        this.tail = result.then(
            () => undefined,
            () => undefined,
        );
        return result;
    }
}

export class ChainWatcher {
    readonly keys: WatcherKeys;
    private readonly opts: Required<Omit<ChainWatcherOptions, 'logger' | 'metrics' | 'backoff'>> & { backoff: { baseMs: number; maxMs: number } };
    private readonly log: Logger;
    private readonly followed = new Map<string, Followed>();
    private readonly registryRaw: string;
    private commitConn?: RedisClient;
    private readonly commitLock = new Mutex();
    private loop?: Promise<void>;
    private stopping = false;
    private aborted = false;
    private sleepTimer?: NodeJS.Timeout;
    private wakeUp?: () => void;
    /** Set when a poll added addresses: the next poll starts at once. */
    private followedMore = false;
    private readonly providerCache = new Map<string, Address>();
    private readonly jobCache = new Map<string, Address>();
    private readonly counters: WatcherStats = {
        events: 0,
        handlerCalls: 0,
        skipped: { 'unknown-tag': 0, malformed: 0, 'unexpected-source': 0 },
        duplicates: 0,
        batches: 0,
        conflicts: 0,
        errors: { chain: 0, handler: 0, redis: 0 },
        followed: 0,
    };
    private readonly metrics?: {
        events: Counter<'name'>;
        skipped: Counter<'reason'>;
        duplicates: Counter;
        errors: Counter<'phase'>;
        conflicts: Counter;
        followed: Gauge;
    };

    constructor(options: ChainWatcherOptions) {
        const poll = options.pollIntervalMs ?? 500;
        this.opts = {
            chain: options.chain,
            redis: options.redis,
            registry: options.registry,
            handler: options.handler,
            pollIntervalMs: poll,
            pageSize: options.pageSize ?? 100,
            batchSize: options.batchSize ?? 100,
            concurrency: Math.max(1, options.concurrency ?? 4),
            keyPrefix: options.keyPrefix ?? DEFAULT_KEY_PREFIX,
            processedMax: options.processedMax ?? 10_000,
            unfollowRetentionSec: options.unfollowRetentionSec ?? 7 * 86400,
            backoff: { baseMs: options.backoff?.baseMs ?? Math.max(poll, 50), maxMs: options.backoff?.maxMs ?? 30_000 },
            followProviders: options.followProviders ?? true,
            followJobs: options.followJobs ?? false,
            unfollowFinishedJobs: options.unfollowFinishedJobs ?? true,
            registryStart: options.registryStart ?? 'genesis',
        };
        if (this.opts.pageSize < 1 || this.opts.batchSize < 1) throw new Error('pageSize and batchSize must be positive');
        if (isCluster(options.redis) && hashTagOf(this.opts.keyPrefix) !== hashTagOf(CHAIN_TAG)) {
            // a MULTI must stay in one slot: the cursor, the processed ids and the handler's writes commit together
            throw new Error(`on a Redis Cluster the watcher's keyPrefix must carry the ${CHAIN_TAG} hash tag (e.g. 'cocoon:${CHAIN_TAG}:watcher:'), got ${JSON.stringify(this.opts.keyPrefix)}`);
        }
        this.keys = new WatcherKeys(this.opts.keyPrefix);
        this.log = (options.logger ?? pino({ name: 'cocoon-watcher' })).child({ component: 'watcher' });
        this.registryRaw = options.registry.toRawString();
        if (options.metrics) {
            const reg = options.metrics;
            // several watchers may share one registry (one per network): reuse what is registered
            const metric = <M>(name: string, make: () => M): M => (reg.getSingleMetric(name) as M | undefined) ?? make();
            const registers = [reg];
            this.metrics = {
                events: metric('cocoon_watcher_events_total', () => new Counter({ name: 'cocoon_watcher_events_total', help: 'Events handled and committed', labelNames: ['name'], registers })),
                skipped: metric('cocoon_watcher_events_skipped_total', () => new Counter({ name: 'cocoon_watcher_events_skipped_total', help: 'Out messages skipped (unknown tag, malformed, unexpected source)', labelNames: ['reason'], registers })),
                duplicates: metric('cocoon_watcher_duplicates_total', () => new Counter({ name: 'cocoon_watcher_duplicates_total', help: 'Events skipped because already processed', registers })),
                errors: metric('cocoon_watcher_errors_total', () => new Counter({ name: 'cocoon_watcher_errors_total', help: 'Failed polls by phase', labelNames: ['phase'], registers })),
                conflicts: metric('cocoon_watcher_cursor_conflicts_total', () => new Counter({ name: 'cocoon_watcher_cursor_conflicts_total', help: 'Batches not committed because the cursor moved', registers })),
                followed: metric('cocoon_watcher_followed_addresses', () => new Gauge({ name: 'cocoon_watcher_followed_addresses', help: 'Addresses followed', registers })),
            };
        }
    }

    get running(): boolean {
        return this.loop !== undefined;
    }

    stats(): WatcherStats {
        return {
            ...this.counters,
            skipped: { ...this.counters.skipped },
            errors: { ...this.counters.errors },
            followed: this.followed.size,
        };
    }

    following(): FollowedInfo[] {
        return [...this.followed.values()].map((f) => ({ address: f.address, kind: f.kind, cursor: f.cursor, failures: f.failures }));
    }

    /** Loads the followed set and cursors from Redis and starts polling. */
    async start(): Promise<void> {
        if (this.loop) throw new Error('watcher already running');
        this.stopping = false;
        this.aborted = false;
        const redis = this.opts.redis;
        const conn = redis.duplicate();
        conn.on('error', (e: Error) => this.log.debug({ err: e.message }, 'commit connection error'));
        this.commitConn = conn;
        try {
            const stored = await redis.hgetall(this.keys.follow);
            if (stored[this.registryRaw] === undefined) {
                await redis.hset(this.keys.follow, this.registryRaw, 'registry');
                stored[this.registryRaw] = 'registry';
            }
            this.followed.clear();
            const entries = Object.entries(stored);
            const cursors = entries.length > 0 ? await redis.mget(...entries.map(([raw]) => this.keys.cursor(raw))) : [];
            entries.forEach(([raw, kind], i) => {
                this.followed.set(raw, {
                    address: Address.parseRaw(raw),
                    raw,
                    kind: kind as ContractKind,
                    cursor: decodeCursor(cursors[i]),
                    failures: 0,
                    retryAt: 0,
                });
            });
            const reg = this.followed.get(this.registryRaw)!;
            if (!reg.cursor && this.opts.registryStart === 'latest') await this.startAtLatest(reg);
        } catch (e) {
            conn.disconnect();
            this.commitConn = undefined;
            throw e;
        }
        this.metrics?.followed.set(this.followed.size);
        this.log.info({ registry: this.opts.registry.toString(), followed: this.followed.size, pollIntervalMs: this.opts.pollIntervalMs }, 'watcher started');
        this.loop = this.run();
    }

    /** Graceful stop: no new poll starts; the batch in flight is handled and committed first. */
    async stop(): Promise<void> {
        if (!this.loop) return;
        this.stopping = true;
        this.wake();
        await this.loop;
        this.loop = undefined;
        const conn = this.commitConn;
        this.commitConn = undefined;
        if (conn) await conn.quit().catch(() => conn.disconnect());
        this.log.info(this.stats(), 'watcher stopped');
    }

    /**
     * Stops as a crash would: nothing more is committed (the batch in flight is dropped and will be delivered
     * again); the commit connection is cut at once. Resolves when the loop has unwound. For fault drills and for a
     * process that lost its right to run the watcher.
     */
    async abort(): Promise<void> {
        if (!this.loop) return;
        this.stopping = true;
        this.aborted = true;
        this.commitConn?.disconnect();
        this.wake();
        await this.loop;
        this.loop = undefined;
        this.commitConn = undefined;
        this.log.warn(this.stats(), 'watcher aborted');
    }

    /** Follows an address from now on (persisted). Its history is read from its first transaction. */
    async follow(address: Address, kind: ContractKind): Promise<void> {
        const raw = address.toRawString();
        if (this.followed.has(raw)) return;
        await this.opts.redis.multi().hset(this.keys.follow, raw, kind).persist(this.keys.cursor(raw)).persist(this.keys.done(raw)).exec();
        await this.addFollowed(raw, kind);
    }

    async unfollow(address: Address): Promise<void> {
        const raw = address.toRawString();
        if (raw === this.registryRaw) throw new Error('the registry is always followed');
        const m = this.opts.redis.multi();
        this.queueUnfollow(m, raw);
        await m.exec();
        this.followed.delete(raw);
        this.metrics?.followed.set(this.followed.size);
    }

    // ---------------- loop ----------------

    /**
     * Polls every followed address each pollIntervalMs. Between two full polls it waits for news instead of idling:
     * on the devnet the chain pushes which followed accounts have new transactions, and only those are polled at
     * once (elsewhere the wait is a plain sleep until the next full poll).
     */
    private async run(): Promise<void> {
        let lastFull = 0;
        let only: Set<string> | undefined;
        while (!this.stopping) {
            const started = Date.now();
            if (only === undefined) lastFull = started;
            this.followedMore = false;
            await this.poll(only);
            if (this.stopping) break;
            only = undefined;
            if (this.followedMore) continue;
            const wait = Math.max(0, this.opts.pollIntervalMs - (Date.now() - lastFull));
            if (wait > 0) only = await this.waitForNews(wait);
        }
    }

    /** Newest lt the chain pushed for the followed accounts (0: nothing pushed yet). */
    private pushedLt = 0n;

    /** Waits up to `ms` for transactions on followed accounts; returns the ones that have some, or undefined (poll all). */
    private async waitForNews(ms: number): Promise<Set<string> | undefined> {
        const addresses = this.followed.size <= MAX_PUSH_ADDRESSES ? [...this.followed.values()].map((f) => f.address) : [];
        const stopped = this.sleep(ms);
        const waitFor = this.opts.chain.waitForTransactions?.bind(this.opts.chain);
        if (!waitFor) {
            await stopped;
            return undefined;
        }
        const pushed = waitFor(addresses, this.pushedLt, ms).catch(() => undefined);
        const r = await Promise.race([pushed, stopped.then(() => undefined)]);
        if (r?.pushed && r.lt !== undefined && r.lt > this.pushedLt) this.pushedLt = r.lt;
        if (r?.pushed && r.moved && !this.stopping) {
            this.wake(); // end the sleep half of the race
            if (addresses.length === 0) return undefined; // too many to name: poll them all
            return new Set(r.changed.map((c) => c.address.toRawString()));
        }
        await stopped; // nothing happened (or the wait failed): the full poll comes at its time
        return undefined;
    }

    private sleep(ms: number): Promise<void> {
        return new Promise((resolve) => {
            this.wakeUp = resolve;
            this.sleepTimer = setTimeout(resolve, ms);
        });
    }

    private wake(): void {
        if (this.sleepTimer) clearTimeout(this.sleepTimer);
        this.sleepTimer = undefined;
        const w = this.wakeUp;
        this.wakeUp = undefined;
        w?.();
    }

    private async poll(only?: ReadonlySet<string>): Promise<void> {
        const now = Date.now();
        const due = [...this.followed.values()].filter((f) => f.retryAt <= now && (only === undefined || only.has(f.raw)));
        let next = 0;
        const worker = async () => {
            while (!this.stopping && next < due.length) {
                const f = due[next++];
                if (this.followed.get(f.raw) !== f) continue; // unfollowed meanwhile
                await this.pollAddress(f);
            }
        };
        await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, due.length) }, worker));
    }

    private async pollAddress(f: Followed): Promise<void> {
        try {
            const txs = await this.collect(f);
            for (let i = 0; i < txs.length; i += this.opts.batchSize) {
                if (this.stopping) return;
                const committed = await this.processBatch(f, txs.slice(i, i + this.opts.batchSize));
                if (!committed) return;
            }
            f.failures = 0;
        } catch (e) {
            if (e instanceof Stopped || this.aborted) return;
            const phase = e instanceof PhaseError ? e.phase : 'redis';
            const cause = e instanceof PhaseError ? e.cause : e;
            f.failures++;
            const delayMs = watcherBackoff(this.opts.backoff.baseMs, this.opts.backoff.maxMs, f.failures);
            f.retryAt = Date.now() + delayMs;
            this.counters.errors[phase]++;
            this.metrics?.errors.inc({ phase });
            this.log.warn(
                { address: f.address.toString(), phase, failures: f.failures, delayMs, err: describeError(cause) },
                phase === 'chain' ? 'chain read failed; backing off' : phase === 'handler' ? 'handler failed; batch will be retried' : 'redis failed; batch will be retried',
            );
        }
    }

    /**
     * New transactions of `f` since its cursor, oldest first. Pages newest-first while pages come back full; on a
     * short page, checks that the oldest transaction collected links to the cursor (its prev_trans_lt/hash; 0 for an
     * account's first transaction) and otherwise asks again from there, so an API that returns short pages early
     * cannot make the watcher skip history. A real gap (asking again brings nothing) is logged as an error.
     */
    private async collect(f: Followed): Promise<LightTx[]> {
        const out: LightTx[] = [];
        const size = this.opts.pageSize;
        let from: { lt: string; hash: string } | undefined;
        let oldest: RawTransaction | undefined;
        for (;;) {
            if (this.stopping) throw new Stopped();
            const params: Record<string, unknown> = { address: f.address.toString(), limit: from ? size + 1 : size, archival: true };
            if (f.cursor) params.to_lt = f.cursor.lt.toString();
            if (from) {
                params.lt = from.lt;
                params.hash = Buffer.from(from.hash, 'base64').toString('hex');
            }
            let page: RawTransaction[];
            try {
                page = await this.opts.chain.call<RawTransaction[]>('getTransactions', params);
            } catch (e) {
                throw new PhaseError('chain', e);
            }
            const requested = params.limit as number;
            let rows = page;
            if (from) {
                // lt + hash is inclusive: the first row is the last one of the previous page
                if (rows.length === 0 || rows[0].transaction_id.lt !== from.lt || rows[0].transaction_id.hash !== from.hash) {
                    throw new PhaseError('chain', new Error(`getTransactions did not resume at lt ${from.lt}`));
                }
                rows = rows.slice(1);
            }
            for (const r of rows) {
                const lt = BigInt(r.transaction_id.lt);
                if (f.cursor && lt <= f.cursor.lt) continue;
                if (out.length > 0 && lt >= out[out.length - 1].lt) throw new PhaseError('chain', new Error('getTransactions returned transactions out of order'));
                out.push(this.lighten(r, f));
                oldest = r;
            }
            if (page.length === requested && rows.length > 0) {
                const last = page[page.length - 1].transaction_id;
                from = { lt: last.lt, hash: last.hash };
                continue;
            }
            if (!oldest || this.linksToCursor(f, oldest)) break;
            if (rows.length === 0) {
                this.log.error(
                    { address: f.address.toString(), cursorLt: f.cursor?.lt.toString() ?? null, oldestLt: oldest.transaction_id.lt },
                    'transaction history does not continue from the cursor: the API is missing transactions',
                );
                break;
            }
            from = { lt: oldest.transaction_id.lt, hash: oldest.transaction_id.hash };
        }
        return out.reverse();
    }

    /** Whether `r` directly follows the cursor (or is the account's first transaction when there is none). */
    private linksToCursor(f: Followed, r: RawTransaction): boolean {
        let tx;
        try {
            tx = loadTransaction(Cell.fromBase64(r.data).beginParse());
        } catch {
            this.log.warn({ address: f.address.toString(), txLt: r.transaction_id.lt }, 'could not parse a transaction to check continuity');
            return true;
        }
        if (!f.cursor) return tx.prevTransactionLt === 0n;
        const prevHash = Buffer.from(tx.prevTransactionHash.toString(16).padStart(64, '0'), 'hex');
        return tx.prevTransactionLt === f.cursor.lt && prevHash.equals(f.cursor.hash);
    }

    private lighten(r: RawTransaction, f: Followed): LightTx {
        let inBody: Cell | null | undefined;
        const tx: LightTx = {
            lt: BigInt(r.transaction_id.lt),
            hash: Buffer.from(r.transaction_id.hash, 'base64'),
            utime: r.utime,
            outs: [],
            inBody: () => {
                if (inBody === undefined) {
                    const b64 = r.in_msg?.msg_data?.body;
                    try {
                        inBody = typeof b64 === 'string' ? Cell.fromBase64(b64) : (loadTransaction(Cell.fromBase64(r.data).beginParse()).inMessage?.body ?? null);
                    } catch {
                        inBody = null; // unreadable: the event that needs it is skipped as malformed
                    }
                }
                return inBody;
            },
        };
        const outs = r.out_msgs ?? [];
        let fromJson = true;
        for (let i = 0; i < outs.length; i++) {
            const m = outs[i];
            if (m.destination !== '' && m.destination !== undefined && m.destination !== null) continue; // internal
            const type = m.msg_data?.['@type'];
            if (type === 'msg.dataText') {
                tx.outs.push({ index: i, body: null });
            } else if (typeof m.msg_data?.body === 'string') {
                tx.outs.push({ index: i, body: bodySlice(m.msg_data.body) });
            } else {
                fromJson = false;
                break;
            }
        }
        if (!fromJson) tx.outs = this.outsFromBoc(r.data);
        if (f.kind === 'registry' && this.opts.followProviders) tx.provider = this.acceptedCheckEnclave(r);
        return tx;
    }

    /** Slow path (an API that does not render message bodies): the external-out messages from the transaction BoC. */
    private outsFromBoc(data: string): LightTx['outs'] {
        const tx = loadTransaction(Cell.fromBase64(data).beginParse());
        const outs: LightTx['outs'] = [];
        for (const index of tx.outMessages.keys().sort((a, b) => a - b)) {
            const m = tx.outMessages.get(index)!;
            if (m.info.type === 'external-out') outs.push({ index, body: m.body.beginParse() });
        }
        return outs;
    }

    private acceptedCheckEnclave(r: RawTransaction): Address | undefined {
        const body = r.in_msg?.msg_data?.body;
        const src = r.in_msg?.source;
        if (!body || !src) return undefined;
        try {
            const s = bodySlice(body);
            if (s.remainingBits < 32 || s.preloadUint(32) !== OP_CHECK_ENCLAVE) return undefined;
            const tx = loadTransaction(Cell.fromBase64(r.data).beginParse());
            const d = tx.description;
            if (d.type !== 'generic' || d.aborted || d.computePhase.type !== 'vm' || !d.computePhase.success) return undefined;
            const m = tx.inMessage;
            return m && m.info.type === 'internal' ? m.info.src : undefined;
        } catch {
            return undefined;
        }
    }

    // ---------------- batches ----------------

    private async processBatch(f: Followed, txs: LightTx[]): Promise<boolean> {
        const redis = this.opts.redis;
        const conn = this.commitConn;
        if (!conn || this.aborted) throw new Stopped();
        const events: ChainEvent[] = [];
        const providers: Address[] = [];
        for (const tx of txs) {
            if (tx.provider) providers.push(tx.provider);
            for (const out of tx.outs) {
                const txHash = tx.hash.toString('hex');
                const d: DecodeResult = out.body ? decodeEvent(out.body, f.kind, tx.inBody) : { ok: false, reason: 'unknown-tag', tag: 0 };
                if (!d.ok) {
                    this.counters.skipped[d.reason]++;
                    this.metrics?.skipped.inc({ reason: d.reason });
                    this.log.warn({ address: f.address.toString(), tag: tagHex(d.tag), txHash, outIndex: out.index, reason: d.reason }, 'event skipped');
                    continue;
                }
                events.push({
                    id: `${txHash}:${out.index}`,
                    address: f.address,
                    kind: f.kind,
                    tag: d.tag,
                    name: d.name,
                    data: d.data,
                    txHash,
                    txLt: tx.lt,
                    outIndex: out.index,
                    utime: tx.utime,
                } as ChainEvent);
            }
        }

        let seen: (string | null)[] = [];
        if (events.length > 0) {
            try {
                seen = await redis.zmscore(this.keys.done(f.raw), ...events.map((e) => e.id));
            } catch (e) {
                throw new PhaseError('redis', e);
            }
        }

        const multi = conn.multi();
        const follows = new Map<string, ContractKind>();
        const unfollows = new Set<string>();
        const ctx: HandlerContext = {
            multi,
            redis,
            follow: (address, kind) => {
                const raw = address.toRawString();
                unfollows.delete(raw);
                if (!this.followed.has(raw)) follows.set(raw, kind);
            },
            unfollow: (address) => {
                const raw = address.toRawString();
                if (raw === this.registryRaw) return;
                follows.delete(raw);
                unfollows.add(raw);
            },
            jobAddress: (jobId) => this.jobAddress(jobId),
            providerAddress: (owner) => this.providerAddress(owner),
        };

        for (const p of providers) ctx.follow(p, 'provider');
        const handled: ChainEvent[] = [];
        for (let i = 0; i < events.length; i++) {
            const ev = events[i];
            if (seen[i] !== null && seen[i] !== undefined) {
                this.counters.duplicates++;
                this.metrics?.duplicates.inc();
                this.log.debug({ address: f.address.toString(), tag: tagHex(ev.tag), txHash: ev.txHash, outIndex: ev.outIndex }, 'duplicate event skipped');
                continue;
            }
            if (this.aborted) throw new Stopped();
            this.counters.handlerCalls++;
            try {
                await this.opts.handler(ev, ctx);
            } catch (e) {
                throw new PhaseError('handler', e);
            }
            try {
                await this.discover(ev, f, ctx);
            } catch (e) {
                throw new PhaseError('chain', e);
            }
            handled.push(ev);
        }

        const done = this.keys.done(f.raw);
        if (handled.length > 0) {
            const args: (string | number)[] = [];
            for (const ev of handled) args.push(ev.txLt.toString(), ev.id);
            multi.zadd(done, ...args);
            multi.zremrangebyrank(done, 0, -(this.opts.processedMax + 1));
        }
        const last = txs[txs.length - 1];
        const next: Cursor = { lt: last.lt, hash: last.hash };
        multi.set(this.keys.cursor(f.raw), encodeCursor(next)!);
        for (const [raw, kind] of follows) {
            multi.hset(this.keys.follow, raw, kind);
            multi.persist(this.keys.cursor(raw));
            multi.persist(this.keys.done(raw));
        }
        for (const raw of unfollows) this.queueUnfollow(multi, raw);

        const result = await this.commit(f, multi);
        if (result === 'conflict') {
            this.counters.conflicts++;
            this.metrics?.conflicts.inc();
            let stored: string | null;
            try {
                stored = await redis.get(this.keys.cursor(f.raw));
            } catch (e) {
                throw new PhaseError('redis', e);
            }
            f.cursor = decodeCursor(stored);
            this.log.warn({ address: f.address.toString(), cursorLt: f.cursor?.lt.toString() ?? null }, 'cursor moved by someone else; batch dropped, resuming from the stored cursor');
            return false;
        }
        f.cursor = next;
        this.log.debug({ address: f.address.toString(), txs: txs.length, events: handled.length, cursorLt: next.lt.toString() }, 'batch committed');
        this.counters.batches++;
        this.counters.events += handled.length;
        for (const ev of handled) this.metrics?.events.inc({ name: ev.name });
        for (const raw of unfollows) this.followed.delete(raw);
        for (const [raw, kind] of follows) await this.addFollowed(raw, kind);
        if (follows.size > 0) this.followedMore = true;
        this.metrics?.followed.set(this.followed.size);
        return true;
    }

    /** WATCH-guarded EXEC: commits only if the cursor is still the one this batch started from. */
    private commit(f: Followed, multi: ChainableCommander): Promise<'ok' | 'conflict'> {
        return this.commitLock.run(async () => {
            const conn = this.commitConn;
            if (this.aborted || !conn) throw new Stopped();
            const key = this.keys.cursor(f.raw);
            let res: [Error | null, unknown][] | null;
            try {
                await conn.watch(key);
                const current = await conn.get(key);
                if (current !== encodeCursor(f.cursor)) {
                    await conn.unwatch();
                    return 'conflict';
                }
                if (this.aborted) throw new Stopped();
                res = await multi.exec();
            } catch (e) {
                if (e instanceof Stopped || this.aborted) throw new Stopped();
                await conn.unwatch().catch(() => undefined);
                throw new PhaseError('redis', e);
            }
            if (res === null) return 'conflict';
            const failed = res.findIndex(([err]) => err !== null);
            if (failed >= 0) {
                // MULTI has no rollback: the rest (cursor included) is applied. A command the handler queued was invalid.
                this.log.error({ address: f.address.toString(), command: failed, err: res[failed][0]?.message }, 'a queued command failed inside the committed MULTI');
            }
            return 'ok';
        });
    }

    private queueUnfollow(m: ChainableCommander, raw: string): void {
        m.hdel(this.keys.follow, raw);
        m.expire(this.keys.cursor(raw), this.opts.unfollowRetentionSec);
        m.expire(this.keys.done(raw), this.opts.unfollowRetentionSec);
    }

    private async addFollowed(raw: string, kind: ContractKind): Promise<void> {
        if (this.followed.has(raw)) return;
        const cursor = decodeCursor(await this.opts.redis.get(this.keys.cursor(raw)));
        this.followed.set(raw, { address: Address.parseRaw(raw), raw, kind, cursor, failures: 0, retryAt: 0 });
        this.metrics?.followed.set(this.followed.size);
        this.log.info({ address: Address.parseRaw(raw).toString(), kind }, 'following');
    }

    /** Built-in discovery and job lifecycle, applied after the handler saw the event. */
    private async discover(ev: ChainEvent, f: Followed, ctx: HandlerContext): Promise<void> {
        switch (ev.name) {
            case 'ProviderPruned':
            case 'ProviderSlashRequested':
                if (this.opts.followProviders) ctx.follow(await this.providerAddress(ev.data.owner), 'provider');
                break;
            case 'JobOpened':
                if (this.opts.followJobs) ctx.follow(await this.jobAddress(ev.data.jobId), 'job');
                break;
            default:
                if (f.kind === 'job' && this.opts.unfollowFinishedJobs && TERMINAL_JOB_EVENTS.has(ev.name as EventName)) ctx.unfollow(f.address);
        }
    }

    async providerAddress(owner: Address): Promise<Address> {
        const key = owner.toRawString();
        let a = this.providerCache.get(key);
        if (!a) {
            a = await this.opts.chain.open(Registry.fromAddress(this.opts.registry)).getProviderAddress(owner);
            this.providerCache.set(key, a);
        }
        return a;
    }

    async jobAddress(jobId: bigint): Promise<Address> {
        const key = jobId.toString();
        let a = this.jobCache.get(key);
        if (!a) {
            a = await this.opts.chain.open(Registry.fromAddress(this.opts.registry)).getJobAddress(jobId);
            if (this.jobCache.size > 10_000) this.jobCache.clear();
            this.jobCache.set(key, a);
        }
        return a;
    }

    private async startAtLatest(f: Followed): Promise<void> {
        const page = await this.opts.chain.call<RawTransaction[]>('getTransactions', { address: f.address.toString(), limit: 1, archival: true });
        if (page.length === 0) return;
        const c: Cursor = { lt: BigInt(page[0].transaction_id.lt), hash: Buffer.from(page[0].transaction_id.hash, 'base64') };
        // NX: another watcher may have started meanwhile
        await this.opts.redis.set(this.keys.cursor(f.raw), encodeCursor(c)!, 'NX');
        f.cursor = decodeCursor(await this.opts.redis.get(this.keys.cursor(f.raw)));
    }
}

/** Error text for logs: the error's class and message (chain errors name method, endpoint and status, never payloads). */
function describeError(e: unknown): string {
    if (e instanceof Error) return `${e.name}: ${e.message}`;
    return String(e);
}
