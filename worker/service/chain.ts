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
 * Whether `sent` was refused on its way: the exit code's name, or null when nothing refused it (yet). The message is
 * followed for up to `hops` contracts: ClaimJob at the stake contract (no free stake, model not served...), then the
 * OfferClaim the stake sent on to the job (claimed by someone else, deadline passed, a receipt that does not verify:
 * "ErrBadSignature at the job"). Lets the worker give up at once instead of waiting for the escrow to change. The
 * first message is found by its body, so it is ours also when the wallet batched several to the same contract.
 */
export async function refusedAt(chain: ChainClient, sent: SentChainMessage, hops = 2): Promise<string | null> {
    const out = sentMessage(sent.transaction, sent.to, sent.body);
    if (!out || out.info.type !== 'internal') return 'not sent: the wallet skipped the message (is its balance too low?)';
    let from = sent.transaction.address;
    let to = sent.to;
    let createdLt = out.info.createdLt;
    for (let hop = 0; hop < hops; hop++) {
        const tx = await inboundTransaction(chain, to, from, createdLt);
        if (!tx) return null; // not processed yet
        const d = tx.description;
        if (d.type !== 'generic') return null;
        const where = hop === 0 ? '' : ' at the job';
        if (d.computePhase.type === 'vm' && !d.computePhase.success) return exitCodeName(d.computePhase.exitCode) + where;
        if (d.aborted) return 'aborted' + where;
        // the next hop: the bounceable message it sent on (the offer; events and refunds are not)
        const next = [...tx.outMessages.values()].find((m) => m.info.type === 'internal' && m.info.bounce);
        if (!next || next.info.type !== 'internal') return null;
        from = to;
        to = next.info.dest;
        createdLt = next.info.createdLt;
    }
    return null;
}

/** The transaction of `at` for the message `from` created at `createdLt`, among its recent ones. */
async function inboundTransaction(chain: ChainClient, at: Address, from: Address, createdLt: bigint): Promise<ChainTransaction['tx'] | null> {
    for (const t of await chain.getTransactions(at, { limit: 20 })) {
        const m = t.tx.inMessage;
        if (m && m.info.type === 'internal' && m.info.createdLt === createdLt && m.info.src.equals(from)) return t.tx;
    }
    return null;
}
