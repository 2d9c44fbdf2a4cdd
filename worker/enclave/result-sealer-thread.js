'use strict';
/**
 * The enclave's sealing thread (see resultSealer.ts): AES-256-GCM over a large result, then sha256 of the whole
 * envelope, off the JS thread where onnxruntime-node runs models. Plain JavaScript so it starts without a
 * TypeScript loader. It receives the key material prepared by protocol/envelope.ts prepareResultSeal and the
 * plaintext's memory (transferred, not copied), and gives back the envelope's memory the same way.
 */
const crypto = require('crypto');
const { parentPort } = require('worker_threads');

parentPort.on('message', (m) => {
    const plaintext = Buffer.from(m.plaintext.buffer, m.plaintext.byteOffset, m.plaintext.byteLength);
    const key = Buffer.from(m.key.buffer, m.key.byteOffset, m.key.byteLength);
    try {
        const cipher = crypto.createCipheriv('aes-256-gcm', key, m.nonce, { authTagLength: 16 });
        cipher.setAAD(m.aad);
        const ciphertext = cipher.update(plaintext);
        cipher.final(); // GCM is a stream mode: nothing is left to flush
        const envelope = Buffer.concat([m.header, ciphertext, cipher.getAuthTag()]);
        const commitment = crypto.createHash('sha256').update(envelope).digest();
        const transfer = envelope.byteOffset === 0 && envelope.byteLength === envelope.buffer.byteLength ? [envelope.buffer] : [];
        parentPort.postMessage({ id: m.id, envelope, commitment }, transfer);
    } catch (e) {
        // names only: never a message that could carry data
        parentPort.postMessage({ id: m.id, error: e instanceof Error ? e.name : typeof e });
    } finally {
        plaintext.fill(0);
        key.fill(0);
    }
});
