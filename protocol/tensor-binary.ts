/**
 * Binary tensor messages for the `tensor` task: the same named tensors as the JSON form (worker/inference/tensor.ts)
 * without base64 or JSON arrays around the element bytes, so large tensors cost a copy instead of an encoding, and
 * the sealed result is a quarter smaller (less to hash, encrypt and move).
 *
 *   magic "CTB1" (4 bytes) ‖ u32 LE header length ‖ header (UTF-8 JSON) ‖ zero padding to a multiple of 8
 *   ‖ data section
 *
 * Header of a request:  { "inputs":  { "<name>": { "dtype", "shape", "offset", "byteLength" } }, "outputs"?: [...] }
 * Header of a response: { "outputs": { "<name>": { "dtype", "shape", "offset", "byteLength" } } }
 * `offset` is relative to the start of the data section and a multiple of 8, so every tensor can be viewed in place
 * (little-endian element bytes; bool: one byte 0/1 per element). A worker answers a binary request with a binary
 * response and a JSON request with JSON.
 *
 * Decoding checks everything a hostile peer could get wrong: magic, header bounds and JSON, dtypes, shapes, offsets
 * inside the data section, byte lengths equal to elements × element size, no overlap between tensors.
 */

export const TENSOR_BINARY_MAGIC = Buffer.from('CTB1', 'latin1');
const ALIGN = 8;
/** Largest header we accept (names, dtypes and shapes only). */
export const MAX_TENSOR_HEADER_BYTES = 64 * 1024;

export type BinaryDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'int8' | 'uint8' | 'bool';
export const BINARY_ELEMENT_SIZE: Readonly<Record<BinaryDtype, number>> = { float32: 4, float64: 8, int32: 4, int64: 8, int8: 1, uint8: 1, bool: 1 };

export type TensorData = Float32Array | Float64Array | Int32Array | BigInt64Array | Int8Array | Uint8Array;

export interface NamedTensor {
    dtype: BinaryDtype;
    shape: number[];
    /** element data; for bool a Uint8Array of 0/1 */
    data: TensorData;
}

export class TensorFormatError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'TensorFormatError';
    }
}

interface Slot {
    dtype: string;
    shape: number[];
    offset: number;
    byteLength: number;
}

export function isBinaryTensorMessage(bytes: Uint8Array): boolean {
    return bytes.length >= 8 && bytes[0] === 0x43 && bytes[1] === 0x54 && bytes[2] === 0x42 && bytes[3] === 0x31;
}

function pad(n: number): number {
    return (ALIGN - (n % ALIGN)) % ALIGN;
}

/** Builds a message: `section` is "inputs" (requests) or "outputs" (responses). */
export function encodeTensorMessage(section: 'inputs' | 'outputs', tensors: Record<string, NamedTensor>, extra: Record<string, unknown> = {}): Buffer {
    const slots: Record<string, Slot> = {};
    let offset = 0;
    const parts: { at: number; view: Uint8Array }[] = [];
    for (const [name, t] of Object.entries(tensors)) {
        const view = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
        slots[name] = { dtype: t.dtype, shape: [...t.shape], offset, byteLength: view.length };
        parts.push({ at: offset, view });
        offset += view.length + pad(view.length);
    }
    const header = Buffer.from(JSON.stringify({ ...extra, [section]: slots }), 'utf8');
    const dataStart = 8 + header.length + pad(8 + header.length);
    const out = Buffer.alloc(dataStart + offset);
    TENSOR_BINARY_MAGIC.copy(out, 0);
    out.writeUInt32LE(header.length, 4);
    header.copy(out, 8);
    for (const p of parts) out.set(p.view, dataStart + p.at);
    return out;
}

/** Parses a message; tensors view `bytes` in place when it is 8-byte aligned, else are copied. */
export function decodeTensorMessage(
    section: 'inputs' | 'outputs',
    bytes: Uint8Array,
    limits: { maxRank?: number; maxElements?: number } = {},
): { tensors: Record<string, NamedTensor>; header: Record<string, unknown> } {
    const maxRank = limits.maxRank ?? 8;
    const maxElements = limits.maxElements ?? 16 * 1024 * 1024;
    if (!isBinaryTensorMessage(bytes)) throw new TensorFormatError('not a binary tensor message (expected the magic "CTB1")');
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const headerLength = buf.readUInt32LE(4);
    if (headerLength > MAX_TENSOR_HEADER_BYTES) throw new TensorFormatError(`the header is ${headerLength} bytes; the limit is ${MAX_TENSOR_HEADER_BYTES}`);
    if (8 + headerLength > buf.length) throw new TensorFormatError(`the header length ${headerLength} runs past the end of the message (${buf.length} bytes)`);
    let header: Record<string, unknown>;
    try {
        header = JSON.parse(buf.subarray(8, 8 + headerLength).toString('utf8'));
    } catch (e) {
        throw new TensorFormatError(`the header is not valid JSON: ${(e as Error).message}`);
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) throw new TensorFormatError('the header must be a JSON object');
    const dataStart = 8 + headerLength + pad(8 + headerLength);
    if (dataStart > buf.length) throw new TensorFormatError('the message ends inside the header padding');
    const dataLength = buf.length - dataStart;
    const slots = header[section];
    if (!slots || typeof slots !== 'object' || Array.isArray(slots)) throw new TensorFormatError(`the header has no "${section}" object`);

    const tensors: Record<string, NamedTensor> = {};
    const ranges: [number, number, string][] = [];
    let total = 0;
    for (const [name, raw] of Object.entries(slots as Record<string, unknown>)) {
        const s = raw as Partial<Slot>;
        if (!s || typeof s !== 'object') throw new TensorFormatError(`tensor "${name}" must be { dtype, shape, offset, byteLength }`);
        if (typeof s.dtype !== 'string' || !(s.dtype in BINARY_ELEMENT_SIZE)) {
            throw new TensorFormatError(`tensor "${name}": dtype ${JSON.stringify(s.dtype)} is not supported (${Object.keys(BINARY_ELEMENT_SIZE).join(', ')})`);
        }
        const dtype = s.dtype as BinaryDtype;
        if (!Array.isArray(s.shape) || s.shape.length > maxRank || !s.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
            throw new TensorFormatError(`tensor "${name}": shape must be an array of at most ${maxRank} non-negative integers`);
        }
        let count = 1;
        for (const d of s.shape) count *= d;
        total += count;
        if (!Number.isSafeInteger(count) || total > maxElements) throw new TensorFormatError(`the tensors hold more than ${maxElements} elements`);
        const size = BINARY_ELEMENT_SIZE[dtype];
        if (!Number.isSafeInteger(s.offset) || s.offset! < 0 || s.offset! % ALIGN !== 0) throw new TensorFormatError(`tensor "${name}": offset must be a non-negative multiple of ${ALIGN}`);
        if (s.byteLength !== count * size) throw new TensorFormatError(`tensor "${name}": shape [${s.shape.join(',')}] needs ${count * size} bytes of ${dtype}, byteLength says ${s.byteLength}`);
        if (s.offset! + s.byteLength! > dataLength) throw new TensorFormatError(`tensor "${name}": bytes ${s.offset}..${s.offset! + s.byteLength!} lie outside the data section (${dataLength} bytes)`);
        ranges.push([s.offset!, s.offset! + s.byteLength!, name]);
        const at = buf.byteOffset + dataStart + s.offset!;
        const Ctor = ({ float32: Float32Array, float64: Float64Array, int32: Int32Array, int64: BigInt64Array, int8: Int8Array, uint8: Uint8Array, bool: Uint8Array } as const)[dtype];
        let data: TensorData;
        if (at % size === 0) data = new Ctor(buf.buffer as ArrayBuffer, at, count);
        else {
            data = new Ctor(count);
            new Uint8Array(data.buffer).set(buf.subarray(dataStart + s.offset!, dataStart + s.offset! + s.byteLength!));
        }
        if (dtype === 'bool') {
            for (let i = 0; i < count; i++) if ((data as Uint8Array)[i] > 1) throw new TensorFormatError(`tensor "${name}": bool element ${i} is ${(data as Uint8Array)[i]}, expected 0 or 1`);
        }
        tensors[name] = { dtype, shape: [...s.shape], data };
    }
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) {
        if (ranges[i][0] < ranges[i - 1][1]) throw new TensorFormatError(`tensors "${ranges[i - 1][2]}" and "${ranges[i][2]}" overlap`);
    }
    return { tensors, header };
}

/** A request for the tensor task: named inputs, optionally only some outputs. */
export function encodeTensorRequest(inputs: Record<string, NamedTensor>, options: { outputs?: string[] } = {}): Buffer {
    return encodeTensorMessage('inputs', inputs, options.outputs ? { outputs: options.outputs } : {});
}

/** The tensors of a binary response. */
export function decodeTensorResponse(bytes: Uint8Array): Record<string, NamedTensor> {
    return decodeTensorMessage('outputs', bytes).tensors;
}
