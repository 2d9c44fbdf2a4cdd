/**
 * One work item, start to finish (protocol/work.ts):
 *
 *   fencing ─► escrow checks ─► fetch input ─► enclave run ─► upload result ─► fencing again ─► ClaimJob + receipt
 *
 * The enclave runs BEFORE the claim: a job this enclave cannot do (missing, corrupt or foreign envelope, bad media)
 * is refused without taking the stake lock, and a worker killed mid-inference leaves the job Open for the next
 * candidate. The claim then carries the enclave's receipt, so claiming and committing are one message chain (one
 * wallet transaction, one escrow transaction) and the stake is locked only while the job waits to be settled. Every failure is a WorkFailure `CODE: message`; messages hold ids, hashes and codes only.
 */
import { Address } from '@ton/core';
import type { RedisClient } from '../../protocol/redis';
import { ChainClient, WalletSender } from '../../protocol/chain';
import { bufferToUint256 } from '../../protocol/receipt';
import { KEYS, WorkItem, WorkOutcome } from '../../protocol/work';
import { ConfidentialJobRunner } from '../job/runner';
import { JobStatus, JobStatusName, loadJobClaim, loadJobTerms } from '../../wrappers';
import { BlobClient } from './blobs';
import { pollEscrow, readEscrow, refusedAt, sendClaim } from './chain';
import { CHAIN_CONFIRM_TIMEOUT_MS, MIN_TIME_LEFT_MS } from './config';
import { asWorkFailure, fail, failureOfJobError, WorkFailure } from './failures';

export type Stage = keyof WorkOutcome['timingsMs'];

export interface PipelineDeps {
    redis: RedisClient;
    chain: ChainClient;
    wallet: WalletSender;
    stakeContract: Address;
    runner: ConfidentialJobRunner;
    blobs: BlobClient;
    /** model hash hex → nanoTON */
    prices: Record<string, bigint>;
    /** metadata-only logger (pino) */
    logger: { info(o: object, m: string): void; warn(o: object, m: string): void };
    minTimeLeftMs?: number;
    confirmTimeoutMs?: number;
    /** stage timing hook (metrics) */
    onStage?: (stage: Stage, ms: number) => void;
}

const hex64 = (n: bigint) => n.toString(16).padStart(64, '0');

export class WorkPipeline {
    constructor(private readonly d: PipelineDeps) {}

    get owner(): Address {
        return this.d.wallet.address;
    }

    async process(item: WorkItem): Promise<WorkOutcome> {
        const owner = this.owner;
        const timingsMs: WorkOutcome['timingsMs'] = {};
        const timed = async <T>(stage: Stage, fn: () => Promise<T>): Promise<T> => {
            const t = Date.now();
            try {
                return await fn();
            } finally {
                timingsMs[stage] = Date.now() - t;
                this.d.onStage?.(stage, timingsMs[stage]!);
            }
        };
        const meta = { jobId: item.jobId, attemptId: item.attemptId, job: item.job };

        // 1. fencing: only the attempt the dispatcher assigned may run
        await this.checkAssignment(item);

        // 2. the escrow is the truth: status, terms, price, time left
        let job: Address;
        try {
            job = Address.parse(item.job);
        } catch {
            fail('WORKER_ERROR', `the work item's escrow address ${JSON.stringify(String(item.job).slice(0, 80))} is not a TON address`);
        }
        const state = await readEscrow(this.d.chain, job).catch((e) => {
            throw asWorkFailure(e, `reading escrow ${item.job}`);
        });
        if (Number(state.status) !== JobStatus.Open || !state.terms) {
            fail('JOB_NOT_OPEN', `escrow ${item.job} is ${JobStatusName[Number(state.status)] ?? `status ${state.status}`}`);
        }
        if (state.jobId.toString() !== String(item.jobId)) {
            fail('WORKER_ERROR', `escrow ${item.job} holds job ${state.jobId}, the work item names job ${String(item.jobId).slice(0, 40)}`);
        }
        const terms = loadJobTerms(state.terms.beginParse());
        const model = hex64(terms.modelHash);
        const price = this.d.prices[model];
        if (price === undefined) fail('NOT_SERVED', `this worker does not serve model ${model}`);
        if (price > terms.maxPrice) fail('NOT_SERVED', `this worker's price ${price} nanoTON for model ${model} is above the job's max ${terms.maxPrice}`);
        if (terms.candidates.size > 0 && !terms.candidates.has(owner)) fail('NOT_SERVED', `provider ${owner.toRawString()} is not among the job's candidates`);
        const leftMs = Number(terms.deadline) * 1000 - Date.now();
        const minLeft = this.d.minTimeLeftMs ?? MIN_TIME_LEFT_MS;
        if (leftMs < minLeft) fail('DEADLINE_TOO_CLOSE', `${Math.max(0, Math.floor(leftMs / 1000))} s left before the deadline, ${minLeft / 1000} s needed`);

        // 3. the input envelope, by its on-chain commitment
        const inputCommitment = hex64(terms.inputCommitment);
        const envelope = await timed('fetch', () => this.d.blobs.fetchInput(inputCommitment));

        // 4. the enclave: decrypt, infer, seal to the client, sign the receipt — before any stake is locked
        const out = await timed('enclave', async () => {
            try {
                return await this.d.runner.run({
                    modelHash: terms.modelHash,
                    envelope,
                    networkId: terms.network.networkId,
                    jobAddress: job,
                    clientResultPublicKey: terms.resultKey,
                    inputCommitment: terms.inputCommitment,
                });
            } catch (e) {
                throw failureOfJobError(e);
            }
        });
        const outputCommitment = out.outputCommitment.toString('hex');

        // 5. the result where the client fetches it: it must be there the moment the job is committed
        await timed('upload', () => this.d.blobs.uploadResult(out.resultEnvelope, outputCommitment));

        // 6. fencing again (the run may have been long), then the claim, carrying the receipt: the escrow takes the
        //    claim and commits the output in one transaction (Open -> Committed), or refuses both
        await this.checkAssignment(item);
        const want = bufferToUint256(out.outputCommitment);
        const claimTx = await timed('claim', async () => {
            const sent = await sendClaim(this.d.wallet, this.d.stakeContract, state.jobId, terms.modelHash, {
                outputCommitment: out.outputCommitment,
                signature: out.receiptSignature,
            }).catch((e) => {
                throw asWorkFailure(e, 'sending ClaimJob');
            });
            const { state: after, timedOut, stopped } = await pollEscrow(
                this.d.chain,
                job,
                (s) => Number(s.status) !== JobStatus.Open,
                this.d.confirmTimeoutMs ?? CHAIN_CONFIRM_TIMEOUT_MS,
                () => refusedAt(this.d.chain, sent),
            );
            if (stopped) fail('CLAIM_LOST', `the claim was refused (${stopped})`);
            if (timedOut) fail('CLAIM_LOST', `escrow ${item.job} was still Open ${Math.round((this.d.confirmTimeoutMs ?? CHAIN_CONFIRM_TIMEOUT_MS) / 1000)} s after ClaimJob`);
            const status = Number(after.status);
            const claimer = after.claim && status !== JobStatus.Cancelled ? loadJobClaim(after.claim.beginParse()).provider : null;
            if (!claimer || !claimer.equals(owner)) {
                fail('CLAIM_LOST', `escrow ${item.job} is ${JobStatusName[status]}${claimer ? ` by ${claimer.toRawString()}` : ''}`);
            }
            // Settled counts too: a client may accept the result the moment it is committed, before this read
            if ((status !== JobStatus.Committed && status !== JobStatus.Settled) || after.outputCommitment !== want) {
                fail('WORKER_ERROR', `escrow ${item.job} is ${JobStatusName[status]} with output ${hex64(after.outputCommitment)}, not ours ${outputCommitment}`);
            }
            return sent.transaction;
        });
        this.d.logger.info({ ...meta, claimTx: claimTx.hash.toString('hex') }, 'job claimed and committed');

        return {
            status: 'committed',
            jobId: item.jobId,
            attemptId: item.attemptId,
            owner: owner.toRawString(),
            outputCommitment,
            timingsMs,
            claimTx: claimTx.hash.toString('hex'),
        };
    }

    private async checkAssignment(item: WorkItem): Promise<void> {
        let current: string | null;
        try {
            current = await this.d.redis.get(KEYS.assignment(item.jobId));
        } catch (e) {
            throw new WorkFailure('WORKER_ERROR', `reading the assignment of job ${item.jobId}: ${(e as Error).message}`);
        }
        if (current !== item.attemptId) {
            fail('SUPERSEDED', `job ${item.jobId} is assigned to ${current === null ? 'no attempt' : `attempt ${current}`}, not ${item.attemptId}`);
        }
    }
}
