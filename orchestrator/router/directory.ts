/**
 * In-memory directory of providers: chain state (stake, locks, enclave record, models and prices), worker telemetry
 * (heartbeats, load, capacity) and routing statistics (latency EWMA, successes, failures), plus the registry's
 * parameters and allowlists.
 *
 * Routing never scans every provider: each model has its list of (provider, price) slots, and each slot caches the
 * result of the checks that change only when the provider, its stake or the network changes (see
 * `providerStateReason`). Mutate entries only through the methods here so that these caches stay right; the
 * entries handed out are read-only views.
 */
import { CODE, OK, providerStateReason, providerTerms } from './eligibility';
import { hash32, hashKey, lockFor, ownerKey } from './keys';
import { ScoreConfig, qualityRaw } from './score';
import type { ProviderConfigSnapshot, ProviderEntry, RoutingNetwork } from './types';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** @internal One (provider, model) pair. The router reads the bucket's typed arrays; the slot keeps the exact values. */
export class Slot {
    /** position in the bucket (swap-remove) */
    idx = -1;
    priceSafe: boolean;
    lock = 0n;
    lockRatio = 0;
    /** cached providerStateReason code, OK (0) when none */
    code = OK;
    constructor(
        readonly rec: ProviderRecord,
        readonly bucket: Bucket,
        readonly price: bigint,
    ) {
        this.priceSafe = price <= MAX_SAFE;
    }
    get model(): string {
        return this.bucket.model;
    }
}

/**
 * @internal The providers serving one model, as parallel arrays (structure of arrays: the router's scan touches
 * contiguous memory only). Index i of every array describes slots[i].
 */
export class Bucket {
    len = 0;
    pids = new Int32Array(16);
    prices = new Float64Array(16);
    codes = new Uint8Array(16);
    slots: Slot[] = [];
    /** slots whose price does not fit a double exactly (> 2^53 nanoTON): the router then compares bigints */
    unsafePrices = 0;
    /** smallest lock ratio among the slots (recomputed lazily when `ratioDirty`) */
    private minRatio = 0;
    ratioDirty = true;
    constructor(readonly model: string) {}

    /** The smallest provider lock ratio in this bucket: jobs with a ratio at most this never fail LOCK_TOO_SMALL here. */
    minLockRatio(): number {
        if (this.ratioDirty) {
            let m = Infinity;
            for (let i = 0; i < this.len; i++) if (this.slots[i].lockRatio < m) m = this.slots[i].lockRatio;
            this.minRatio = m;
            this.ratioDirty = false;
        }
        return this.minRatio;
    }

    push(slot: Slot): void {
        if (this.len === this.pids.length) {
            const n = this.len * 2;
            const pids = new Int32Array(n);
            pids.set(this.pids);
            const prices = new Float64Array(n);
            prices.set(this.prices);
            const codes = new Uint8Array(n);
            codes.set(this.codes);
            this.pids = pids;
            this.prices = prices;
            this.codes = codes;
        }
        const i = this.len++;
        slot.idx = i;
        this.slots.push(slot);
        this.pids[i] = slot.rec.pid;
        this.prices[i] = Number(slot.price);
        this.codes[i] = slot.code;
        if (!slot.priceSafe) this.unsafePrices++;
        this.ratioDirty = true;
    }

    remove(slot: Slot): void {
        const i = slot.idx;
        const last = this.len - 1;
        const moved = this.slots[last];
        this.slots[i] = moved;
        this.pids[i] = this.pids[last];
        this.prices[i] = this.prices[last];
        this.codes[i] = this.codes[last];
        moved.idx = i;
        this.slots.pop();
        this.len = last;
        slot.idx = -1;
        if (!slot.priceSafe) this.unsafePrices--;
        this.ratioDirty = true;
    }
}

/** Row layout of ProviderTable.rows: one 64-byte cache line per provider. */
export const ROW = 8;
export const R_HEARTBEAT = 0;
export const R_LOAD = 1;
export const R_CAPACITY = 2;
export const R_QUALITY = 3;
export const R_OWNER_HASH = 4;
export const R_CANDIDATE_MARK = 5;

/**
 * @internal Per-provider numbers the router reads, indexed by provider id (pid), mirrored from the entries by every
 * directory method that changes them. `rows` packs what the scan reads into one cache line per provider; the
 * latency (NaN: no sample), success and failure arrays feed the cached quality (score.ts qualityRaw), which is
 * computed for one score configuration at a time (`qualityCfg`).
 */
export class ProviderTable {
    cap = 0;
    rows = new Float64Array(0);
    latency = new Float64Array(0);
    success = new Float64Array(0);
    failure = new Float64Array(0);
    qualityCfg: ScoreConfig | null = null;

    grow(min: number): void {
        if (min <= this.cap) return;
        const n = Math.max(64, this.cap * 2, min);
        const f = (a: Float64Array, m: number) => {
            const b = new Float64Array(n * m);
            b.set(a);
            return b;
        };
        this.rows = f(this.rows, ROW);
        this.latency = f(this.latency, 1);
        this.success = f(this.success, 1);
        this.failure = f(this.failure, 1);
        this.cap = n;
    }

    sync(pid: number, e: ProviderEntry): void {
        const r = pid * ROW;
        this.rows[r + R_HEARTBEAT] = e.lastHeartbeatMs;
        this.rows[r + R_LOAD] = e.load;
        this.rows[r + R_CAPACITY] = e.capacity;
        this.latency[pid] = e.latencyEwmaMs === null ? NaN : e.latencyEwmaMs;
        this.success[pid] = e.successCount;
        this.failure[pid] = e.failureCount;
        if (this.qualityCfg !== null) this.rows[r + R_QUALITY] = qualityRaw(this.latency[pid], e.successCount, e.failureCount, this.qualityCfg);
    }

    /** Makes the cached quality of pids [0, n) follow `cfg`. */
    useScoreConfig(cfg: ScoreConfig, n: number): void {
        if (this.qualityCfg === cfg) return;
        this.qualityCfg = cfg;
        for (let pid = 0; pid < n; pid++) {
            this.rows[pid * ROW + R_QUALITY] = qualityRaw(this.latency[pid], this.success[pid], this.failure[pid], cfg);
        }
    }
}

/** @internal */
export class ProviderRecord {
    readonly slots = new Map<string, Slot>();
    constructor(
        readonly entry: ProviderEntry,
        readonly pid: number,
    ) {}
}

/** What upsert() accepts: the owner, plus any fields to set (absent fields keep their value, or a default). */
export interface ProviderInput {
    owner: string;
    stakeContract?: string;
    stake?: bigint;
    locked?: bigint;
    pendingUnstake?: bigint;
    active?: boolean;
    measurement?: string | bigint;
    attestationHash?: string | bigint;
    receiptKey?: string | bigint;
    encryptionKey?: string | bigint;
    endpoint?: string;
    /** model hash → price (nanoTON); replaces the whole list */
    models?: ReadonlyMap<string | bigint, bigint> | Record<string, bigint> | Iterable<[string | bigint, bigint]>;
    config?: ProviderConfigSnapshot | null;
    lastHeartbeatMs?: number;
    load?: number;
    capacity?: number;
    latencyEwmaMs?: number | null;
    successCount?: number;
    failureCount?: number;
}

export interface DirectoryOptions {
    network?: Partial<Omit<RoutingNetwork, 'allowedMeasurements' | 'allowedModels'>> & { allowedMeasurements?: Iterable<string | bigint>; allowedModels?: Iterable<string | bigint> };
    /** weight of a new latency sample in the EWMA, (0, 1]; default 0.2 */
    ewmaAlpha?: number;
}

export interface Outcome {
    ok: boolean;
    /** wall time of the job on the worker; only successful samples feed the EWMA */
    latencyMs?: number;
}

export const DEFAULT_HEARTBEAT_TTL_MS = 30_000;
export const DEFAULT_MIN_TIME_LEFT_MS = 30_000;

function toModelMap(models: NonNullable<ProviderInput['models']>): Map<string, bigint> {
    const out = new Map<string, bigint>();
    const it: Iterable<[string | bigint, bigint]> =
        Symbol.iterator in (models as object) ? (models as Iterable<[string | bigint, bigint]>) : Object.entries(models as Record<string, bigint>);
    for (const [h, price] of it) {
        if (typeof price !== 'bigint' || price < 0n) throw new RangeError(`bad price for model ${String(h)}`);
        out.set(hashKey(h), price);
    }
    return out;
}

export class ProviderDirectory {
    private readonly recs = new Map<string, ProviderRecord>();
    /** model hash → owners serving it */
    private readonly modelIndex = new Map<string, Set<string>>();
    /** model hash → its slots, the router's scan list (same membership as modelIndex) */
    private readonly buckets = new Map<string, Bucket>();
    /** @internal per-provider numbers for the router */
    readonly table = new ProviderTable();
    private readonly freePids: number[] = [];
    /** @internal pids in use are below this */
    nextPid = 0;
    private readonly allowedMeasurements: Set<string>;
    private readonly allowedModels: Set<string>;
    private readonly net: RoutingNetwork;
    readonly ewmaAlpha: number;
    /** @internal route() epoch, for the exclude/candidate marks */
    epoch = 0;

    constructor(options: DirectoryOptions = {}) {
        const n = options.network ?? {};
        this.allowedMeasurements = new Set([...(n.allowedMeasurements ?? [])].map(hashKey));
        this.allowedModels = new Set([...(n.allowedModels ?? [])].map(hashKey));
        this.net = {
            minProviderStake: n.minProviderStake ?? 0n,
            lockRatioBps: n.lockRatioBps ?? 10000,
            allowedMeasurements: this.allowedMeasurements,
            allowedModels: this.allowedModels,
            heartbeatTtlMs: n.heartbeatTtlMs ?? DEFAULT_HEARTBEAT_TTL_MS,
            minTimeLeftMs: n.minTimeLeftMs ?? DEFAULT_MIN_TIME_LEFT_MS,
        };
        this.ewmaAlpha = options.ewmaAlpha ?? 0.2;
        if (!(this.ewmaAlpha > 0 && this.ewmaAlpha <= 1)) throw new RangeError('ewmaAlpha must be in (0, 1]');
    }

    /** The parameters and allowlists routing checks against (live view; change it through the methods below). */
    get network(): Readonly<RoutingNetwork> {
        return this.net;
    }

    get size(): number {
        return this.recs.size;
    }

    // ---------------- network ----------------

    /** Registry ParamsUpdated (minProviderStake, lockRatioBps) and orchestrator policy (TTL, minimum time left). */
    setParams(p: Partial<Pick<RoutingNetwork, 'minProviderStake' | 'lockRatioBps' | 'heartbeatTtlMs' | 'minTimeLeftMs'>>): void {
        if (p.minProviderStake !== undefined) this.net.minProviderStake = p.minProviderStake;
        if (p.lockRatioBps !== undefined) this.net.lockRatioBps = p.lockRatioBps;
        if (p.heartbeatTtlMs !== undefined) this.net.heartbeatTtlMs = p.heartbeatTtlMs;
        if (p.minTimeLeftMs !== undefined) this.net.minTimeLeftMs = p.minTimeLeftMs;
        if (p.minProviderStake !== undefined || p.lockRatioBps !== undefined) this.refreshAll();
    }

    /** Registry MeasurementAllowed. */
    allowMeasurement(measurement: string | bigint): void {
        const m = hashKey(measurement);
        if (this.allowedMeasurements.has(m)) return;
        this.allowedMeasurements.add(m);
        this.refreshWhere((e) => e.measurement === m);
    }

    /** Registry ModelAllowed. */
    allowModel(modelHash: string | bigint): void {
        this.allowedModels.add(hashKey(modelHash));
    }

    /**
     * Registry MeasurementRevoked / ModelRevoked: the hash leaves the allowlist and every provider that depends on
     * it leaves routing at once, before anyone prunes it on-chain. Returns how many providers were affected.
     */
    markRevoked(kind: 'measurement' | 'model', hash: string | bigint): number {
        const h = hashKey(hash);
        if (kind === 'measurement') {
            this.allowedMeasurements.delete(h);
            return this.refreshWhere((e) => e.measurement === h);
        }
        this.allowedModels.delete(h);
        return this.modelIndex.get(h)?.size ?? 0;
    }

    /**
     * EnclaveRevoked on one provider (ApplyRevocation landed): a measurement revocation deactivates its registration,
     * a model revocation deletes the model from its list, as the contract does.
     */
    applyProviderRevocation(owner: string, kind: 'measurement' | 'model', hash: string | bigint): boolean {
        const rec = this.rec(owner);
        if (!rec) return false;
        const h = hashKey(hash);
        if (kind === 'measurement') {
            if (rec.entry.measurement !== h || !rec.entry.active) return false;
            rec.entry.active = false;
            this.refresh(rec);
            return true;
        }
        if (!rec.entry.models.has(h)) return false;
        const models = new Map(rec.entry.models);
        models.delete(h);
        this.setModels(rec, models);
        return true;
    }

    // ---------------- providers ----------------

    /** Adds a provider or updates the given fields of a known one; returns its (read-only) entry. */
    upsert(input: ProviderInput): Readonly<ProviderEntry> {
        const owner = ownerKey(input.owner);
        let rec = this.recs.get(owner);
        if (!rec) {
            const pid = this.freePids.pop() ?? this.nextPid++;
            this.table.grow(pid + 1);
            this.table.rows[pid * ROW + R_OWNER_HASH] = hash32(owner);
            this.table.rows[pid * ROW + R_CANDIDATE_MARK] = 0;
            rec = new ProviderRecord({
                owner,
                stakeContract: '',
                stake: 0n,
                locked: 0n,
                pendingUnstake: 0n,
                active: false,
                measurement: '',
                attestationHash: '',
                receiptKey: '',
                encryptionKey: '',
                endpoint: '',
                models: new Map(),
                config: null,
                lastHeartbeatMs: Number.NEGATIVE_INFINITY,
                load: 0,
                capacity: 1,
                latencyEwmaMs: null,
                successCount: 0,
                failureCount: 0,
            }, pid);
            this.recs.set(owner, rec);
        }
        const e = rec.entry;
        if (input.stakeContract !== undefined) e.stakeContract = ownerKey(input.stakeContract);
        if (input.stake !== undefined) e.stake = input.stake;
        if (input.locked !== undefined) e.locked = input.locked;
        if (input.pendingUnstake !== undefined) e.pendingUnstake = input.pendingUnstake;
        if (input.active !== undefined) e.active = input.active;
        if (input.measurement !== undefined) e.measurement = hashKey(input.measurement);
        if (input.attestationHash !== undefined) e.attestationHash = hashKey(input.attestationHash);
        if (input.receiptKey !== undefined) e.receiptKey = hashKey(input.receiptKey);
        if (input.encryptionKey !== undefined) e.encryptionKey = hashKey(input.encryptionKey);
        if (input.endpoint !== undefined) e.endpoint = input.endpoint;
        if (input.config !== undefined) e.config = input.config;
        if (input.lastHeartbeatMs !== undefined) e.lastHeartbeatMs = input.lastHeartbeatMs;
        if (input.load !== undefined) e.load = input.load;
        if (input.capacity !== undefined) e.capacity = input.capacity;
        if (input.latencyEwmaMs !== undefined) e.latencyEwmaMs = input.latencyEwmaMs;
        if (input.successCount !== undefined) e.successCount = input.successCount;
        if (input.failureCount !== undefined) e.failureCount = input.failureCount;
        this.table.sync(rec.pid, e);
        if (input.models !== undefined) this.setModels(rec, toModelMap(input.models));
        else this.refresh(rec);
        return e;
    }

    /** Forgets a provider (and removes it from every model's index). */
    remove(owner: string): boolean {
        const rec = this.rec(owner);
        if (!rec) return false;
        for (const slot of rec.slots.values()) this.unlink(slot);
        rec.slots.clear();
        this.recs.delete(rec.entry.owner);
        this.freePids.push(rec.pid);
        return true;
    }

    get(owner: string): Readonly<ProviderEntry> | undefined {
        return this.rec(owner)?.entry;
    }

    has(owner: string): boolean {
        return this.rec(owner) !== undefined;
    }

    *entries(): IterableIterator<Readonly<ProviderEntry>> {
        for (const r of this.recs.values()) yield r.entry;
    }

    /** Owners serving a model (the index routing uses). */
    ownersForModel(modelHash: string | bigint): ReadonlySet<string> {
        return this.modelIndex.get(hashKey(modelHash)) ?? new Set();
    }

    /** Models with at least one provider. */
    indexedModels(): string[] {
        return [...this.modelIndex.keys()];
    }

    /** Stake changes (Staked, UnstakeRequested, StakeWithdrawn, StakeSlashed, JobClaimed/LockReleased, a state() read). */
    updateStake(owner: string, s: { stake?: bigint; locked?: bigint; pendingUnstake?: bigint }): boolean {
        const rec = this.rec(owner);
        if (!rec) return false;
        if (s.stake !== undefined) rec.entry.stake = s.stake;
        if (s.locked !== undefined) rec.entry.locked = s.locked;
        if (s.pendingUnstake !== undefined) rec.entry.pendingUnstake = s.pendingUnstake;
        this.refresh(rec);
        return true;
    }

    setActive(owner: string, active: boolean): boolean {
        const rec = this.rec(owner);
        if (!rec) return false;
        rec.entry.active = active;
        this.refresh(rec);
        return true;
    }

    /** A worker's heartbeat: marks it alive at `nowMs` and updates its reported load / capacity. */
    heartbeat(owner: string, nowMs: number, report: { load?: number; capacity?: number; endpoint?: string } = {}): boolean {
        const rec = this.rec(owner);
        if (!rec) return false;
        const e = rec.entry;
        if (nowMs > e.lastHeartbeatMs) e.lastHeartbeatMs = nowMs;
        if (report.load !== undefined) e.load = Math.max(0, report.load);
        if (report.capacity !== undefined) e.capacity = Math.max(0, report.capacity);
        if (report.endpoint !== undefined) e.endpoint = report.endpoint;
        this.table.sync(rec.pid, e);
        return true;
    }

    /** Counts a job dispatched to (+1) or finished on (−1) the worker between heartbeats. */
    adjustLoad(owner: string, delta: number): boolean {
        const rec = this.rec(owner);
        if (!rec) return false;
        rec.entry.load = Math.max(0, rec.entry.load + delta);
        this.table.rows[rec.pid * ROW + R_LOAD] = rec.entry.load;
        return true;
    }

    /** A finished attempt: successes feed the latency EWMA; both update the success-rate counters. */
    recordOutcome(owner: string, outcome: Outcome): boolean {
        const rec = this.rec(owner);
        if (!rec) return false;
        const e = rec.entry;
        if (outcome.ok) {
            e.successCount += 1;
            const l = outcome.latencyMs;
            if (l !== undefined && Number.isFinite(l) && l >= 0) {
                e.latencyEwmaMs = e.latencyEwmaMs === null ? l : e.latencyEwmaMs + this.ewmaAlpha * (l - e.latencyEwmaMs);
            }
        } else {
            e.failureCount += 1;
        }
        this.table.sync(rec.pid, e);
        return true;
    }

    /** Consistency check of the model index and the routing caches (tests, debugging): the list of problems found. */
    verifyIndex(): string[] {
        const problems: string[] = [];
        let slotCount = 0;
        for (const [owner, rec] of this.recs) {
            if (rec.slots.size !== rec.entry.models.size) problems.push(`${owner}: ${rec.slots.size} slots for ${rec.entry.models.size} models`);
            for (const [model, price] of rec.entry.models) {
                const slot = rec.slots.get(model);
                if (!slot || slot.price !== price) problems.push(`${owner}: slot for ${model} missing or stale`);
                if (!this.modelIndex.get(model)?.has(owner)) problems.push(`${owner}: not indexed under ${model}`);
                const bucket = this.buckets.get(model);
                if (!slot || !bucket || bucket.slots[slot.idx] !== slot) problems.push(`${owner}: slot for ${model} not in its bucket`);
                if (slot && bucket) {
                    const want = providerStateReason(rec.entry, price, this.net);
                    const code = want === null ? OK : CODE[want];
                    if (slot.code !== code || bucket.codes[slot.idx] !== code) problems.push(`${owner}: stale cached state for ${model}`);
                    if (bucket.pids[slot.idx] !== rec.pid || bucket.prices[slot.idx] !== Number(price)) problems.push(`${owner}: stale bucket row for ${model}`);
                }
            }
        }
        for (const [model, owners] of this.modelIndex) {
            if (owners.size === 0) problems.push(`${model}: empty index entry`);
            const bucket = this.buckets.get(model);
            if (!bucket || bucket.len !== owners.size || bucket.slots.length !== bucket.len) problems.push(`${model}: bucket and index sizes differ`);
            for (const o of owners) if (!this.recs.get(o)?.entry.models.has(model)) problems.push(`${model}: indexes ${o}, which does not serve it`);
            slotCount += owners.size;
        }
        for (const [model, bucket] of this.buckets) {
            if (!this.modelIndex.has(model)) problems.push(`${model}: bucket without index`);
            bucket.slots.forEach((s, i) => {
                if (s.idx !== i) problems.push(`${model}: slot ${i} thinks it is at ${s.idx}`);
            });
        }
        let modelCount = 0;
        const t = this.table;
        for (const rec of this.recs.values()) {
            modelCount += rec.entry.models.size;
            const e = rec.entry;
            const p = rec.pid;
            const lat = e.latencyEwmaMs === null ? NaN : e.latencyEwmaMs;
            const r = p * ROW;
            if (t.rows[r + R_LOAD] !== e.load || t.rows[r + R_CAPACITY] !== e.capacity || t.rows[r + R_HEARTBEAT] !== e.lastHeartbeatMs ||
                !Object.is(t.latency[p], lat) || t.success[p] !== e.successCount || t.failure[p] !== e.failureCount ||
                t.rows[r + R_OWNER_HASH] !== hash32(e.owner) ||
                (t.qualityCfg !== null && t.rows[r + R_QUALITY] !== qualityRaw(lat, e.successCount, e.failureCount, t.qualityCfg)))
                problems.push(`${e.owner}: stale provider table row`);
        }
        if (modelCount !== slotCount) problems.push(`index holds ${slotCount} pairs, providers serve ${modelCount}`);
        return problems;
    }

    // ---------------- internals (router) ----------------

    /** @internal */
    rec(owner: string): ProviderRecord | undefined {
        return this.recs.get(owner) ?? this.recs.get(ownerKey(owner));
    }

    /** @internal */
    bucket(model: string): Bucket | undefined {
        return this.buckets.get(model);
    }

    private setModels(rec: ProviderRecord, models: Map<string, bigint>): void {
        for (const [model, slot] of rec.slots) {
            if (models.get(model) !== slot.price) {
                this.unlink(slot);
                rec.slots.delete(model);
            }
        }
        for (const [model, price] of models) {
            if (rec.slots.has(model)) continue;
            let bucket = this.buckets.get(model);
            if (!bucket) {
                bucket = new Bucket(model);
                this.buckets.set(model, bucket);
                this.modelIndex.set(model, new Set());
            }
            const slot = new Slot(rec, bucket, price);
            rec.slots.set(model, slot);
            bucket.push(slot);
            this.modelIndex.get(model)!.add(rec.entry.owner);
        }
        rec.entry.models = models;
        this.refresh(rec);
    }

    private unlink(slot: Slot): void {
        const bucket = slot.bucket;
        bucket.remove(slot);
        const owners = this.modelIndex.get(bucket.model)!;
        owners.delete(slot.rec.entry.owner);
        if (bucket.len === 0) {
            this.buckets.delete(bucket.model);
            this.modelIndex.delete(bucket.model);
        }
    }

    /** Recomputes a provider's cached per-model state. */
    private refresh(rec: ProviderRecord): void {
        const ratio = providerTerms(rec.entry, this.net).lockRatioBps;
        for (const slot of rec.slots.values()) {
            if (slot.lockRatio !== ratio) slot.bucket.ratioDirty = true;
            slot.lockRatio = ratio;
            slot.lock = lockFor(slot.price, ratio);
            const reason = providerStateReason(rec.entry, slot.price, this.net);
            slot.code = reason === null ? OK : CODE[reason];
            slot.bucket.codes[slot.idx] = slot.code;
        }
    }

    private refreshAll(): void {
        for (const rec of this.recs.values()) this.refresh(rec);
    }

    private refreshWhere(pred: (e: ProviderEntry) => boolean): number {
        let n = 0;
        for (const rec of this.recs.values()) {
            if (pred(rec.entry)) {
                this.refresh(rec);
                n++;
            }
        }
        return n;
    }
}
