/**
 * Bad inputs are refused with exact error codes, and before any model runs (the session pool's run counters stay
 * at zero for models only ever given invalid inputs).
 */
import { InferenceEngine, InferenceError, InferenceInputError, SHIPPED_MODEL_HASHES } from '../../worker/inference';
import { convertWav, makeSpeechWav, renderTextImage, requireImageMagick, solidImage } from '../helpers/media';

const { ocr: OCR, vad: VAD, tensor: MLP } = SHIPPED_MODEL_HASHES;
const DET = '30a86f5731181461d08021402766601e4302a9b9b9666be8aff402696339cdff';

let engine: InferenceEngine;

beforeAll(async () => {
    requireImageMagick();
    engine = await InferenceEngine.fromCatalogFile();
});

afterAll(async () => {
    await engine?.close();
});

async function codeOf(task: string, model: string, input: Uint8Array | string | object): Promise<{ code: string; message: string; input: boolean }> {
    const bytes = Buffer.isBuffer(input) || input instanceof Uint8Array ? input : Buffer.from(typeof input === 'string' ? input : JSON.stringify(input));
    try {
        await engine.run(task, model, bytes);
    } catch (e) {
        if (!(e instanceof InferenceError)) throw e;
        return { code: e.code, message: e.message, input: e instanceof InferenceInputError };
    }
    throw new Error('expected the job to fail');
}

/** A WAV header + silence of the given length without running sox (for the duration cap). */
function pcm16Wav(samples: number, rate = 16000, channels = 1): Buffer {
    const data = samples * 2 * channels;
    const b = Buffer.alloc(44 + data);
    b.write('RIFF', 0, 'latin1');
    b.writeUInt32LE(36 + data, 4);
    b.write('WAVEfmt ', 8, 'latin1');
    b.writeUInt32LE(16, 16);
    b.writeUInt16LE(1, 20);
    b.writeUInt16LE(channels, 22);
    b.writeUInt32LE(rate, 24);
    b.writeUInt32LE(rate * 2 * channels, 28);
    b.writeUInt16LE(2 * channels, 32);
    b.writeUInt16LE(16, 34);
    b.write('data', 36, 'latin1');
    b.writeUInt32LE(data, 40);
    return b;
}

const x = (n: number): number[] => new Array(n).fill(0.25);

describe('ocr input validation', () => {
    test.each<[string, string, () => Buffer]>([
        ['not an image', 'IMAGE_FORMAT', () => Buffer.from('%PDF-1.7 definitely not an image')],
        ['an empty file', 'INPUT_EMPTY', () => Buffer.alloc(0)],
        ['a file over 8 MiB', 'INPUT_TOO_LARGE', () => Buffer.concat([renderTextImage('x'), Buffer.alloc(8 * 1024 * 1024)])],
        ['a 4×4 PNG', 'IMAGE_TOO_SMALL', () => solidImage(4, 4, 'png')],
        ['a 6×300 JPEG', 'IMAGE_TOO_SMALL', () => solidImage(6, 300, 'jpeg')],
        ['a 5000×16 PNG', 'IMAGE_TOO_LARGE', () => solidImage(5000, 16, 'png')],
        ['a truncated PNG', 'IMAGE_DECODE', () => renderTextImage('hello').subarray(0, 60)],
        ['a JPEG without a frame header', 'IMAGE_DECODE', () => Buffer.from([0xff, 0xd8, 0xff, 0xd9])],
    ])('%s → %s', async (_name, code, make) => {
        const r = await codeOf('ocr', OCR, make());
        expect(r.code).toBe(code);
        expect(r.input).toBe(true);
    });

    test('the size error names both dimensions and the limit', async () => {
        expect((await codeOf('ocr', OCR, solidImage(5000, 16, 'png'))).message).toMatch(/5000×16.*4096/);
    });
});

describe('vad input validation', () => {
    test('22.05 kHz audio → WAV_SAMPLE_RATE naming the rate', async () => {
        const sp = makeSpeechWav('hello', { rate: 22050 });
        const r = await codeOf('vad', VAD, sp.wav);
        expect(r.code).toBe('WAV_SAMPLE_RATE');
        expect(r.message).toMatch(/22050 Hz/);
        expect(r.message).toMatch(/16000 Hz/);
    });

    test('8 kHz audio → WAV_SAMPLE_RATE', async () => {
        expect((await codeOf('vad', VAD, pcm16Wav(8000, 8000))).code).toBe('WAV_SAMPLE_RATE');
    });

    test('stereo → WAV_CHANNELS', async () => {
        const stereo = convertWav(makeSpeechWav('hello').wav, { channels: 2 });
        const r = await codeOf('vad', VAD, stereo);
        expect(r.code).toBe('WAV_CHANNELS');
        expect(r.message).toMatch(/2 channels \(stereo\)/);
    });

    test('8-bit PCM → WAV_ENCODING', async () => {
        const wav = pcm16Wav(1600);
        wav.writeUInt16LE(1, 32); // block align 1
        wav.writeUInt16LE(8, 34); // 8 bits per sample
        expect((await codeOf('vad', VAD, wav)).code).toBe('WAV_ENCODING');
    });

    test('not a WAV → WAV_FORMAT', async () => {
        expect((await codeOf('vad', VAD, Buffer.from('OggS\0\0\0\0\0\0\0\0 not a wav'))).code).toBe('WAV_FORMAT');
    });

    test('no samples → AUDIO_EMPTY', async () => {
        expect((await codeOf('vad', VAD, pcm16Wav(0))).code).toBe('AUDIO_EMPTY');
    });

    test('more than 10 minutes → AUDIO_TOO_LONG', async () => {
        const r = await codeOf('vad', VAD, pcm16Wav(16000 * 601));
        expect(r.code).toBe('AUDIO_TOO_LONG');
        expect(r.message).toMatch(/601\.0 s.*600 s/);
    });
});

describe('tensor input validation', () => {
    test.each<[string, string, string | object]>([
        ['invalid JSON', 'TENSOR_JSON', '{"inputs": '],
        ['no inputs object', 'TENSOR_JSON', { x: 1 }],
        ['wrong dtype', 'TENSOR_DTYPE', { inputs: { x: { dtype: 'int64', shape: [1, 64], data: x(64) } } }],
        ['unsupported dtype', 'TENSOR_DTYPE', { inputs: { x: { dtype: 'complex64', shape: [1, 64], data: x(64) } } }],
        ['data length ≠ shape product', 'TENSOR_SHAPE', { inputs: { x: { dtype: 'float32', shape: [2, 64], data: x(100) } } }],
        ['fixed dimension violated', 'TENSOR_SHAPE', { inputs: { x: { dtype: 'float32', shape: [2, 32], data: x(64) } } }],
        ['wrong rank', 'TENSOR_SHAPE', { inputs: { x: { dtype: 'float32', shape: [64], data: x(64) } } }],
        ['negative dimension', 'TENSOR_SHAPE', { inputs: { x: { dtype: 'float32', shape: [-1, 64], data: x(64) } } }],
        ['base64 of the wrong length', 'TENSOR_SHAPE', { inputs: { x: { dtype: 'float32', shape: [1, 64], data: Buffer.alloc(200).toString('base64') } } }],
        ['unknown input name', 'TENSOR_UNKNOWN_INPUT', { inputs: { x: { dtype: 'float32', shape: [1, 64], data: x(64) }, z: { dtype: 'float32', shape: [1], data: [1] } } }],
        ['missing input', 'TENSOR_MISSING_INPUT', { inputs: {} }],
        ['non-numeric element', 'TENSOR_DATA', { inputs: { x: { dtype: 'float32', shape: [1, 64], data: [...x(63), 'one'] } } }],
        ['batch above maxBatch', 'TENSOR_BATCH_TOO_LARGE', { inputs: { x: { dtype: 'float32', shape: [4097, 64], data: Buffer.alloc(4097 * 256).toString('base64') } } }],
        ['unknown output', 'TENSOR_UNKNOWN_OUTPUT', { inputs: { x: { dtype: 'float32', shape: [1, 64], data: x(64) } }, outputs: ['nope'] }],
        ['bad output encoding', 'TENSOR_OUTPUT_ENCODING', { inputs: { x: { dtype: 'float32', shape: [1, 64], data: x(64) } }, outputEncoding: 'hex' }],
    ])('%s → %s', async (_name, code, req) => {
        const r = await codeOf('tensor', MLP, req);
        expect(r.code).toBe(code);
        expect(r.input).toBe(true);
    });

    test('messages name the offending input and what was expected', async () => {
        expect((await codeOf('tensor', MLP, { inputs: { x: { dtype: 'int64', shape: [1, 64], data: x(64) } } })).message).toMatch(
            /input "x": the model expects float32, got int64/,
        );
        expect((await codeOf('tensor', MLP, { inputs: { y: { dtype: 'float32', shape: [1], data: [1] } } })).message).toMatch(
            /no input "y" \(inputs: x\)/,
        );
    });
});

describe('model routing', () => {
    test('unknown model hash → UNKNOWN_MODEL', async () => {
        const r = await codeOf('tensor', 'ab'.repeat(32), { inputs: {} });
        expect(r.code).toBe('UNKNOWN_MODEL');
        expect(r.input).toBe(false);
        expect(r.message).toMatch(/not in this worker's catalog/);
    });

    test('a malformed hash → UNKNOWN_MODEL', async () => {
        expect((await codeOf('vad', 'not-a-hash', Buffer.alloc(4))).code).toBe('UNKNOWN_MODEL');
    });

    test('the VAD hash used for OCR → WRONG_TASK', async () => {
        const r = await codeOf('ocr', VAD, renderTextImage('hi'));
        expect(r.code).toBe('WRONG_TASK');
        expect(r.message).toMatch(/served for task "vad"/);
    });

    test('the detector hash is not servable on its own → WRONG_TASK', async () => {
        expect((await codeOf('ocr', DET, renderTextImage('hi'))).code).toBe('WRONG_TASK');
    });

    test('an unknown task → UNKNOWN_TASK', async () => {
        expect((await codeOf('asr', VAD, Buffer.alloc(4))).code).toBe('UNKNOWN_TASK');
    });

    test('hashes are accepted with 0x prefix, in upper case, and as the on-chain uint256', async () => {
        const req = Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [1, 64], data: x(64) } } }));
        const a = await engine.run('tensor', '0x' + MLP.toUpperCase(), req);
        expect(JSON.parse(a.toString()).outputs.y.shape).toEqual([1, 16]);
        expect(engine.taskOf(BigInt('0x' + MLP))).toBe('tensor');
        expect(engine.resolve('tensor', BigInt('0x' + MLP)).sha256).toBe(MLP);
    });
});

describe('afterwards', () => {
    test('no model ran for any of the invalid OCR and VAD inputs above', () => {
        // the tensor model ran once (the 0x-prefixed job); det, rec and VAD never did
        const runs = Object.fromEntries(engine.stats().map((s) => [s.sha256, s.runs]));
        expect(runs[OCR] ?? 0).toBe(0);
        expect(runs[DET] ?? 0).toBe(0);
        expect(runs[VAD] ?? 0).toBe(0);
        expect(runs[MLP]).toBe(1);
    });
});
