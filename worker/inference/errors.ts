/**
 * Errors of the inference engine. Every failure carries a stable machine-readable `code`, so the worker can tell
 * a client's bad input (deterministic: retrying on another worker gives the same answer) from an operator problem
 * (missing model, corrupted file, missing execution provider) where another worker may succeed.
 */

/** Codes of inputs the client sent (the job itself is bad; re-routing will not help). */
export type InputErrorCode =
    | 'INPUT_EMPTY'
    | 'INPUT_TOO_LARGE'
    | 'IMAGE_FORMAT'
    | 'IMAGE_DECODE'
    | 'IMAGE_TOO_SMALL'
    | 'IMAGE_TOO_LARGE'
    | 'WAV_FORMAT'
    | 'WAV_ENCODING'
    | 'WAV_SAMPLE_RATE'
    | 'WAV_CHANNELS'
    | 'AUDIO_EMPTY'
    | 'AUDIO_TOO_LONG'
    | 'TENSOR_JSON'
    | 'TENSOR_BINARY'
    | 'TENSOR_UNKNOWN_INPUT'
    | 'TENSOR_MISSING_INPUT'
    | 'TENSOR_UNKNOWN_OUTPUT'
    | 'TENSOR_DTYPE'
    | 'TENSOR_SHAPE'
    | 'TENSOR_DATA'
    | 'TENSOR_TOO_LARGE'
    | 'TENSOR_BATCH_TOO_LARGE'
    | 'TENSOR_OUTPUT_ENCODING';

/** Codes of engine/operator-side problems (the job may succeed elsewhere). */
export type EngineErrorCode =
    | 'UNKNOWN_TASK'
    | 'UNKNOWN_MODEL'
    | 'WRONG_TASK'
    | 'CATALOG_INVALID'
    | 'MODEL_FILE_MISSING'
    | 'MODEL_HASH_MISMATCH'
    | 'EXECUTION_PROVIDER_UNAVAILABLE'
    | 'SESSION_CREATE_FAILED'
    | 'MODEL_RUN_FAILED'
    | 'ENGINE_CLOSED';

export type InferenceErrorCode = InputErrorCode | EngineErrorCode;

export class InferenceError extends Error {
    readonly code: InferenceErrorCode;
    constructor(code: InferenceErrorCode, message: string, options?: { cause?: unknown }) {
        super(message);
        this.name = 'InferenceError';
        this.code = code;
        if (options && 'cause' in options) (this as { cause?: unknown }).cause = options.cause;
    }
}

/** The job's input is invalid. Raised before the input reaches any model. */
export class InferenceInputError extends InferenceError {
    declare readonly code: InputErrorCode;
    constructor(code: InputErrorCode, message: string) {
        super(code, message);
        this.name = 'InferenceInputError';
    }
}

/** The model catalog is invalid or a model file does not match its pinned sha256. */
export class ModelCatalogError extends InferenceError {
    constructor(code: 'CATALOG_INVALID' | 'MODEL_FILE_MISSING' | 'MODEL_HASH_MISMATCH', message: string) {
        super(code, message);
        this.name = 'ModelCatalogError';
    }
}

export function isInputError(e: unknown): e is InferenceInputError {
    return e instanceof InferenceInputError;
}
