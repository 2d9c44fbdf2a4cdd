import * as crypto from 'crypto';

/**
 * Node KeyObjects for Ed25519 keys held in @ton/crypto's layout. Node's Ed25519 (OpenSSL) produces the same
 * deterministic RFC 8032 signatures as tweetnacl, which @ton/crypto uses, in ~0.05 ms instead of ~7 ms here, and
 * verifies in ~0.1 ms instead of ~12 ms.
 */

/** The private key of a @ton/crypto key pair (secretKey = 32-byte seed ‖ 32-byte public key). */
export function ed25519PrivateKeyObject(keyPair: { secretKey: Buffer; publicKey: Buffer }): crypto.KeyObject {
    return crypto.createPrivateKey({
        key: { kty: 'OKP', crv: 'Ed25519', d: keyPair.secretKey.subarray(0, 32).toString('base64url'), x: keyPair.publicKey.toString('base64url') },
        format: 'jwk',
    });
}

/** A raw 32-byte Ed25519 public key; throws when it is not a valid key encoding. */
export function ed25519PublicKeyObject(raw: Buffer): crypto.KeyObject {
    return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}
