/**
 * The chain message of a work item (ClaimJob, with the enclave's receipt, to the provider's stake contract) and the
 * escrow reads around it. Sends use WalletSender.transfer, which returns its own transaction, so concurrent
 * jobs never read each other's `lastTransfer`.
 */
import { Address, beginCell, Cell } from '@ton/core';
import { ChainClient, ChainTransaction, sentMessage, WalletSender } from '../../protocol/chain';
import { exitCodeName, JobEscrow, JobState, storeClaimJob, storeClaimReceipt } from '../../wrappers';
import { bufferToUint256 } from '../../protocol/receipt';
import { CHAIN_POLL_MS, CLAIM_VALUE } from './config';

export function readEscrow(chain: ChainClient, job: Address): Promise<JobState> {
    return chain.open(JobEscrow.fromAddress(job)).getState();
}

/** Re-reads the escrow until `done(state)` or the timeout; returns the last state read. */
export async function pollEscrow(chain: ChainClient, job: Address, done: (s: JobState) => boolean, timeoutMs: number, stop?: () => Promise<string | null>): Promise<{ state: JobState; timedOut: boolean; stopped?: string }> {
    const until = Date.now() + timeoutMs;
    let polls = 0;
    let state: JobState | undefined;
    let readAtLt: bigint | undefined;
    for (;;) {
        // re-run the get method only when the escrow has a new transaction (the account read is the cheap one)
        const lastLt = (await chain.getAccount(job)).lastTransaction?.lt;
        if (state === undefined || lastLt === undefined || lastLt !== readAtLt) {
            state = await readEscrow(chain, job);
            readAtLt = lastLt;
        }
        if (done(state)) return { state, timedOut: false };
        // every ~10 polls, ask whether waiting is still worth it (e.g. the claim was refused on the way)
        if (stop && ++polls % 10 === 0) {
            const why = await stop().catch(() => null);
            if (why) return { state, timedOut: false, stopped: why };
        }
        if (Date.now() > until) return { state, timedOut: true };
        // the next read once the escrow has a new transaction (pushed by the devnet; a CHAIN_POLL_MS sleep elsewhere)
        await chain.waitForTransactions([job], readAtLt ?? 0n, CHAIN_POLL_MS);
    }
}

/** A message the provider's wallet sent, and the wallet transaction that carried it (possibly with others). */
export interface SentChainMessage {
    transaction: ChainTransaction;
    to: Address;
    body: Cell;
}

/**
 * ClaimJob to the provider's stake contract. With `receipt` (the enclave's, for this job) the escrow commits the
 * output in the same transaction that takes the claim.
 */
export async function sendClaim(
    wallet: WalletSender,
    stakeContract: Address,
    jobId: bigint,
    modelHash: bigint,
    receipt?: { outputCommitment: Buffer; signature: Buffer },
): Promise<SentChainMessage> {
    const receiptCell = receipt
        ? beginCell().store(storeClaimReceipt({ $$type: 'ClaimReceipt', outputCommitment: bufferToUint256(receipt.outputCommitment), signature: receipt.signature })).endCell()
        : null;
    const body = beginCell().store(storeClaimJob({ $$type: 'ClaimJob', queryId: jobId, jobId, modelHash, receipt: receiptCell })).endCell();
    const sent = await wallet.transfer([{ to: stakeContract, value: CLAIM_VALUE, body, bounce: true }]);
    return { transaction: sent.transaction, to: stakeContract, body };
}

/**
 * Whether `sent` failed at its target (the contract threw): the exit code's name, or null when it succeeded or has
 * not been processed yet. Lets the worker give up on a refused ClaimJob (no free stake, model not served...) at
 * once instead of waiting for the escrow to change. The message is found by its body, so it is ours also when the
 * wallet batched several to the same contract.
 */
export async function refusedAt(chain: ChainClient, sent: SentChainMessage): Promise<string | null> {
    const out = sentMessage(sent.transaction, sent.to, sent.body);
    if (!out || out.info.type !== 'internal') return 'not sent: the wallet skipped the message (is its balance too low?)';
    const createdLt = out.info.createdLt;
    const txs = await chain.getTransactions(sent.to, { limit: 20 });
    for (const t of txs) {
        const m = t.tx.inMessage;
        if (!m || m.info.type !== 'internal' || m.info.createdLt !== createdLt || !m.info.src.equals(sent.transaction.address)) continue;
        const d = t.tx.description;
        if (d.type !== 'generic') return null;
        if (d.computePhase.type === 'vm' && !d.computePhase.success) return exitCodeName(d.computePhase.exitCode);
        if (d.aborted) return 'aborted';
        return null;
    }
    return null;
}
