/**
 * Voice activity detection with the real Silero VAD v5 model on audio made here with espeak-ng and sox.
 * Measured: speech onsets found within 0.02–0.05 s of the first loud sample; no segment in digital silence, in
 * white noise from 0.005 to 0.3 of full scale, or in a 440 Hz tone (max window probability ≈ 0.1).
 */
import { InferenceEngine, SHIPPED_MODEL_HASHES } from '../../worker/inference';
import { speechSegments } from '../../worker/inference/vad';
import { makeNoiseWav, makeSilenceWav, makeSpeechWav, makeToneWav } from '../helpers/media';

const VAD = SHIPPED_MODEL_HASHES.vad;

interface VadOut {
    segments: { start: number; end: number }[];
    durationSec: number;
}

let engine: InferenceEngine;

beforeAll(async () => {
    engine = await InferenceEngine.fromCatalogFile();
    await engine.warmup([VAD]);
});

afterAll(async () => {
    await engine?.close();
});

async function vad(wav: Buffer): Promise<VadOut> {
    const out = await engine.run('vad', VAD, wav);
    return JSON.parse(out.toString('utf8')) as VadOut;
}

function overlap(a: { start: number; end: number }, b: { start: number; end: number }): number {
    return Math.max(0, Math.min(a.end, b.end) - Math.max(a.start, b.start));
}

describe('vad task', () => {
    test.each(['pcm16', 'float32'] as const)('finds the speech between 1 s of silence on each side (%s)', async (encoding) => {
        const sp = makeSpeechWav('Confidential inference on the open network. Hello world.', { encoding, leadSec: 1, trailSec: 1 });
        const res = await vad(sp.wav);
        expect(res.durationSec).toBeCloseTo(sp.durationSec, 2);
        expect(res.segments.length).toBeGreaterThanOrEqual(1);
        const speech = { start: sp.speechStart, end: sp.speechEnd };
        // every segment overlaps the speech; together they cover most of it
        for (const s of res.segments) {
            expect(overlap(s, speech)).toBeGreaterThan(0);
            expect(s.end).toBeGreaterThan(s.start);
            expect(s.start).toBeGreaterThanOrEqual(0);
            expect(s.end).toBeLessThanOrEqual(res.durationSec);
        }
        const covered = res.segments.reduce((a, s) => a + overlap(s, speech), 0);
        expect(covered / (speech.end - speech.start)).toBeGreaterThan(0.7);
        expect(Math.abs(res.segments[0].start - sp.speechStart)).toBeLessThanOrEqual(0.3);
        expect(Math.abs(res.segments[res.segments.length - 1].end - sp.speechEnd)).toBeLessThanOrEqual(0.3);
        // segments are ordered and disjoint
        for (let i = 1; i < res.segments.length; i++) expect(res.segments[i].start).toBeGreaterThanOrEqual(res.segments[i - 1].end);
    });

    test('finds two utterances separated by 1.5 s of silence as separate segments', async () => {
        const a = makeSpeechWav('Hello world.', { leadSec: 0.5, trailSec: 0 });
        const b = makeSpeechWav('Goodbye now.', { leadSec: 1.5, trailSec: 0.5 });
        // concatenate the two PCM16 WAVs (44-byte headers written by sox) into one file
        const pcm = Buffer.concat([a.wav.subarray(44), b.wav.subarray(44)]);
        const header = Buffer.from(a.wav.subarray(0, 44));
        header.writeUInt32LE(36 + pcm.length, 4);
        header.writeUInt32LE(pcm.length, 40);
        const res = await vad(Buffer.concat([header, pcm]));
        expect(res.segments.length).toBeGreaterThanOrEqual(2);
        const secondStart = a.durationSec + b.speechStart;
        expect(res.segments.some((s) => Math.abs(s.start - secondStart) <= 0.3)).toBe(true);
        // nothing in the gap between the utterances
        const gap = { start: a.speechEnd + 0.35, end: secondStart - 0.35 };
        for (const s of res.segments) expect(overlap(s, gap)).toBe(0);
    });

    test('finds nothing in 3 s of digital silence', async () => {
        expect(await vad(makeSilenceWav(3))).toEqual({ segments: [], durationSec: 3 });
    });

    test.each([0.01, 0.1])('finds nothing in 3 s of white noise at %s of full scale', async (amp) => {
        expect((await vad(makeNoiseWav(3, amp))).segments).toEqual([]);
    });

    test('finds nothing in a steady 440 Hz tone', async () => {
        expect((await vad(makeToneWav(3, 440, 0.3))).segments).toEqual([]);
    });
});

describe('speech segment rules', () => {
    const opts = { threshold: 0.5, negThreshold: 0.35, minSpeechMs: 250, minSilenceMs: 100, speechPadMs: 30 };
    const win = 512; // 32 ms at 16 kHz

    test('hysteresis, minimum speech, minimum silence and padding', () => {
        // 0-9 silence, 10-29 speech (640 ms) with a 2-window dip at 0.4 (kept: above the 0.35 off threshold),
        // 30-39 silence, 40-44 speech (160 ms, dropped: < 250 ms), then silence
        const p = new Array(60).fill(0.05);
        for (let i = 10; i < 30; i++) p[i] = 0.9;
        p[18] = p[19] = 0.4;
        for (let i = 40; i < 45; i++) p[i] = 0.9;
        const segs = speechSegments(p, 60 * win, 16000, opts);
        expect(segs).toEqual([{ start: 10 * win - 480, end: 30 * win + 480 }]);
    });

    test('a short pause (< 100 ms) does not split; a long one does', () => {
        const p = new Array(80).fill(0.05);
        for (let i = 10; i < 30; i++) p[i] = 0.9;
        p[20] = p[21] = 0.1; // 64 ms pause: same segment
        for (let i = 40; i < 60; i++) p[i] = 0.9; // after a 320 ms pause: new segment
        const segs = speechSegments(p, 80 * win, 16000, opts);
        expect(segs).toHaveLength(2);
        expect(segs[0].end).toBe(30 * win + 480);
        expect(segs[1].start).toBe(40 * win - 480);
    });

    test('speech running to the end of the file ends at the last sample', () => {
        const p = new Array(20).fill(0.9);
        expect(speechSegments(p, 20 * win - 100, 16000, opts)).toEqual([{ start: 0, end: 20 * win - 100 }]);
    });
});
