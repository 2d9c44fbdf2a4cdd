/**
 * Errors of the confidential job path. Every failure of ConfidentialJobRunner.run is a JobError with
 *   - `kind`: who is at fault —
 *       'envelope'  the ciphertext: not for this enclave, tampered, bound to another job, not the committed bytes;
 *       'input'     the client's plaintext input (or its result key / result size): deterministic, the same job fails
 *                   on every worker;
 *       'operator'  this worker or its caller: model not served, engine failure, bad call, enclave failure;
 *   - `code`: a stable string (the envelope layer's and the inference engine's codes are kept as they are, plus a few
 *     of the runner's own; the three sets are disjoint, so a code alone names its kind);
 *   - `retryable`: whether running the same job again (here or on another candidate) can succeed.
 *
 * PLAINTEXT RULE. A JobError never carries text derived from the job's plaintext: errors raised while the plaintext
 * exists (inside the enclave's inference callback) are replaced by a message built from the code alone, and the
 * original error is dropped (no `cause`, so util.inspect and loggers cannot print it). The inference engine's own
 * messages may quote the input (e.g. a JSON parse error shows the text around the bad token, a tensor error names
 * the offending element), which is why they never cross this boundary. Details are kept only for errors raised
 * before decryption or by the envelope layer, whose messages are plaintext-free by contract (protocol/envelope-error.ts).
 */
import type { EnvelopeErrorCode } from '../../protocol/envelope-error';
import type { EngineErrorCode, InputErrorCode } from '../inference/errors';

export type JobErrorKind = 'envelope' | 'input' | 'operator';

/** Codes the runner adds to the envelope and inference codes. */
export type RunnerErrorCode =
    | 'BAD_REQUEST' // the caller passed an invalid job description (not a 32-byte hash, a bad address, ...)
    | 'TASK_MISMATCH' // the job's task is not the task its model hash is served for
    | 'RESULT_TOO_LARGE' // the model's output does not fit in a result envelope
    | 'BAD_RESULT_KEY' // the client's result key is not a usable X25519 public key
    | 'INFERENCE_FAILED' // an error without a code inside the inference callback
    | 'ENCLAVE_FAILURE'; // the enclave failed outside inference (e.g. no measurement configured)

export type JobErrorCode = EnvelopeErrorCode | InputErrorCode | EngineErrorCode | RunnerErrorCode;

export class JobError extends Error {
    readonly code: JobErrorCode;
    readonly kind: JobErrorKind;
    readonly retryable: boolean;

    constructor(kind: JobErrorKind, code: JobErrorCode, retryable: boolean, message: string) {
        super(`${code}: ${message}`);
        this.name = 'JobError';
        this.kind = kind;
        this.code = code;
        this.retryable = retryable;
    }

    /** What loggers and JSON see: the classification and the (plaintext-free) message. */
    toJSON(): { name: string; kind: JobErrorKind; code: JobErrorCode; retryable: boolean; message: string } {
        return { name: this.name, kind: this.kind, code: this.code, retryable: this.retryable, message: this.message };
    }
}

export function isJobError(e: unknown): e is JobError {
    return e instanceof JobError;
}

// ---------------------------------------------------------------------------------------------------------------
// classification tables

/** Envelope codes after which another attempt can succeed; every other envelope failure is final. */
const RETRYABLE_ENVELOPE: ReadonlySet<EnvelopeErrorCode> = new Set<EnvelopeErrorCode>([
    'NOT_A_RECIPIENT', // another candidate of the envelope can open it
    'WRONG_COMMITMENT', // these bytes are not the job's envelope: fetch the committed blob again
]);

/** Operator codes after which retrying the same call cannot help (the call itself is wrong). */
const FINAL_OPERATOR: ReadonlySet<JobErrorCode> = new Set<JobErrorCode>(['BAD_REQUEST', 'TASK_MISMATCH', 'WRONG_TASK', 'UNKNOWN_TASK']);

export function envelopeRetryable(code: EnvelopeErrorCode): boolean {
    return RETRYABLE_ENVELOPE.has(code);
}

export function operatorRetryable(code: JobErrorCode): boolean {
    return !FINAL_OPERATOR.has(code);
}

const INPUT_CODES: ReadonlySet<string> = new Set<InputErrorCode>([
    'INPUT_EMPTY',
    'INPUT_TOO_LARGE',
    'IMAGE_FORMAT',
    'IMAGE_DECODE',
    'IMAGE_TOO_SMALL',
    'IMAGE_TOO_LARGE',
    'WAV_FORMAT',
    'WAV_ENCODING',
    'WAV_SAMPLE_RATE',
    'WAV_CHANNELS',
    'AUDIO_EMPTY',
    'AUDIO_TOO_LONG',
    'TENSOR_JSON',
    'TENSOR_BINARY',
    'TENSOR_UNKNOWN_INPUT',
    'TENSOR_MISSING_INPUT',
    'TENSOR_UNKNOWN_OUTPUT',
    'TENSOR_DTYPE',
    'TENSOR_SHAPE',
    'TENSOR_DATA',
    'TENSOR_TOO_LARGE',
    'TENSOR_BATCH_TOO_LARGE',
    'TENSOR_OUTPUT_ENCODING',
]);

const ENGINE_CODES: ReadonlySet<string> = new Set<EngineErrorCode>([
    'UNKNOWN_TASK',
    'UNKNOWN_MODEL',
    'WRONG_TASK',
    'CATALOG_INVALID',
    'MODEL_FILE_MISSING',
    'MODEL_HASH_MISMATCH',
    'EXECUTION_PROVIDER_UNAVAILABLE',
    'SESSION_CREATE_FAILED',
    'MODEL_RUN_FAILED',
    'ENGINE_CLOSED',
]);

export function isInputErrorCode(code: unknown): code is InputErrorCode {
    return typeof code === 'string' && INPUT_CODES.has(code);
}

export function isEngineErrorCode(code: unknown): code is EngineErrorCode {
    return typeof code === 'string' && ENGINE_CODES.has(code);
}

/** Fixed, plaintext-free descriptions of the inference codes, used for errors raised inside the enclave. */
const INFERENCE_TEXT: Record<InputErrorCode | EngineErrorCode, string> = {
    INPUT_EMPTY: 'the input is empty',
    INPUT_TOO_LARGE: 'the input is larger than this worker accepts',
    IMAGE_FORMAT: 'the input is not a supported image format',
    IMAGE_DECODE: 'the input image could not be decoded',
    IMAGE_TOO_SMALL: 'the input image is too small',
    IMAGE_TOO_LARGE: 'the input image is too large',
    WAV_FORMAT: 'the input is not a WAV file',
    WAV_ENCODING: 'the WAV sample encoding is not supported',
    WAV_SAMPLE_RATE: 'the WAV sample rate is not supported',
    WAV_CHANNELS: 'the WAV channel layout is not supported',
    AUDIO_EMPTY: 'the audio has no samples',
    AUDIO_TOO_LONG: 'the audio is longer than this worker accepts',
    TENSOR_JSON: 'the tensor request is not a valid JSON request',
    TENSOR_BINARY: 'the binary tensor request is malformed (header, offsets or lengths)',
    TENSOR_UNKNOWN_INPUT: 'the tensor request names an input the model does not have',
    TENSOR_MISSING_INPUT: 'the tensor request lacks an input the model needs',
    TENSOR_UNKNOWN_OUTPUT: 'the tensor request names an output the model does not have',
    TENSOR_DTYPE: 'a tensor has a dtype the model does not accept',
    TENSOR_SHAPE: 'a tensor has a shape the model does not accept, or its data does not match its shape',
    TENSOR_DATA: 'a tensor element is not a valid value of its dtype',
    TENSOR_TOO_LARGE: 'the tensors hold more elements than this worker accepts',
    TENSOR_BATCH_TOO_LARGE: "a tensor's batch exceeds this worker's limit",
    TENSOR_OUTPUT_ENCODING: 'the requested output encoding is not supported',
    UNKNOWN_TASK: 'the task is unknown to the inference engine',
    UNKNOWN_MODEL: 'the model is not in this worker catalog',
    WRONG_TASK: 'the model is not served for this task',
    CATALOG_INVALID: 'the model catalog is invalid',
    MODEL_FILE_MISSING: 'a model file is missing',
    MODEL_HASH_MISMATCH: 'a model file does not match its pinned hash',
    EXECUTION_PROVIDER_UNAVAILABLE: 'the execution provider is unavailable',
    SESSION_CREATE_FAILED: 'the model session could not be created',
    MODEL_RUN_FAILED: 'the model run failed',
    ENGINE_CLOSED: 'the inference engine is closed',
};

/**
 * Converts anything thrown inside the enclave's inference callback into a JobError that holds no plaintext: only
 * the error's `code` is read (when it is one of the engine's codes), never its message, stack or cause.
 */
export function redactedInferenceError(e: unknown, task: string): JobError {
    const code = e !== null && typeof e === 'object' ? (e as { code?: unknown }).code : undefined;
    if (isInputErrorCode(code)) {
        return new JobError('input', code, false, `the ${task} task rejected the job's input: ${INFERENCE_TEXT[code]} (details withheld: they may quote the plaintext)`);
    }
    if (isEngineErrorCode(code)) {
        return new JobError('operator', code, operatorRetryable(code), `the ${task} task failed on this worker: ${INFERENCE_TEXT[code]} (details withheld: they may quote the plaintext)`);
    }
    const name = e instanceof Error && /^[A-Za-z]{1,40}$/.test(e.name) ? e.name : typeof e;
    return new JobError('operator', 'INFERENCE_FAILED', true, `the ${task} task failed with an uncoded ${name} (details withheld: they may quote the plaintext)`);
}
