'use strict';
/**
 * The enclave's crypto thread (see cryptoThread.ts): the bulk and key-agreement work of a job, off the JS thread
 * where onnxruntime-node runs small models. Plain JavaScript so it starts without a TypeScript loader, and generic
 * crypto only (sha256, X25519, AES-256-GCM): every protocol rule (key derivation, envelope layout, binding) stays in
 * protocol/envelope.ts on the JS thread, which hands this thread the material it prepared.
 *
 *   prepare: sha256 of the input envelope (the receipt's input commitment) and a one-time X25519 agreement with the
 *            client's result key (what the result key is derived from), while the JS thread decrypts and infers;
 *   seal:    AES-256-GCM over a large result, then sha256 of the whole envelope.
 *
 * Plaintext and keys that arrive here are wiped once used; errors are reported by name only, never with a message
 * that could carry data.
 */
const crypto = require('crypto');
const { parentPort } = require('worker_threads');

function transferList(buf) {
    return buf.byteOffset === 0 && buf.byteLength === buf.buffer.byteLength ? [buf.buffer] : [];
}

function agree(clientPublicKey) {
    const eph = crypto.generateKeyPairSync('x25519');
    const peer = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(clientPublicKey).toString('base64url') }, format: 'jwk' });
    const sharedSecret = crypto.diffieHellman({ privateKey: eph.privateKey, publicKey: peer });
    const ephemeralPublicKey = Buffer.from(eph.publicKey.export({ format: 'jwk' }).x, 'base64url');
    return { ephemeralPublicKey, sharedSecret };
}

function prepare(m) {
    const envelope = Buffer.from(m.envelope.buffer, m.envelope.byteOffset, m.envelope.byteLength);
    const inputCommitment = crypto.createHash('sha256').update(envelope).digest();
    let agreement;
    let agreementError;
    try {
        agreement = agree(m.clientPublicKey);
    } catch (e) {
        // a low-order or malformed client key: the JS thread reports it as the bad result key it is
        agreementError = e instanceof Error ? e.name : typeof e;
    }
    parentPort.postMessage({ id: m.id, inputCommitment, agreement, agreementError });
}

function seal(m) {
    const plaintext = Buffer.from(m.plaintext.buffer, m.plaintext.byteOffset, m.plaintext.byteLength);
    const key = Buffer.from(m.key.buffer, m.key.byteOffset, m.key.byteLength);
    try {
        const cipher = crypto.createCipheriv('aes-256-gcm', key, m.nonce, { authTagLength: 16 });
        cipher.setAAD(m.aad);
        const ciphertext = cipher.update(plaintext);
        cipher.final(); // GCM is a stream mode: nothing is left to flush
        const envelope = Buffer.concat([m.header, ciphertext, cipher.getAuthTag()]);
        const commitment = crypto.createHash('sha256').update(envelope).digest();
        parentPort.postMessage({ id: m.id, envelope, commitment }, transferList(envelope));
    } finally {
        plaintext.fill(0);
        key.fill(0);
    }
}

parentPort.on('message', (m) => {
    try {
        if (m.op === 'prepare') prepare(m);
        else if (m.op === 'seal') seal(m);
        else parentPort.postMessage({ id: m.id, error: 'UnknownOperation' });
    } catch (e) {
        parentPort.postMessage({ id: m.id, error: e instanceof Error ? e.name : typeof e });
    }
});
