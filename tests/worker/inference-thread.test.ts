/**
 * The engine's inference thread: models whose probe runs all take ≥ THREAD_MIN_RUN_MS move off the JS thread (placement.ts),
 * with the same outputs and the same errors as inline runs.
 */
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import {
    InferenceEngine,
    InferenceError,
    InferenceInputError,
    ModelPlacement,
    parseInferenceThreadMode,
    PROBE_RUNS,
    SHIPPED_MODEL_HASHES,
    THREAD_MIN_RUN_MS,
} from '../../worker/inference';

const { ocr: OCR, tensor: MLP } = SHIPPED_MODEL_HASHES;
const ROOT = path.join(__dirname, '..', '..');
const PNG = fs.readFileSync(path.join(ROOT, 'demo', 'assets', 'ocr-confidential.png'));
const MLP_REQUEST = Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [2, 64], data: Array.from({ length: 128 }, (_, i) => Math.sin(i)) } } }));

/** Runs of a model on the engine's JS-thread session pool only. */
function inlineRuns(engine: InferenceEngine, model: string): number {
    return engine.pool.stats().find((s) => s.sha256 === model)?.runs ?? 0;
}

/** Runs of a model on either thread. */
function allRuns(engine: InferenceEngine, model: string): number {
    return engine.stats().find((s) => s.sha256 === model)?.runs ?? 0;
}

async function until(what: string, ok: () => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ok()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
        await new Promise((r) => setTimeout(r, 20));
    }
}

describe('ModelPlacement', () => {
    test('auto: the fastest of the first probe runs decides, once', () => {
        const p = new ModelPlacement('auto');
        expect(p.placementOf('slow')).toBe('probing');
        const slow = [THREAD_MIN_RUN_MS * 10, THREAD_MIN_RUN_MS * 2, THREAD_MIN_RUN_MS]; // fastest = the threshold itself
        const decisions = slow.map((ms) => p.recordInlineRun('slow', ms));
        expect(decisions).toEqual([...Array(PROBE_RUNS - 1).fill(undefined), 'thread']);
        expect(p.placementOf('slow')).toBe('thread');
        expect(p.recordInlineRun('slow', 0.1)).toBeUndefined(); // never revisited

        // slow outliers (a cold session's first run, the process descheduled on a busy machine) do not move a fast
        // model, as long as one probe run shows what it costs
        for (const ms of [THREAD_MIN_RUN_MS * 50, THREAD_MIN_RUN_MS * 3, 0.9]) p.recordInlineRun('fast', ms);
        expect(p.placementOf('fast')).toBe('inline');
        expect(p.decisions()).toEqual({ slow: 'thread', fast: 'inline' });
    });

    test('auto with its own bar: runs below it stay inline, from it on move; a bar that is not positive is refused', () => {
        const p = new ModelPlacement('auto', 10);
        for (const ms of [9.9, 9.9, 9.9]) p.recordInlineRun('below', ms);
        for (const ms of [10, 10, 10]) p.recordInlineRun('at', ms);
        expect(p.decisions()).toEqual({ below: 'inline', at: 'thread' });
        expect(() => new ModelPlacement('auto', 0)).toThrow('threadMinRunMs must be a positive number of milliseconds, got 0');
        expect(() => new ModelPlacement('auto', Number.NaN)).toThrow(RangeError);
    });

    test('on and off ignore timings; any other mode is refused with the allowed values', () => {
        expect(new ModelPlacement('on').placementOf('m')).toBe('thread');
        const off = new ModelPlacement('off');
        for (let i = 0; i < PROBE_RUNS; i++) expect(off.recordInlineRun('m', 1000)).toBeUndefined();
        expect(off.placementOf('m')).toBe('inline');
        expect(() => new ModelPlacement('sometimes' as never)).toThrow('inferenceThread must be one of auto, on, off, got "sometimes"');
        expect(() => parseInferenceThreadMode(3, 'COCOON_INFERENCE_THREAD')).toThrow('COCOON_INFERENCE_THREAD must be one of auto, on, off, got 3');
    });
});

describe('InferenceEngine with its inference thread', () => {
    let inline: InferenceEngine;
    let threaded: InferenceEngine;
    let auto: InferenceEngine;

    beforeAll(async () => {
        inline = await InferenceEngine.fromCatalogFile(undefined, { inferenceThread: 'off' });
        threaded = await InferenceEngine.fromCatalogFile(undefined, { inferenceThread: 'on' });
        // a 10 ms bar instead of the default 4 ms: the MLP (about 1 ms in bench/results/worker.json) stays well below
        // it even when the other test worker loads both cores (one of its three probe runs has to be undisturbed), and
        // an OCR pass (about 55 ms there) stays well above it
        auto = await InferenceEngine.fromCatalogFile(undefined, { inferenceThread: 'auto', threadMinRunMs: 10 });
    });

    afterAll(async () => {
        await Promise.all([inline?.close(), threaded?.close(), auto?.close()]);
    });

    test("mode 'on': OCR runs on the thread (the JS thread's sessions never run) with the inline output, byte for byte", async () => {
        const want = await inline.run('ocr', OCR, PNG);
        expect(JSON.parse(want.toString()).text).toMatch(/CONFIDENTIAL/);
        const got = await threaded.run('ocr', OCR, PNG);
        expect(got.equals(want)).toBe(true);
        expect(threaded.placementOf(OCR)).toBe('thread');
        expect(inlineRuns(threaded, OCR)).toBe(0);
        expect(allRuns(threaded, OCR)).toBe(1);
        // the caller keeps its input (the thread works on a copy)
        expect(PNG.length).toBeGreaterThan(0);
    });

    test('errors come back with their class, code and message; bad names are refused before the thread', async () => {
        const bad = Buffer.from('not an image at all');
        const inlineError = await inline.run('ocr', OCR, bad).catch((e: unknown) => e);
        const threadError = await threaded.run('ocr', OCR, bad).catch((e: unknown) => e);
        expect(threadError).toBeInstanceOf(InferenceInputError);
        expect(threadError).toMatchObject({ code: 'IMAGE_FORMAT', message: (inlineError as Error).message });
        await expect(threaded.run('ocr', 'ab'.repeat(32), PNG)).rejects.toMatchObject({ code: 'UNKNOWN_MODEL' });
        await expect(threaded.run('tensor', OCR, MLP_REQUEST)).rejects.toMatchObject({ code: 'WRONG_TASK' });
    });

    test("mode 'auto': a slow model moves to the thread after its probe runs, a fast one stays inline", async () => {
        const want = await inline.run('ocr', OCR, PNG);
        for (let i = 0; i < PROBE_RUNS; i++) expect((await auto.run('ocr', OCR, PNG)).equals(want)).toBe(true);
        expect(auto.placement.decisions()[OCR]).toBe('thread');
        await until('the thread has loaded the OCR models', () => auto.placementOf(OCR) === 'thread');
        const before = inlineRuns(auto, OCR);
        expect(before).toBe(PROBE_RUNS);
        expect((await auto.run('ocr', OCR, PNG)).equals(want)).toBe(true);
        expect(inlineRuns(auto, OCR)).toBe(before);
        expect(allRuns(auto, OCR)).toBe(PROBE_RUNS + 1);

        for (let i = 0; i < PROBE_RUNS + 2; i++) await auto.run('tensor', MLP, MLP_REQUEST);
        expect(auto.placement.decisions()[MLP]).toBe('inline');
        expect(auto.placementOf(MLP)).toBe('inline');
        expect(inlineRuns(auto, MLP)).toBe(PROBE_RUNS + 2);
    });

    test('a closed engine refuses runs with ENGINE_CLOSED; the other engines on the shared thread go on', async () => {
        const e = await InferenceEngine.fromCatalogFile(undefined, { inferenceThread: 'on' });
        const want = await e.run('tensor', MLP, MLP_REQUEST);
        await e.close();
        const err = await e.run('tensor', MLP, MLP_REQUEST).catch((x: unknown) => x);
        expect(err).toBeInstanceOf(InferenceError);
        expect((err as InferenceError).code).toBe('ENGINE_CLOSED');
        expect((await threaded.run('tensor', MLP, MLP_REQUEST)).equals(want)).toBe(true);
    });

    test('an idle inference thread does not keep a process from exiting', () => {
        const script = `require('ts-node').register({ transpileOnly: true, swc: true });
const { InferenceEngine, SHIPPED_MODEL_HASHES } = require('./worker/inference');
const req = Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [1, 64], data: new Array(64).fill(0.5) } } }));
InferenceEngine.fromCatalogFile(undefined, { inferenceThread: 'on' })
    .then((e) => e.run('tensor', SHIPPED_MODEL_HASHES.tensor, req))
    .then((out) => console.log('shape ' + JSON.stringify(JSON.parse(out.toString()).outputs.y.shape)));`;
        const r = spawnSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
        expect(r.stdout.trim()).toBe('shape [1,16]');
        expect(r.status).toBe(0);
    });
});
