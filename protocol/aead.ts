import * as crypto from 'crypto';
import { EnvelopeError } from './envelope-error';

/**
 * The two primitives envelopes are built from: HKDF-SHA256 and AES-256-GCM (both Node/OpenSSL). Kept separate so
 * envelope.ts is only about layout and binding.
 */
export const AES_KEY_BYTES = 32;
export const GCM_NONCE_BYTES = 12;
export const GCM_TAG_BYTES = 16;

/**
 * HKDF-SHA256 → 32-byte AES key ‖ 12-byte GCM nonce. Deriving the nonce too is safe because every derived key is
 * used for exactly one encryption (the X25519 input always contains a fresh ephemeral key), and it keeps nonces
 * off the wire where they could be tampered with.
 */
export function deriveKeyAndNonce(sharedSecret: Buffer, salt: Buffer, info: Buffer): { key: Buffer; nonce: Buffer } {
    const okm = Buffer.from(crypto.hkdfSync('sha256', sharedSecret, salt, info, AES_KEY_BYTES + GCM_NONCE_BYTES));
    return { key: okm.subarray(0, AES_KEY_BYTES), nonce: okm.subarray(AES_KEY_BYTES) };
}

/** Encrypts `plaintext` into `out` at `offset` as ciphertext ‖ tag; returns the offset after the tag. */
export function gcmSealInto(key: Buffer, nonce: Buffer, aad: readonly Buffer[], plaintext: Buffer, out: Buffer, offset: number): number {
    const cipher = crypto.createCipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
    for (const part of aad) cipher.setAAD(part);
    let at = offset + cipher.update(plaintext).copy(out, offset);
    at += cipher.final().copy(out, at); // GCM is a stream mode: final() is empty, copied for correctness only
    return at + cipher.getAuthTag().copy(out, at);
}

/**
 * Decrypts and authenticates. On failure the unauthenticated plaintext is wiped and AUTH_FAILED names `what`
 * (never the key or data).
 */
export function gcmOpen(key: Buffer, nonce: Buffer, aad: readonly Buffer[], ciphertext: Buffer, tag: Buffer, what: string): Buffer {
    const decipher = crypto.createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: GCM_TAG_BYTES });
    for (const part of aad) decipher.setAAD(part);
    decipher.setAuthTag(tag);
    const plaintext = decipher.update(ciphertext);
    try {
        decipher.final();
    } catch {
        plaintext.fill(0);
        throw new EnvelopeError('AUTH_FAILED', `${what} failed authentication (tampered, or not encrypted for this key)`);
    }
    return plaintext;
}
