/**
 * Event bodies as Slices, fast. `Cell.fromBase64` computes the hash of every cell (SHA-256 in JavaScript) and the
 * BoC's CRC-32C, ~70-170 µs for a one-cell body: more than everything else the watcher does per event. Almost every
 * event body is one ordinary cell without references, so that case is read straight from the BoC bytes (the
 * serialization in TON's tvm.pdf §3.1 / crypto/tl/boc.tlb: serialized_boc#b5ee9c72); anything else (references,
 * exotic cells, several roots) goes through @ton/core. The hash is not needed: the watcher identifies events by
 * (transaction hash, out-message index).
 */
import { BitReader, BitString, Cell, Slice } from '@ton/core';

const BOC_MAGIC = 0xb5ee9c72;

/** A Slice over a BoC whose only cell is an ordinary cell without references; null when it is anything else. */
export function singleCellSlice(boc: Buffer): Slice | null {
    if (boc.length < 8 || boc.readUInt32BE(0) !== BOC_MAGIC) return null;
    const flags = boc[4];
    const hasIndex = (flags & 0x80) !== 0;
    const hasCrc = (flags & 0x40) !== 0;
    const sizeBytes = flags & 0x07;
    const offsetBytes = boc[5];
    if (sizeBytes < 1 || sizeBytes > 4 || offsetBytes < 1 || offsetBytes > 8) return null;
    let p = 6;
    const read = (n: number): number => {
        let v = 0;
        for (let i = 0; i < n; i++) v = v * 256 + boc[p++];
        return v;
    };
    if (boc.length < p + 4 * sizeBytes + offsetBytes) return null;
    const cells = read(sizeBytes);
    const roots = read(sizeBytes);
    const absent = read(sizeBytes);
    const totalSize = read(offsetBytes);
    if (cells !== 1 || roots !== 1 || absent !== 0) return null;
    if (read(sizeBytes) !== 0) return null; // root index
    if (hasIndex) p += offsetBytes;
    const start = p;
    if (start + totalSize + (hasCrc ? 4 : 0) !== boc.length || totalSize < 2) return null;
    const d1 = boc[p++];
    const d2 = boc[p++];
    if (d1 !== 0) return null; // references, exotic or a level: the general path
    const bytes = Math.ceil(d2 / 2);
    if (2 + bytes !== totalSize) return null;
    const data = boc.subarray(p, p + bytes);
    let bits = bytes * 8;
    if (d2 % 2 === 1) {
        // the last byte is padded with a 1 then 0s (completion tag)
        const last = data[bytes - 1];
        if (last === 0) return null;
        let zeros = 0;
        while (((last >> zeros) & 1) === 0) zeros++;
        bits -= zeros + 1;
    }
    return new Slice(new BitReader(new BitString(data, 0, bits)), []);
}

/** The body of an event as a Slice: the fast path when it applies, @ton/core otherwise. */
export function bodySlice(base64: string): Slice {
    const boc = Buffer.from(base64, 'base64');
    return singleCellSlice(boc) ?? Cell.fromBoc(boc)[0].beginParse();
}
