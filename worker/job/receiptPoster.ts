/**
 * Posting an enclave receipt to the job's escrow (JobEscrow, SubmitReceipt).
 *
 * The escrow accepts the receipt from anyone: it rebuilds the receipt hash from its own state (network, its address,
 * input commitment, model, the claim's measurement) plus the posted output commitment, and checks the signature
 * against the receipt key recorded at claim time. So the worker host, a relayer or the client may post it; the
 * provider wallet is the usual sender, and unused value comes back to the sender (cashback).
 *
 * Two forms, same message:
 *   - postReceipt(sender, jobAddress, receipt, value): any @ton/core Sender (protocol/chain WalletSender on a real
 *     network, a sandbox treasury in tests);
 *   - JobReceiptTarget: a @ton/core Contract to open with a ContractProvider (`client.open(...)`, sandbox
 *     `blockchain.openContract(...)`), whose sendReceipt(provider, via, receipt, value) sends through `provider`.
 */
import { Address, beginCell, Cell, Contract, ContractProvider, Sender, SendMode, toNano } from '@ton/core';
import { storeSubmitReceipt } from '../../wrappers';
import { bufferToUint256 } from '../../protocol/receipt';

/** What a relayer needs: the output commitment and the enclave's signature (ConfidentialJobResult has both). */
export interface ReceiptToPost {
    /** sha256(result envelope), as 32 bytes or a uint256. */
    outputCommitment: Buffer | bigint;
    /** Ed25519 signature (64 bytes) over receiptHash. */
    signature: Buffer;
    queryId?: bigint;
}

export interface PostReceiptOptions {
    /** Default: the sender's own (wallets pay fees separately and ignore errors). */
    sendMode?: SendMode;
    /** Default true: a rejected receipt bounces its value back. */
    bounce?: boolean;
}

/**
 * A value that covers SubmitReceipt on the escrow (signature check + state write + event + cashback); the escrow
 * returns what it does not use to the sender.
 */
export const SUGGESTED_RECEIPT_VALUE = toNano('0.05');

const UINT256_MAX = (1n << 256n) - 1n;

/** The SubmitReceipt message body (the generated serializer, so layout changes follow the contract). */
export function submitReceiptBody(receipt: ReceiptToPost): Cell {
    const outputCommitment = Buffer.isBuffer(receipt.outputCommitment) ? bufferToUint256(receipt.outputCommitment) : receipt.outputCommitment;
    if (typeof outputCommitment !== 'bigint' || outputCommitment < 0n || outputCommitment > UINT256_MAX) {
        throw new RangeError('outputCommitment must be 32 bytes or a uint256');
    }
    if (!Buffer.isBuffer(receipt.signature) || receipt.signature.length !== 64) throw new RangeError('signature must be 64 bytes');
    const queryId = receipt.queryId ?? 0n;
    if (queryId < 0n || queryId >= 1n << 64n) throw new RangeError('queryId must be a uint64');
    return beginCell()
        .store(storeSubmitReceipt({ $$type: 'SubmitReceipt', queryId, outputCommitment, signature: receipt.signature }))
        .endCell();
}

function checkValue(value: bigint): void {
    if (typeof value !== 'bigint' || value <= 0n) throw new RangeError('value must be a positive amount of nanotons');
}

function toAddress(jobAddress: Address | string): Address {
    return Address.isAddress(jobAddress) ? jobAddress : Address.parse(jobAddress);
}

/** Sends SubmitReceipt to the escrow at `jobAddress` from `sender` (e.g. the provider wallet). */
export async function postReceipt(sender: Sender, jobAddress: Address | string, receipt: ReceiptToPost, value: bigint, options: PostReceiptOptions = {}): Promise<void> {
    checkValue(value);
    const body = submitReceiptBody(receipt);
    await sender.send({ to: toAddress(jobAddress), value, body, bounce: options.bounce ?? true, sendMode: options.sendMode });
}

/** The escrow seen as a contract that takes receipts; open it with any ContractProvider. */
export class JobReceiptTarget implements Contract {
    constructor(readonly address: Address) {}

    static at(jobAddress: Address | string): JobReceiptTarget {
        return new JobReceiptTarget(toAddress(jobAddress));
    }

    async sendReceipt(provider: ContractProvider, via: Sender, receipt: ReceiptToPost, value: bigint, options: PostReceiptOptions = {}): Promise<void> {
        checkValue(value);
        await provider.internal(via, { value, body: submitReceiptBody(receipt), bounce: options.bounce ?? true, sendMode: options.sendMode });
    }
}
