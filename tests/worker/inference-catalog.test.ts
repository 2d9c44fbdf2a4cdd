/**
 * The model catalog (content addressing, verification, task → on-chain hash), the generated MLP, and the
 * session pool (lazy single creation, reuse, bounded concurrency, CUDA refusal).
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
    DEFAULT_CATALOG_PATH,
    InferenceEngine,
    loadCatalog,
    ModelCatalogError,
    parseCatalog,
    Semaphore,
    servedModels,
    SessionPool,
    sha256File,
    sha256Hex,
    SHIPPED_MODEL_HASHES,
    taskModels,
    taskOfModel,
} from '../../worker/inference';
import { buildMlpModel, MLP_FILE } from '../../worker/models/make-mlp';

const DET = '30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff';
const DICT = '28b2362ad4ab2dc38769aa72feb535e3a9ddb3fd2a7585a05920e6393b1dc7f7';

let dir: string;

beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-catalog-'));
});

afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
});

/** Writes a catalog with a copy of the MLP under `name`; returns the catalog path. */
function tempCatalog(name: string, models: object[]): string {
    const file = path.join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify({ version: 1, models }));
    return file;
}

async function rejectionOf(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
    try {
        await p;
    } catch (e) {
        return { code: (e as { code?: string }).code, message: (e as Error).message };
    }
    throw new Error('expected a rejection');
}

describe('shipped catalog', () => {
    test('loads, verifies every file and serves one model per task', async () => {
        const catalog = await loadCatalog(DEFAULT_CATALOG_PATH);
        expect(catalog.entries.map((e) => e.task).sort()).toEqual(['ocr-det', 'ocr-rec', 'tensor', 'vad']);
        for (const e of catalog.entries) expect(await sha256File(e.path)).toBe(e.sha256);
        const rec = catalog.byHash.get(SHIPPED_MODEL_HASHES.ocr)!;
        expect(rec.detector).toBe(DET);
        expect(rec.dictionary!.sha256).toBe(DICT);
        expect(await sha256File(rec.dictionary!.path)).toBe(DICT);
    });

    test('task → on-chain model hash: OCR is the recogniser, VAD and tensor their own files', async () => {
        const catalog = await loadCatalog();
        expect(taskModels(catalog)).toEqual({
            ocr: [SHIPPED_MODEL_HASHES.ocr],
            vad: [SHIPPED_MODEL_HASHES.vad],
            tensor: [SHIPPED_MODEL_HASHES.tensor],
        });
        expect(taskOfModel(catalog, SHIPPED_MODEL_HASHES.ocr)).toBe('ocr');
        expect(taskOfModel(catalog, SHIPPED_MODEL_HASHES.vad)).toBe('vad');
        expect(taskOfModel(catalog, SHIPPED_MODEL_HASHES.tensor)).toBe('tensor');
        expect(taskOfModel(catalog, DET)).toBeUndefined();
        expect(servedModels(catalog).map((m) => m.name).sort()).toEqual(['mlp-64x16', 'ppocr-v4-rec', 'silero-vad-v5']);
        const recFile = catalog.byHash.get(SHIPPED_MODEL_HASHES.ocr)!.path;
        expect(path.basename(recFile)).toBe('ch_PP-OCRv4_rec_infer.onnx');
        expect(sha256Hex(readFileSync(recFile))).toBe(SHIPPED_MODEL_HASHES.ocr);
    });

    test('make-mlp.ts regenerates the committed model byte for byte', () => {
        const bytes = buildMlpModel();
        expect(bytes.equals(readFileSync(MLP_FILE))).toBe(true);
        expect(sha256Hex(bytes)).toBe(SHIPPED_MODEL_HASHES.tensor);
    });
});

describe('catalog verification', () => {
    test('a file whose sha256 differs from the pin → MODEL_HASH_MISMATCH naming the file and both hashes', async () => {
        const file = path.join(dir, 'tampered.onnx');
        const bytes = Buffer.from(readFileSync(MLP_FILE));
        bytes[bytes.length - 1] ^= 0x01; // one bit of one weight
        writeFileSync(file, bytes);
        const actual = sha256Hex(bytes);
        const cat = tempCatalog('tampered', [{ name: 'mlp', task: 'tensor', path: 'tampered.onnx', sha256: SHIPPED_MODEL_HASHES.tensor }]);
        const err = await rejectionOf(loadCatalog(cat));
        expect(err.code).toBe('MODEL_HASH_MISMATCH');
        expect(err.message).toContain(file);
        expect(err.message).toContain(SHIPPED_MODEL_HASHES.tensor);
        expect(err.message).toContain(actual);
    });

    test('a tampered dictionary is refused too', async () => {
        const dict = path.join(dir, 'keys.txt');
        writeFileSync(dict, 'a\nb\n');
        const shipped = JSON.parse(readFileSync(DEFAULT_CATALOG_PATH, 'utf8')) as { models: { task: string; path: string; dictionary?: { path: string } }[] };
        const base = path.dirname(DEFAULT_CATALOG_PATH);
        const models = shipped.models
            .filter((m) => m.task.startsWith('ocr'))
            .map((m) => ({ ...m, path: path.resolve(base, m.path), ...(m.dictionary ? { dictionary: { path: dict, sha256: DICT } } : {}) }));
        const err = await rejectionOf(loadCatalog(tempCatalog('dict', models)));
        expect(err.code).toBe('MODEL_HASH_MISMATCH');
        expect(err.message).toContain(dict);
    });

    test('a missing file → MODEL_FILE_MISSING', async () => {
        const cat = tempCatalog('missing', [{ name: 'mlp', task: 'tensor', path: 'nope.onnx', sha256: SHIPPED_MODEL_HASHES.tensor }]);
        expect((await rejectionOf(loadCatalog(cat))).code).toBe('MODEL_FILE_MISSING');
    });

    test.each<[string, unknown]>([
        ['no models', { version: 1, models: [] }],
        ['bad task', { models: [{ name: 'm', task: 'asr', path: 'a', sha256: 'ab'.repeat(32) }] }],
        ['bad hash', { models: [{ name: 'm', task: 'tensor', path: 'a', sha256: 'xyz' }] }],
        ['duplicate hash', { models: [{ name: 'a', task: 'tensor', path: 'a', sha256: 'ab'.repeat(32) }, { name: 'b', task: 'vad', path: 'b', sha256: 'ab'.repeat(32) }] }],
        ['rec without dictionary', { models: [{ name: 'd', task: 'ocr-det', path: 'd', sha256: 'cd'.repeat(32) }, { name: 'r', task: 'ocr-rec', path: 'r', sha256: 'ab'.repeat(32) }] }],
        ['rec with a detector not in the catalog', { models: [{ name: 'r', task: 'ocr-rec', path: 'r', sha256: 'ab'.repeat(32), detector: 'ef'.repeat(32), dictionary: { path: 'k', sha256: 'cd'.repeat(32) } }] }],
        ['bad maxBatch', { models: [{ name: 'm', task: 'tensor', path: 'a', sha256: 'ab'.repeat(32), maxBatch: 0 }] }],
    ])('%s → CATALOG_INVALID', (_name, json) => {
        expect(() => parseCatalog(json, dir)).toThrow(ModelCatalogError);
        try {
            parseCatalog(json, dir);
        } catch (e) {
            expect((e as ModelCatalogError).code).toBe('CATALOG_INVALID');
        }
    });

    test('a model file swapped after the catalog was loaded is refused when its session is created', async () => {
        const file = path.join(dir, 'swap.onnx');
        copyFileSync(MLP_FILE, file);
        const catalog = await loadCatalog(tempCatalog('swap', [{ name: 'mlp', task: 'tensor', path: 'swap.onnx', sha256: SHIPPED_MODEL_HASHES.tensor }]));
        writeFileSync(file, Buffer.concat([readFileSync(MLP_FILE), Buffer.from([0])]));
        const engine = new InferenceEngine(catalog);
        const req = Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [1, 64], data: new Array(64).fill(0) } } }));
        expect((await rejectionOf(engine.run('tensor', SHIPPED_MODEL_HASHES.tensor, req))).code).toBe('MODEL_HASH_MISMATCH');
        // restoring the file lets the next job through: failed session creations are not cached
        copyFileSync(MLP_FILE, file);
        const out = JSON.parse((await engine.run('tensor', SHIPPED_MODEL_HASHES.tensor, req)).toString());
        expect(out.outputs.y.shape).toEqual([1, 16]);
        await engine.close();
    });
});

describe('session pool', () => {
    test('creates a session once, even under concurrent first use, and reuses it', async () => {
        const catalog = await loadCatalog();
        const entry = catalog.byHash.get(SHIPPED_MODEL_HASHES.tensor)!;
        const pool = new SessionPool();
        const [a, b] = await Promise.all([pool.session(entry), pool.session(entry)]);
        expect(a).toBe(b);
        expect(await pool.session(entry)).toBe(a);
        expect(a.inputNames).toEqual(['x']);
        expect(a.outputNames).toEqual(['y']);
        await pool.close();
        expect((await rejectionOf(pool.session(entry))).code).toBe('ENGINE_CLOSED');
    });

    test('bounds the runs in flight per model', async () => {
        const catalog = await loadCatalog();
        const entry = catalog.byHash.get(SHIPPED_MODEL_HASHES.tensor)!;
        const pool = new SessionPool({ concurrencyPerModel: 1 });
        const session = await pool.session(entry);
        const { Tensor } = await import('../../worker/inference/ort');
        // observe concurrency by wrapping the session's run
        let inFlight = 0;
        let maxInFlight = 0;
        const run = session.run.bind(session);
        (session as { run: typeof session.run }).run = (async (...args: Parameters<typeof session.run>) => {
            inFlight++;
            maxInFlight = Math.max(maxInFlight, inFlight);
            await new Promise((r) => setTimeout(r, 5));
            try {
                return await run(...args);
            } finally {
                inFlight--;
            }
        }) as typeof session.run;
        const feeds = { x: new Tensor('float32', new Float32Array(64), [1, 64]) };
        await Promise.all(Array.from({ length: 6 }, () => pool.run(entry, feeds)));
        expect(maxInFlight).toBe(1);
        expect(pool.stats()[0]).toMatchObject({ sha256: entry.sha256, loaded: true, runs: 6, running: 0, queued: 0 });
        await pool.close();
    });

    test('semaphore hands permits over in FIFO order', async () => {
        const sem = new Semaphore(2);
        const order: number[] = [];
        await sem.acquire();
        await sem.acquire();
        const waiters = [1, 2, 3].map((i) => sem.acquire().then(() => order.push(i)));
        expect(sem.queued).toBe(3);
        sem.release();
        sem.release();
        sem.release();
        await Promise.all(waiters);
        expect(order).toEqual([1, 2, 3]);
        expect(sem.inUse).toBe(2);
        expect(() => new Semaphore(0)).toThrow(RangeError);
    });

    test("execution provider 'cuda' without CUDA binaries → EXECUTION_PROVIDER_UNAVAILABLE with a clear message", async () => {
        const catalog = await loadCatalog();
        const entry = catalog.byHash.get(SHIPPED_MODEL_HASHES.tensor)!;
        const pool = new SessionPool({ executionProvider: 'cuda' });
        const binDir = path.join(path.dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', process.platform, process.arch);
        const cudaInstalled = existsSync(path.join(binDir, 'libonnxruntime_providers_cuda.so'));
        const result = await pool.session(entry).then(
            () => undefined,
            (e: { code?: string; message: string }) => e,
        );
        if (!cudaInstalled) {
            expect(result?.code).toBe('EXECUTION_PROVIDER_UNAVAILABLE');
            expect(result?.message).toMatch(/^CUDA execution provider is not installed: onnxruntime-node was installed without CUDA binaries \(onnxruntime-node-install=skip\)/);
        } else if (result) {
            expect(result.code).toBe('EXECUTION_PROVIDER_UNAVAILABLE');
        }
        await pool.close();
    });
});
