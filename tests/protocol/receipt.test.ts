import * as crypto from 'crypto';
import { Address } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { bufferToUint256, receiptCell, receiptHash, ReceiptFields, signReceipt, verifyReceipt } from '../../protocol/receipt';

/** Deterministic receipts: the same seed gives the same fields on every run. */
function receiptFrom(seed: number): ReceiptFields {
    const bytes = (tag: string) => crypto.createHash('sha256').update(`${seed}/${tag}`).digest();
    const u256 = (tag: string) => bufferToUint256(bytes(tag));
    const networkIds = [-239, -3, 0, 1, 0x7fffffff, -0x80000000, 707_707];
    return {
        networkId: networkIds[seed % networkIds.length],
        job: new Address(seed % 3 === 0 ? -1 : 0, bytes('job')),
        inputCommitment: u256('in'),
        outputCommitment: seed % 5 === 0 ? 0n : u256('out'),
        modelHash: seed % 7 === 0 ? (1n << 256n) - 1n : u256('model'),
        measurement: u256('measurement'),
    };
}

describe('receipt hash (the bytes the escrow verifies)', () => {
    it('equals the representation hash of receiptCell for 200 seeded receipts (both workchains, edge values)', () => {
        for (let seed = 0; seed < 200; seed++) {
            const r = receiptFrom(seed);
            expect(receiptHash(r).toString('hex')).toBe(receiptCell(r).hash().toString('hex'));
        }
    });

    it('changes when any signed field changes', () => {
        const r = receiptFrom(1);
        const base = receiptHash(r).toString('hex');
        const variants: ReceiptFields[] = [
            { ...r, networkId: r.networkId + 1 },
            { ...r, job: new Address(r.job.workChain, Buffer.from(r.job.hash).fill(7, 0, 1)) },
            { ...r, job: new Address(r.job.workChain === 0 ? -1 : 0, r.job.hash) },
            { ...r, inputCommitment: r.inputCommitment ^ 1n },
            { ...r, outputCommitment: r.outputCommitment ^ (1n << 255n) },
            { ...r, modelHash: r.modelHash ^ 1n },
            { ...r, measurement: r.measurement ^ 1n },
        ];
        for (const v of variants) expect(receiptHash(v).toString('hex')).not.toBe(base);
    });
});

describe('verifyReceipt (native Ed25519)', () => {
    const keys = keyPairFromSeed(crypto.createHash('sha256').update('receipt signer').digest());
    const r = receiptFrom(3);
    const signature = signReceipt(r, keys.secretKey);

    it('accepts the signer’s signature (tweetnacl-signed, natively verified) and nothing else', () => {
        expect(verifyReceipt(r, signature, keys.publicKey)).toBe(true);
        const flipped = Buffer.from(signature);
        flipped[10] ^= 1;
        expect(verifyReceipt(r, flipped, keys.publicKey)).toBe(false);
        expect(verifyReceipt({ ...r, outputCommitment: r.outputCommitment ^ 1n }, signature, keys.publicKey)).toBe(false);
        const other = keyPairFromSeed(crypto.createHash('sha256').update('someone else').digest());
        expect(verifyReceipt(r, signature, other.publicKey)).toBe(false);
    });

    it('returns false (never throws) for malformed signatures and keys', () => {
        expect(verifyReceipt(r, signature.subarray(0, 63), keys.publicKey)).toBe(false);
        expect(verifyReceipt(r, signature, keys.publicKey.subarray(0, 31))).toBe(false);
        expect(verifyReceipt(r, Buffer.alloc(64), keys.publicKey)).toBe(false);
        expect(verifyReceipt(r, signature, Buffer.alloc(32, 0xff))).toBe(false);
    });
});
