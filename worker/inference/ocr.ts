/**
 * The `ocr` task: PaddleOCR v4 (detection + recognition) on onnxruntime.
 *
 *   image bytes → decode (PNG/JPEG, validated) → resize to multiples of 32 (longest side ≤ 960) → normalise (BGR,
 *   ImageNet mean/std) → det model → probability map → threshold 0.3 → connected components → minimum-area
 *   rectangles → score filter (mean probability inside the box ≥ 0.6) → unclip (offset = area·2.0/perimeter) →
 *   map back to the original image → crop each box (rotated rectangles are sampled directly, with supersampling
 *   when shrinking) to height 48 → normalise to [-1, 1] → rec model in batches (sorted by aspect ratio, padded
 *   to the widest crop, at least 320 px) → CTC greedy decoding (0 = blank, dictionary, then ' ') → lines with
 *   confidence ≥ 0.5, in reading order (rows top to bottom, left to right inside a row).
 */
import * as ort from './ort';
import { CatalogEntry } from './catalog';
import { InferenceError } from './errors';
import { decodeImage, DEFAULT_IMAGE_LIMITS, ImageLimits, RgbImage } from './image';
import { SessionPool } from './sessions';

export type Point = [number, number];
export type Quad = [Point, Point, Point, Point];

export interface OcrLine {
    text: string;
    /** Mean probability of the decoded characters, 0..1. */
    confidence: number;
    /** Corners in original image pixels: top-left, top-right, bottom-right, bottom-left. */
    box: Quad;
}

export interface OcrResult {
    /** Lines joined in reading order: a space between boxes of one row, a newline between rows. */
    text: string;
    lines: OcrLine[];
}

export interface OcrOptions {
    limits: ImageLimits;
    /** Longest side given to the detector (default 960). */
    detLimitSide: number;
    /** Binarisation threshold of the probability map (default 0.3). */
    detThreshold: number;
    /** Minimum mean probability inside a box (default 0.6). */
    boxThreshold: number;
    /**
     * Unclip ratio: boxes grow by area·ratio/perimeter on each side (default 2.0; PaddleOCR's 1.5 cut the first
     * and last glyphs of lines rendered in DejaVu Sans and lost spaces: measured 0.93 vs 0.98 character accuracy).
     */
    unclipRatio: number;
    /** Most boxes per image (default 1000). */
    maxBoxes: number;
    /** Recognition crops per model run (default: the catalog entry's maxBatch, else 6). */
    recBatch?: number;
    /** Widest recognition input (default 1600 px = aspect ratio 33; wider lines are squeezed). */
    recMaxWidth: number;
    /** Lines whose confidence is below are dropped (default 0.5). */
    dropScore: number;
}

export const DEFAULT_OCR_OPTIONS: OcrOptions = {
    limits: DEFAULT_IMAGE_LIMITS,
    detLimitSide: 960,
    detThreshold: 0.3,
    boxThreshold: 0.6,
    unclipRatio: 2.0,
    maxBoxes: 1000,
    recMaxWidth: 1600,
    dropScore: 0.5,
};

const REC_HEIGHT = 48;
const REC_MIN_WIDTH = 320;

/** Per-channel affine normalisation, channels in BGR order (as PaddleOCR's models were trained with OpenCV). */
interface Norm {
    mul: [number, number, number];
    add: [number, number, number];
}
// det: (x/255 - mean)/std with mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225) applied to B, G, R.
const DET_NORM: Norm = {
    mul: [1 / (255 * 0.229), 1 / (255 * 0.224), 1 / (255 * 0.225)],
    add: [-0.485 / 0.229, -0.456 / 0.224, -0.406 / 0.225],
};
// rec: (x/255 - 0.5)/0.5
const REC_NORM: Norm = { mul: [2 / 255, 2 / 255, 2 / 255], add: [-1, -1, -1] };

/**
 * Samples the parallelogram origin + s·ex + t·ey (s, t ∈ [0, 1], in pixel-edge coordinates of `img`) into a
 * dstW × dstH planar float tensor region (3 planes, BGR), with bilinear reads and up to 4×4 supersampling when
 * the source is larger than the destination.
 */
function sampleInto(
    img: RgbImage,
    ox: number,
    oy: number,
    exx: number,
    exy: number,
    eyx: number,
    eyy: number,
    dstW: number,
    dstH: number,
    out: Float32Array,
    offset: number,
    rowStride: number,
    planeStride: number,
    norm: Norm,
): void {
    const { width: W, height: H, rgb } = img;
    const sx = Math.min(4, Math.max(1, Math.ceil(Math.hypot(exx, exy) / dstW - 1e-6)));
    const sy = Math.min(4, Math.max(1, Math.ceil(Math.hypot(eyx, eyy) / dstH - 1e-6)));
    const inv = 1 / (sx * sy);
    const [mB, mG, mR] = norm.mul;
    const [aB, aG, aR] = norm.add;
    const maxX = W - 1;
    const maxY = H - 1;
    for (let v = 0; v < dstH; v++) {
        for (let u = 0; u < dstW; u++) {
            let r = 0;
            let g = 0;
            let b = 0;
            for (let j = 0; j < sy; j++) {
                const t = (v + (j + 0.5) / sy) / dstH;
                for (let i = 0; i < sx; i++) {
                    const s = (u + (i + 0.5) / sx) / dstW;
                    // pixel-edge → pixel-centre coordinates
                    let x = ox + s * exx + t * eyx - 0.5;
                    let y = oy + s * exy + t * eyy - 0.5;
                    if (x < 0) x = 0;
                    else if (x > maxX) x = maxX;
                    if (y < 0) y = 0;
                    else if (y > maxY) y = maxY;
                    const x0 = x | 0;
                    const y0 = y | 0;
                    const fx = x - x0;
                    const fy = y - y0;
                    const x1 = x0 < maxX ? x0 + 1 : x0;
                    const y1 = y0 < maxY ? y0 + 1 : y0;
                    const p00 = (y0 * W + x0) * 3;
                    const p01 = (y0 * W + x1) * 3;
                    const p10 = (y1 * W + x0) * 3;
                    const p11 = (y1 * W + x1) * 3;
                    const w00 = (1 - fx) * (1 - fy);
                    const w01 = fx * (1 - fy);
                    const w10 = (1 - fx) * fy;
                    const w11 = fx * fy;
                    r += rgb[p00] * w00 + rgb[p01] * w01 + rgb[p10] * w10 + rgb[p11] * w11;
                    g += rgb[p00 + 1] * w00 + rgb[p01 + 1] * w01 + rgb[p10 + 1] * w10 + rgb[p11 + 1] * w11;
                    b += rgb[p00 + 2] * w00 + rgb[p01 + 2] * w01 + rgb[p10 + 2] * w10 + rgb[p11 + 2] * w11;
                }
            }
            const o = offset + v * rowStride + u;
            out[o] = b * inv * mB + aB;
            out[o + planeStride] = g * inv * mG + aG;
            out[o + 2 * planeStride] = r * inv * mR + aR;
        }
    }
}

interface RotRect {
    cx: number;
    cy: number;
    /** Unit vector of the long-ish ("reading") axis, pointing right. */
    ux: number;
    uy: number;
    /** Half extents along u and along v = (-uy, ux) (pointing down). */
    a: number;
    b: number;
}

function cross(ox: number, oy: number, ax: number, ay: number, bx: number, by: number): number {
    return (ax - ox) * (by - oy) - (ay - oy) * (bx - ox);
}

/** Convex hull (monotone chain) of points given as flat [x0, y0, x1, y1, ...], sorted by x then y. */
function convexHull(pts: number[]): number[] {
    const n = pts.length / 2;
    const idx = Array.from({ length: n }, (_, i) => i).sort((i, j) => pts[2 * i] - pts[2 * j] || pts[2 * i + 1] - pts[2 * j + 1]);
    if (n < 3) return idx.flatMap((i) => [pts[2 * i], pts[2 * i + 1]]);
    const hull: number[] = [];
    const build = (order: number[]): void => {
        const start = hull.length;
        for (const i of order) {
            const x = pts[2 * i];
            const y = pts[2 * i + 1];
            while (hull.length - start >= 4) {
                const l = hull.length;
                if (cross(hull[l - 4], hull[l - 3], hull[l - 2], hull[l - 1], x, y) <= 0) hull.length -= 2;
                else break;
            }
            hull.push(x, y);
        }
        hull.length -= 2; // last point repeats the first of the other chain
    };
    build(idx);
    build(idx.slice().reverse());
    return hull;
}

/** Minimum-area enclosing rectangle of a convex polygon (rotating edges), covering whole pixels. */
function minAreaRect(hull: number[]): RotRect {
    const m = hull.length / 2;
    let best: RotRect | undefined;
    let bestArea = Infinity;
    const edges = m >= 2 ? m : 1;
    for (let e = 0; e < edges; e++) {
        let ux = 1;
        let uy = 0;
        if (m >= 2) {
            const dx = hull[2 * ((e + 1) % m)] - hull[2 * e];
            const dy = hull[2 * ((e + 1) % m) + 1] - hull[2 * e + 1];
            const len = Math.hypot(dx, dy);
            if (len === 0) continue;
            ux = dx / len;
            uy = dy / len;
        }
        let minU = Infinity;
        let maxU = -Infinity;
        let minV = Infinity;
        let maxV = -Infinity;
        for (let k = 0; k < m; k++) {
            const x = hull[2 * k];
            const y = hull[2 * k + 1];
            const pu = x * ux + y * uy;
            const pv = -x * uy + y * ux;
            if (pu < minU) minU = pu;
            if (pu > maxU) maxU = pu;
            if (pv < minV) minV = pv;
            if (pv > maxV) maxV = pv;
        }
        const area = (maxU - minU + 1) * (maxV - minV + 1);
        if (area < bestArea - 1e-9) {
            bestArea = area;
            const cu = (minU + maxU) / 2;
            const cv = (minV + maxV) / 2;
            best = {
                cx: cu * ux - cv * uy,
                cy: cu * uy + cv * ux,
                ux,
                uy,
                // +0.5: hull points are pixel centres; the rectangle covers the pixels' squares
                a: (maxU - minU) / 2 + 0.5,
                b: (maxV - minV) / 2 + 0.5,
            };
        }
    }
    const r = best!;
    // Make u the axis closer to horizontal, pointing right; v = (-uy, ux) then points down.
    if (Math.abs(r.ux) < Math.abs(r.uy)) {
        const [ux, uy] = [-r.uy, r.ux];
        [r.a, r.b] = [r.b, r.a];
        r.ux = ux;
        r.uy = uy;
    }
    if (r.ux < 0) {
        r.ux = -r.ux;
        r.uy = -r.uy;
    }
    return r;
}

function rectCorners(r: RotRect): Quad {
    const vx = -r.uy;
    const vy = r.ux;
    const au = [r.a * r.ux, r.a * r.uy];
    const bv = [r.b * vx, r.b * vy];
    return [
        [r.cx - au[0] - bv[0], r.cy - au[1] - bv[1]],
        [r.cx + au[0] - bv[0], r.cy + au[1] - bv[1]],
        [r.cx + au[0] + bv[0], r.cy + au[1] + bv[1]],
        [r.cx - au[0] + bv[0], r.cy - au[1] + bv[1]],
    ];
}

/** Mean of the probability map inside a rotated rectangle (pixel centres tested). */
function meanInside(prob: Float32Array, W: number, H: number, r: RotRect): number {
    const corners = rectCorners(r);
    const xs = corners.map((p) => p[0]);
    const ys = corners.map((p) => p[1]);
    const x0 = Math.max(0, Math.floor(Math.min(...xs)));
    const x1 = Math.min(W - 1, Math.ceil(Math.max(...xs)));
    const y0 = Math.max(0, Math.floor(Math.min(...ys)));
    const y1 = Math.min(H - 1, Math.ceil(Math.max(...ys)));
    let sum = 0;
    let n = 0;
    for (let y = y0; y <= y1; y++) {
        for (let x = x0; x <= x1; x++) {
            const dx = x + 0.5 - r.cx;
            const dy = y + 0.5 - r.cy;
            if (Math.abs(dx * r.ux + dy * r.uy) <= r.a && Math.abs(-dx * r.uy + dy * r.ux) <= r.b) {
                sum += prob[y * W + x];
                n++;
            }
        }
    }
    return n ? sum / n : 0;
}

/** DB post-processing: probability map (W × H) → boxes in map pixel coordinates (pixel-edge convention). */
export function boxesFromProbabilityMap(
    prob: Float32Array,
    W: number,
    H: number,
    opts: Pick<OcrOptions, 'detThreshold' | 'boxThreshold' | 'unclipRatio' | 'maxBoxes'>,
): { rect: RotRect; score: number }[] {
    const n = W * H;
    // label: 0 = background not visited, -1 = foreground not visited, >0 = component id
    const label = new Int32Array(n);
    for (let i = 0; i < n; i++) if (prob[i] > opts.detThreshold) label[i] = -1;
    const stack = new Int32Array(n);
    const out: { rect: RotRect; score: number }[] = [];
    let id = 0;
    for (let start = 0; start < n && out.length < opts.maxBoxes; start++) {
        if (label[start] !== -1) continue;
        id++;
        // Flood fill (8-connectivity), tracking the leftmost/rightmost pixel of each row: they hold every hull vertex.
        let sp = 0;
        stack[sp++] = start;
        label[start] = id;
        let count = 0;
        const rowMin = new Map<number, number>();
        const rowMax = new Map<number, number>();
        while (sp > 0) {
            const p = stack[--sp];
            count++;
            const y = (p / W) | 0;
            const x = p - y * W;
            const lo = rowMin.get(y);
            if (lo === undefined || x < lo) rowMin.set(y, x);
            const hi = rowMax.get(y);
            if (hi === undefined || x > hi) rowMax.set(y, x);
            for (let dy = -1; dy <= 1; dy++) {
                const yy = y + dy;
                if (yy < 0 || yy >= H) continue;
                for (let dx = -1; dx <= 1; dx++) {
                    const xx = x + dx;
                    if (xx < 0 || xx >= W) continue;
                    const q = yy * W + xx;
                    if (label[q] === -1) {
                        label[q] = id;
                        stack[sp++] = q;
                    }
                }
            }
        }
        if (count < 4) continue;
        const pts: number[] = [];
        for (const [y, lo] of rowMin) {
            pts.push(lo + 0.5, y + 0.5);
            const hi = rowMax.get(y)!;
            if (hi !== lo) pts.push(hi + 0.5, y + 0.5);
        }
        const rect = minAreaRect(convexHull(pts));
        if (Math.min(rect.a, rect.b) * 2 < 3) continue; // PaddleOCR min_size
        const score = meanInside(prob, W, H, rect);
        if (score < opts.boxThreshold) continue;
        // Unclip: the detector predicts shrunk text kernels; grow by area·ratio/perimeter on every side.
        const area = 4 * rect.a * rect.b;
        const perimeter = 4 * (rect.a + rect.b);
        const d = (area * opts.unclipRatio) / perimeter;
        rect.a += d;
        rect.b += d;
        if (Math.min(rect.a, rect.b) * 2 < 5) continue;
        out.push({ rect, score });
    }
    return out;
}

/**
 * Orders boxes into reading order: rows top to bottom, left to right inside a row. Rows are found by vertical
 * overlap in a frame rotated by the median text angle, so uniformly skewed pages still read line by line.
 */
export function readingOrder<T extends { box: Quad }>(items: T[]): T[][] {
    const angles = items
        .map((it) => Math.atan2(it.box[1][1] - it.box[0][1], it.box[1][0] - it.box[0][0]))
        .sort((a, b) => a - b);
    const angle = angles.length ? angles[angles.length >> 1] : 0;
    const c = Math.cos(-angle);
    const s = Math.sin(-angle);
    const info = items.map((it) => {
        const xs = it.box.map((p) => p[0] * c - p[1] * s);
        const ys = it.box.map((p) => p[0] * s + p[1] * c);
        const top = Math.min(...ys);
        const bottom = Math.max(...ys);
        return { it, top, bottom, cy: (top + bottom) / 2, h: bottom - top, left: Math.min(...xs) };
    });
    info.sort((p, q) => p.cy - q.cy || p.left - q.left);
    const rows: { top: number; bottom: number; members: typeof info }[] = [];
    for (const b of info) {
        const row = rows[rows.length - 1];
        if (row) {
            const rowCy = (row.top + row.bottom) / 2;
            if (Math.abs(b.cy - rowCy) < 0.5 * Math.min(b.h, row.bottom - row.top)) {
                row.members.push(b);
                row.top = Math.min(row.top, b.top);
                row.bottom = Math.max(row.bottom, b.bottom);
                continue;
            }
        }
        rows.push({ top: b.top, bottom: b.bottom, members: [b] });
    }
    return rows.map((row) => row.members.sort((p, q) => p.left - q.left).map((r) => r.it));
}

/** Splits a PaddleOCR dictionary file into the CTC character table: [blank, ...lines, ' ']. */
export function ctcCharacters(dictionaryText: string): string[] {
    const lines = dictionaryText.split('\n').map((l) => l.replace(/\r$/, ''));
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    return ['', ...lines, ' '];
}

/** Greedy CTC decoding of one sequence: argmax per step, merge repeats, drop blanks (index 0). */
export function ctcGreedyDecode(
    probs: Float32Array,
    offset: number,
    steps: number,
    classes: number,
    chars: readonly string[],
): { text: string; confidence: number } {
    let text = '';
    let confSum = 0;
    let kept = 0;
    let prev = -1;
    for (let t = 0; t < steps; t++) {
        const base = offset + t * classes;
        let best = 0;
        let bestP = probs[base];
        for (let c = 1; c < classes; c++) {
            const p = probs[base + c];
            if (p > bestP) {
                bestP = p;
                best = c;
            }
        }
        if (best !== 0 && best !== prev) {
            text += chars[best] ?? '';
            confSum += bestP;
            kept++;
        }
        prev = best;
    }
    return { text, confidence: kept ? confSum / kept : 0 };
}

function round2(x: number): number {
    return Math.round(x * 100) / 100;
}

export class OcrPipeline {
    readonly options: OcrOptions;

    constructor(
        private readonly pool: SessionPool,
        private readonly det: CatalogEntry,
        private readonly rec: CatalogEntry,
        private readonly chars: readonly string[],
        options: Partial<OcrOptions> = {},
    ) {
        this.options = { ...DEFAULT_OCR_OPTIONS, ...options };
    }

    async run(bytes: Uint8Array): Promise<OcrResult> {
        const img = decodeImage(bytes, this.options.limits);
        const boxes = await this.detect(img);
        const lines = await this.recognize(img, boxes);
        const rows = readingOrder(lines);
        const ordered = rows.flat();
        return {
            text: rows.map((r) => r.map((l) => l.text).join(' ')).join('\n'),
            lines: ordered.map((l) => ({
                text: l.text,
                confidence: Math.round(l.confidence * 10000) / 10000,
                box: l.box.map((p) => [round2(p[0]), round2(p[1])]) as Quad,
            })),
        };
    }

    /** Text boxes in original image coordinates. */
    async detect(img: RgbImage): Promise<Quad[]> {
        const { width: W, height: H } = img;
        const o = this.options;
        const scale = Math.max(W, H) > o.detLimitSide ? o.detLimitSide / Math.max(W, H) : 1;
        const rh = Math.max(32, Math.round((H * scale) / 32) * 32);
        const rw = Math.max(32, Math.round((W * scale) / 32) * 32);
        const input = new Float32Array(3 * rh * rw);
        sampleInto(img, 0, 0, W, 0, 0, H, rw, rh, input, 0, rw, rh * rw, DET_NORM);
        const detInput = (await this.pool.session(this.det)).inputNames[0];
        const res = await this.pool.run(this.det, { [detInput]: new ort.Tensor('float32', input, [1, 3, rh, rw]) });
        const out = Object.values(res)[0];
        const dims = out.dims;
        if (dims.length !== 4 || dims[2] !== rh || dims[3] !== rw)
            throw new InferenceError('MODEL_RUN_FAILED', `ocr-det "${this.det.name}": unexpected output shape [${dims.join(',')}]`);
        const found = boxesFromProbabilityMap(out.data as Float32Array, rw, rh, o);
        out.dispose();
        const sx = W / rw;
        const sy = H / rh;
        const quads: Quad[] = [];
        for (const { rect } of found) {
            const q = rectCorners(rect).map(([x, y]) => [
                Math.min(W, Math.max(0, x * sx)),
                Math.min(H, Math.max(0, y * sy)),
            ]) as Quad;
            const w = Math.hypot(q[1][0] - q[0][0], q[1][1] - q[0][1]);
            const h = Math.hypot(q[3][0] - q[0][0], q[3][1] - q[0][1]);
            if (w <= 3 || h <= 3) continue;
            quads.push(q);
        }
        return quads;
    }

    async recognize(img: RgbImage, quads: Quad[]): Promise<OcrLine[]> {
        if (quads.length === 0) return [];
        const o = this.options;
        // Sampling geometry of each crop; tall boxes (h/w ≥ 1.5) are read rotated 90° counter-clockwise.
        const crops = quads.map((q) => {
            const [tl, tr, br, bl] = q;
            let ox = tl[0];
            let oy = tl[1];
            let exx = (tr[0] - tl[0] + br[0] - bl[0]) / 2;
            let exy = (tr[1] - tl[1] + br[1] - bl[1]) / 2;
            let eyx = (bl[0] - tl[0] + br[0] - tr[0]) / 2;
            let eyy = (bl[1] - tl[1] + br[1] - tr[1]) / 2;
            let w = Math.hypot(exx, exy);
            let h = Math.hypot(eyx, eyy);
            if (h / w >= 1.5) {
                [ox, oy] = tr;
                [exx, exy, eyx, eyy] = [eyx, eyy, -exx, -exy];
                [w, h] = [h, w];
            }
            const width = Math.min(o.recMaxWidth, Math.max(1, Math.ceil((REC_HEIGHT * w) / h)));
            return { q, ox, oy, exx, exy, eyx, eyy, width, ratio: w / h };
        });
        const order = crops.map((_, i) => i).sort((i, j) => crops[i].ratio - crops[j].ratio);
        const batch = Math.max(1, o.recBatch ?? this.rec.maxBatch ?? 6);
        const results: ({ text: string; confidence: number } | undefined)[] = new Array(crops.length);
        const recInput = (await this.pool.session(this.rec)).inputNames[0];
        for (let s = 0; s < order.length; s += batch) {
            const ids = order.slice(s, s + batch);
            const bw = Math.min(o.recMaxWidth, Math.max(REC_MIN_WIDTH, ...ids.map((i) => crops[i].width)));
            const plane = REC_HEIGHT * bw;
            const input = new Float32Array(ids.length * 3 * plane); // zero = padding (mid-grey after normalisation)
            ids.forEach((id, k) => {
                const c = crops[id];
                sampleInto(img, c.ox, c.oy, c.exx, c.exy, c.eyx, c.eyy, Math.min(c.width, bw), REC_HEIGHT, input, k * 3 * plane, bw, plane, REC_NORM);
            });
            const res = await this.pool.run(this.rec, { [recInput]: new ort.Tensor('float32', input, [ids.length, 3, REC_HEIGHT, bw]) });
            const out = Object.values(res)[0];
            const [n, steps, classes] = out.dims;
            if (out.dims.length !== 3 || n !== ids.length || classes !== this.chars.length)
                throw new InferenceError(
                    'MODEL_RUN_FAILED',
                    `ocr-rec "${this.rec.name}": output shape [${out.dims.join(',')}] does not match ${ids.length} crops × ${this.chars.length} classes (blank + dictionary + space)`,
                );
            const data = out.data as Float32Array;
            ids.forEach((id, k) => {
                results[id] = ctcGreedyDecode(data, k * steps * classes, steps, classes, this.chars);
            });
            out.dispose();
        }
        const lines: OcrLine[] = [];
        crops.forEach((c, i) => {
            const r = results[i]!;
            const text = r.text.trim();
            if (text.length === 0 || r.confidence < o.dropScore) return;
            lines.push({ text, confidence: r.confidence, box: c.q });
        });
        return lines;
    }
}

