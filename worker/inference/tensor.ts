/**
 * The `tensor` task: raw tensors in, raw tensors out, for any model listed as `tensor` in the catalog.
 *
 * Input (UTF-8 JSON):
 *   {
 *     "inputs": { "<name>": { "dtype": "float32", "shape": [2, 64], "data": [0.1, ...] | "<base64>" } },
 *     "outputs": ["y"],              // optional: fetch only these outputs (default: all)
 *     "outputEncoding": "array"      // optional: "array" (default) or "base64"
 *   }
 * dtypes: float32, float64, int32, int64, int8, uint8, bool. `data` is either a flat row-major array (floats may
 * also be the strings "NaN", "Infinity", "-Infinity"; int64 may be decimal strings beyond 2^53; bool may be
 * true/false/0/1) or base64 of the little-endian element bytes (bool: one byte 0/1 per element).
 *
 * Output (UTF-8 JSON): { "outputs": { "<name>": { "dtype", "shape", "data" } } } with data encoded as requested
 * (arrays: float values print as the shortest decimal that parses back to the same float, so they round-trip
 * bit for bit; non-finite values as the strings above; int64 beyond 2^53 as decimal strings; bool as true/false).
 *
 * Binary form (protocol/tensor-binary.ts, magic "CTB1"): a small JSON header naming each tensor's dtype, shape and
 * place, then the raw element bytes. The worker views them in place and answers a binary request with a binary
 * response, so large tensors cost neither base64 nor JSON (bench/worker.ts measures both forms).
 *
 * Everything is validated against the session's input metadata before the model runs: names, dtypes, rank and
 * fixed dimensions, element count vs. data length, value ranges, size caps, and the catalog's maxBatch.
 */
import * as ort from './ort';
import { CatalogEntry } from './catalog';
import { InferenceInputError } from './errors';
import { SessionPool } from './sessions';
import {
    BINARY_ELEMENT_SIZE,
    BinaryDtype,
    NamedTensor,
    TensorData,
    TensorFormatError,
    decodeTensorMessage,
    encodeTensorMessage,
    isBinaryTensorMessage,
} from '../../protocol/tensor-binary';

export type TensorDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'int8' | 'uint8' | 'bool';
export const TENSOR_DTYPES: readonly TensorDtype[] = ['float32', 'float64', 'int32', 'int64', 'int8', 'uint8', 'bool'];

export interface TensorLimits {
    /** Largest request in bytes (default 64 MiB). */
    maxBytes: number;
    /** Most elements over all inputs (default 16 Mi). */
    maxElements: number;
    /** Highest rank (default 8). */
    maxRank: number;
}

export const DEFAULT_TENSOR_LIMITS: TensorLimits = { maxBytes: 64 * 1024 * 1024, maxElements: 16 * 1024 * 1024, maxRank: 8 };

export interface TensorJson {
    dtype: string;
    shape: number[];
    data: unknown[] | string;
}

type Typed = Float32Array | Float64Array | Int32Array | BigInt64Array | Int8Array | Uint8Array;

const ELEMENT_SIZE: Record<TensorDtype, number> = { float32: 4, float64: 8, int32: 4, int64: 8, int8: 1, uint8: 1, bool: 1 };
const ARRAY_CTOR = {
    float32: Float32Array,
    float64: Float64Array,
    int32: Int32Array,
    int64: BigInt64Array,
    int8: Int8Array,
    uint8: Uint8Array,
    bool: Uint8Array,
} as const;
const INT_RANGE: Partial<Record<TensorDtype, [number, number]>> = {
    int32: [-2147483648, 2147483647],
    int8: [-128, 127],
    uint8: [0, 255],
};
const NON_FINITE: Record<string, number> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

function bad(code: ConstructorParameters<typeof InferenceInputError>[0], msg: string): never {
    throw new InferenceInputError(code, msg);
}

/** Turns one JSON input into a typed array (no copy for aligned base64 data). */
function decodeData(name: string, dtype: TensorDtype, count: number, shape: number[], data: unknown): Typed {
    const size = ELEMENT_SIZE[dtype];
    if (typeof data === 'string') {
        if (data.length % 4 !== 0) bad('TENSOR_DATA', `input "${name}": data is a string but not padded base64`);
        const pad = data.endsWith('==') ? 2 : data.endsWith('=') ? 1 : 0;
        const byteLength = (data.length / 4) * 3 - pad;
        if (byteLength !== count * size)
            bad(
                'TENSOR_SHAPE',
                `input "${name}": shape [${shape.join(',')}] needs ${count} ${dtype} elements (${count * size} bytes), base64 data holds ${byteLength} bytes`,
            );
        const bytes = Buffer.from(data, 'base64');
        // Node skips characters outside the alphabet; canonical base64 re-encodes to itself (cheaper than a regex).
        if (bytes.length !== byteLength || bytes.toString('base64') !== data)
            bad('TENSOR_DATA', `input "${name}": data is a string but not valid base64`);
        const Ctor = ARRAY_CTOR[dtype];
        let arr: Typed;
        if (bytes.byteOffset % size === 0) arr = new Ctor(bytes.buffer, bytes.byteOffset, count);
        else {
            arr = new Ctor(count);
            new Uint8Array(arr.buffer).set(bytes);
        }
        if (dtype === 'bool') {
            for (let i = 0; i < count; i++)
                if (arr[i] > 1) bad('TENSOR_DATA', `input "${name}": bool element ${i} is ${arr[i]}, expected 0 or 1`);
        }
        return arr;
    }
    if (!Array.isArray(data)) bad('TENSOR_DATA', `input "${name}": data must be an array of numbers or a base64 string`);
    if (data.length !== count)
        bad('TENSOR_SHAPE', `input "${name}": shape [${shape.join(',')}] needs ${count} elements, data has ${data.length}`);
    if (dtype === 'float32' || dtype === 'float64') {
        const arr = dtype === 'float32' ? new Float32Array(count) : new Float64Array(count);
        for (let i = 0; i < count; i++) {
            const v = data[i];
            if (typeof v === 'number') arr[i] = v;
            else if (typeof v === 'string' && v in NON_FINITE) arr[i] = NON_FINITE[v];
            else bad('TENSOR_DATA', `input "${name}": element ${i} is ${JSON.stringify(v)}, expected a number`);
        }
        return arr;
    }
    if (dtype === 'int64') {
        const arr = new BigInt64Array(count);
        for (let i = 0; i < count; i++) {
            const v = data[i];
            let x: bigint | undefined;
            if (typeof v === 'number' && Number.isSafeInteger(v)) x = BigInt(v);
            else if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) x = BigInt(v);
            if (x === undefined || x < -(1n << 63n) || x >= 1n << 63n)
                bad('TENSOR_DATA', `input "${name}": element ${i} is ${JSON.stringify(v)}, expected an int64 (safe integer or decimal string)`);
            arr[i] = x;
        }
        return arr;
    }
    if (dtype === 'bool') {
        const arr = new Uint8Array(count);
        for (let i = 0; i < count; i++) {
            const v = data[i];
            if (v === true || v === 1) arr[i] = 1;
            else if (v === false || v === 0) arr[i] = 0;
            else bad('TENSOR_DATA', `input "${name}": element ${i} is ${JSON.stringify(v)}, expected true/false or 0/1`);
        }
        return arr;
    }
    const [lo, hi] = INT_RANGE[dtype]!;
    const arr = new ARRAY_CTOR[dtype](count) as Int32Array | Int8Array | Uint8Array;
    for (let i = 0; i < count; i++) {
        const v = data[i];
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
            bad('TENSOR_DATA', `input "${name}": element ${i} is ${JSON.stringify(v)}, expected an ${dtype} integer in [${lo}, ${hi}]`);
        arr[i] = v;
    }
    return arr;
}

/** JSON-ready data of an output tensor. */
function encodeData(t: ort.Tensor, encoding: 'array' | 'base64'): unknown[] | string {
    const d = t.data;
    if (encoding === 'base64' || !(ArrayBuffer.isView(d) || Array.isArray(d))) {
        if (Array.isArray(d)) return Buffer.from(JSON.stringify(d)).toString('base64');
        return Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64');
    }
    if (Array.isArray(d)) return d; // string tensors
    if (t.type === 'bool') return Array.from(d as Uint8Array, (v) => v !== 0);
    if (d instanceof BigInt64Array || d instanceof BigUint64Array) {
        return Array.from(d as ArrayLike<bigint>, (v) =>
            v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString(),
        );
    }
    if (d instanceof Float32Array || d instanceof Float64Array) {
        const out = Array.from(d) as (number | string)[];
        for (let i = 0; i < out.length; i++) {
            const v = out[i] as number;
            if (!Number.isFinite(v)) out[i] = Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
        }
        return out;
    }
    return Array.from(d as ArrayLike<number>);
}

export class TensorPipeline {
    readonly limits: TensorLimits;

    constructor(
        private readonly pool: SessionPool,
        private readonly model: CatalogEntry,
        limits: Partial<TensorLimits> = {},
    ) {
        this.limits = { ...DEFAULT_TENSOR_LIMITS, ...limits };
    }

    /** Validates a request (JSON, or binary CTB1) against the model's metadata and builds the feeds (no model run). */
    async prepare(bytes: Uint8Array): Promise<{ feeds: Record<string, ort.Tensor>; fetches?: string[]; encoding: 'array' | 'base64' | 'binary' }> {
        const L = this.limits;
        if (bytes.length === 0) bad('INPUT_EMPTY', 'the tensor request is empty (0 bytes)');
        if (bytes.length > L.maxBytes) bad('INPUT_TOO_LARGE', `the tensor request is ${bytes.length} bytes; the limit is ${L.maxBytes} bytes`);
        if (isBinaryTensorMessage(bytes)) return this.prepareBinary(bytes);
        let req: unknown;
        try {
            req = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
        } catch (e) {
            bad('TENSOR_JSON', `the tensor request is not valid JSON: ${(e as Error).message}`);
        }
        if (!req || typeof req !== 'object' || Array.isArray(req)) bad('TENSOR_JSON', 'the tensor request must be a JSON object { inputs: {...} }');
        const r = req as Record<string, unknown>;
        for (const k of Object.keys(r))
            if (k !== 'inputs' && k !== 'outputs' && k !== 'outputEncoding')
                bad('TENSOR_JSON', `unknown field "${k}" in the tensor request (expected inputs, outputs, outputEncoding)`);
        const encoding = r.outputEncoding ?? 'array';
        if (encoding !== 'array' && encoding !== 'base64')
            bad('TENSOR_OUTPUT_ENCODING', `outputEncoding must be "array" or "base64", got ${JSON.stringify(encoding)}`);
        if (!r.inputs || typeof r.inputs !== 'object' || Array.isArray(r.inputs))
            bad('TENSOR_JSON', '"inputs" must be an object mapping input names to { dtype, shape, data }');

        const session = await this.pool.session(this.model);
        const fetches = this.checkFetches(session, r.outputs);
        const inputs = r.inputs as Record<string, unknown>;
        this.checkNames(session, inputs);
        let total = 0;
        const feeds: Record<string, ort.Tensor> = {};
        const inputMeta = new Map(session.inputMetadata.map((m) => [m.name, m]));
        for (const name of session.inputNames) {
            const raw = inputs[name];
            if (!raw || typeof raw !== 'object' || Array.isArray(raw))
                bad('TENSOR_JSON', `input "${name}" must be an object { dtype, shape, data }`);
            const t = raw as Record<string, unknown>;
            const { dtype, shape, count } = this.checkInput(name, inputMeta.get(name)!, t.dtype, t.shape);
            total += count;
            if (!Number.isSafeInteger(count) || total > L.maxElements)
                bad('TENSOR_TOO_LARGE', `the inputs hold ${total} elements; the limit is ${L.maxElements}`);
            const data = decodeData(name, dtype, count, shape, t.data);
            feeds[name] = new ort.Tensor(dtype, data, shape);
        }
        return { feeds, fetches, encoding: encoding as 'array' | 'base64' };
    }

    /** The binary form: the element bytes are viewed in place, never decoded (protocol/tensor-binary.ts). */
    private async prepareBinary(bytes: Uint8Array): Promise<{ feeds: Record<string, ort.Tensor>; fetches?: string[]; encoding: 'binary' }> {
        const L = this.limits;
        let decoded: ReturnType<typeof decodeTensorMessage>;
        try {
            decoded = decodeTensorMessage('inputs', bytes, { maxRank: L.maxRank, maxElements: L.maxElements });
        } catch (e) {
            if (e instanceof TensorFormatError) bad('TENSOR_BINARY', `binary tensor request: ${e.message}`);
            throw e;
        }
        for (const k of Object.keys(decoded.header))
            if (k !== 'inputs' && k !== 'outputs') bad('TENSOR_BINARY', `unknown field "${k}" in the binary tensor request header (expected inputs, outputs)`);
        const session = await this.pool.session(this.model);
        const fetches = this.checkFetches(session, decoded.header.outputs);
        this.checkNames(session, decoded.tensors);
        const inputMeta = new Map(session.inputMetadata.map((m) => [m.name, m]));
        const feeds: Record<string, ort.Tensor> = {};
        for (const name of session.inputNames) {
            const t = decoded.tensors[name];
            const { dtype, shape } = this.checkInput(name, inputMeta.get(name)!, t.dtype, t.shape);
            feeds[name] = new ort.Tensor(dtype, t.data as Typed, shape);
        }
        return { feeds, fetches, encoding: 'binary' };
    }

    private checkFetches(session: ort.InferenceSession, outputs: unknown): string[] | undefined {
        if (outputs === undefined) return undefined;
        if (!Array.isArray(outputs) || outputs.length === 0 || !outputs.every((o) => typeof o === 'string'))
            bad('TENSOR_JSON', '"outputs" must be a non-empty array of output names');
        for (const o of outputs as string[])
            if (!session.outputNames.includes(o))
                bad('TENSOR_UNKNOWN_OUTPUT', `the model has no output "${o}" (outputs: ${session.outputNames.join(', ')})`);
        return [...new Set(outputs as string[])];
    }

    private checkNames(session: ort.InferenceSession, inputs: Record<string, unknown>): void {
        const known = new Set(session.inputNames);
        for (const name of Object.keys(inputs))
            if (!known.has(name)) bad('TENSOR_UNKNOWN_INPUT', `the model has no input "${name}" (inputs: ${session.inputNames.join(', ')})`);
        for (const name of session.inputNames)
            if (!(name in inputs)) bad('TENSOR_MISSING_INPUT', `input "${name}" is missing (inputs: ${session.inputNames.join(', ')})`);
    }

    /** dtype, rank, fixed dimensions and batch limit of one input against the model's metadata. */
    private checkInput(name: string, meta: ort.InferenceSession.ValueMetadata, rawDtype: unknown, rawShape: unknown): { dtype: TensorDtype; shape: number[]; count: number } {
        const L = this.limits;
        if (!TENSOR_DTYPES.includes(rawDtype as TensorDtype))
            bad('TENSOR_DTYPE', `input "${name}": dtype ${JSON.stringify(rawDtype)} is not supported (${TENSOR_DTYPES.join(', ')})`);
        const dtype = rawDtype as TensorDtype;
        if (meta.isTensor && meta.type !== dtype) bad('TENSOR_DTYPE', `input "${name}": the model expects ${meta.type}, got ${dtype}`);
        if (!Array.isArray(rawShape) || !rawShape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0))
            bad('TENSOR_SHAPE', `input "${name}": shape must be an array of non-negative integers`);
        const shape = rawShape as number[];
        if (shape.length > L.maxRank) bad('TENSOR_SHAPE', `input "${name}": rank ${shape.length} exceeds ${L.maxRank}`);
        if (meta.isTensor && meta.shape.length > 0) {
            if (meta.shape.length !== shape.length)
                bad('TENSOR_SHAPE', `input "${name}": the model expects rank ${meta.shape.length} [${meta.shape.join(',')}], got [${shape.join(',')}]`);
            meta.shape.forEach((d, i) => {
                if (typeof d === 'number' && d >= 0 && shape[i] !== d)
                    bad('TENSOR_SHAPE', `input "${name}": dimension ${i} must be ${d} (model shape [${meta.shape.join(',')}]), got [${shape.join(',')}]`);
            });
            if (this.model.maxBatch !== undefined && typeof meta.shape[0] !== 'number' && shape[0] > this.model.maxBatch)
                bad('TENSOR_BATCH_TOO_LARGE', `input "${name}": batch ${shape[0]} exceeds this worker's limit of ${this.model.maxBatch}`);
        }
        let count = 1;
        for (const d of shape) count *= d;
        return { dtype, shape, count };
    }

    /** Runs a request and returns JSON-ready outputs (binary requests get base64 data here; see runBytes). */
    async run(bytes: Uint8Array): Promise<{ outputs: Record<string, { dtype: string; shape: number[]; data: unknown[] | string }> }> {
        const { feeds, fetches, encoding } = await this.prepare(bytes);
        const res = await this.pool.run(this.model, feeds, fetches);
        const outputs: Record<string, { dtype: string; shape: number[]; data: unknown[] | string }> = {};
        for (const [name, t] of Object.entries(res)) {
            outputs[name] = { dtype: t.type, shape: [...t.dims], data: encodeData(t, encoding === 'binary' ? 'base64' : encoding) };
        }
        return { outputs };
    }

    /** Runs a request and returns the response bytes: binary for a binary request, UTF-8 JSON otherwise. */
    async runBytes(bytes: Uint8Array): Promise<Buffer> {
        if (!isBinaryTensorMessage(bytes)) return Buffer.from(JSON.stringify(await this.run(bytes)), 'utf8');
        const { feeds, fetches } = await this.prepare(bytes);
        const res = await this.pool.run(this.model, feeds, fetches);
        const outputs: Record<string, NamedTensor> = {};
        for (const [name, t] of Object.entries(res)) {
            if (!(t.type in BINARY_ELEMENT_SIZE) || !ArrayBuffer.isView(t.data)) {
                throw new InferenceInputError('TENSOR_DTYPE', `output "${name}" has dtype ${t.type}, which the binary form cannot carry: send a JSON request`);
            }
            outputs[name] = { dtype: t.type as BinaryDtype, shape: [...t.dims], data: t.data as TensorData };
        }
        return encodeTensorMessage('outputs', outputs);
    }
}
