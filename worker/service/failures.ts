/**
 * How a work item fails (protocol/work.ts): the BullMQ job fails with `${code}: ${message}`, as an
 * UnrecoverableError when another attempt cannot help (NON_RETRYABLE_FAILURES). Messages carry metadata only: ids,
 * hashes, codes, amounts — never job plaintext.
 */
import { UnrecoverableError } from 'bullmq';
import { NON_RETRYABLE_FAILURES, WorkFailureCode } from '../../protocol/work';
import { isJobError } from '../job/errors';

/** Thrown by the pipeline; `toBullError()` gives what the BullMQ processor throws. */
export class WorkFailure extends Error {
    constructor(
        readonly code: WorkFailureCode,
        readonly detail: string,
    ) {
        super(`${code}: ${detail}`);
        this.name = 'WorkFailure';
    }

    get retryable(): boolean {
        return !NON_RETRYABLE_FAILURES.has(this.code);
    }

    toBullError(): Error {
        return this.retryable ? new Error(this.message) : new UnrecoverableError(this.message);
    }
}

export function fail(code: WorkFailureCode, detail: string): never {
    throw new WorkFailure(code, detail);
}

/**
 * A ConfidentialJobRunner failure as a work failure. The JobError's message is already plaintext-free (see
 * worker/job/errors.ts, PLAINTEXT RULE), so it is kept.
 *   - not a recipient: another candidate's enclave may open it;
 *   - the fetched bytes do not hash to the commitment: a re-fetch (here or elsewhere) may get the right ones;
 *   - bad media / bad input / a committed envelope that does not open for its job: the same on every provider;
 *   - anything else is this worker's problem.
 */
export function failureOfJobError(e: unknown): WorkFailure {
    if (!isJobError(e)) {
        const name = e instanceof Error && /^[A-Za-z]{1,40}$/.test(e.name) ? e.name : typeof e;
        return new WorkFailure('WORKER_ERROR', `the enclave run failed with an unexpected ${name}`);
    }
    if (e.code === 'NOT_A_RECIPIENT') return new WorkFailure('NOT_A_RECIPIENT', e.message.replace(/^NOT_A_RECIPIENT: /, ''));
    if (e.code === 'WRONG_COMMITMENT') return new WorkFailure('INPUT_MISSING', `the fetched input envelope is not the committed one (${e.message})`);
    if (e.kind === 'input' || e.kind === 'envelope') return new WorkFailure('INPUT_REJECTED', e.message);
    return new WorkFailure('WORKER_ERROR', e.message);
}

/** Anything thrown by a pipeline stage, as a work failure (unknown errors: WORKER_ERROR with their message). */
export function asWorkFailure(e: unknown, stage: string): WorkFailure {
    if (e instanceof WorkFailure) return e;
    const msg = e instanceof Error ? e.message : String(e);
    return new WorkFailure('WORKER_ERROR', `${stage}: ${msg.slice(0, 300)}`);
}
