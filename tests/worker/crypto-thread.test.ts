import * as crypto from 'crypto';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Address } from '@ton/core';
import { NETWORK_IDS } from '../../protocol/network';
import { EnvelopeError, generateEphemeralX25519Key, generateX25519KeyPair, MAX_PAYLOAD_BYTES, openResult, resultKeyFromAgreement, sealResult } from '../../protocol/envelope';
import { EnclaveCryptoThread } from '../../worker/enclave/cryptoThread';

const NET: number = NETWORK_IDS.devnet;
const client = generateX25519KeyPair();
const binding = {
    networkId: NET,
    job: new Address(0, crypto.createHash('sha256').update('escrow').digest()),
    modelHash: crypto.createHash('sha256').update('model').digest(),
    clientResultPublicKey: client.publicKey,
};

async function codeOf(p: Promise<unknown>): Promise<string> {
    try {
        await p;
    } catch (e) {
        return e instanceof EnvelopeError ? e.code : `other: ${(e as Error).message}`;
    }
    return 'OK';
}

describe('EnclaveCryptoThread: large results sealed off the JS thread', () => {
    const sealer = new EnclaveCryptoThread();
    afterAll(() => sealer.close());

    it('gives byte-for-byte the envelope sealResult gives with the same ephemeral key, and sha256 of it', async () => {
        for (const size of [0, 1, 4096, 300 * 1024, 1024 * 1024]) {
            const out = crypto.randomBytes(size);
            const eph = generateEphemeralX25519Key();
            const expected = sealResult(out, binding, eph);
            const sealed = await sealer.seal(Buffer.from(out), binding, eph);
            expect(sealed.envelope.equals(expected)).toBe(true);
            expect(sealed.commitment.equals(crypto.createHash('sha256').update(expected).digest())).toBe(true);
            expect(openResult(sealed.envelope, binding, client.privateKey).equals(out)).toBe(true);
        }
    });

    it('takes the memory of a Buffer that owns it (detached after), and copies a view so its owner keeps its data', async () => {
        const owned = Buffer.from(crypto.randomBytes(300 * 1024));
        expect(owned.byteOffset === 0 && owned.byteLength === owned.buffer.byteLength).toBe(true);
        const copyOfOwned = Buffer.from(owned);
        const a = await sealer.seal(owned, binding);
        expect(owned.length).toBe(0);
        expect(openResult(a.envelope, binding, client.privateKey).equals(copyOfOwned)).toBe(true);

        const big = crypto.randomBytes(400 * 1024);
        const view = big.subarray(1000, 1000 + 300 * 1024);
        const before = Buffer.from(big);
        const b = await sealer.seal(view, binding);
        expect(big.equals(before)).toBe(true);
        expect(openResult(b.envelope, binding, client.privateKey).equals(before.subarray(1000, 1000 + 300 * 1024))).toBe(true);
    });

    it('answers concurrent seals each with its own envelope', async () => {
        const outs: Buffer[] = Array.from({ length: 8 }, (_, i) => crypto.randomBytes(64 * 1024 + i));
        const sealed = await Promise.all(outs.map((o) => sealer.seal(Buffer.from(o), binding)));
        sealed.forEach((s, i) => expect(openResult(s.envelope, binding, client.privateKey).equals(outs[i])).toBe(true));
    });

    it('refuses bad arguments with the codes sealResult uses, before touching the thread', async () => {
        expect(await codeOf(sealer.seal(Buffer.from('x'), { ...binding, clientResultPublicKey: Buffer.alloc(32) }))).toBe('BAD_ARGUMENT');
        expect(await codeOf(sealer.seal({ length: MAX_PAYLOAD_BYTES + 1 } as unknown as Buffer, binding))).toBe('BAD_ARGUMENT');
        expect(await codeOf(sealer.seal(Buffer.alloc(MAX_PAYLOAD_BYTES + 1), binding))).toBe('TOO_LARGE');
    });

    it('fails pending seals with a clear error when the thread stops, and starts a new thread for the next one', async () => {
        const own = new EnclaveCryptoThread();
        const pending = own.seal(crypto.randomBytes(4 * 1024 * 1024), binding);
        await own.close();
        await expect(pending).rejects.toThrow(/the crypto thread stopped/);
        const out = crypto.randomBytes(1000);
        const again = await own.seal(Buffer.from(out), binding);
        expect(openResult(again.envelope, binding, client.privateKey).equals(out)).toBe(true);
        await own.close();
    });

    it('an idle crypto thread does not keep a process from exiting', () => {
        const script = `require('ts-node').register({ transpileOnly: true, swc: true });
const { EnclaveCryptoThread } = require('./worker/enclave/cryptoThread');
const { generateX25519KeyPair } = require('./protocol/envelope');
const { Address } = require('@ton/core');
new EnclaveCryptoThread()
    .seal(Buffer.alloc(300000), { networkId: 1, job: new Address(0, Buffer.alloc(32)), modelHash: Buffer.alloc(32), clientResultPublicKey: generateX25519KeyPair().publicKey })
    .then((r) => console.log('sealed ' + r.envelope.length));`;
        const r = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8', timeout: 20_000 });
        expect(r.stdout.trim()).toBe(`sealed ${300000 + 118 + 16}`);
        expect(r.status).toBe(0);
    });
});

describe('EnclaveCryptoThread.prepare: the input hash and the result key agreement, while the model runs', () => {
    const thread = new EnclaveCryptoThread();
    afterAll(() => thread.close());

    it('gives sha256 of the envelope and an agreement whose derived key seals a result the client opens', async () => {
        const envelope = crypto.randomBytes(256 * 1024);
        const before = Buffer.from(envelope);
        const p = await thread.prepare(envelope, client.publicKey);
        expect(envelope.equals(before)).toBe(true); // copied: the caller keeps its bytes
        expect(p.inputCommitment.equals(crypto.createHash('sha256').update(envelope).digest())).toBe(true);
        if ('error' in p.agreement) throw new Error(`agreement failed: ${p.agreement.error}`);
        const out = crypto.randomBytes(5000);
        const sealed = sealResult(out, binding, undefined, resultKeyFromAgreement(binding, p.agreement));
        expect(openResult(sealed, binding, client.privateKey).equals(out)).toBe(true);
        // every job gets a fresh one-time key
        const q = await thread.prepare(envelope, client.publicKey);
        expect('error' in q.agreement).toBe(false);
        expect((q.agreement as { ephemeralPublicKey: Buffer }).ephemeralPublicKey.equals(p.agreement.ephemeralPublicKey)).toBe(false);
    });

    it('reports a low-order client key as a failed agreement (the hash still comes back), a malformed one as BAD_ARGUMENT', async () => {
        const envelope = crypto.randomBytes(1000);
        const p = await thread.prepare(envelope, Buffer.alloc(32));
        expect(p.inputCommitment.equals(crypto.createHash('sha256').update(envelope).digest())).toBe(true);
        expect('error' in p.agreement).toBe(true);
        expect(await codeOf(thread.prepare(envelope, Buffer.alloc(31)))).toBe('BAD_ARGUMENT');
        expect(await codeOf(thread.prepare('not a buffer' as unknown as Buffer, client.publicKey))).toBe('BAD_ARGUMENT');
    });
});
