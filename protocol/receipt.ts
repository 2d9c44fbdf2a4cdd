import * as crypto from 'crypto';
import { Address, beginCell, Cell } from '@ton/core';
import { sign } from '@ton/crypto';
import { ed25519PublicKeyObject } from './ed25519';

/**
 * The result receipt an enclave signs and the job escrow verifies on-chain (JobEscrow, SubmitReceipt).
 *
 * The signed 256-bit hash is the representation hash of this cell, which the contract rebuilds and hashes
 * with `cell.hash()` (so no sha256 of ad-hoc concatenations on either side):
 *
 *   receipt = tag:uint32 network:int32 job:MsgAddress input:uint256 output:uint256 ^[ model:uint256 measurement:uint256 ]
 *
 * - tag is the SubmitReceipt opcode: a signature for this message cannot be reused for any other opcode;
 * - network is the registry's network id (mainnet -239, testnet -3, devnet: see protocol/network.ts);
 * - job is the escrow contract address, which is derived from (registry, job id): a receipt names one job on one
 *   registry, so it cannot be replayed into another job, registry or network.
 */
export const RECEIPT_TAG = 0x7c0c3003;

export interface ReceiptFields {
    networkId: number;
    job: Address;
    inputCommitment: bigint;
    outputCommitment: bigint;
    modelHash: bigint;
    measurement: bigint;
}

export function receiptCell(r: ReceiptFields): Cell {
    return beginCell()
        .storeUint(RECEIPT_TAG, 32)
        .storeInt(r.networkId, 32)
        .storeAddress(r.job)
        .storeUint(r.inputCommitment, 256)
        .storeUint(r.outputCommitment, 256)
        .storeRef(beginCell().storeUint(r.modelHash, 256).storeUint(r.measurement, 256))
        .endCell();
}

/**
 * The representation hash of receiptCell(r), computed straight from the fields with Node's SHA-256 (TVM cell
 * hashing rules: descriptor bytes d1 = refs, d2 = ⌊bits/8⌋ + ⌈bits/8⌉; data padded with a completion tag; then each
 * reference's depth and hash). It is byte-for-byte `receiptCell(r).hash()` (tests/protocol/receipt.test.ts checks
 * random receipts against @ton/core), without building Cell objects, whose pure-JS hashing costs ~8× more (67 µs against 8.6 µs here) and
 * sits on the worker's latency path and the SDK's verification path.
 */
export function receiptHash(r: ReceiptFields): Buffer {
    // data bits: tag:32 network:32 | addr_std$10 anycast:0 wc:8 hash:256 | input:256 output:256 = 843 bits.
    // After the first 8 bytes everything is offset by the 3 prefix bits of the address, so T = wc ‖ hash ‖ input ‖
    // output (97 bytes) is written shifted right by 3, then the completion tag (a 1 bit, zeros to the byte).
    const t = Buffer.allocUnsafe(97);
    t.writeInt8(r.job.workChain, 0);
    r.job.hash.copy(t, 1);
    uint256ToBuffer(r.inputCommitment).copy(t, 33);
    uint256ToBuffer(r.outputCommitment).copy(t, 65);
    const data = Buffer.allocUnsafe(RECEIPT_DATA_BYTES);
    data.writeUInt32BE(RECEIPT_TAG, 0);
    data.writeInt32BE(r.networkId, 4);
    data[8] = 0b1000_0000 | (t[0] >> 3);
    for (let k = 1; k < 97; k++) data[8 + k] = ((t[k - 1] & 7) << 5) | (t[k] >> 3);
    data[105] = ((t[96] & 7) << 5) | 0b1_0000;
    const inner = crypto
        .createHash('sha256')
        .update(LEAF_DESCRIPTOR)
        .update(uint256ToBuffer(r.modelHash))
        .update(uint256ToBuffer(r.measurement))
        .digest();
    return crypto.createHash('sha256').update(ROOT_DESCRIPTOR).update(data).update(LEAF_DEPTH).update(inner).digest();
}

const RECEIPT_DATA_BITS = 32 + 32 + 267 + 256 + 256;
const RECEIPT_DATA_BYTES = Math.ceil(RECEIPT_DATA_BITS / 8); // 106
/** d1 = one reference; d2 = ⌊bits/8⌋ + ⌈bits/8⌉. */
const ROOT_DESCRIPTOR = Buffer.from([1, Math.floor(RECEIPT_DATA_BITS / 8) + RECEIPT_DATA_BYTES]);
/** The reference: a leaf of 512 bits (d1 = 0, d2 = 64 + 64), depth 0. */
const LEAF_DESCRIPTOR = Buffer.from([0, 128]);
const LEAF_DEPTH = Buffer.from([0, 0]);

/** Ed25519 signature (64 bytes) over receiptHash. `secretKey` is the 64-byte tweetnacl-style key (seed ‖ public). */
export function signReceipt(r: ReceiptFields, secretKey: Buffer): Buffer {
    return sign(receiptHash(r), secretKey);
}

/** Native Ed25519 (OpenSSL) verification; a key that is not a valid Ed25519 point verifies nothing. */
export function verifyReceipt(r: ReceiptFields, signature: Buffer, publicKey: Buffer): boolean {
    if (signature.length !== 64 || publicKey.length !== 32) return false;
    let key: crypto.KeyObject;
    try {
        key = ed25519PublicKeyObject(publicKey);
    } catch {
        return false;
    }
    return crypto.verify(null, receiptHash(r), key, signature);
}

/** 256-bit commitments are sha256 digests of the ciphertext blobs; contracts store them as uint256. */
export function bufferToUint256(b: Buffer): bigint {
    if (b.length !== 32) throw new Error(`expected 32 bytes, got ${b.length}`);
    return BigInt('0x' + b.toString('hex'));
}

export function uint256ToBuffer(x: bigint): Buffer {
    if (x < 0n || x >= 1n << 256n) throw new Error('value does not fit in 256 bits');
    return Buffer.from(x.toString(16).padStart(64, '0'), 'hex');
}
