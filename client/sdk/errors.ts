/**
 * The SDK's one error type. `code` is for programs (branch on it), `message` says what was wrong, `hint` says what
 * to do about it. Messages name jobs, providers, hashes and amounts only: never job plaintext (inputs, results).
 */
export type CocoonErrorCode =
    /** the model is neither a known name (ocr, vad, tensor, or one in the network file) nor a 64-hex hash */
    | 'UNKNOWN_MODEL'
    /** the input is empty */
    | 'EMPTY_INPUT'
    /** the input is larger than an envelope can carry (protocol/envelope MAX_PAYLOAD_BYTES) */
    | 'INPUT_TOO_LARGE'
    /** a bad argument (deadline, candidates, price, address) */
    | 'BAD_ARGUMENT'
    /** the deadline is beyond what the registry allows (maxJobDuration) */
    | 'BAD_DEADLINE'
    /** maxPrice is below every verified provider's price */
    | 'PRICE_TOO_LOW'
    /** no verified, healthy provider serves the model */
    | 'NO_PROVIDERS'
    /** a provider named as a candidate (or the one that claimed) failed the attestation checks */
    | 'PROVIDER_NOT_ATTESTED'
    /** the orchestrator API could not be reached or answered with an error */
    | 'API_ERROR'
    /** the input envelope upload was refused */
    | 'UPLOAD_FAILED'
    /** the wallet cannot pay maxPrice + the open fee + network fees */
    | 'INSUFFICIENT_FUNDS'
    /** the OpenJob message was not accepted by the registry (or its outcome was not found) */
    | 'OPEN_FAILED'
    /** a wait ran out of time */
    | 'TIMEOUT'
    /** the result blob does not hash to the on-chain output commitment */
    | 'RESULT_MISMATCH'
    /** the receipt does not verify, or the claim carries another key than the attested one */
    | 'BAD_RECEIPT'
    /** the result envelope does not open with the result key */
    | 'DECRYPT_FAILED'
    /** the job's deadline passed without a result (or it was expired on chain) */
    | 'JOB_EXPIRED'
    /** the job was cancelled */
    | 'JOB_CANCELLED'
    /** the orchestrator gave up routing the job (every provider failed) */
    | 'DEAD_LETTER'
    /** the job is not in a state that allows this action (accept before commit, cancel after claim...) */
    | 'WRONG_STATE'
    /** accept/cancel from a wallet other than the job's client */
    | 'NOT_CLIENT'
    /** the result key of this job is not available */
    | 'NO_RESULT_KEY'
    /** no job escrow at this address */
    | 'JOB_NOT_FOUND'
    /** a chain call failed */
    | 'CHAIN_ERROR';

export class CocoonError extends Error {
    constructor(
        readonly code: CocoonErrorCode,
        message: string,
        readonly hint?: string,
    ) {
        super(message);
        this.name = 'CocoonError';
    }

    toJSON(): { code: CocoonErrorCode; message: string; hint?: string } {
        return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) };
    }
}

export function isCocoonError(e: unknown, code?: CocoonErrorCode): e is CocoonError {
    return e instanceof CocoonError && (code === undefined || e.code === code);
}
