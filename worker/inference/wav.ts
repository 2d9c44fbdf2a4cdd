/**
 * WAV input of the VAD task: RIFF/WAVE, PCM 16-bit or IEEE float 32-bit (plain or WAVE_FORMAT_EXTENSIBLE),
 * mono, at the required sample rate. Everything is validated from the header before samples are converted.
 */
import { InferenceInputError } from './errors';

export interface WavLimits {
    /** Largest file (default 48 MiB: 10 minutes of 16 kHz float32 plus headers). */
    maxBytes: number;
    /** Longest audio in seconds (default 600). */
    maxSeconds: number;
    /** Required sample rate (default 16000). */
    sampleRate: number;
}

export const DEFAULT_WAV_LIMITS: WavLimits = { maxBytes: 48 * 1024 * 1024, maxSeconds: 600, sampleRate: 16000 };

export interface MonoAudio {
    sampleRate: number;
    /** Samples in [-1, 1] (float files may exceed it). */
    samples: Float32Array;
    durationSec: number;
    encoding: 'pcm16' | 'float32';
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

function formatName(code: number): string {
    switch (code) {
        case 1:
            return 'PCM';
        case 3:
            return 'IEEE float';
        case 6:
            return 'A-law';
        case 7:
            return 'µ-law';
        case 2:
            return 'MS ADPCM';
        case 0x11:
            return 'IMA ADPCM';
        default:
            return `format 0x${code.toString(16)}`;
    }
}

export function parseWav(bytes: Uint8Array, limits: WavLimits = DEFAULT_WAV_LIMITS): MonoAudio {
    if (bytes.length === 0) throw new InferenceInputError('INPUT_EMPTY', 'the audio is empty (0 bytes)');
    if (bytes.length > limits.maxBytes)
        throw new InferenceInputError('INPUT_TOO_LARGE', `the audio file is ${bytes.length} bytes; the limit is ${limits.maxBytes} bytes`);
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (b.length < 12 || b.toString('latin1', 0, 4) !== 'RIFF' || b.toString('latin1', 8, 12) !== 'WAVE')
        throw new InferenceInputError(
            'WAV_FORMAT',
            `the input is not a RIFF/WAVE file (first bytes ${b.subarray(0, 12).toString('hex') || 'none'}); send a 16 kHz mono WAV`,
        );
    let fmt: { code: number; channels: number; rate: number; blockAlign: number; bits: number } | undefined;
    let dataStart = -1;
    let dataLen = 0;
    let p = 12;
    while (p + 8 <= b.length) {
        const id = b.toString('latin1', p, p + 4);
        const size = b.readUInt32LE(p + 4);
        const body = p + 8;
        if (id === 'fmt ') {
            if (size < 16 || body + 16 > b.length) throw new InferenceInputError('WAV_FORMAT', 'WAV "fmt " chunk is truncated');
            let code = b.readUInt16LE(body);
            const channels = b.readUInt16LE(body + 2);
            const rate = b.readUInt32LE(body + 4);
            const blockAlign = b.readUInt16LE(body + 12);
            const bits = b.readUInt16LE(body + 14);
            if (code === WAVE_FORMAT_EXTENSIBLE) {
                if (size < 40 || body + 40 > b.length) throw new InferenceInputError('WAV_FORMAT', 'WAV extensible "fmt " chunk is truncated');
                code = b.readUInt16LE(body + 24); // first two bytes of the SubFormat GUID
            }
            fmt = { code, channels, rate, blockAlign, bits };
        } else if (id === 'data') {
            dataStart = body;
            // Streamed writers leave 0 or 0xFFFFFFFF here: take what the file holds.
            dataLen = size === 0 || size === 0xffffffff || body + size > b.length ? b.length - body : size;
            break;
        }
        p = body + size + (size & 1);
    }
    if (!fmt) throw new InferenceInputError('WAV_FORMAT', 'WAV has no "fmt " chunk before its data');
    if (dataStart < 0) throw new InferenceInputError('WAV_FORMAT', 'WAV has no "data" chunk');
    if (fmt.rate !== limits.sampleRate)
        throw new InferenceInputError(
            'WAV_SAMPLE_RATE',
            `the audio is sampled at ${fmt.rate} Hz; the VAD model needs ${limits.sampleRate} Hz (resample, e.g. sox in.wav -r ${limits.sampleRate} -c 1 out.wav)`,
        );
    if (fmt.channels !== 1)
        throw new InferenceInputError(
            'WAV_CHANNELS',
            `the audio has ${fmt.channels} channels${fmt.channels === 2 ? ' (stereo)' : ''}; the VAD model needs mono (1 channel)`,
        );
    let encoding: 'pcm16' | 'float32';
    if (fmt.code === WAVE_FORMAT_PCM && fmt.bits === 16) encoding = 'pcm16';
    else if (fmt.code === WAVE_FORMAT_IEEE_FLOAT && fmt.bits === 32) encoding = 'float32';
    else
        throw new InferenceInputError(
            'WAV_ENCODING',
            `the audio is ${formatName(fmt.code)} ${fmt.bits}-bit; supported encodings are PCM 16-bit and IEEE float 32-bit`,
        );
    const bytesPerSample = encoding === 'pcm16' ? 2 : 4;
    if (fmt.blockAlign !== bytesPerSample)
        throw new InferenceInputError('WAV_FORMAT', `WAV block align ${fmt.blockAlign} does not match mono ${fmt.bits}-bit samples`);
    const n = Math.floor(dataLen / bytesPerSample);
    if (n === 0) throw new InferenceInputError('AUDIO_EMPTY', 'the audio contains no samples');
    const durationSec = n / fmt.rate;
    if (durationSec > limits.maxSeconds)
        throw new InferenceInputError(
            'AUDIO_TOO_LONG',
            `the audio lasts ${durationSec.toFixed(1)} s; the limit is ${limits.maxSeconds} s`,
        );
    const samples = new Float32Array(n);
    if (encoding === 'pcm16') {
        for (let i = 0, o = dataStart; i < n; i++, o += 2) samples[i] = b.readInt16LE(o) / 32768;
    } else {
        for (let i = 0, o = dataStart; i < n; i++, o += 4) {
            const v = b.readFloatLE(o);
            if (!Number.isFinite(v))
                throw new InferenceInputError('WAV_ENCODING', `the float audio has a non-finite sample (${v}) at index ${i}`);
            samples[i] = v;
        }
    }
    return { sampleRate: fmt.rate, samples, durationSec, encoding };
}
