import { Address, beginCell, Cell } from '@ton/core';
import { sign, signVerify } from '@ton/crypto';

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

export function receiptHash(r: ReceiptFields): Buffer {
    return receiptCell(r).hash();
}

/** Ed25519 signature (64 bytes) over receiptHash. `secretKey` is the 64-byte tweetnacl-style key (seed ‖ public). */
export function signReceipt(r: ReceiptFields, secretKey: Buffer): Buffer {
    return sign(receiptHash(r), secretKey);
}

export function verifyReceipt(r: ReceiptFields, signature: Buffer, publicKey: Buffer): boolean {
    return signature.length === 64 && publicKey.length === 32 && signVerify(receiptHash(r), signature, publicKey);
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
