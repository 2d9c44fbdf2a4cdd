/**
 * Where each model runs: on the JS thread ("inline") or on the engine's inference thread (thread/inferenceThread.ts).
 *
 * onnxruntime-node runs `session.run` synchronously on the thread that calls it. Inline, a 100 ms OCR pass blocks
 * the worker's event loop (heartbeats, HTTP, the enclave's decryption and sealing of other jobs) and the JS thread
 * is the throughput ceiling. On the inference thread the model runs beside the JS thread, at the price of a thread
 * hand-off per job (~0.1–0.5 ms with the input copy) that a 1 ms model cannot afford.
 *
 * So in `auto` mode a model's first PROBE_RUNS successful runs go inline and are timed; if even the fastest of them
 * takes THREAD_MIN_RUN_MS the model moves to the thread (once the thread has loaded it; runs stay inline meanwhile), and
 * the decision is never revisited, so a model is never flapping between two sessions. `on` puts every model on the
 * thread from the first run, `off` keeps everything inline (what the inference thread's own engine uses).
 */
export type InferenceThreadMode = 'auto' | 'on' | 'off';

export const INFERENCE_THREAD_MODES: readonly InferenceThreadMode[] = ['auto', 'on', 'off'];

/** Successful inline runs timed before a model is placed. */
export const PROBE_RUNS = 3;

/**
 * Run time (the fastest probe run) from which a model goes to the inference thread: well above the hand-off's cost, so the move
 * frees the JS thread for much more than it adds to a job's latency.
 */
export const THREAD_MIN_RUN_MS = 4;

export type Placement = 'inline' | 'thread';

export function parseInferenceThreadMode(value: unknown, source = 'inferenceThread'): InferenceThreadMode {
    if (typeof value === 'string' && (INFERENCE_THREAD_MODES as readonly string[]).includes(value)) return value as InferenceThreadMode;
    throw new RangeError(`${source} must be one of ${INFERENCE_THREAD_MODES.join(', ')}, got ${JSON.stringify(value)}`);
}

/** Per-model placement decisions of one engine. */
export class ModelPlacement {
    readonly #probes = new Map<string, number[]>();
    readonly #decided = new Map<string, Placement>();

    constructor(
        readonly mode: InferenceThreadMode,
        readonly threadMinRunMs: number = THREAD_MIN_RUN_MS,
    ) {
        parseInferenceThreadMode(mode);
        if (!(threadMinRunMs > 0)) throw new RangeError(`threadMinRunMs must be a positive number of milliseconds, got ${threadMinRunMs}`);
    }

    /** Where the model's next run goes, before its thread-side warm-up is taken into account. */
    placementOf(modelHash: string): Placement | 'probing' {
        if (this.mode === 'on') return 'thread';
        if (this.mode === 'off') return 'inline';
        return this.#decided.get(modelHash) ?? 'probing';
    }

    /** Records a successful inline run; returns the decision when this run completes the probe. */
    recordInlineRun(modelHash: string, ms: number): Placement | undefined {
        if (this.mode !== 'auto' || this.#decided.has(modelHash)) return undefined;
        const runs = this.#probes.get(modelHash) ?? [];
        runs.push(ms);
        if (runs.length < PROBE_RUNS) {
            this.#probes.set(modelHash, runs);
            return undefined;
        }
        this.#probes.delete(modelHash);
        // The fastest run, not the median: on a loaded machine a run only ever gets slower (the process descheduled,
        // a cold session's first run), so the fastest is the closest to what the model itself costs. With the
        // median, two stalls of a few milliseconds moved the MLP (about 1 ms in bench/results/worker.json) to the
        // thread.
        const fastest = Math.min(...runs);
        const decision: Placement = fastest >= this.threadMinRunMs ? 'thread' : 'inline';
        this.#decided.set(modelHash, decision);
        return decision;
    }

    /** Decisions so far (model hash → placement), for stats and tests. */
    decisions(): Record<string, Placement> {
        return Object.fromEntries(this.#decided);
    }
}
