/**
 * Key normalisation and the small integer hashes the router uses for its tie-break.
 */
import { Address } from '@ton/core';

const HEX64 = /^[0-9a-f]{64}$/;

/** A 256-bit hash (model, measurement, key) as 64 lowercase hex digits: accepts a bigint or hex with/without 0x. */
export function hashKey(h: string | bigint): string {
    if (typeof h === 'bigint') {
        if (h < 0n || h >= 1n << 256n) throw new RangeError(`hash out of range: ${h}`);
        return h.toString(16).padStart(64, '0');
    }
    if (HEX64.test(h)) return h;
    let s = h.startsWith('0x') || h.startsWith('0X') ? h.slice(2) : h;
    s = s.toLowerCase();
    if (s.length === 0 || s.length > 64 || !/^[0-9a-f]+$/.test(s)) throw new RangeError(`not a 256-bit hex hash: ${h}`);
    return s.padStart(64, '0');
}

/** An address in raw form (`0:<hex>`), the directory's owner key. Accepts an Address or any string form. */
export function ownerKey(a: Address | string): string {
    if (typeof a !== 'string') return a.toRawString();
    try {
        return Address.parse(a).toRawString();
    } catch {
        return a; // not an address (tests, synthetic directories): used as is
    }
}

/** FNV-1a over the string's UTF-16 code units, 32-bit. */
export function hash32(s: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < s.length; i++) {
        h ^= s.charCodeAt(i);
        h = Math.imul(h, 0x01000193);
    }
    return h >>> 0;
}

/** murmur3's 32-bit finaliser of (a, b): a well-mixed uint32, used as the per-(job, provider) tie-break key. */
export function mix32(a: number, b: number): number {
    let h = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
}

/** Rounded-up stake lock of a claim, exactly as ProviderStake computes it: (price * ratio + 9999) / 10000. */
export function lockFor(price: bigint, lockRatioBps: number): bigint {
    return (price * BigInt(lockRatioBps) + 9999n) / 10000n;
}
