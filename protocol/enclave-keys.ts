import * as crypto from 'crypto';

/**
 * How an enclave's public keys are bound into its TEE quote. TDX (and SGX) quotes carry 64 bytes of report data
 * chosen by the enclave; we put
 *     reportData = sha256("cocoon/enclave-keys/v1" ‖ ed25519PublicKey:32 ‖ x25519PublicKey:32) ‖ 32 zero bytes
 * The zero half is reserved for a future field (e.g. a freshness nonce) so this v1 rule stays recognisable.
 * A verifier recomputes this from the keys recorded on chain and compares it with the quote's report data.
 */
export const ENCLAVE_KEYS_DOMAIN = 'cocoon/enclave-keys/v1';
export const REPORT_DATA_BYTES = 64;

export function enclaveReportData(ed25519PublicKey: Buffer, x25519PublicKey: Buffer): Buffer {
    if (ed25519PublicKey.length !== 32 || x25519PublicKey.length !== 32) throw new Error('enclave public keys must be 32 bytes each');
    const out = Buffer.alloc(REPORT_DATA_BYTES);
    crypto.createHash('sha256').update(ENCLAVE_KEYS_DOMAIN, 'latin1').update(ed25519PublicKey).update(x25519PublicKey).digest().copy(out, 0);
    return out;
}
