/**
 * A minimal ONNX (protobuf) writer: enough of onnx.proto to serialise small feed-forward graphs with
 * initializers, used to generate the tiny tensor model (make-mlp.ts) and test models.
 *
 * Protobuf wire format: every field is key = (field_number << 3 | wire_type) as a varint, then the value:
 * wire type 0 = varint, 2 = length-delimited (strings, bytes, sub-messages, packed repeated scalars).
 * Output is deterministic (fields in a fixed order), so the same graph always hashes to the same model file.
 *
 * Field numbers (onnx.proto, IR version 8):
 *   ModelProto        ir_version=1 producer_name=2 producer_version=3 domain=4 model_version=5 doc_string=6
 *                     graph=7 opset_import=8
 *   OperatorSetIdProto domain=1 version=2
 *   GraphProto        node=1 name=2 initializer=5 doc_string=10 input=11 output=12
 *   NodeProto         input=1 output=2 name=3 op_type=4 attribute=5 domain=7
 *   AttributeProto    name=1 f=2 i=3 s=4 floats=7 ints=8 type=20
 *   TensorProto       dims=1 data_type=2 name=8 raw_data=9
 *   ValueInfoProto    name=1 type=2
 *   TypeProto         tensor_type=1;  TypeProto.Tensor elem_type=1 shape=2
 *   TensorShapeProto  dim=1;  Dimension dim_value=1 dim_param=2
 */

/** TensorProto.DataType values. */
export const OnnxDataType = {
    FLOAT: 1,
    UINT8: 2,
    INT8: 3,
    INT32: 6,
    INT64: 7,
    BOOL: 9,
    DOUBLE: 11,
} as const;
export type OnnxDataTypeName = keyof typeof OnnxDataType;

const AttrType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

function varint(value: number | bigint): Buffer {
    let v = BigInt(value);
    if (v < 0n) v = (1n << 64n) + v; // two's complement, 10 bytes
    const out: number[] = [];
    do {
        let byte = Number(v & 0x7fn);
        v >>= 7n;
        if (v !== 0n) byte |= 0x80;
        out.push(byte);
    } while (v !== 0n);
    return Buffer.from(out);
}

const key = (field: number, wireType: 0 | 2): Buffer => varint((field << 3) | wireType);
const fVarint = (field: number, v: number | bigint): Buffer => Buffer.concat([key(field, 0), varint(v)]);
const fBytes = (field: number, b: Uint8Array): Buffer => Buffer.concat([key(field, 2), varint(b.length), b]);
const fString = (field: number, s: string): Buffer => fBytes(field, Buffer.from(s, 'utf8'));
const fPackedVarints = (field: number, vs: readonly (number | bigint)[]): Buffer =>
    fBytes(field, Buffer.concat(vs.map((v) => varint(v))));
const message = (...fields: (Buffer | Buffer[] | undefined)[]): Buffer =>
    Buffer.concat(fields.flat().filter((f): f is Buffer => f !== undefined));

export interface TensorInit {
    name: string;
    dataType: OnnxDataTypeName;
    dims: readonly number[];
    /** Little-endian element bytes (raw_data). */
    raw: Uint8Array;
}

export function tensorProto(t: TensorInit): Buffer {
    return message(
        t.dims.length ? fPackedVarints(1, t.dims) : undefined,
        fVarint(2, OnnxDataType[t.dataType]),
        fString(8, t.name),
        fBytes(9, t.raw),
    );
}

/** A float32 initializer from numbers (written little-endian). */
export function floatTensor(name: string, dims: readonly number[], values: ArrayLike<number>): TensorInit {
    const raw = Buffer.alloc(values.length * 4);
    for (let i = 0; i < values.length; i++) raw.writeFloatLE(values[i], i * 4);
    return { name, dataType: 'FLOAT', dims, raw };
}

export function int64Tensor(name: string, dims: readonly number[], values: readonly (number | bigint)[]): TensorInit {
    const raw = Buffer.alloc(values.length * 8);
    values.forEach((v, i) => raw.writeBigInt64LE(BigInt(v), i * 8));
    return { name, dataType: 'INT64', dims, raw };
}

export interface ValueInfo {
    name: string;
    elemType: OnnxDataTypeName;
    /** Fixed sizes as numbers, symbolic (dynamic) dimensions as strings. */
    dims: readonly (number | string)[];
}

export function valueInfoProto(v: ValueInfo): Buffer {
    const dims = v.dims.map((d) => fBytes(1, typeof d === 'number' ? fVarint(1, d) : fString(2, d)));
    const shape = fBytes(2, message(dims));
    const tensorType = fBytes(1, message(fVarint(1, OnnxDataType[v.elemType]), shape));
    return message(fString(1, v.name), fBytes(2, tensorType));
}

export type AttrValue = number | string | number[];
export interface NodeSpec {
    opType: string;
    inputs: readonly string[];
    outputs: readonly string[];
    name?: string;
    /** Integer attributes as integers, floats as { f }, strings, and integer lists. */
    attributes?: Record<string, AttrValue | { f: number }>;
}

function attributeProto(name: string, v: AttrValue | { f: number }): Buffer {
    if (typeof v === 'object' && !Array.isArray(v)) {
        const b = Buffer.alloc(4);
        b.writeFloatLE(v.f);
        return message(fString(1, name), Buffer.concat([varint((2 << 3) | 5), b]), fVarint(20, AttrType.FLOAT));
    }
    if (typeof v === 'string') return message(fString(1, name), fString(4, v), fVarint(20, AttrType.STRING));
    if (Array.isArray(v)) return message(fString(1, name), fPackedVarints(8, v), fVarint(20, AttrType.INTS));
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use { f } for float values`);
    return message(fString(1, name), fVarint(3, v), fVarint(20, AttrType.INT));
}

export function nodeProto(n: NodeSpec, index: number): Buffer {
    return message(
        n.inputs.map((i) => fString(1, i)),
        n.outputs.map((o) => fString(2, o)),
        fString(3, n.name ?? `${n.opType}_${index}`),
        fString(4, n.opType),
        Object.entries(n.attributes ?? {}).map(([k, v]) => fBytes(5, attributeProto(k, v))),
    );
}

export interface GraphSpec {
    name: string;
    nodes: readonly NodeSpec[];
    initializers: readonly TensorInit[];
    inputs: readonly ValueInfo[];
    outputs: readonly ValueInfo[];
    docString?: string;
}

export interface ModelSpec {
    graph: GraphSpec;
    /** Default opset 17 (ai.onnx). */
    opset?: number;
    /** Default IR version 8. */
    irVersion?: number;
    producerName?: string;
    producerVersion?: string;
    docString?: string;
}

/** Serialises a model to the bytes of an .onnx file. */
export function encodeModel(m: ModelSpec): Buffer {
    const g = m.graph;
    const graph = message(
        g.nodes.map((n, i) => fBytes(1, nodeProto(n, i))),
        fString(2, g.name),
        g.initializers.map((t) => fBytes(5, tensorProto(t))),
        g.docString ? fString(10, g.docString) : undefined,
        g.inputs.map((v) => fBytes(11, valueInfoProto(v))),
        g.outputs.map((v) => fBytes(12, valueInfoProto(v))),
    );
    return message(
        fVarint(1, m.irVersion ?? 8),
        fString(2, m.producerName ?? 'cocoon-ton'),
        m.producerVersion ? fString(3, m.producerVersion) : undefined,
        m.docString ? fString(6, m.docString) : undefined,
        fBytes(7, graph),
        fBytes(8, message(fString(1, ''), fVarint(2, m.opset ?? 17))),
    );
}
