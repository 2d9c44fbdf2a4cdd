import * as crypto from 'crypto';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { Address } from '@ton/core';
import { NETWORK_IDS } from '../../protocol/network';
import { EnvelopeError, generateEphemeralX25519Key, generateX25519KeyPair, MAX_PAYLOAD_BYTES, openResult, sealResult } from '../../protocol/envelope';
import { ResultSealerThread } from '../../worker/enclave/resultSealer';

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

describe('ResultSealerThread (large results sealed on the enclave’s sealing thread)', () => {
    const sealer = new ResultSealerThread();
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
        const outs = Array.from({ length: 8 }, (_, i) => crypto.randomBytes(64 * 1024 + i));
        const sealed = await Promise.all(outs.map((o) => sealer.seal(Buffer.from(o), binding)));
        sealed.forEach((s, i) => expect(openResult(s.envelope, binding, client.privateKey).equals(outs[i])).toBe(true));
    });

    it('refuses bad arguments with the codes sealResult uses, before touching the thread', async () => {
        expect(await codeOf(sealer.seal(Buffer.from('x'), { ...binding, clientResultPublicKey: Buffer.alloc(32) }))).toBe('BAD_ARGUMENT');
        expect(await codeOf(sealer.seal({ length: MAX_PAYLOAD_BYTES + 1 } as unknown as Buffer, binding))).toBe('BAD_ARGUMENT');
        expect(await codeOf(sealer.seal(Buffer.alloc(MAX_PAYLOAD_BYTES + 1), binding))).toBe('TOO_LARGE');
    });

    it('fails pending seals with a clear error when the thread stops, and starts a new thread for the next one', async () => {
        const own = new ResultSealerThread();
        const pending = own.seal(crypto.randomBytes(4 * 1024 * 1024), binding);
        await own.close();
        await expect(pending).rejects.toThrow(/the sealing thread stopped/);
        const out = crypto.randomBytes(1000);
        const again = await own.seal(Buffer.from(out), binding);
        expect(openResult(again.envelope, binding, client.privateKey).equals(out)).toBe(true);
        await own.close();
    });

    it('an idle sealing thread does not keep a process from exiting', () => {
        const script = `require('ts-node').register({ transpileOnly: true, swc: true });
const { ResultSealerThread } = require('./worker/enclave/resultSealer');
const { generateX25519KeyPair } = require('./protocol/envelope');
const { Address } = require('@ton/core');
new ResultSealerThread()
    .seal(Buffer.alloc(300000), { networkId: 1, job: new Address(0, Buffer.alloc(32)), modelHash: Buffer.alloc(32), clientResultPublicKey: generateX25519KeyPair().publicKey })
    .then((r) => console.log('sealed ' + r.envelope.length));`;
        const r = spawnSync(process.execPath, ['-e', script], { cwd: path.join(__dirname, '..', '..'), encoding: 'utf8', timeout: 20_000 });
        expect(r.stdout.trim()).toBe(`sealed ${300000 + 118 + 16}`);
        expect(r.status).toBe(0);
    });
});
