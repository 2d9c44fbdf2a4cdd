/**
 * Test media made on the spot with system tools (Debian packages: imagemagick, fonts-dejavu-core, espeak-ng, sox):
 * text images for OCR, speech / silence / noise WAVs for VAD, and the string metrics used to score OCR.
 */
import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';

export const DEJAVU_SANS = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

function tool(cmd: string, args: string[], input?: Buffer): Buffer {
    return execFileSync(cmd, args, { input, maxBuffer: 256 * 1024 * 1024, stdio: ['pipe', 'pipe', 'pipe'] });
}

function withTempDir<T>(fn: (dir: string) => T): T {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cocoon-media-'));
    try {
        return fn(dir);
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

/** Throws a helpful error when the real ImageMagick (not a stand-in `convert`) is missing. */
export function requireImageMagick(): void {
    let version = '';
    try {
        version = tool('convert', ['-version']).toString();
    } catch {
        /* handled below */
    }
    if (!/ImageMagick/.test(version))
        throw new Error('ImageMagick is required for OCR tests: apt-get install -y imagemagick fonts-dejavu-core');
}

export interface TextImageOptions {
    format?: 'png' | 'jpeg';
    pointSize?: number;
    /** White border around the text in pixels (default 24). */
    border?: number;
    font?: string;
    /** JPEG quality (default 90). */
    quality?: number;
    /** Rotation in degrees applied after rendering (white background fill). */
    rotate?: number;
    /** Extra ImageMagick options inserted before the output (e.g. ['-resize', '50%']). */
    extra?: string[];
}

/** Renders black text (lines separated by '\n') on white with ImageMagick; returns the encoded file. */
export function renderTextImage(text: string, opts: TextImageOptions = {}): Buffer {
    const format = opts.format ?? 'png';
    // One `label:` image per line, stacked left-aligned with -append (label: itself trips over long multi-line
    // text). A leading '@' would make label: read a file, and backslashes are ImageMagick escapes: escape both.
    const labels = text
        .split('\n')
        .map((line) => `label:${line.replace(/\\/g, '\\\\').replace(/^@/, '\\@') || ' '}`);
    const args = [
        '-background', 'white',
        '-fill', 'black',
        '-font', opts.font ?? DEJAVU_SANS,
        '-pointsize', String(opts.pointSize ?? 40),
        ...labels,
        '-gravity', 'West',
        '-append',
        '+gravity',
        '-bordercolor', 'white',
        '-border', String(opts.border ?? 24),
    ];
    if (opts.rotate) args.push('-rotate', String(opts.rotate));
    if (opts.extra) args.push(...opts.extra);
    if (format === 'jpeg') args.push('-quality', String(opts.quality ?? 90));
    else args.push('-type', 'TrueColor'); // plain 8-bit RGB PNG
    args.push(`${format}:-`);
    return tool('convert', args);
}

/** A solid image of the given size (e.g. to probe size limits). */
export function solidImage(width: number, height: number, format: 'png' | 'jpeg' = 'png', color = 'white'): Buffer {
    return tool('convert', ['-size', `${width}x${height}`, `xc:${color}`, `${format}:-`]);
}

export interface WavOptions {
    rate?: number;
    channels?: number;
    /** 'pcm16' (default) or 'float32'. */
    encoding?: 'pcm16' | 'float32';
}

function soxFormatArgs(o: WavOptions): string[] {
    const enc = o.encoding ?? 'pcm16';
    return [
        '-r', String(o.rate ?? 16000),
        '-c', String(o.channels ?? 1),
        ...(enc === 'float32' ? ['-e', 'floating-point', '-b', '32'] : ['-e', 'signed-integer', '-b', '16']),
    ];
}

/** Converts any WAV sox can read to the requested rate/channels/encoding. */
export function convertWav(wav: Buffer, o: WavOptions = {}): Buffer {
    return withTempDir((dir) => {
        const src = path.join(dir, 'in.wav');
        const dst = path.join(dir, 'out.wav');
        writeFileSync(src, wav);
        tool('sox', [src, ...soxFormatArgs(o), dst]);
        return readFileSync(dst);
    });
}

export interface SpeechWav {
    wav: Buffer;
    durationSec: number;
    /** Where the speech actually is (first/last sample above 2 % of full scale), in seconds. */
    speechStart: number;
    speechEnd: number;
}

/**
 * Speech from espeak-ng, converted by sox, with `leadSec`/`trailSec` seconds of digital silence around it.
 */
export function makeSpeechWav(text: string, o: WavOptions & { leadSec?: number; trailSec?: number } = {}): SpeechWav {
    return withTempDir((dir) => {
        const raw = path.join(dir, 'espeak.wav');
        const out = path.join(dir, 'speech.wav');
        tool('espeak-ng', ['-w', raw, text]);
        tool('sox', [raw, ...soxFormatArgs(o), out, 'pad', String(o.leadSec ?? 1), String(o.trailSec ?? 1)]);
        const wav = readFileSync(out);
        // Measure the speech extent on a mono 16-bit copy.
        const mono = path.join(dir, 'mono.raw');
        tool('sox', [out, '-t', 'raw', '-e', 'signed-integer', '-b', '16', '-c', '1', '-r', '16000', mono]);
        const pcm = readFileSync(mono);
        const n = pcm.length / 2;
        let first = -1;
        let last = -1;
        for (let i = 0; i < n; i++) {
            if (Math.abs(pcm.readInt16LE(i * 2)) > 655) {
                if (first < 0) first = i;
                last = i;
            }
        }
        return { wav, durationSec: n / 16000, speechStart: first / 16000, speechEnd: last / 16000 };
    });
}

/** Digital silence. */
export function makeSilenceWav(seconds: number, o: WavOptions = {}): Buffer {
    return withTempDir((dir) => {
        const out = path.join(dir, 'silence.wav');
        tool('sox', ['-n', ...soxFormatArgs(o), out, 'trim', '0', String(seconds)]);
        return readFileSync(out);
    });
}

/** White noise at a given amplitude (fraction of full scale, e.g. 0.01 ≈ -40 dBFS). */
export function makeNoiseWav(seconds: number, amplitude: number, o: WavOptions = {}): Buffer {
    return withTempDir((dir) => {
        const out = path.join(dir, 'noise.wav');
        tool('sox', ['-n', ...soxFormatArgs(o), out, 'synth', String(seconds), 'whitenoise', 'vol', String(amplitude)]);
        return readFileSync(out);
    });
}

/** A sine tone (e.g. to build non-speech inputs). */
export function makeToneWav(seconds: number, hz: number, amplitude: number, o: WavOptions = {}): Buffer {
    return withTempDir((dir) => {
        const out = path.join(dir, 'tone.wav');
        tool('sox', ['-n', ...soxFormatArgs(o), out, 'synth', String(seconds), 'sine', String(hz), 'vol', String(amplitude)]);
        return readFileSync(out);
    });
}

/** Edit distance (insertions, deletions, substitutions), by Unicode code points. */
export function levenshtein(a: string, b: string): number {
    const x = [...a];
    const y = [...b];
    let prev = Array.from({ length: y.length + 1 }, (_, j) => j);
    for (let i = 1; i <= x.length; i++) {
        const cur = [i];
        for (let j = 1; j <= y.length; j++) {
            cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x[i - 1] === y[j - 1] ? 0 : 1));
        }
        prev = cur;
    }
    return prev[y.length];
}

/** 1 − Levenshtein / length of the expected text (can go negative for garbage). */
export function charAccuracy(expected: string, actual: string): number {
    return 1 - levenshtein(expected, actual) / Math.max(1, [...expected].length);
}
