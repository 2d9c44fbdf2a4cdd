/**
 * The one error type of the envelope layer. Callers branch on `code` (stable strings), never on the message; the
 * message says what was wrong for logs. Messages never contain key material or plaintext.
 */
export type EnvelopeErrorCode =
    | 'TRUNCATED' // input ends before a field or the declared payload
    | 'TRAILING_BYTES' // input continues after the final field
    | 'BAD_MAGIC' // not an envelope of the expected kind (input vs result)
    | 'BAD_VERSION' // a format version this code does not read
    | 'TOO_LARGE' // payload or whole envelope above the hard cap
    | 'TOO_MANY_RECIPIENTS' // more recipient slots than MAX_RECIPIENTS
    | 'MALFORMED' // structurally impossible content (no recipients, duplicate recipient ids)
    | 'BAD_ARGUMENT' // a caller-supplied key, hash, network id or recipient list is invalid (a programming error)
    | 'NOT_A_RECIPIENT' // no slot for this key
    | 'AUTH_FAILED' // AES-GCM authentication (or X25519 derivation) failed: tampered or not for this key
    | 'WRONG_BINDING' // envelope is for another network, model, result key, job nonce or job address
    | 'WRONG_COMMITMENT'; // sha256(envelope) differs from the commitment recorded on chain

export class EnvelopeError extends Error {
    readonly code: EnvelopeErrorCode;

    constructor(code: EnvelopeErrorCode, message: string) {
        super(`${code}: ${message}`);
        this.name = 'EnvelopeError';
        this.code = code;
    }
}
