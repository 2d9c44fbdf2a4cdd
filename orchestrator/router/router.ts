/**
 * route(): picks the provider for a job. Eligibility first (the rules of eligibility.ts), then the score of
 * score.ts; the k best are returned ranked, the first is `chosen`.
 *
 * Cost: one pass over the providers serving the job's model (the directory's per-model slot list), or over the
 * job's candidates (≤ 4) when it names some; per provider a few number comparisons (the provider-state checks are
 * cached by the directory, prices are compared as numbers when they are exact) and, when eligible, one score.
 *
 * Ties (equal scores) are broken by a per-(job, provider) key: by default a stable hash of (jobId, owner), so the
 * same job always goes to the same provider while different jobs spread evenly over equal providers; `rng`
 * replaces the hash (one draw per eligible provider).
 */
import { R_CANDIDATE_MARK, R_OWNER_HASH, R_HEARTBEAT, R_LOAD, R_CAPACITY, R_QUALITY, ROW } from './directory';
import type { Bucket, ProviderDirectory, Slot } from './directory';
import { CODE, INELIGIBLE_REASONS, OK, deadlineTooClose } from './eligibility';
import { hash32, hashKey, mix32 } from './keys';
import { ScoreComponents, ScoreConfig, ScoreWeights, resolveScoreConfig, scoreComponents, scoreFromParts } from './score';
import type { ProviderEntry, RoutableJob, RouteRejectReason } from './types';

export interface RouteOptions {
    nowMs: number;
    /** owners that already failed or lost this job: never chosen again for it */
    exclude?: ReadonlySet<string> | Iterable<string>;
    /** tie-break source in [0, 1); default: stable hash of (jobId, owner) */
    rng?: () => number;
    /** how many ranked providers to return (default 3) */
    k?: number;
    /** score weights and latency constants (defaults: score.ts) */
    score?: Partial<Omit<ScoreConfig, 'weights'>> & { weights?: Partial<ScoreWeights> };
}

export interface RankedProvider {
    owner: string;
    score: number;
    components: ScoreComponents;
    /** the provider's price for the job's model (what the escrow will pay), nanoTON */
    price: bigint;
    /** the stake its claim will lock, nanoTON */
    lock: bigint;
    provider: Readonly<ProviderEntry>;
}

export interface RouteResult {
    chosen: RankedProvider | null;
    /** best first, at most k */
    ranked: RankedProvider[];
    /** why the others were passed over (reasons with a zero count are absent) */
    rejectedCounts: Partial<Record<RouteRejectReason, number>>;
    /** providers looked at: those serving the model, plus candidates that do not */
    considered: number;
    eligible: number;
    /** set when the job itself cannot be routed (model not allowed, deadline too close), even with no provider */
    jobRejected?: 'MODEL_NOT_ALLOWED' | 'DEADLINE_TOO_CLOSE';
}

const EXCLUDED = INELIGIBLE_REASONS.length + 1;
const UNKNOWN = INELIGIBLE_REASONS.length + 2;
const REASON_NAMES: readonly RouteRejectReason[] = [...INELIGIBLE_REASONS, 'EXCLUDED', 'UNKNOWN_PROVIDER'];
const C_PRICE = CODE.PRICE_ABOVE_MAX;
const C_LOCK = CODE.LOCK_TOO_SMALL;
const C_STALE = CODE.STALE_HEARTBEAT;
const C_CAPACITY = CODE.AT_CAPACITY;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const TWO32 = 4294967296;

// Scratch state of one route() call (route is synchronous, so one set per process suffices).
const counts = new Int32Array(REASON_NAMES.length + 1);
let topIdx = new Int32Array(8);
let topScores = new Float64Array(8);
let topTies = new Float64Array(8);
let topLen = 0;
let topK = 3;
let topBucket: Bucket | null = null;

function resetTop(k: number, bucket: Bucket | undefined): void {
    if (topScores.length < k) {
        topIdx = new Int32Array(k);
        topScores = new Float64Array(k);
        topTies = new Float64Array(k);
    }
    topLen = 0;
    topK = k;
    topBucket = bucket ?? null;
}

function ownerAt(i: number): string {
    return topBucket!.slots[i].rec.entry.owner;
}

/** bucket row a (score sa, tie ta) ranks before row b */
function before(sa: number, ta: number, a: number, sb: number, tb: number, b: number): boolean {
    if (sa !== sb) return sa > sb;
    if (ta !== tb) return ta < tb;
    return ownerAt(a) < ownerAt(b); // equal 32-bit tie keys: the owner decides, so the order stays total
}

/** Offers bucket row i with score s; the tie key is only computed when it can matter. */
function offer(sc: Scan, i: number, s: number, r: number): void {
    if (topLen === topK) {
        const w = topLen - 1;
        if (s < topScores[w]) return;
        const tie = tieKey(sc, r);
        if (!before(s, tie, i, topScores[w], topTies[w], topIdx[w])) return;
        topLen--;
        insert(i, s, tie);
    } else {
        insert(i, s, tieKey(sc, r));
    }
}

function insert(i: number, s: number, tie: number): void {
    let j = topLen;
    while (j > 0 && before(s, tie, i, topScores[j - 1], topTies[j - 1], topIdx[j - 1])) {
        topScores[j] = topScores[j - 1];
        topTies[j] = topTies[j - 1];
        topIdx[j] = topIdx[j - 1];
        j--;
    }
    topScores[j] = s;
    topTies[j] = tie;
    topIdx[j] = i;
    topLen++;
}

function tieKey(sc: Scan, r: number): number {
    return sc.rng === undefined ? mix32(sc.seed, sc.rows[r + R_OWNER_HASH]) : Math.floor(sc.rng() * TWO32);
}

function jobSeed(jobId: RoutableJob['jobId']): number {
    return hash32(typeof jobId === 'string' ? jobId : jobId.toString());
}

/** Per-route constants of the inner loop. */
interface Scan {
    bucket: Bucket;
    rows: Float64Array;
    nowMs: number;
    ttl: number;
    maxPrice: bigint;
    maxNum: number;
    /** prices of this bucket and the max price all compare exactly as doubles */
    exactPrices: boolean;
    jobRatio: number;
    /** some provider of the bucket locks at a lower ratio than the job's: check LOCK_TOO_SMALL */
    checkLock: boolean;
    seed: number;
    rng: (() => number) | undefined;
    cfg: ScoreConfig;
}

/** Checks bucket row i (eligibility.ts rules, from the caches) and offers it to the top k; returns 1 if eligible. */
function consider(sc: Scan, i: number): number {
    const b = sc.bucket;
    const code = b.codes[i]; // the provider-state reason, or EXCLUDED (written for the duration of the route)
    if (code !== OK) {
        counts[code]++;
        return 0;
    }
    const priceNum = b.prices[i];
    if (sc.exactPrices ? priceNum > sc.maxNum : b.slots[i].price > sc.maxPrice) {
        counts[C_PRICE]++;
        return 0;
    }
    // a lock taken at the provider's own lower ratio may still pass thanks to rounding: then check exactly
    if (sc.checkLock && lockTooSmall(b.slots[i], sc.jobRatio)) {
        counts[C_LOCK]++;
        return 0;
    }
    const rows = sc.rows;
    const r = b.pids[i] * ROW;
    if (sc.nowMs - rows[r + R_HEARTBEAT] > sc.ttl) {
        counts[C_STALE]++;
        return 0;
    }
    const load = rows[r + R_LOAD];
    const capacity = rows[r + R_CAPACITY];
    if (load >= capacity) {
        counts[C_CAPACITY]++;
        return 0;
    }
    offer(sc, i, scoreFromParts(load, capacity, rows[r + R_QUALITY], priceNum, sc.maxNum, sc.cfg), r);
    return 1;
}

function lockTooSmall(slot: Slot, jobRatio: number): boolean {
    return slot.lockRatio < jobRatio && slot.lock * 10000n < slot.price * BigInt(jobRatio);
}

/** Routes `job` over `directory` at `opts.nowMs`. Does not change the directory (the caller dispatches and calls adjustLoad). */
export function route(job: RoutableJob, directory: ProviderDirectory, opts: RouteOptions): RouteResult {
    const net = directory.network;
    const cfg = resolveScoreConfig(opts.score);
    const k = Math.max(1, Math.floor(opts.k ?? 3));
    const nowMs = opts.nowMs;
    const model = hashKey(job.modelHash);
    const bucket = directory.bucket(model);
    const bucketLen = bucket === undefined ? 0 : bucket.len;

    counts.fill(0);
    resetTop(k, bucket);

    const epoch = ++directory.epoch;
    let considered = bucketLen;
    let eligible = 0;

    // job-level rules: every provider of the model fails them alike
    let jobCode = OK;
    if (!net.allowedModels.has(model)) jobCode = CODE.MODEL_NOT_ALLOWED;
    else if (deadlineTooClose(job, net, nowMs)) jobCode = CODE.DEADLINE_TOO_CLOSE;

    const table = directory.table;
    if (jobCode !== OK) {
        counts[jobCode] = bucketLen;
    } else if (bucket === undefined && job.candidates == null) {
        // nobody serves the model
    } else {
        table.useScoreConfig(cfg, directory.nextPid);
        const maxPrice = job.maxPrice;
        const jobRatio = job.lockRatioBps ?? net.lockRatioBps;
        const sc: Scan | null =
            bucket === undefined
                ? null
                : {
                      bucket,
                      rows: table.rows,
                      nowMs,
                      ttl: net.heartbeatTtlMs,
                      maxPrice,
                      maxNum: Number(maxPrice),
                      exactPrices: maxPrice <= MAX_SAFE && bucket.unsafePrices === 0,
                      jobRatio,
                      checkLock: bucket.len > 0 && bucket.minLockRatio() < jobRatio,
                      seed: jobSeed(job.jobId),
                      rng: opts.rng,
                      cfg,
                  };
        // exclusions: the excluded rows read EXCLUDED instead of their cached code while this route runs
        const saved: number[] = [];
        if (opts.exclude && bucket !== undefined) {
            for (const o of opts.exclude) {
                const slot = directory.rec(o)?.slots.get(model);
                if (slot && bucket.codes[slot.idx] !== EXCLUDED) {
                    saved.push(slot.idx, bucket.codes[slot.idx]);
                    bucket.codes[slot.idx] = EXCLUDED;
                }
            }
        }
        try {
            let candidateCount = 0;
            let servingCandidates = 0;
            if (job.candidates != null) {
                for (const c of job.candidates) {
                    candidateCount++;
                    const rec = directory.rec(c);
                    if (!rec) {
                        counts[UNKNOWN]++;
                        considered++;
                        continue;
                    }
                    const m = rec.pid * ROW + R_CANDIDATE_MARK;
                    if (table.rows[m] === epoch) continue; // listed twice
                    table.rows[m] = epoch;
                    const slot = rec.slots.get(model);
                    if (!slot || sc === null) {
                        counts[CODE.MODEL_NOT_SERVED]++;
                        considered++;
                        continue;
                    }
                    servingCandidates++;
                    eligible += consider(sc, slot.idx);
                }
            }
            if (candidateCount > 0) {
                counts[CODE.NOT_A_CANDIDATE] += bucketLen - servingCandidates;
            } else if (sc !== null) {
                for (let i = 0; i < bucketLen; i++) eligible += consider(sc, i);
            }
        } finally {
            for (let j = 0; j < saved.length; j += 2) bucket!.codes[saved[j]] = saved[j + 1];
        }
    }

    const ranked: RankedProvider[] = [];
    const maxNum = Number(job.maxPrice);
    for (let j = 0; j < topLen; j++) {
        const slot = bucket!.slots[topIdx[j]];
        const e = slot.rec.entry;
        const priceNum = bucket!.prices[topIdx[j]];
        ranked.push({
            owner: e.owner,
            score: topScores[j],
            components: scoreComponents(e, priceNum, maxNum, cfg),
            price: slot.price,
            lock: slot.lock,
            provider: e,
        });
    }
    topBucket = null;
    const rejectedCounts: Partial<Record<RouteRejectReason, number>> = {};
    for (let c = 1; c < counts.length; c++) if (counts[c] > 0) rejectedCounts[REASON_NAMES[c - 1]] = counts[c];
    const result: RouteResult = { chosen: ranked.length > 0 ? ranked[0] : null, ranked, rejectedCounts, considered, eligible };
    if (jobCode !== OK) result.jobRejected = jobCode === CODE.MODEL_NOT_ALLOWED ? 'MODEL_NOT_ALLOWED' : 'DEADLINE_TOO_CLOSE';
    return result;
}

/** A router bound to a directory and a score configuration. */
export class Router {
    private readonly scoreConfig: RouteOptions['score'];
    private readonly k: number;

    constructor(
        readonly directory: ProviderDirectory,
        options: { k?: number; score?: RouteOptions['score'] } = {},
    ) {
        this.scoreConfig = resolveScoreConfig(options.score);
        this.k = options.k ?? 3;
    }

    route(job: RoutableJob, opts: Omit<RouteOptions, 'score' | 'k'> & { k?: number }): RouteResult {
        return route(job, this.directory, { ...opts, k: opts.k ?? this.k, score: this.scoreConfig });
    }

    /** Feeds a finished attempt back: latency EWMA (successes) and success/failure counters. */
    recordOutcome(owner: string, outcome: { ok: boolean; latencyMs?: number }): boolean {
        return this.directory.recordOutcome(owner, outcome);
    }
}
