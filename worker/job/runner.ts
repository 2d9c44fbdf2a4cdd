/**
 * ConfidentialJobRunner: the worker's job path. It ties an Enclave (keys, decryption, result sealing, receipt
 * signing) to an InferenceEngine (the models):
 *
 *   job from the chain ─► resolve task from the model hash ─► enclave.runJob(envelope, ctx, infer)
 *                                                                 │ unwrap data key, decrypt (plaintext exists from here)
 *                                                                 │ infer = engine.run(task, model, plaintext)
 *                                                                 │ wipe input; seal output to the client's result key
 *                                                                 ▼ sign the receipt
 *   { resultEnvelope, outputCommitment, receipt, receiptSignature } ─► blob store + postReceipt (receiptPoster.ts)
 *
 * The plaintext input exists only inside the enclave's runJob callback, where it is handed to engine.run; the
 * runner never sees it, never logs it and never lets a message derived from it out (see errors.ts, PLAINTEXT RULE).
 * The plaintext output is sealed by the enclave and wiped (best effort) once sealed.
 *
 * Everything the runner needs comes from the chain: the escrow's terms (model hash, input commitment, result key,
 * network id) and its address. The job nonce is read from the envelope header unless given: the header is covered
 * by the input commitment, which the enclave checks against sha256 of the very bytes it decrypted.
 */
import { Address } from '@ton/core';
import { EnvelopeError, envelopeCommitment, readInputHeader } from '../../protocol/envelope';
import { ReceiptFields } from '../../protocol/receipt';
import { Enclave, JobContext } from '../enclave/enclave';
import { InferenceEngine } from '../inference/engine';
import { JobTask } from '../inference/catalog';
import { envelopeRetryable, JobError, operatorRetryable, redactedInferenceError } from './errors';
import { Bytes32Like, checkNetworkId, toAddress, toBytes32 } from './values';

/** A job as the worker reads it from the chain (escrow terms + address) and the blob store (envelope). */
export interface ConfidentialJob {
    /** Optional: the task the job metadata names; it must match the task the model hash is served for. */
    task?: JobTask | string;
    /** The escrow's model hash. */
    modelHash: Bytes32Like;
    /** The input envelope bytes (from the blob store). */
    envelope: Buffer;
    /** The registry's network id (the escrow terms carry it). */
    networkId: number | bigint;
    /** The escrow contract's address. */
    jobAddress: Address | string;
    /** The escrow's resultKey: the client's X25519 public key. */
    clientResultPublicKey: Bytes32Like;
    /** Optional: the job nonce; by default the envelope header's (covered by inputCommitment). */
    jobNonce?: Bytes32Like;
    /** The escrow's inputCommitment = sha256(envelope). Required: the worker never runs unchecked bytes. */
    inputCommitment: Bytes32Like;
}

export interface ConfidentialJobResult {
    task: JobTask;
    /** The output encrypted to the client's result key; upload it where the client fetches results. */
    resultEnvelope: Buffer;
    /** sha256(resultEnvelope): what the receipt commits to on chain. */
    outputCommitment: Buffer;
    inputCommitment: Buffer;
    /** The fields the enclave signed (protocol/receipt.ts). */
    receipt: ReceiptFields;
    /** The enclave's Ed25519 signature over receiptHash(receipt); post it with postReceipt. */
    receiptSignature: Buffer;
}

/** pino-compatible subset. Log records carry metadata only (job, model, task, sizes, code, duration). */
export interface JobLogger {
    info(obj: Record<string, unknown>, msg: string): void;
    warn(obj: Record<string, unknown>, msg: string): void;
}

export interface ConfidentialJobRunnerOptions {
    logger?: JobLogger;
}

type Phase = 'prepare' | 'open' | 'infer' | 'seal';

export class ConfidentialJobRunner {
    private readonly logger?: JobLogger;

    constructor(
        readonly enclave: Enclave,
        readonly engine: InferenceEngine,
        options: ConfidentialJobRunnerOptions = {},
    ) {
        this.logger = options.logger;
    }

    /** The task a model hash is served for by this worker's engine, or undefined. */
    taskOf(modelHash: Bytes32Like): JobTask | undefined {
        return this.engine.taskOf(toBytes32(modelHash, 'modelHash'));
    }

    /** Loads the sessions of the given models (default: all served) so the first job does not pay for it. */
    async warmup(modelHashes?: Bytes32Like[]): Promise<void> {
        await this.engine.warmup(modelHashes?.map((h) => toBytes32(h, 'modelHash').toString('hex')));
    }

    /** Runs one job; throws only JobError. */
    async run(job: ConfidentialJob): Promise<ConfidentialJobResult> {
        const started = process.hrtime.bigint();
        const ms = () => Number(process.hrtime.bigint() - started) / 1e6;
        const meta: Record<string, unknown> = {};
        let phase: Phase = 'prepare';
        let output: Buffer | undefined;
        try {
            const { ctx, task, inputCommitment } = this.prepare(job, meta);
            phase = 'open';
            const outcome = await this.enclave.runJob(job.envelope, ctx, async (plaintext) => {
                phase = 'infer';
                try {
                    output = await this.engine.run(task, ctx.modelHash, plaintext);
                } catch (e) {
                    // Still inside the enclave: nothing of `e` but its code may leave.
                    throw redactedInferenceError(e, task);
                }
                phase = 'seal';
                return output;
            });
            const result: ConfidentialJobResult = {
                task,
                resultEnvelope: outcome.resultEnvelope,
                outputCommitment: outcome.outputCommitment,
                inputCommitment: outcome.inputCommitment,
                receipt: outcome.receipt,
                receiptSignature: outcome.receiptSignature,
            };
            if (!result.inputCommitment.equals(inputCommitment)) {
                // runJob checked it already; a mismatch here means the enclave ignored the context.
                throw new JobError('operator', 'ENCLAVE_FAILURE', true, "the enclave's receipt names another input commitment");
            }
            this.logger?.info({ ...meta, outputBytes: result.resultEnvelope.length, ms: ms() }, 'confidential job done');
            return result;
        } catch (e) {
            const err = this.classify(e, phase, job);
            this.logger?.warn({ ...meta, phase, kind: err.kind, code: err.code, retryable: err.retryable, ms: ms() }, 'confidential job failed');
            throw err;
        } finally {
            if (output && output.byteLength > 0) output.fill(0); // a large output comes back from the sealing thread detached
        }
    }

    /** Validates the job description and resolves the task; no plaintext exists yet. */
    private prepare(job: ConfidentialJob, meta: Record<string, unknown>): { ctx: JobContext; task: JobTask; inputCommitment: Buffer } {
        if (job === null || typeof job !== 'object') throw new JobError('operator', 'BAD_REQUEST', false, 'the job must be an object');
        const jobAddress = toAddress(job.jobAddress, 'jobAddress');
        meta.job = jobAddress.toString();
        const modelHash = toBytes32(job.modelHash, 'modelHash');
        meta.model = modelHash.toString('hex');
        const networkId = checkNetworkId(job.networkId);
        const clientResultPublicKey = toBytes32(job.clientResultPublicKey, 'clientResultPublicKey');
        const inputCommitment = toBytes32(job.inputCommitment, 'inputCommitment');
        if (!Buffer.isBuffer(job.envelope)) throw new JobError('operator', 'BAD_REQUEST', false, 'envelope must be a Buffer');
        meta.inputBytes = job.envelope.length;

        const task = this.engine.taskOf(modelHash);
        if (!task) {
            throw new JobError('operator', 'UNKNOWN_MODEL', true, `model ${meta.model} is not served by this worker (served: ${this.engine.models().map((m) => `${m.task}:${m.modelHash}`).join(', ')})`);
        }
        meta.task = task;
        if (job.task !== undefined && job.task !== task) {
            throw new JobError('operator', 'TASK_MISMATCH', false, `the job names task ${JSON.stringify(String(job.task).slice(0, 40))} but model ${meta.model} is served for task "${task}"`);
        }
        // The envelope header is public (it is what the orchestrator stores); reading it may throw EnvelopeError.
        const jobNonce = job.jobNonce !== undefined ? toBytes32(job.jobNonce, 'jobNonce') : readInputHeader(job.envelope).jobNonce;
        return {
            ctx: { networkId, modelHash, clientResultPublicKey, jobNonce, job: jobAddress, inputCommitment },
            task,
            inputCommitment,
        };
    }

    private classify(e: unknown, phase: Phase, job: ConfidentialJob): JobError {
        if (e instanceof JobError) return e;
        if (e instanceof EnvelopeError) {
            if (phase === 'prepare' || phase === 'open') {
                // Bytes that fail to open may simply not be the committed envelope (a truncated or corrupted
                // download): that is worth a re-fetch, unlike a committed envelope that is bad.
                if (e.code !== 'WRONG_COMMITMENT' && !this.matchesCommitment(job)) {
                    return new JobError('envelope', 'WRONG_COMMITMENT', true, `sha256(envelope) differs from the job's input commitment (opening failed with ${e.code})`);
                }
                return new JobError('envelope', e.code, envelopeRetryable(e.code), e.message.replace(/^[A-Z_]+: /, ''));
            }
            // After inference: the commitment check, or sealing the result to the client.
            if (e.code === 'WRONG_COMMITMENT') return new JobError('envelope', 'WRONG_COMMITMENT', true, e.message.replace(/^[A-Z_]+: /, ''));
            if (e.code === 'TOO_LARGE') return new JobError('input', 'RESULT_TOO_LARGE', false, 'the output does not fit in a result envelope');
            if (e.code === 'BAD_ARGUMENT' || e.code === 'AUTH_FAILED') {
                return new JobError('input', 'BAD_RESULT_KEY', false, "the job's result key is not a usable X25519 public key");
            }
            return new JobError('operator', 'ENCLAVE_FAILURE', true, `sealing the result failed with ${e.code}`);
        }
        if (phase === 'infer') return redactedInferenceError(e, 'inference'); // defensive: the callback already redacts
        const name = e instanceof Error && /^[A-Za-z]{1,40}$/.test(e.name) ? e.name : typeof e;
        // Before decryption (phase open) the enclave's own messages are safe to keep (e.g. a missing measurement);
        // after inference only the error's name is kept.
        const detail = phase === 'open' && e instanceof Error ? `: ${e.message.slice(0, 200)}` : '';
        return new JobError('operator', 'ENCLAVE_FAILURE', operatorRetryable('ENCLAVE_FAILURE'), `the enclave failed (${name})${detail}`);
    }

    private matchesCommitment(job: ConfidentialJob): boolean {
        try {
            return Buffer.isBuffer(job.envelope) && envelopeCommitment(job.envelope).equals(toBytes32(job.inputCommitment, 'inputCommitment'));
        } catch {
            return false;
        }
    }
}
