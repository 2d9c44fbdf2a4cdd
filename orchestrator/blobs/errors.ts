/**
 * The blob store's one error type. Callers branch on `code`; messages describe the problem without ever quoting
 * the blob's bytes.
 */
export type BlobErrorCode =
    | 'TOO_LARGE' // more bytes than the store's cap
    | 'BAD_MAGIC' // does not start with the envelope magic of its kind (plaintext, or the other kind)
    | 'BAD_HASH' // not 64 hex digits
    | 'HASH_MISMATCH' // the bytes do not hash to the hash the caller expected
    | 'CORRUPTED' // the stored bytes do not hash to their key
    | 'BAD_ARGUMENT'; // a programming error (kind, TTL, non-Buffer)

export class BlobError extends Error {
    readonly code: BlobErrorCode;

    constructor(code: BlobErrorCode, message: string) {
        super(`${code}: ${message}`);
        this.name = 'BlobError';
        this.code = code;
    }
}

export function isBlobError(e: unknown, code?: BlobErrorCode): e is BlobError {
    return e instanceof BlobError && (code === undefined || e.code === code);
}
