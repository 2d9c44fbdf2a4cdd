/**
 * protocol/chain/nativeSha256: @ton/core's cell hashing on Node's SHA-256 gives exactly the digests of the
 * JavaScript implementation it replaces, and the cell hashes the network knows.
 */
import { createHash } from 'crypto';
import { beginCell, Cell } from '@ton/core';
import { WalletContractV4 } from '@ton/ton';
import { nativeCellHashing } from '../../protocol/chain';
import { jsSha256Sync, nativeSha256Sync } from '../../protocol/chain/nativeSha256';

/** Deterministic bytes (a SHA-256 counter stream) so a failure names a reproducible input. */
function seededBytes(seed: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0, block = 0; i < length; i += 32, block++) {
        createHash('sha256').update(`seed ${seed} block ${block}`).digest().copy(out, i);
    }
    return out;
}

test('loading protocol/chain puts @ton/core cell hashing on Node\'s SHA-256', () => {
    expect(nativeCellHashing()).toBe(true);
    expect(require('@ton/crypto').sha256_sync).toBe(nativeSha256Sync);
    expect(jsSha256Sync).not.toBe(nativeSha256Sync);
});

test('the same digest as the JavaScript implementation for 0–300 bytes, cell-sized inputs, 1 MiB and strings', () => {
    const lengths = [...Array.from({ length: 301 }, (_, i) => i), 1023, 1024, 4096, 1 << 20];
    for (const [i, n] of lengths.entries()) {
        const data = seededBytes(i, n);
        expect({ n, digest: nativeSha256Sync(data).toString('hex') }).toEqual({ n, digest: jsSha256Sync(data).toString('hex') });
    }
    for (const s of ['', 'abc', 'Cocoon ✓ на TON', '\u0000\uffff']) {
        expect(nativeSha256Sync(s).equals(jsSha256Sync(s))).toBe(true);
    }
});

test('cell hashes equal the network\'s: the empty cell, wallet V4R2 code, and a deep tree rebuilt from its BoC', () => {
    expect(beginCell().endCell().hash().toString('hex')).toBe('96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7');
    const code = WalletContractV4.create({ workchain: 0, publicKey: Buffer.alloc(32) }).init.code;
    expect(code.hash().toString('hex')).toBe('feb5ff6820e2ff0d9483e7e0d62c817d846789fb4ae580c878866d959dabd5c0');
    let tree = beginCell().storeUint(7, 8).endCell();
    for (let i = 0; i < 40; i++) tree = beginCell().storeBuffer(seededBytes(i, 100)).storeRef(tree).endCell();
    const parsed = Cell.fromBoc(tree.toBoc())[0];
    expect(parsed.hash().equals(tree.hash())).toBe(true);
    // a leaf's hash by hand: the JavaScript digest of its representation d1 = 0 (no refs), d2 = 2 (8 bits), 0x07
    const leaf = beginCell().storeUint(7, 8).endCell();
    const repr = Buffer.from([0x00, 0x02, 0x07]);
    expect(jsSha256Sync(repr).equals(leaf.hash())).toBe(true);
});
