/**
 * The binary tensor form: round trips of every dtype (viewed in place when aligned, copied when not), and every
 * malformation a hostile peer could send refused with a message naming what is wrong.
 */
import {
    decodeTensorMessage,
    decodeTensorResponse,
    encodeTensorMessage,
    encodeTensorRequest,
    isBinaryTensorMessage,
    NamedTensor,
    TensorFormatError,
} from '../../protocol/tensor-binary';

const tensors: Record<string, NamedTensor> = {
    f: { dtype: 'float32', shape: [2, 3], data: Float32Array.from([1.5, -0, NaN, Infinity, 3.4e38, 1e-40]) },
    d: { dtype: 'float64', shape: [1], data: Float64Array.from([Math.PI]) },
    i: { dtype: 'int32', shape: [3], data: Int32Array.from([-2147483648, 0, 2147483647]) },
    l: { dtype: 'int64', shape: [2], data: BigInt64Array.from([-(1n << 63n), (1n << 62n) + 7n]) },
    b: { dtype: 'int8', shape: [1], data: Int8Array.from([-128]) },
    u: { dtype: 'uint8', shape: [5], data: Uint8Array.from([0, 1, 2, 254, 255]) },
    t: { dtype: 'bool', shape: [3], data: Uint8Array.from([1, 0, 1]) },
};

function bytes(a: ArrayBufferView): Buffer {
    return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Rebuilds a message with a replaced header (data section kept), to forge malformed messages. */
function withHeader(msg: Buffer, header: unknown): Buffer {
    const oldLen = msg.readUInt32LE(4);
    const oldStart = 8 + oldLen + ((8 - ((8 + oldLen) % 8)) % 8);
    const h = Buffer.from(JSON.stringify(header));
    const start = 8 + h.length + ((8 - ((8 + h.length) % 8)) % 8);
    const out = Buffer.alloc(start + (msg.length - oldStart));
    msg.copy(out, 0, 0, 4);
    out.writeUInt32LE(h.length, 4);
    h.copy(out, 8);
    msg.copy(out, start, oldStart);
    return out;
}

describe('binary tensor messages', () => {
    test('every dtype round-trips bit for bit, with names, shapes and the outputs selection', () => {
        const msg = encodeTensorRequest(tensors, { outputs: ['y'] });
        expect(isBinaryTensorMessage(msg)).toBe(true);
        const { tensors: back, header } = decodeTensorMessage('inputs', msg);
        expect(header.outputs).toEqual(['y']);
        expect(Object.keys(back)).toEqual(Object.keys(tensors));
        for (const [name, t] of Object.entries(tensors)) {
            expect(back[name].dtype).toBe(t.dtype);
            expect(back[name].shape).toEqual(t.shape);
            expect(bytes(back[name].data).equals(bytes(t.data))).toBe(true);
        }
    });

    test('aligned messages are viewed in place; unaligned ones are copied and still right', () => {
        const msg = encodeTensorMessage('outputs', { f: tensors.f });
        const viewed = decodeTensorResponse(msg).f.data;
        expect(viewed.buffer).toBe(msg.buffer);
        const shifted = Buffer.alloc(msg.length + 1);
        msg.copy(shifted, 1);
        const odd = shifted.subarray(1);
        const copied = decodeTensorResponse(odd).f.data;
        expect(copied.buffer).not.toBe(shifted.buffer);
        expect(bytes(copied).equals(bytes(tensors.f.data))).toBe(true);
    });

    test('a JSON request is not mistaken for a binary one', () => {
        expect(isBinaryTensorMessage(Buffer.from('{"inputs":{}}'))).toBe(false);
        expect(() => decodeTensorMessage('inputs', Buffer.from('{"inputs":{}}'))).toThrow('expected the magic "CTB1"');
    });

    const base = encodeTensorRequest({ x: { dtype: 'float32', shape: [2], data: Float32Array.from([1, 2]) }, y: { dtype: 'uint8', shape: [3], data: Uint8Array.from([1, 2, 3]) } });
    const slot = (over: Record<string, unknown>) => ({ inputs: { x: { dtype: 'float32', shape: [2], offset: 0, byteLength: 8, ...over } } });
    test.each<[string, () => Buffer, string]>([
        ['a header length past the end', () => { const b = Buffer.from(base); b.writeUInt32LE(b.length, 4); return b; }, 'runs past the end'],
        ['a header over the cap', () => { const b = Buffer.from(base); b.writeUInt32LE(1 << 20, 4); return b; }, 'the limit is 65536'],
        ['a header that is not JSON', () => { const b = Buffer.from(base); b.write('!', 8); return b; }, 'not valid JSON'],
        ['no inputs section', () => withHeader(base, { outputs: {} }), 'has no "inputs" object'],
        ['an unknown dtype', () => withHeader(base, slot({ dtype: 'float16' })), 'dtype "float16" is not supported'],
        ['a negative dimension', () => withHeader(base, slot({ shape: [-2] })), 'shape must be an array'],
        ['a rank over the limit', () => withHeader(base, slot({ shape: [1, 1, 1, 1, 1, 1, 1, 1, 2] })), 'at most 8'],
        ['an unaligned offset', () => withHeader(base, slot({ offset: 4 })), 'multiple of 8'],
        ['a byte length that disagrees with the shape', () => withHeader(base, slot({ byteLength: 12 })), 'needs 8 bytes of float32'],
        ['bytes outside the data section', () => withHeader(base, slot({ offset: 64 })), 'outside the data section'],
        ['overlapping tensors', () => withHeader(base, { inputs: { x: { dtype: 'float32', shape: [2], offset: 0, byteLength: 8 }, z: { dtype: 'uint8', shape: [8], offset: 0, byteLength: 8 } } }), 'overlap'],
        ['a bool that is not 0 or 1', () => withHeader(base, { inputs: { x: { dtype: 'bool', shape: [8], offset: 0, byteLength: 8 } } }), 'expected 0 or 1'],
    ])('refuses %s', (_what, make, message) => {
        let error: unknown;
        try {
            decodeTensorMessage('inputs', make());
        } catch (e) {
            error = e;
        }
        expect(error).toBeInstanceOf(TensorFormatError);
        expect((error as Error).message).toContain(message);
    });

    test('element count limits apply before any allocation', () => {
        const big = withHeader(base, slot({ shape: [1 << 20, 1 << 10], byteLength: 4 * 2 ** 30 }));
        expect(() => decodeTensorMessage('inputs', big, { maxElements: 1000 })).toThrow('more than 1000 elements');
    });
});
