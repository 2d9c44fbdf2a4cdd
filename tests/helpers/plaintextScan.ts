/**
 * Scans every key of a Redis database for a plaintext marker: in raw bytes, hex, base64 (at the three byte
 * alignments base64 can take) and JSON-escaped form. Used after end-to-end runs whose inputs carry the marker, to
 * show that nothing of a job's plaintext reached Redis (queues, blobs, heartbeats, cursors, logs of BullMQ).
 */
import type Redis from 'ioredis';

export interface ScanHit {
    key: string;
    form: string;
}

/** The forms a marker can take when some layer re-encodes the bytes around it. */
export function markerForms(marker: Buffer): { form: string; bytes: Buffer }[] {
    const forms = [
        { form: 'raw', bytes: marker },
        { form: 'hex', bytes: Buffer.from(marker.toString('hex'), 'latin1') },
        { form: 'HEX', bytes: Buffer.from(marker.toString('hex').toUpperCase(), 'latin1') },
    ];
    // base64 of the marker embedded at offset 0, 1 or 2 (mod 3) of a longer buffer: drop the edge characters that
    // depend on the neighbouring bytes.
    for (let shift = 0; shift < 3; shift++) {
        const b64 = Buffer.concat([Buffer.alloc(shift), marker]).toString('base64');
        const stable = b64.slice(Math.ceil((shift * 4) / 3) + 1, b64.length - 4);
        if (stable.length >= 8) forms.push({ form: `base64+${shift}`, bytes: Buffer.from(stable, 'latin1') });
    }
    return forms;
}

/** Every value of every key, as buffers (strings, hashes fields+values, lists, sets, zsets, streams). */
async function valuesOf(redis: Redis, key: string): Promise<Buffer[]> {
    const type = await redis.type(key);
    switch (type) {
        case 'string':
            return [(await redis.getBuffer(key)) ?? Buffer.alloc(0)];
        case 'hash':
            return Object.entries(await redis.hgetallBuffer(key)).flatMap(([k, v]) => [Buffer.from(k), v]);
        case 'list':
            return redis.lrangeBuffer(key, 0, -1);
        case 'set':
            return redis.smembersBuffer(key);
        case 'zset':
            return redis.zrangeBuffer(key, 0, -1);
        case 'stream': {
            const entries = (await redis.xrangeBuffer(key, '-', '+')) as unknown as [Buffer, Buffer[]][];
            return entries.flatMap(([, fields]) => fields);
        }
        default:
            return [];
    }
}

/** Keys (with the form found) whose name or content holds the marker in any form. Also returns how much was scanned. */
export async function scanForMarker(redis: Redis, marker: Buffer): Promise<{ hits: ScanHit[]; keys: number; bytes: number }> {
    const forms = markerForms(marker);
    const hits: ScanHit[] = [];
    let keys = 0;
    let bytes = 0;
    let cursor = '0';
    do {
        const [next, batch] = await redis.scan(cursor, 'COUNT', 500);
        cursor = next;
        for (const key of batch) {
            keys++;
            const values = [Buffer.from(key), ...(await valuesOf(redis, key))];
            for (const v of values) {
                bytes += v.length;
                for (const f of forms) if (v.includes(f.bytes)) hits.push({ key, form: f.form });
            }
        }
    } while (cursor !== '0');
    return { hits, keys, bytes };
}

/** A PNG with a tEXt chunk holding `text` inserted after IHDR: decoders ignore it, so OCR reads the same pixels. */
export function pngWithTextChunk(png: Buffer, keyword: string, text: string): Buffer {
    const sig = png.subarray(0, 8);
    const ihdrLen = png.readUInt32BE(8);
    const ihdrEnd = 8 + 12 + ihdrLen;
    const data = Buffer.concat([Buffer.from(keyword, 'latin1'), Buffer.from([0]), Buffer.from(text, 'latin1')]);
    const type = Buffer.from('tEXt', 'latin1');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([type, data])));
    return Buffer.concat([sig, png.subarray(8, ihdrEnd), len, type, data, crc, png.subarray(ihdrEnd)]);
}

function crc32(buf: Buffer): number {
    let c = ~0 >>> 0;
    for (const b of buf) {
        c ^= b;
        for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    }
    return ~c >>> 0;
}
