import * as crypto from 'crypto';
import { Address } from '@ton/core';
import { NETWORK_IDS } from '../../protocol/network';
import {
    envelopeCommitment,
    EnvelopeError,
    generateX25519KeyPair,
    jobBinding,
    MAX_INPUT_ENVELOPE_BYTES,
    MAX_PAYLOAD_BYTES,
    MAX_RECIPIENTS,
    MAX_RESULT_ENVELOPE_BYTES,
    openInput,
    openResult,
    readInputHeader,
    readResultHeader,
    recipientId,
    sealInput,
    sealResult,
    prepareResultSeal,
    EphemeralKeyPool,
    generateEphemeralX25519Key,
    x25519PrivateKeyObject,
    x25519Recipient,
    X25519KeyPair,
} from '../../protocol/envelope';
import { exportX25519PublicKey } from '../../protocol/x25519';

const NET: number = NETWORK_IDS.testnet;
const modelHash = crypto.createHash('sha256').update('model').digest();
const client = generateX25519KeyPair();
const enclaves: X25519KeyPair[] = Array.from({ length: MAX_RECIPIENTS }, () => generateX25519KeyPair());

/** Runs f and returns the EnvelopeError code it throws, or 'OK'. Any other error fails the test. */
function codeOf(f: () => unknown): string {
    try {
        f();
    } catch (e) {
        if (e instanceof EnvelopeError) return e.code;
        throw e;
    }
    return 'OK';
}

function flip(bytes: Buffer, at: number, mask = 0x01): Buffer {
    const b = Buffer.from(bytes);
    b[at] ^= mask;
    return b;
}

function seal(payload: Buffer, recipients: Buffer[], jobNonce?: Buffer) {
    return sealInput({ networkId: NET, modelHash, clientResultPublicKey: client.publicKey, jobNonce, recipients, payload });
}

function bindingFor(jobNonce: Buffer) {
    return { networkId: NET, modelHash, clientResultPublicKey: client.publicKey, jobNonce };
}

describe('X25519 key helpers', () => {
    it('generates raw 32-byte pairs that round-trip through KeyObjects and agree on shared secrets', () => {
        const a = generateX25519KeyPair();
        const b = generateX25519KeyPair();
        expect(a.publicKey.length).toBe(32);
        expect(a.privateKey.length).toBe(32);
        expect(a.privateKey.equals(b.privateKey)).toBe(false);
        expect(exportX25519PublicKey(x25519PrivateKeyObject(a.privateKey)).equals(a.publicKey)).toBe(true);
        const ab = x25519Recipient(a.privateKey).sharedSecret(b.publicKey);
        const ba = x25519Recipient(b.privateKey).sharedSecret(a.publicKey);
        expect(ab.equals(ba)).toBe(true);
        expect(recipientId(a.publicKey).equals(crypto.createHash('sha256').update(a.publicKey).digest().subarray(0, 8))).toBe(true);
    });

    it('rejects keys of the wrong length and low-order peers', () => {
        expect(codeOf(() => x25519PrivateKeyObject(Buffer.alloc(31)))).toBe('BAD_ARGUMENT');
        expect(codeOf(() => recipientId(Buffer.alloc(33)))).toBe('BAD_ARGUMENT');
        expect(codeOf(() => x25519Recipient(client.privateKey).sharedSecret(Buffer.alloc(32)))).toBe('AUTH_FAILED');
    });
});

describe('input envelope', () => {
    it('round-trips with one recipient; commitment is sha256 of the bytes; the job nonce is random unless given', () => {
        const payload = crypto.randomBytes(1000);
        const s = seal(payload, [enclaves[0].publicKey]);
        expect(s.jobNonce.length).toBe(32);
        expect(s.commitment.equals(crypto.createHash('sha256').update(s.envelope).digest())).toBe(true);
        expect(envelopeCommitment(s.envelope).equals(s.commitment)).toBe(true);
        // every accepted recipient form: raw private key, KeyObject, callback-style recipient
        expect(openInput(s.envelope, bindingFor(s.jobNonce), enclaves[0].privateKey).equals(payload)).toBe(true);
        expect(openInput(s.envelope, bindingFor(s.jobNonce), x25519PrivateKeyObject(enclaves[0].privateKey)).equals(payload)).toBe(true);
        expect(openInput(s.envelope, bindingFor(s.jobNonce), x25519Recipient(enclaves[0].privateKey)).equals(payload)).toBe(true);
        // the plaintext is not visible in the envelope and two seals differ (fresh data key, nonce, ephemeral key)
        expect(s.envelope.includes(payload.subarray(0, 16))).toBe(false);
        const again = seal(payload, [enclaves[0].publicKey], s.jobNonce);
        expect(again.jobNonce.equals(s.jobNonce)).toBe(true);
        expect(again.envelope.equals(s.envelope)).toBe(false);
    });

    it('round-trips with MAX_RECIPIENTS recipients: every recipient opens the same envelope', () => {
        const payload = crypto.randomBytes(4096);
        const s = seal(payload, enclaves.map((e) => e.publicKey));
        const info = readInputHeader(s.envelope);
        expect(info.recipientIds.map((id) => id.toString('hex'))).toEqual(enclaves.map((e) => recipientId(e.publicKey).toString('hex')));
        expect(info).toMatchObject({ version: 1, networkId: NET, payloadLength: payload.length });
        expect(info.jobNonce.equals(s.jobNonce)).toBe(true);
        expect(info.clientResultPublicKey.equals(client.publicKey)).toBe(true);
        expect(info.modelHash.equals(modelHash)).toBe(true);
        for (const e of enclaves) expect(openInput(s.envelope, bindingFor(s.jobNonce), e.privateKey).equals(payload)).toBe(true);
    });

    it('round-trips an empty payload', () => {
        const s = seal(Buffer.alloc(0), [enclaves[0].publicKey]);
        expect(openInput(s.envelope, bindingFor(s.jobNonce), enclaves[0].privateKey).length).toBe(0);
    });

    it('refuses a key that has no slot with NOT_A_RECIPIENT', () => {
        const s = seal(Buffer.from('secret'), [enclaves[0].publicKey, enclaves[1].publicKey]);
        expect(codeOf(() => openInput(s.envelope, bindingFor(s.jobNonce), enclaves[2].privateKey))).toBe('NOT_A_RECIPIENT');
        expect(codeOf(() => openInput(s.envelope, bindingFor(s.jobNonce), client.privateKey))).toBe('NOT_A_RECIPIENT');
    });

    it('refuses another network, model, result key or job nonce with WRONG_BINDING and a message naming it', () => {
        const s = seal(Buffer.from('secret'), [enclaves[0].publicKey]);
        const good = bindingFor(s.jobNonce);
        const cases: [Partial<typeof good>, RegExp][] = [
            [{ networkId: NETWORK_IDS.mainnet }, /network id is -3, expected -239/],
            [{ modelHash: crypto.randomBytes(32) }, /model hash/],
            [{ clientResultPublicKey: generateX25519KeyPair().publicKey }, /result key/],
            [{ jobNonce: crypto.randomBytes(32) }, /job nonce/],
        ];
        for (const [change, message] of cases) {
            let error: unknown;
            try {
                openInput(s.envelope, { ...good, ...change }, enclaves[0].privateKey);
            } catch (e) {
                error = e;
            }
            expect(error).toBeInstanceOf(EnvelopeError);
            expect((error as EnvelopeError).code).toBe('WRONG_BINDING');
            expect((error as EnvelopeError).message).toMatch(message);
        }
    });

    it('authenticates the binding the opener expects: rewriting the header to match another job fails AUTH_FAILED', () => {
        const s = seal(Buffer.from('secret'), [enclaves[0].publicKey]);
        const otherNonce = crypto.randomBytes(32);
        const otherModel = crypto.randomBytes(32);
        const otherClient = generateX25519KeyPair().publicKey;
        const rewrite = (at: number, value: Buffer) => {
            const b = Buffer.from(s.envelope);
            value.copy(b, at);
            return b;
        };
        const net = Buffer.alloc(4);
        net.writeInt32BE(NETWORK_IDS.mainnet);
        const attempts: [Buffer, object][] = [
            [rewrite(5, net), { networkId: NETWORK_IDS.mainnet }],
            [rewrite(9, otherModel), { modelHash: otherModel }],
            [rewrite(41, otherClient), { clientResultPublicKey: otherClient }],
            [rewrite(73, otherNonce), { jobNonce: otherNonce }],
        ];
        for (const [bytes, change] of attempts) {
            expect(codeOf(() => openInput(bytes, { ...bindingFor(s.jobNonce), ...change }, enclaves[0].privateKey))).toBe('AUTH_FAILED');
        }
        expect(jobBinding(bindingFor(s.jobNonce)).equals(
            crypto.createHash('sha256').update(Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xfd]), modelHash, client.publicKey, s.jobNonce])).digest(),
        )).toBe(true);
    });

    it('gives the exact error code for a one-byte change at every offset (opened by the second of two recipients)', () => {
        const payload = Buffer.from('hello');
        const s = seal(payload, [enclaves[0].publicKey, enclaves[1].publicKey]);
        const n = 2;
        const slot = (i: number) => 138 + 56 * i;
        const trailer = slot(n);
        const ct = trailer + 16;
        expect(s.envelope.length).toBe(ct + payload.length + 16);
        const expected = (at: number): string => {
            if (at < 4) return 'BAD_MAGIC';
            if (at === 4) return 'BAD_VERSION';
            if (at < 105) return 'WRONG_BINDING'; // network, model, result key, job nonce
            if (at < 137) return 'AUTH_FAILED'; // ephemeral key
            if (at === 137) return 'TRUNCATED'; // 2 → 3 recipients: the slots run past the end
            if (at >= slot(1) && at < slot(1) + 8) return 'NOT_A_RECIPIENT'; // the opener's own id
            if (at < trailer + 12) return 'AUTH_FAILED'; // other slot (authenticated as payload AD), own wrapped key, nonce
            if (at === trailer + 12) return 'TOO_LARGE'; // length 0x01000005
            if (at < trailer + 15) return 'TRUNCATED'; // length grows
            if (at === trailer + 15) return 'TRAILING_BYTES'; // length 5 → 4
            return 'AUTH_FAILED'; // ciphertext and tag
        };
        const mismatches: string[] = [];
        for (let at = 0; at < s.envelope.length; at++) {
            const got = codeOf(() => openInput(flip(s.envelope, at), bindingFor(s.jobNonce), enclaves[1].privateKey));
            if (got !== expected(at)) mismatches.push(`byte ${at}: expected ${expected(at)}, got ${got}`);
        }
        expect(mismatches).toEqual([]);
        // the untouched envelope still opens, so the codes above come from the flips
        expect(openInput(s.envelope, bindingFor(s.jobNonce), enclaves[1].privateKey).equals(payload)).toBe(true);
    });

    it('rejects bad recipient counts, duplicate slots, other versions and result envelopes', () => {
        const s = seal(Buffer.from('x'), [enclaves[0].publicKey, enclaves[1].publicKey]);
        const b = bindingFor(s.jobNonce);
        const set = (at: number, v: number) => {
            const c = Buffer.from(s.envelope);
            c[at] = v;
            return c;
        };
        expect(codeOf(() => openInput(set(137, 0), b, enclaves[0].privateKey))).toBe('MALFORMED');
        expect(codeOf(() => openInput(set(137, MAX_RECIPIENTS + 1), b, enclaves[0].privateKey))).toBe('TOO_MANY_RECIPIENTS');
        expect(codeOf(() => openInput(set(4, 2), b, enclaves[0].privateKey))).toBe('BAD_VERSION');
        const dup = Buffer.from(s.envelope);
        dup.copy(dup, 138 + 56, 138, 138 + 8);
        expect(codeOf(() => openInput(dup, b, enclaves[0].privateKey))).toBe('MALFORMED');
        const result = sealResult(Buffer.from('r'), { networkId: NET, job: new Address(0, Buffer.alloc(32, 1)), modelHash, clientResultPublicKey: client.publicKey });
        expect(codeOf(() => openInput(result, b, enclaves[0].privateKey))).toBe('BAD_MAGIC');
    });

    it('does not accept a wrapped key moved from another envelope', () => {
        const a = seal(Buffer.from('a'), [enclaves[0].publicKey]);
        const b = seal(Buffer.from('b'), [enclaves[0].publicKey], a.jobNonce);
        const mixed = Buffer.from(b.envelope);
        a.envelope.copy(mixed, 105, 105, 138 + 56); // a's ephemeral key and slot into b
        expect(codeOf(() => openInput(mixed, bindingFor(a.jobNonce), enclaves[0].privateKey))).toBe('AUTH_FAILED');
    });

    it('reports TRUNCATED at every shorter length and TRAILING_BYTES for extra bytes', () => {
        const s = seal(Buffer.from('hi'), [enclaves[0].publicKey]);
        const b = bindingFor(s.jobNonce);
        const wrong: number[] = [];
        for (let len = 0; len < s.envelope.length; len++) {
            if (codeOf(() => openInput(s.envelope.subarray(0, len), b, enclaves[0].privateKey)) !== 'TRUNCATED') wrong.push(len);
            if (codeOf(() => readInputHeader(s.envelope.subarray(0, len))) !== 'TRUNCATED') wrong.push(len);
        }
        expect(wrong).toEqual([]);
        expect(codeOf(() => openInput(Buffer.concat([s.envelope, Buffer.alloc(1)]), b, enclaves[0].privateKey))).toBe('TRAILING_BYTES');
        expect(codeOf(() => openInput(s.envelope, b, enclaves[0].privateKey))).toBe('OK');
    });

    it('enforces the size caps on sealing and parsing', () => {
        expect(codeOf(() => seal(Buffer.alloc(MAX_PAYLOAD_BYTES + 1), [enclaves[0].publicKey]))).toBe('TOO_LARGE');
        expect(codeOf(() => readInputHeader(Buffer.alloc(MAX_INPUT_ENVELOPE_BYTES + 1)))).toBe('TOO_LARGE');
        const s = seal(Buffer.from('hi'), [enclaves[0].publicKey]);
        const declared = Buffer.from(s.envelope);
        declared.writeUInt32BE(MAX_PAYLOAD_BYTES + 1, 138 + 56 + 12);
        expect(codeOf(() => openInput(declared, bindingFor(s.jobNonce), enclaves[0].privateKey))).toBe('TOO_LARGE');
        // exactly at the cap is fine
        const big = seal(Buffer.alloc(MAX_PAYLOAD_BYTES, 7), [enclaves[0].publicKey]);
        expect(openInput(big.envelope, bindingFor(big.jobNonce), enclaves[0].privateKey).length).toBe(MAX_PAYLOAD_BYTES);
    });

    it('validates the sealing arguments', () => {
        const p = Buffer.from('x');
        expect(codeOf(() => seal(p, enclaves.concat([generateX25519KeyPair()]).map((e) => e.publicKey)))).toBe('TOO_MANY_RECIPIENTS');
        expect(codeOf(() => seal(p, []))).toBe('BAD_ARGUMENT');
        expect(codeOf(() => seal(p, [enclaves[0].publicKey, enclaves[0].publicKey]))).toBe('BAD_ARGUMENT');
        expect(codeOf(() => seal(p, [Buffer.alloc(31)]))).toBe('BAD_ARGUMENT');
        expect(codeOf(() => seal(p, [Buffer.alloc(32)]))).toBe('BAD_ARGUMENT'); // low-order point
        expect(codeOf(() => seal(p, [enclaves[0].publicKey], Buffer.alloc(16)))).toBe('BAD_ARGUMENT');
        expect(codeOf(() => sealInput({ networkId: 2 ** 31, modelHash, clientResultPublicKey: client.publicKey, recipients: [enclaves[0].publicKey], payload: p }))).toBe('BAD_ARGUMENT');
        expect(codeOf(() => sealInput({ networkId: NET, modelHash: Buffer.alloc(31), clientResultPublicKey: client.publicKey, recipients: [enclaves[0].publicKey], payload: p }))).toBe('BAD_ARGUMENT');
    });
});

describe('result envelope', () => {
    const job = new Address(0, crypto.createHash('sha256').update('escrow').digest());
    const binding = { networkId: NET, job: job.toString(), modelHash };
    const sealFor = (plaintext: Buffer) => sealResult(plaintext, { ...binding, clientResultPublicKey: client.publicKey });

    it('round-trips for the client, whatever spelling of the job address is used', () => {
        const out = crypto.randomBytes(3000);
        const r = sealFor(out);
        expect(r.includes(out.subarray(0, 16))).toBe(false);
        for (const spelling of [job, job.toString(), job.toRawString(), job.toString({ bounceable: false, testOnly: true })]) {
            expect(openResult(r, { ...binding, job: spelling }, client.privateKey).equals(out)).toBe(true);
        }
        expect(openResult(r, binding, x25519Recipient(client.privateKey)).equals(out)).toBe(true);
        const info = readResultHeader(r);
        expect(info.job.equals(job)).toBe(true);
        expect(info).toMatchObject({ version: 1, networkId: NET, payloadLength: out.length });
        expect(info.recipientId.equals(recipientId(client.publicKey))).toBe(true);
        expect(sealFor(out).equals(r)).toBe(false);
    });

    it('refuses another job, network or model with WRONG_BINDING and another key with NOT_A_RECIPIENT', () => {
        const r = sealFor(Buffer.from('answer'));
        expect(codeOf(() => openResult(r, { ...binding, job: new Address(0, Buffer.alloc(32, 9)) }, client.privateKey))).toBe('WRONG_BINDING');
        expect(codeOf(() => openResult(r, { ...binding, job: new Address(-1, job.hash) }, client.privateKey))).toBe('WRONG_BINDING');
        expect(codeOf(() => openResult(r, { ...binding, networkId: NETWORK_IDS.devnet }, client.privateKey))).toBe('WRONG_BINDING');
        expect(codeOf(() => openResult(r, { ...binding, modelHash: Buffer.alloc(32) }, client.privateKey))).toBe('WRONG_BINDING');
        expect(codeOf(() => openResult(r, binding, enclaves[0].privateKey))).toBe('NOT_A_RECIPIENT');
        expect(codeOf(() => openResult(r, { ...binding, job: 'not an address' }, client.privateKey))).toBe('BAD_ARGUMENT');
    });

    it('authenticates the header: rewriting it to another job fails AUTH_FAILED', () => {
        const r = sealFor(Buffer.from('answer'));
        const other = new Address(0, Buffer.alloc(32, 5));
        const rewritten = Buffer.from(r);
        other.hash.copy(rewritten, 10);
        expect(codeOf(() => openResult(rewritten, { ...binding, job: other }, client.privateKey))).toBe('AUTH_FAILED');
    });

    it('gives the exact error code for a one-byte change at every offset', () => {
        const r = sealFor(Buffer.from('hello'));
        expect(r.length).toBe(118 + 5 + 16);
        const expected = (at: number): string => {
            if (at < 4) return 'BAD_MAGIC';
            if (at === 4) return 'BAD_VERSION';
            if (at < 74) return 'WRONG_BINDING'; // network, workchain, job hash, model
            if (at < 82) return 'NOT_A_RECIPIENT';
            if (at < 114) return 'AUTH_FAILED'; // ephemeral key
            if (at === 114) return 'TOO_LARGE';
            if (at < 117) return 'TRUNCATED';
            if (at === 117) return 'TRAILING_BYTES';
            return 'AUTH_FAILED';
        };
        const mismatches: string[] = [];
        for (let at = 0; at < r.length; at++) {
            const got = codeOf(() => openResult(flip(r, at), binding, client.privateKey));
            if (got !== expected(at)) mismatches.push(`byte ${at}: expected ${expected(at)}, got ${got}`);
        }
        expect(mismatches).toEqual([]);
        expect(codeOf(() => openResult(r, binding, client.privateKey))).toBe('OK');
    });

    it('reports TRUNCATED at every shorter length, TRAILING_BYTES, BAD_MAGIC for input envelopes and size caps', () => {
        const r = sealFor(Buffer.from('hi'));
        const wrong: number[] = [];
        for (let len = 0; len < r.length; len++) {
            if (codeOf(() => openResult(r.subarray(0, len), binding, client.privateKey)) !== 'TRUNCATED') wrong.push(len);
        }
        expect(wrong).toEqual([]);
        expect(codeOf(() => openResult(Buffer.concat([r, Buffer.alloc(1)]), binding, client.privateKey))).toBe('TRAILING_BYTES');
        const input = seal(Buffer.from('x'), [client.publicKey]);
        expect(codeOf(() => openResult(input.envelope, binding, client.privateKey))).toBe('BAD_MAGIC');
        expect(codeOf(() => sealFor(Buffer.alloc(MAX_PAYLOAD_BYTES + 1)))).toBe('TOO_LARGE');
        expect(codeOf(() => readResultHeader(Buffer.alloc(MAX_RESULT_ENVELOPE_BYTES + 1)))).toBe('TOO_LARGE');
        expect(codeOf(() => sealResult(Buffer.from('x'), { ...binding, clientResultPublicKey: Buffer.alloc(32) }))).toBe('BAD_ARGUMENT');
    });
});

describe('one-time ephemeral keys and prepared result seals', () => {
    const job = new Address(0, crypto.createHash('sha256').update('escrow').digest());
    const binding = { networkId: NET, job, modelHash, clientResultPublicKey: client.publicKey };

    it('prepareResultSeal gives the header, associated data, key and nonce sealResult uses (same ephemeral key → same bytes)', () => {
        const out = crypto.randomBytes(5000);
        const eph = generateEphemeralX25519Key();
        const s = prepareResultSeal(out.length, binding, eph);
        const cipher = crypto.createCipheriv('aes-256-gcm', s.key, s.nonce, { authTagLength: 16 });
        cipher.setAAD(s.aad);
        const built = Buffer.concat([s.header, cipher.update(out), cipher.final(), cipher.getAuthTag()]);
        expect(built.equals(sealResult(out, binding, eph))).toBe(true);
        expect(openResult(built, binding, client.privateKey).equals(out)).toBe(true);
        expect(codeOf(() => prepareResultSeal(-1, binding))).toBe('BAD_ARGUMENT');
        expect(codeOf(() => prepareResultSeal(MAX_PAYLOAD_BYTES + 1, binding))).toBe('TOO_LARGE');
        expect(codeOf(() => prepareResultSeal(1, { ...binding, clientResultPublicKey: Buffer.alloc(32) }))).toBe('BAD_ARGUMENT');
    });

    it('a pool hands out every key once: distinct keys well past its size, refilled in the background', async () => {
        const pool = new EphemeralKeyPool(4);
        for (let i = 0; i < 50 && pool.ready < 4; i++) await new Promise((r) => setTimeout(r, 10));
        expect(pool.ready).toBe(4);
        const seen = new Set<string>();
        for (let i = 0; i < 20; i++) seen.add(pool.take().publicKey.toString('hex'));
        expect(seen.size).toBe(20);
        // results sealed with pooled keys are all distinct envelopes for the same plaintext, and all open
        const out = Buffer.from('same result');
        const envs = Array.from({ length: 6 }, () => sealResult(out, binding, pool.take()));
        expect(new Set(envs.map((e) => e.toString('hex'))).size).toBe(6);
        for (const e of envs) expect(openResult(e, binding, client.privateKey).equals(out)).toBe(true);
        expect(() => new EphemeralKeyPool(-1)).toThrow(EnvelopeError);
    });
});
