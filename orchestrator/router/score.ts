/**
 * How good an eligible provider is for a job: a weighted sum of four components, each in [0, 1], higher is better.
 *
 *   load     1 − load / capacity                          (free share of the worker; eligibility ensures load < capacity)
 *   latency  R / (R + latencyEwmaMs)                        (R = referenceLatencyMs; priorLatencyMs before any sample)
 *   success  (successes + 1) / (successes + failures + 2)  (Laplace-smoothed success rate; a new provider scores 0.5)
 *   price    1 − price / maxPrice                          (share of the client's budget left unspent; 1 when maxPrice is 0)
 *
 *   score = w.load·load + w.latency·latency + w.success·success + w.price·price
 *
 * Defaults: load 0.35, latency 0.25, success 0.25, price 0.15 (the sum, 1, is only a convention).
 */
import type { ProviderEntry } from './types';

export interface ScoreWeights {
    load: number;
    latency: number;
    success: number;
    price: number;
}

export interface ScoreConfig {
    weights: ScoreWeights;
    /** latency at which the latency component is 0.5 */
    referenceLatencyMs: number;
    /** latency assumed for a provider without samples */
    priorLatencyMs: number;
}

export type ScoreComponents = ScoreWeights;

export const DEFAULT_WEIGHTS: Readonly<ScoreWeights> = Object.freeze({ load: 0.35, latency: 0.25, success: 0.25, price: 0.15 });

export const DEFAULT_SCORE_CONFIG: Readonly<ScoreConfig> = Object.freeze({
    weights: DEFAULT_WEIGHTS,
    referenceLatencyMs: 1000,
    priorLatencyMs: 1000,
});

const resolved = new WeakSet<object>([DEFAULT_SCORE_CONFIG]);

/** Fills a partial configuration with the defaults and validates it. */
export function resolveScoreConfig(c?: Partial<Omit<ScoreConfig, 'weights'>> & { weights?: Partial<ScoreWeights> }): ScoreConfig {
    if (!c) return DEFAULT_SCORE_CONFIG as ScoreConfig;
    if (resolved.has(c)) return c as ScoreConfig;
    const out: ScoreConfig = {
        weights: { ...DEFAULT_WEIGHTS, ...(c.weights ?? {}) },
        referenceLatencyMs: c.referenceLatencyMs ?? DEFAULT_SCORE_CONFIG.referenceLatencyMs,
        priorLatencyMs: c.priorLatencyMs ?? c.referenceLatencyMs ?? DEFAULT_SCORE_CONFIG.priorLatencyMs,
    };
    for (const [k, v] of Object.entries(out.weights)) {
        if (!Number.isFinite(v) || v < 0) throw new RangeError(`weight ${k} must be a finite number >= 0`);
    }
    if (!(out.referenceLatencyMs > 0)) throw new RangeError('referenceLatencyMs must be > 0');
    if (!(out.priorLatencyMs >= 0)) throw new RangeError('priorLatencyMs must be >= 0');
    resolved.add(out);
    return out;
}

/** The latency and success part of the score (it changes only with recordOutcome; the directory caches it). */
export function qualityRaw(latencyMs: number, successes: number, failures: number, c: ScoreConfig): number {
    const ref = c.referenceLatencyMs;
    const latencyC = ref / (ref + (latencyMs === latencyMs ? latencyMs : c.priorLatencyMs));
    const successC = (successes + 1) / (successes + failures + 2);
    return c.weights.latency * latencyC + c.weights.success * successC;
}

/** The score from its parts (what the router's inner loop calls); `quality` from qualityRaw. */
export function scoreFromParts(load: number, capacity: number, quality: number, priceNum: number, maxPriceNum: number, c: ScoreConfig): number {
    const loadC = capacity > 0 ? 1 - load / capacity : 0;
    const priceC = maxPriceNum > 0 ? 1 - priceNum / maxPriceNum : 1;
    return c.weights.load * loadC + quality + c.weights.price * priceC;
}

/** The score of an eligible provider for a price (nanoTON as numbers; only price / maxPrice matters). */
export function score(p: ProviderEntry, priceNum: number, maxPriceNum: number, c: ScoreConfig): number {
    const q = qualityRaw(p.latencyEwmaMs ?? NaN, p.successCount, p.failureCount, c);
    return scoreFromParts(p.load, p.capacity, q, priceNum, maxPriceNum, c);
}

/** The four components of `score` (for explanations and metrics). */
export function scoreComponents(p: ProviderEntry, priceNum: number, maxPriceNum: number, c: ScoreConfig): ScoreComponents {
    const ref = c.referenceLatencyMs;
    return {
        load: p.capacity > 0 ? 1 - p.load / p.capacity : 0,
        latency: ref / (ref + (p.latencyEwmaMs ?? c.priorLatencyMs)),
        success: (p.successCount + 1) / (p.successCount + p.failureCount + 2),
        price: maxPriceNum > 0 ? 1 - priceNum / maxPriceNum : 1,
    };
}
