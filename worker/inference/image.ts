/**
 * Image input of the OCR task: PNG or JPEG, recognised by magic bytes, with size and dimension limits checked on
 * the header BEFORE any pixel is decoded (no decompression bombs), decoded to 8-bit RGB over a white background.
 */
import * as jpeg from 'jpeg-js';
import { InferenceInputError } from './errors';

interface PngStatic {
    sync: { read(buf: Buffer): { width: number; height: number; data: Buffer } };
}
// pngjs ships no type declarations.
// eslint-disable-next-line @typescript-eslint/no-var-requires
const { PNG } = require('pngjs') as { PNG: PngStatic };

export type ImageFormat = 'png' | 'jpeg';

export interface ImageLimits {
    /** Largest encoded file (default 8 MiB). */
    maxBytes: number;
    /** Largest width and height (default 4096). */
    maxSide: number;
    /** Smallest width and height (default 8). */
    minSide: number;
}

export const DEFAULT_IMAGE_LIMITS: ImageLimits = { maxBytes: 8 * 1024 * 1024, maxSide: 4096, minSide: 8 };

/** Decoded pixels: width × height × 3 bytes, RGB, row-major. */
export interface RgbImage {
    width: number;
    height: number;
    rgb: Uint8Array;
}

const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function detectImageFormat(bytes: Uint8Array): ImageFormat | undefined {
    if (bytes.length >= 8 && Buffer.from(bytes.buffer, bytes.byteOffset, 8).equals(PNG_MAGIC)) return 'png';
    if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
    return undefined;
}

/** Width and height from the PNG IHDR chunk or the JPEG SOFn segment, without decoding. */
export function readImageSize(bytes: Uint8Array, format: ImageFormat): { width: number; height: number } {
    const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (format === 'png') {
        // signature(8) length(4) "IHDR"(4) width(4) height(4)
        if (b.length < 24 || b.toString('latin1', 12, 16) !== 'IHDR')
            throw new InferenceInputError('IMAGE_DECODE', 'PNG has no IHDR header chunk');
        return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
    }
    let i = 2;
    while (i + 4 <= b.length) {
        if (b[i] !== 0xff) throw new InferenceInputError('IMAGE_DECODE', `JPEG: corrupt marker structure at byte ${i}`);
        const marker = b[i + 1];
        if (marker === 0xff) {
            i++; // fill byte
            continue;
        }
        if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
            i += 2; // no payload
            continue;
        }
        if (marker === 0xd9 || marker === 0xda) break; // end of image / start of scan before any frame header
        const len = b.readUInt16BE(i + 2);
        if (len < 2) throw new InferenceInputError('IMAGE_DECODE', `JPEG: bad segment length at byte ${i}`);
        const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
        if (isSof) {
            if (i + 9 > b.length) break;
            return { height: b.readUInt16BE(i + 5), width: b.readUInt16BE(i + 7) };
        }
        i += 2 + len;
    }
    throw new InferenceInputError('IMAGE_DECODE', 'JPEG has no frame header (SOF segment)');
}

/** Validates then decodes an image. Every failure is an InferenceInputError. */
export function decodeImage(bytes: Uint8Array, limits: ImageLimits = DEFAULT_IMAGE_LIMITS): RgbImage & { format: ImageFormat } {
    if (bytes.length === 0) throw new InferenceInputError('INPUT_EMPTY', 'the image is empty (0 bytes)');
    if (bytes.length > limits.maxBytes)
        throw new InferenceInputError(
            'INPUT_TOO_LARGE',
            `the image is ${bytes.length} bytes; the limit is ${limits.maxBytes} bytes (${(limits.maxBytes / 1048576).toFixed(0)} MiB)`,
        );
    const format = detectImageFormat(bytes);
    if (!format)
        throw new InferenceInputError(
            'IMAGE_FORMAT',
            `the input is not a PNG or JPEG image (first bytes ${Buffer.from(bytes.subarray(0, 8)).toString('hex') || 'none'})`,
        );
    const { width, height } = readImageSize(bytes, format);
    if (width < limits.minSide || height < limits.minSide)
        throw new InferenceInputError(
            'IMAGE_TOO_SMALL',
            `the image is ${width}×${height}; each side must be at least ${limits.minSide} pixels`,
        );
    if (width > limits.maxSide || height > limits.maxSide)
        throw new InferenceInputError(
            'IMAGE_TOO_LARGE',
            `the image is ${width}×${height}; each side must be at most ${limits.maxSide} pixels`,
        );
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (format === 'png') {
        let png: { width: number; height: number; data: Buffer };
        try {
            png = PNG.sync.read(buf);
        } catch (e) {
            throw new InferenceInputError('IMAGE_DECODE', `cannot decode the PNG: ${(e as Error).message}`);
        }
        // RGBA → RGB composited over white (transparent backgrounds read as paper).
        const n = png.width * png.height;
        const rgb = new Uint8Array(n * 3);
        const src = png.data;
        for (let p = 0, q = 0; p < n * 4; p += 4, q += 3) {
            const a = src[p + 3];
            if (a === 255) {
                rgb[q] = src[p];
                rgb[q + 1] = src[p + 1];
                rgb[q + 2] = src[p + 2];
            } else {
                const inv = 255 - a;
                rgb[q] = (src[p] * a + 255 * inv + 127) / 255;
                rgb[q + 1] = (src[p + 1] * a + 255 * inv + 127) / 255;
                rgb[q + 2] = (src[p + 2] * a + 255 * inv + 127) / 255;
            }
        }
        return { format, width: png.width, height: png.height, rgb };
    }
    let img: { width: number; height: number; data: Uint8Array };
    try {
        img = jpeg.decode(buf, {
            useTArray: true,
            formatAsRGBA: false,
            tolerantDecoding: true,
            maxResolutionInMP: (limits.maxSide * limits.maxSide) / 1e6 + 1,
            maxMemoryUsageInMB: 512,
        });
    } catch (e) {
        throw new InferenceInputError('IMAGE_DECODE', `cannot decode the JPEG: ${(e as Error).message}`);
    }
    if (img.width !== width || img.height !== height || img.data.length !== width * height * 3)
        throw new InferenceInputError('IMAGE_DECODE', 'cannot decode the JPEG: decoded size differs from its header');
    return { format, width, height, rgb: img.data };
}
