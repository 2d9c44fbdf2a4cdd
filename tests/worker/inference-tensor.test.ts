/**
 * The `tensor` task against a direct onnxruntime-node run of the same model file with the same session options:
 * outputs must be bitwise identical, in both output encodings. A second generated model exercises every dtype.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { InferenceEngine, loadCatalog, sessionOptionsFor, SHIPPED_MODEL_HASHES, sha256Hex } from '../../worker/inference';
import * as ort from '../../worker/inference/ort';
import { MLP_FILE } from '../../worker/models/make-mlp';
import { encodeModel } from '../../worker/models/onnx-writer';
import { decodeTensorResponse, encodeTensorRequest, isBinaryTensorMessage } from '../../protocol/tensor-binary';

const MLP = SHIPPED_MODEL_HASHES.tensor;

interface TensorOut {
    outputs: Record<string, { dtype: string; shape: number[]; data: unknown[] | string }>;
}

let engine: InferenceEngine;
let direct: ort.InferenceSession;

/** Deterministic pseudo-random floats, including awkward values (negative zero, subnormals, large). */
function inputData(n: number): Float32Array {
    const x = new Float32Array(n);
    let s = 12345;
    for (let i = 0; i < n; i++) {
        s = (s * 1103515245 + 12345) >>> 0;
        x[i] = (s / 0x100000000 - 0.5) * 6;
    }
    x[0] = -0;
    x[1] = 1e-40;
    x[2] = 3.4e38;
    x[3] = 1 / 3;
    return x;
}

function bytesOf(a: ArrayBufferView): Buffer {
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

beforeAll(async () => {
    engine = await InferenceEngine.fromCatalogFile();
    const entry = engine.catalog.byHash.get(MLP)!;
    direct = await ort.InferenceSession.create(MLP_FILE, sessionOptionsFor(entry));
});

afterAll(async () => {
    await engine?.close();
    await direct?.release();
});

describe('tensor task on the generated MLP', () => {
    test.each([1, 7, 128])('batch %i: array-encoded output is bitwise equal to a direct run', async (n) => {
        const x = inputData(n * 64);
        const req = { inputs: { x: { dtype: 'float32', shape: [n, 64], data: Array.from(x) } } };
        const out = JSON.parse((await engine.run('tensor', MLP, Buffer.from(JSON.stringify(req)))).toString()) as TensorOut;
        const ref = (await direct.run({ x: new ort.Tensor('float32', x, [n, 64]) })).y;
        expect(Object.keys(out.outputs)).toEqual(['y']);
        expect(out.outputs.y.dtype).toBe('float32');
        expect(out.outputs.y.shape).toEqual([n, 16]);
        const got = Float32Array.from(out.outputs.y.data as number[]);
        expect(bytesOf(got).equals(bytesOf(ref.data as Float32Array))).toBe(true);
    });

    test('base64 in, base64 out: bitwise equal to a direct run', async () => {
        const x = inputData(33 * 64);
        const req = { inputs: { x: { dtype: 'float32', shape: [33, 64], data: bytesOf(x).toString('base64') } }, outputEncoding: 'base64' };
        const out = JSON.parse((await engine.run('tensor', MLP, Buffer.from(JSON.stringify(req)))).toString()) as TensorOut;
        const ref = (await direct.run({ x: new ort.Tensor('float32', x, [33, 64]) })).y;
        expect(out.outputs.y.shape).toEqual([33, 16]);
        expect(Buffer.from(out.outputs.y.data as string, 'base64').equals(bytesOf(ref.data as Float32Array))).toBe(true);
    });

    test('the output really depends on the input (not a constant)', async () => {
        const run = async (v: number): Promise<number[]> => {
            const req = { inputs: { x: { dtype: 'float32', shape: [1, 64], data: new Array(64).fill(v) } } };
            return (JSON.parse((await engine.run('tensor', MLP, Buffer.from(JSON.stringify(req)))).toString()) as TensorOut).outputs.y.data as number[];
        };
        expect(await run(0.5)).not.toEqual(await run(-0.5));
    });

    test('concurrent jobs all get their own correct results', async () => {
        const jobs = Array.from({ length: 8 }, (_, k) => inputData((k + 1) * 64).map((v) => v + k));
        const outs = await Promise.all(
            jobs.map((x, k) =>
                engine.run('tensor', MLP, Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [k + 1, 64], data: Array.from(x) } } }))),
            ),
        );
        for (const [k, o] of outs.entries()) {
            const ref = (await direct.run({ x: new ort.Tensor('float32', jobs[k], [k + 1, 64]) })).y.data as Float32Array;
            const got = Float32Array.from((JSON.parse(o.toString()) as TensorOut).outputs.y.data as number[]);
            expect(bytesOf(got).equals(bytesOf(ref))).toBe(true);
        }
        const stats = engine.stats().find((s) => s.sha256 === MLP)!;
        expect(stats.loaded).toBe(true);
        expect(stats.running).toBe(0);
        expect(stats.queued).toBe(0);
    });
});

describe('tensor task dtypes (generated multi-dtype model)', () => {
    let dir: string;
    let dtypes: InferenceEngine;
    let hash: string;

    beforeAll(async () => {
        dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-dtypes-'));
        const model = encodeModel({
            graph: {
                name: 'dtypes',
                nodes: [
                    { opType: 'Add', inputs: ['a', 'a'], outputs: ['a2'] },
                    { opType: 'Not', inputs: ['b'], outputs: ['nb'] },
                    { opType: 'Identity', inputs: ['c'], outputs: ['c1'] },
                    { opType: 'Neg', inputs: ['d'], outputs: ['nd'] },
                    { opType: 'Mul', inputs: ['e', 'e'], outputs: ['e2'] },
                    { opType: 'Identity', inputs: ['f'], outputs: ['f1'] },
                    { opType: 'Identity', inputs: ['g'], outputs: ['g1'] },
                ],
                initializers: [],
                inputs: [
                    { name: 'a', elemType: 'INT64', dims: ['n'] },
                    { name: 'b', elemType: 'BOOL', dims: ['n'] },
                    { name: 'c', elemType: 'UINT8', dims: [3] },
                    { name: 'd', elemType: 'INT32', dims: [2, 'm'] },
                    { name: 'e', elemType: 'DOUBLE', dims: ['n'] },
                    { name: 'f', elemType: 'INT8', dims: ['n'] },
                    { name: 'g', elemType: 'FLOAT', dims: ['n'] },
                ],
                outputs: [
                    { name: 'a2', elemType: 'INT64', dims: ['n'] },
                    { name: 'nb', elemType: 'BOOL', dims: ['n'] },
                    { name: 'c1', elemType: 'UINT8', dims: [3] },
                    { name: 'nd', elemType: 'INT32', dims: [2, 'm'] },
                    { name: 'e2', elemType: 'DOUBLE', dims: ['n'] },
                    { name: 'f1', elemType: 'INT8', dims: ['n'] },
                    { name: 'g1', elemType: 'FLOAT', dims: ['n'] },
                ],
            },
        });
        writeFileSync(path.join(dir, 'dtypes.onnx'), model);
        hash = sha256Hex(model);
        writeFileSync(
            path.join(dir, 'catalog.json'),
            JSON.stringify({ version: 1, models: [{ name: 'dtypes', task: 'tensor', path: 'dtypes.onnx', sha256: hash }] }),
        );
        dtypes = new InferenceEngine(await loadCatalog(path.join(dir, 'catalog.json')));
    });

    afterAll(async () => {
        await dtypes?.close();
        rmSync(dir, { recursive: true, force: true });
    });

    const request = {
        inputs: {
            a: { dtype: 'int64', shape: [3], data: [1, -2, '4000000000000000000'] },
            b: { dtype: 'bool', shape: [3], data: [true, false, 1] },
            c: { dtype: 'uint8', shape: [3], data: [0, 128, 255] },
            d: { dtype: 'int32', shape: [2, 2], data: [1, -1, 2147483647, 0] },
            e: { dtype: 'float64', shape: [3], data: [1.5, -0.1, 1e200] },
            f: { dtype: 'int8', shape: [3], data: [-128, 0, 127] },
            g: { dtype: 'float32', shape: [3], data: ['NaN', 'Infinity', -2.5] },
        },
    };

    test('every dtype round-trips in array encoding', async () => {
        const out = JSON.parse((await dtypes.run('tensor', hash, Buffer.from(JSON.stringify(request)))).toString()) as TensorOut;
        expect(out.outputs).toEqual({
            a2: { dtype: 'int64', shape: [3], data: [2, -4, '8000000000000000000'] },
            nb: { dtype: 'bool', shape: [3], data: [false, true, false] },
            c1: { dtype: 'uint8', shape: [3], data: [0, 128, 255] },
            nd: { dtype: 'int32', shape: [2, 2], data: [-1, 1, -2147483647, 0] },
            e2: { dtype: 'float64', shape: [3], data: [2.25, 0.010000000000000002, 'Infinity'] },
            f1: { dtype: 'int8', shape: [3], data: [-128, 0, 127] },
            g1: { dtype: 'float32', shape: [3], data: ['NaN', 'Infinity', -2.5] },
        });
    });

    test('base64 inputs of every dtype and a selected subset of outputs', async () => {
        const b64 = (a: ArrayBufferView): string => bytesOf(a).toString('base64');
        const req = {
            inputs: {
                a: { dtype: 'int64', shape: [2], data: b64(BigInt64Array.of(7n, -9n)) },
                b: { dtype: 'bool', shape: [2], data: b64(Uint8Array.of(0, 1)) },
                c: { dtype: 'uint8', shape: [3], data: b64(Uint8Array.of(1, 2, 3)) },
                d: { dtype: 'int32', shape: [2, 1], data: b64(Int32Array.of(5, -6)) },
                e: { dtype: 'float64', shape: [2], data: b64(Float64Array.of(3, 0.5)) },
                f: { dtype: 'int8', shape: [2], data: b64(Int8Array.of(-1, 1)) },
                g: { dtype: 'float32', shape: [2], data: b64(Float32Array.of(0.1, 0.2)) },
            },
            outputs: ['a2', 'e2', 'g1'],
            outputEncoding: 'base64',
        };
        const out = JSON.parse((await dtypes.run('tensor', hash, Buffer.from(JSON.stringify(req)))).toString()) as TensorOut;
        expect(Object.keys(out.outputs).sort()).toEqual(['a2', 'e2', 'g1']);
        expect(out.outputs.a2.data).toBe(b64(BigInt64Array.of(14n, -18n)));
        expect(out.outputs.e2.data).toBe(b64(Float64Array.of(9, 0.25)));
        expect(out.outputs.g1.data).toBe(b64(Float32Array.of(0.1, 0.2)));
    });
});

describe('tensor task, binary form (protocol/tensor-binary.ts)', () => {
    test('binary in, binary out: bitwise equal to a direct run, and to the JSON form', async () => {
        const x = inputData(65 * 64);
        const out = await engine.run('tensor', MLP, encodeTensorRequest({ x: { dtype: 'float32', shape: [65, 64], data: x } }));
        expect(isBinaryTensorMessage(out)).toBe(true);
        const y = decodeTensorResponse(out).y;
        const ref = (await direct.run({ x: new ort.Tensor('float32', x, [65, 64]) })).y;
        expect(y.dtype).toBe('float32');
        expect(y.shape).toEqual([65, 16]);
        expect(bytesOf(y.data).equals(bytesOf(ref.data as Float32Array))).toBe(true);
        const viaJson = JSON.parse((await engine.run('tensor', MLP, Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [65, 64], data: bytesOf(x).toString('base64') } }, outputEncoding: 'base64' })))).toString()) as TensorOut;
        expect(Buffer.from(viaJson.outputs.y.data as string, 'base64').equals(bytesOf(y.data))).toBe(true);
    });

    test('the binary result is a quarter smaller than the base64 JSON one', async () => {
        const x = inputData(128 * 64);
        const bin = await engine.run('tensor', MLP, encodeTensorRequest({ x: { dtype: 'float32', shape: [128, 64], data: x } }));
        const json = await engine.run('tensor', MLP, Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [128, 64], data: bytesOf(x).toString('base64') } }, outputEncoding: 'base64' })));
        expect(bin.length).toBeLessThan(json.length * 0.8);
    });

    test.each<[string, () => Buffer, string]>([
        ['a malformed header', () => { const b = encodeTensorRequest({ x: { dtype: 'float32', shape: [1, 64], data: new Float32Array(64) } }); b.writeUInt32LE(1 << 30, 4); return b; }, 'TENSOR_BINARY'],
        ['a dtype the model does not take', () => encodeTensorRequest({ x: { dtype: 'float64', shape: [1, 64], data: new Float64Array(64) } }), 'TENSOR_DTYPE'],
        ['a wrong inner dimension', () => encodeTensorRequest({ x: { dtype: 'float32', shape: [1, 63], data: new Float32Array(63) } }), 'TENSOR_SHAPE'],
        ['an unknown input name', () => encodeTensorRequest({ x: { dtype: 'float32', shape: [1, 64], data: new Float32Array(64) }, z: { dtype: 'float32', shape: [1], data: new Float32Array(1) } }), 'TENSOR_UNKNOWN_INPUT'],
        ['an unknown output name', () => encodeTensorRequest({ x: { dtype: 'float32', shape: [1, 64], data: new Float32Array(64) } }, { outputs: ['nope'] }), 'TENSOR_UNKNOWN_OUTPUT'],
        ['a batch over the catalog limit', () => encodeTensorRequest({ x: { dtype: 'float32', shape: [5000, 64], data: new Float32Array(5000 * 64) } }), 'TENSOR_BATCH_TOO_LARGE'],
    ])('refuses %s with its code, before the model runs', async (_what, make, code) => {
        const before = engine.stats().find((s) => s.sha256 === MLP)?.runs ?? 0;
        await expect(engine.run('tensor', MLP, make())).rejects.toMatchObject({ code });
        expect(engine.stats().find((s) => s.sha256 === MLP)?.runs ?? 0).toBe(before);
    });
});
