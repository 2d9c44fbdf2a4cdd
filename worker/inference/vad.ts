/**
 * The `vad` task: Silero VAD v5 (silero_vad_16k_op15.onnx) over a 16 kHz mono WAV.
 *
 * The audio is cut into windows of 512 samples (32 ms). Each model call gets the window prefixed by the last 64
 * samples of the previous window (zeros for the first) — input f32[1, 576] — plus the recurrent state f32[2,1,128]
 * returned by the previous call (the output tensor is fed straight back, no copy) and sr = 16000. The model also
 * accepts bare 512-sample windows, but v5 was trained with the context prefix (its reference wrapper sends 576).
 * Per-window speech probabilities are turned into segments with hysteresis: speech starts at p ≥ 0.5, ends after
 * p < 0.35 has lasted ≥ 100 ms; segments shorter than 250 ms are dropped; segments are padded by 30 ms on both
 * sides (split in the middle when two segments are closer than twice the padding).
 */
import * as ort from './ort';
import { CatalogEntry } from './catalog';
import { DEFAULT_WAV_LIMITS, parseWav, WavLimits } from './wav';
import { SessionPool } from './sessions';

export interface VadSegment {
    /** Seconds, millisecond resolution. */
    start: number;
    end: number;
}

export interface VadResult {
    segments: VadSegment[];
    durationSec: number;
}

export interface VadOptions {
    limits: WavLimits;
    threshold: number;
    negThreshold: number;
    minSpeechMs: number;
    minSilenceMs: number;
    speechPadMs: number;
}

export const DEFAULT_VAD_OPTIONS: VadOptions = {
    limits: DEFAULT_WAV_LIMITS,
    threshold: 0.5,
    negThreshold: 0.35,
    minSpeechMs: 250,
    minSilenceMs: 100,
    speechPadMs: 30,
};

export const VAD_WINDOW = 512;
export const VAD_CONTEXT = 64;

/** Turns per-window probabilities into [start, end) sample ranges (Silero's get_speech_timestamps rules). */
export function speechSegments(
    probs: ArrayLike<number>,
    totalSamples: number,
    sampleRate: number,
    o: Pick<VadOptions, 'threshold' | 'negThreshold' | 'minSpeechMs' | 'minSilenceMs' | 'speechPadMs'>,
    window = VAD_WINDOW,
): { start: number; end: number }[] {
    const minSpeech = (sampleRate * o.minSpeechMs) / 1000;
    const minSilence = (sampleRate * o.minSilenceMs) / 1000;
    const pad = (sampleRate * o.speechPadMs) / 1000;
    const segs: { start: number; end: number }[] = [];
    let triggered = false;
    let start = 0;
    let tempEnd = 0;
    for (let i = 0; i < probs.length; i++) {
        const p = probs[i];
        const pos = i * window;
        if (p >= o.threshold && tempEnd) tempEnd = 0;
        if (p >= o.threshold && !triggered) {
            triggered = true;
            start = pos;
            continue;
        }
        if (p < o.negThreshold && triggered) {
            if (!tempEnd) tempEnd = pos;
            if (pos - tempEnd < minSilence) continue;
            if (tempEnd - start > minSpeech) segs.push({ start, end: tempEnd });
            triggered = false;
            tempEnd = 0;
        }
    }
    if (triggered && totalSamples - start > minSpeech) segs.push({ start, end: totalSamples });
    for (let i = 0; i < segs.length; i++) {
        const s = segs[i];
        if (i === 0) s.start = Math.max(0, s.start - pad);
        if (i + 1 < segs.length) {
            const next = segs[i + 1];
            const gap = next.start - s.end;
            if (gap < 2 * pad) {
                s.end += Math.floor(gap / 2);
                next.start = Math.max(0, next.start - Math.floor(gap / 2));
            } else {
                s.end = Math.min(totalSamples, s.end + pad);
                next.start = Math.max(0, next.start - pad);
            }
        } else {
            s.end = Math.min(totalSamples, s.end + pad);
        }
    }
    return segs;
}

export class VadPipeline {
    readonly options: VadOptions;

    constructor(
        private readonly pool: SessionPool,
        private readonly model: CatalogEntry,
        options: Partial<VadOptions> = {},
    ) {
        this.options = { ...DEFAULT_VAD_OPTIONS, ...options };
    }

    /** Speech probability of every 512-sample window. */
    async probabilities(samples: Float32Array, sampleRate: number): Promise<Float32Array> {
        const windows = Math.ceil(samples.length / VAD_WINDOW);
        const probs = new Float32Array(windows);
        const frame = new Float32Array(VAD_CONTEXT + VAD_WINDOW);
        const input = new ort.Tensor('float32', frame, [1, frame.length]);
        const sr = new ort.Tensor('int64', BigInt64Array.of(BigInt(sampleRate)), []);
        let state: ort.Tensor = new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
        for (let w = 0; w < windows; w++) {
            // frame = [last 64 samples of the previous window | this window (zero-padded at the end)]
            frame.copyWithin(0, VAD_WINDOW, VAD_WINDOW + VAD_CONTEXT);
            const from = w * VAD_WINDOW;
            const to = Math.min(samples.length, from + VAD_WINDOW);
            frame.set(samples.subarray(from, to), VAD_CONTEXT);
            if (to - from < VAD_WINDOW) frame.fill(0, VAD_CONTEXT + (to - from));
            const out = await this.pool.run(this.model, { input, state, sr });
            probs[w] = (out.output.data as Float32Array)[0];
            state = out.stateN;
        }
        return probs;
    }

    async run(bytes: Uint8Array): Promise<VadResult> {
        const audio = parseWav(bytes, this.options.limits);
        const probs = await this.probabilities(audio.samples, audio.sampleRate);
        const segs = speechSegments(probs, audio.samples.length, audio.sampleRate, this.options);
        const sec = (x: number): number => Math.round((x / audio.sampleRate) * 1000) / 1000;
        return {
            segments: segs.map((s) => ({ start: sec(s.start), end: sec(s.end) })),
            durationSec: Math.round(audio.durationSec * 1000) / 1000,
        };
    }
}
