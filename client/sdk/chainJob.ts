/**
 * Reading a client's jobs from the chain: which job an OpenJob created (from the registry's transaction that
 * processed that very message: no guessing from the job count, so concurrent clients cannot get each other's job),
 * the escrow's state, and the enclave's receipt signature (from the SubmitReceipt that committed the job).
 */
import { Address, Cell, Message, Transaction } from '@ton/core';
import { ChainClient, ChainTransaction, sentMessage } from '../../protocol/chain';
import { uint256ToBuffer } from '../../protocol/receipt';
import { decodeEvent } from '../../orchestrator/watcher/events';
import {
    exitCodeName,
    JobClaim,
    JobEscrow,
    JobOpenedEvent,
    JobStatus,
    JobStatusName,
    JobTerms,
    loadJobClaim,
    loadJobTerms,
    loadClaimReceipt,
    loadOfferClaim,
    loadSubmitReceipt,
    Opcodes,
    Registry,
} from '../../wrappers';
import { CocoonError } from './errors';

export type JobStateName = 'Uninitialized' | 'Open' | 'Claimed' | 'Committed' | 'Settled' | 'Cancelled' | 'Expired';

/** A job escrow as read from its `state` getter. */
export interface JobSnapshot {
    jobId: bigint;
    address: Address;
    state: JobStateName;
    statusCode: number;
    client: Address;
    /** 64 hex */
    modelHash: string;
    /** 64 hex */
    inputCommitment: string;
    /** 64 hex: the client's X25519 result key */
    resultKey: string;
    maxPrice: bigint;
    /** unix seconds */
    deadline: number;
    networkId: number;
    candidates: Address[];
    /** set once claimed */
    claim?: JobClaim;
    /** 64 hex, set once committed */
    outputCommitment?: string;
    /** unix seconds, set once committed */
    committedAt?: number;
    terms: JobTerms;
}

export const hex256 = (x: bigint) => uint256ToBuffer(x).toString('hex');


function failedExitCode(tx: Transaction): number | null {
    const d = tx.description;
    if (d.type !== 'generic') return null;
    if (d.computePhase.type === 'vm' && !d.computePhase.success) return d.computePhase.exitCode;
    if (d.aborted) return d.computePhase.type === 'vm' ? d.computePhase.exitCode : -1;
    return null;
}

/** The external-out messages of a transaction, as (index, body). */
function externalOuts(tx: Transaction): { index: number; body: Cell }[] {
    const out: { index: number; body: Cell }[] = [];
    for (const [index, m] of tx.outMessages) if (m.info.type === 'external-out') out.push({ index, body: m.body });
    return out;
}

export interface OpenedJob {
    jobId: bigint;
    address: Address;
    event: JobOpenedEvent;
    /** the registry transaction that processed the OpenJob (hash hex) */
    registryTx: string;
}

/** What to do about the registry's refusal of an OpenJob, by exit code name. */
const OPEN_REFUSAL_HINTS: Readonly<Record<string, string>> = {
    ErrInsufficientValue: 'attach more TON',
    ErrBadDeadline: 'pick a shorter deadline',
    ErrStaleNetworkTerms: 'governance changed the network terms (fee, dispute window...) while the job was opening: submit again to open it under the new ones',
};

/**
 * The job created by the OpenJob (`openJobBody`) that `walletTx` sent to `registry`, among any other messages the
 * wallet batched into it. The registry's transaction is the one whose
 * inbound message is our wallet's outbound one (same source, same creation lt: unique per sender); its JobOpened
 * event gives the job id. A rejected OpenJob (the registry's compute phase failed) is OPEN_FAILED with its exit code.
 */
export async function findOpenedJob(
    chain: ChainClient,
    registry: Address,
    walletTx: ChainTransaction,
    openJobBody: Cell,
    opts: { timeoutMs?: number; pollMs?: number } = {},
): Promise<OpenedJob> {
    const sent = sentMessage(walletTx, registry, openJobBody);
    if (!sent || sent.info.type !== 'internal') {
        throw new CocoonError('OPEN_FAILED', `the wallet transaction ${walletTx.hash.toString('hex')} sent nothing to the registry`, 'check the wallet balance and retry');
    }
    const wallet = sent.info.src;
    const createdLt = sent.info.createdLt;
    const until = Date.now() + (opts.timeoutMs ?? 60_000);
    let registryLt = walletTx.lt; // the registry's transactions up to this lt were searched
    for (;;) {
        const tx = await findInboundTransaction(chain, registry, wallet, createdLt, walletTx.lt);
        if (tx) {
            const exit = failedExitCode(tx.tx);
            if (exit !== null) {
                throw new CocoonError(
                    'OPEN_FAILED',
                    `the registry rejected OpenJob with ${exitCodeName(exit)} (${exit}); the value bounced back to the wallet`,
                    OPEN_REFUSAL_HINTS[exitCodeName(exit)] ?? 'check the job parameters',
                );
            }
            for (const { body } of externalOuts(tx.tx)) {
                const ev = decodeEvent(body, 'registry', tx.tx.inMessage?.body ?? null);
                if (ev.ok && ev.name === 'JobOpened') {
                    const event = ev.data as JobOpenedEvent;
                    if (!event.client.equals(wallet)) continue;
                    const address = await chain.open(Registry.fromAddress(registry)).getJobAddress(event.jobId);
                    return { jobId: event.jobId, address, event, registryTx: tx.hash.toString('hex') };
                }
            }
            throw new CocoonError('OPEN_FAILED', `the registry processed OpenJob in ${tx.hash.toString('hex')} without a JobOpened event`, 'report this: the registry is not a Cocoon registry');
        }
        if (Date.now() > until) {
            throw new CocoonError('OPEN_FAILED', `the registry has not processed the OpenJob sent in ${walletTx.hash.toString('hex')} yet`, 'look the job up later with `cocoon job status`; do not resend (it may still land)');
        }
        // look again once the registry has a newer transaction (pushed by the devnet; a sleep elsewhere)
        const waited = await chain.waitForTransactions([registry], registryLt, opts.pollMs ?? 250);
        if (waited.lt !== undefined && waited.lt > registryLt) registryLt = waited.lt;
    }
}

/** The registry's transaction (after `afterLt`) whose inbound internal message came from `src` with `createdLt`. */
async function findInboundTransaction(chain: ChainClient, account: Address, src: Address, createdLt: bigint, afterLt: bigint): Promise<ChainTransaction | null> {
    for await (const t of chain.transactions(account, { toLt: afterLt })) {
        const m = t.tx.inMessage;
        if (m && m.info.type === 'internal' && m.info.src.equals(src) && m.info.createdLt === createdLt) return t;
    }
    return null;
}

/** Reads the escrow; JOB_NOT_FOUND when nothing (or an uninitialized escrow) is there. */
export async function readJob(chain: ChainClient, address: Address): Promise<JobSnapshot> {
    let st;
    try {
        st = await chain.open(JobEscrow.fromAddress(address)).getState();
    } catch (e) {
        if (!(await chain.isDeployed(address).catch(() => true))) {
            throw new CocoonError('JOB_NOT_FOUND', `no job escrow is deployed at ${address.toString()}`, 'check the job address (cocoon job status shows it)');
        }
        throw new CocoonError('CHAIN_ERROR', `reading the job ${address.toString()} failed: ${(e as Error).message}`, 'retry shortly');
    }
    if (!st.terms) throw new CocoonError('JOB_NOT_FOUND', `the escrow at ${address.toString()} holds no job terms`, 'check the job address');
    const terms = loadJobTerms(st.terms.beginParse());
    const statusCode = Number(st.status);
    const claim = st.claim ? loadJobClaim(st.claim.beginParse()) : undefined;
    return {
        jobId: st.jobId,
        address,
        state: (JobStatusName[statusCode] ?? 'Uninitialized') as JobStateName,
        statusCode,
        client: terms.client,
        modelHash: hex256(terms.modelHash),
        inputCommitment: hex256(terms.inputCommitment),
        resultKey: hex256(terms.resultKey),
        maxPrice: terms.maxPrice,
        deadline: Number(terms.deadline),
        networkId: Number(terms.network.networkId),
        candidates: [...terms.candidates.keys()],
        ...(claim ? { claim } : {}),
        ...(statusCode >= JobStatus.Committed && st.outputCommitment !== 0n ? { outputCommitment: hex256(st.outputCommitment), committedAt: Number(st.committedAt) } : {}),
        terms,
    };
}

export interface PostedReceipt {
    outputCommitment: bigint;
    signature: Buffer;
    /** the escrow transaction that accepted it (hash hex) */
    tx: string;
    /** who sent it to the escrow: the relay of a SubmitReceipt, or the provider's stake contract for a claim */
    sender: Address | null;
}

/**
 * The receipt that committed the job: either the ClaimJob receipt that the provider's stake passed to the escrow in
 * OfferClaim (the worker's path, event JobClaimedAndCommitted), or a SubmitReceipt after a plain claim (event
 * JobCommitted). The escrow checked the signature already; the client re-checks it against the receipt it rebuilds
 * itself, so it trusts neither the relay nor the API.
 */
export async function findPostedReceipt(chain: ChainClient, job: Address): Promise<PostedReceipt | null> {
    for await (const t of chain.transactions(job)) {
        const m: Message | null | undefined = t.tx.inMessage;
        if (!m || m.info.type !== 'internal') continue;
        const s = m.body.beginParse();
        if (s.remainingBits < 32) continue;
        const op = s.preloadUint(32);
        if (op !== Opcodes.SubmitReceipt && op !== Opcodes.OfferClaim) continue;
        if (failedExitCode(t.tx) !== null) continue;
        const committedBy = op === Opcodes.SubmitReceipt ? 'JobCommitted' : 'JobClaimedAndCommitted';
        const committed = externalOuts(t.tx).some(({ body }) => {
            const ev = decodeEvent(body, 'job');
            return ev.ok && ev.name === committedBy;
        });
        if (!committed) continue;
        const r = op === Opcodes.SubmitReceipt ? loadSubmitReceipt(m.body.beginParse()) : loadClaimReceipt(loadOfferClaim(m.body.beginParse()).receipt!.beginParse());
        return { outputCommitment: r.outputCommitment, signature: r.signature, tx: t.hash.toString('hex'), sender: m.info.src };
    }
    return null;
}
