import * as crypto from 'crypto';
import { EnvelopeError } from './envelope-error';

/**
 * X25519 keys as raw 32-byte buffers (the form stored on chain and in envelopes) and conversions to Node KeyObjects.
 *
 * Public keys are imported through JWK: on Node 20 / OpenSSL 3 that takes ~0.03 ms against ~0.3 ms for SPKI DER
 * (OpenSSL's decoder framework), and one import happens per envelope on the worker's hot path. Private keys are
 * imported through PKCS#8 DER (RFC 8410) because a JWK private key must also carry its public half, which we do
 * not have; that costs ~1 ms, so hot paths should keep KeyObjects (x25519PrivateKeyObject) or X25519Recipients.
 * Export goes through JWK, the only raw export Node offers for OKP keys.
 */
export const X25519_KEY_BYTES = 32;
export const RECIPIENT_ID_BYTES = 8;

const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export interface X25519KeyPair {
    publicKey: Buffer;
    privateKey: Buffer;
}

/**
 * Who can open an envelope: its public key and a function computing X25519(own private key, peer). The enclave
 * implements this around a KeyObject it never exports, so the envelope code never sees the private key.
 */
export interface X25519Recipient {
    readonly publicKey: Buffer;
    sharedSecret(peerPublicKey: Buffer): Buffer;
}

function checkLength(what: string, b: Buffer): void {
    if (!Buffer.isBuffer(b) || b.length !== X25519_KEY_BYTES) {
        throw new EnvelopeError('BAD_ARGUMENT', `${what} must be ${X25519_KEY_BYTES} bytes, got ${Buffer.isBuffer(b) ? b.length : typeof b}`);
    }
}

export function x25519PublicKeyObject(raw: Buffer): crypto.KeyObject {
    checkLength('X25519 public key', raw);
    return crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });
}

export function x25519PrivateKeyObject(raw: Buffer): crypto.KeyObject {
    checkLength('X25519 private key', raw);
    return crypto.createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
}

/** Raw public key of a public or private X25519 KeyObject. */
export function exportX25519PublicKey(key: crypto.KeyObject): Buffer {
    if (key.asymmetricKeyType !== 'x25519') throw new EnvelopeError('BAD_ARGUMENT', `expected an x25519 key, got ${key.asymmetricKeyType}`);
    const pub = key.type === 'private' ? crypto.createPublicKey(key) : key;
    return Buffer.from(pub.export({ format: 'jwk' }).x as string, 'base64url');
}

export function generateX25519KeyPair(): X25519KeyPair {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('x25519');
    return {
        publicKey: Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url'),
        privateKey: Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url'),
    };
}

/**
 * X25519 with OpenSSL's check: a low-order peer key gives an all-zero secret, which OpenSSL refuses. That surfaces
 * as AUTH_FAILED because such a key can only come from tampering.
 */
export function x25519SharedSecret(privateKey: crypto.KeyObject, peerPublicKey: Buffer): Buffer {
    const publicKey = x25519PublicKeyObject(peerPublicKey);
    try {
        return crypto.diffieHellman({ privateKey, publicKey });
    } catch {
        throw new EnvelopeError('AUTH_FAILED', 'X25519 derivation failed (low-order or invalid peer key)');
    }
}

/** A recipient backed by a private key held in memory (client side, tests). */
export function x25519Recipient(privateKey: Buffer | crypto.KeyObject): X25519Recipient {
    const key = Buffer.isBuffer(privateKey) ? x25519PrivateKeyObject(privateKey) : privateKey;
    if (key.type !== 'private') throw new EnvelopeError('BAD_ARGUMENT', 'a recipient needs a private key');
    const publicKey = exportX25519PublicKey(key);
    return { publicKey, sharedSecret: (peer) => x25519SharedSecret(key, peer) };
}

/** Slot id of a recipient in an input envelope: sha256(public key)[0..8]. Only for lookup; AES-GCM authenticates. */
export function recipientId(publicKey: Buffer): Buffer {
    checkLength('X25519 public key', publicKey);
    return crypto.createHash('sha256').update(publicKey).digest().subarray(0, RECIPIENT_ID_BYTES);
}

/** A one-time X25519 key pair: used for exactly one envelope, then dropped. */
export interface EphemeralX25519Key {
    privateKey: crypto.KeyObject;
    publicKey: Buffer;
}

export function generateEphemeralX25519Key(): EphemeralX25519Key {
    const { publicKey, privateKey } = crypto.generateKeyPairSync('x25519');
    return { privateKey, publicKey: exportX25519PublicKey(publicKey) };
}

/**
 * One-time X25519 keys generated ahead of use on libuv's thread pool, so sealing a result does not pay for key
 * generation (~80 µs on these machines) on the JS thread. Every key is handed out once and then forgotten; when
 * the pool is empty `take` generates one synchronously, so it never waits and never reuses.
 */
export class EphemeralKeyPool {
    readonly #keys: EphemeralX25519Key[] = [];
    #pending = 0;

    constructor(readonly size = 8) {
        if (!Number.isInteger(size) || size < 0) throw new EnvelopeError('BAD_ARGUMENT', `pool size must be a non-negative integer, got ${size}`);
        this.#refill();
    }

    /** Keys ready now (for tests and metrics). */
    get ready(): number {
        return this.#keys.length;
    }

    take(): EphemeralX25519Key {
        const key = this.#keys.pop() ?? generateEphemeralX25519Key();
        this.#refill();
        return key;
    }

    #refill(): void {
        while (this.#keys.length + this.#pending < this.size) {
            this.#pending++;
            crypto.generateKeyPair('x25519', undefined, (err, publicKey, privateKey) => {
                this.#pending--;
                if (!err) this.#keys.push({ privateKey, publicKey: exportX25519PublicKey(publicKey) });
            });
        }
    }
}
