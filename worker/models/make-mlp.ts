/**
 * Generates worker/models/mlp-64x16.onnx: the tiny `tensor` model used by tests and the benchmark.
 *
 *   x float32[N,64] → MatMul(W1[64,512]) → Add(b1) → Relu → MatMul(W2[512,16]) → Add(b2) → y float32[N,16]
 *
 * Weights come from a fixed-seed PRNG, so the file (and its sha256, the model hash) is reproducible:
 *
 *   npx ts-node --transpile-only worker/models/make-mlp.ts [out.onnx]
 *
 * About 41k multiply-adds per row: ~1 ms per run at N≈128 on one CPU core.
 */
import { writeFileSync } from 'fs';
import * as path from 'path';
import { encodeModel, floatTensor } from './onnx-writer';

export const MLP_INPUT = 64;
export const MLP_HIDDEN = 512;
export const MLP_OUTPUT = 16;
export const MLP_SEED = 0x0c0c0075;
export const MLP_FILE = path.join(__dirname, 'mlp-64x16.onnx');

/** xorshift32 → uniform floats in [-1, 1). */
function prng(seed: number): () => number {
    let s = seed >>> 0 || 1;
    return () => {
        s ^= s << 13;
        s >>>= 0;
        s ^= s >>> 17;
        s ^= s << 5;
        s >>>= 0;
        return s / 0x80000000 - 1;
    };
}

function uniform(n: number, scale: number, next: () => number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = next() * scale;
    return out;
}

export function buildMlpModel(): Buffer {
    const next = prng(MLP_SEED);
    const w1 = uniform(MLP_INPUT * MLP_HIDDEN, 1 / Math.sqrt(MLP_INPUT), next);
    const b1 = uniform(MLP_HIDDEN, 0.1, next);
    const w2 = uniform(MLP_HIDDEN * MLP_OUTPUT, 1 / Math.sqrt(MLP_HIDDEN), next);
    const b2 = uniform(MLP_OUTPUT, 0.1, next);
    return encodeModel({
        producerName: 'cocoon-ton make-mlp',
        producerVersion: '1',
        docString: `MLP ${MLP_INPUT}-${MLP_HIDDEN}-${MLP_OUTPUT}, ReLU, xorshift32 seed ${MLP_SEED}`,
        graph: {
            name: 'mlp_64x16',
            nodes: [
                { opType: 'MatMul', inputs: ['x', 'w1'], outputs: ['h0'] },
                { opType: 'Add', inputs: ['h0', 'b1'], outputs: ['h1'] },
                { opType: 'Relu', inputs: ['h1'], outputs: ['h2'] },
                { opType: 'MatMul', inputs: ['h2', 'w2'], outputs: ['h3'] },
                { opType: 'Add', inputs: ['h3', 'b2'], outputs: ['y'] },
            ],
            initializers: [
                floatTensor('w1', [MLP_INPUT, MLP_HIDDEN], w1),
                floatTensor('b1', [MLP_HIDDEN], b1),
                floatTensor('w2', [MLP_HIDDEN, MLP_OUTPUT], w2),
                floatTensor('b2', [MLP_OUTPUT], b2),
            ],
            inputs: [{ name: 'x', elemType: 'FLOAT', dims: ['N', MLP_INPUT] }],
            outputs: [{ name: 'y', elemType: 'FLOAT', dims: ['N', MLP_OUTPUT] }],
        },
    });
}

if (require.main === module) {
    const out = process.argv[2] ?? MLP_FILE;
    const bytes = buildMlpModel();
    writeFileSync(out, bytes);
    const { createHash } = require('crypto') as typeof import('crypto');
    console.log(`${out}: ${bytes.length} bytes, sha256 ${createHash('sha256').update(bytes).digest('hex')}`);
}
