import nodeCrypto = require('crypto');
import * as util from 'util';
import { Address } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { NETWORK_IDS } from '../../protocol/network';
import { EnvelopeError, generateX25519KeyPair, openResult, readResultHeader, sealInput } from '../../protocol/envelope';
import { bufferToUint256, signReceipt, verifyReceipt } from '../../protocol/receipt';
import { AttestationSource, Enclave, JobContext, OFF_THREAD_SEAL_MIN_BYTES } from '../../worker/enclave/enclave';

const NET: number = NETWORK_IDS.devnet;
const modelHash = nodeCrypto.createHash('sha256').update('model').digest();
const measurement = nodeCrypto.createHash('sha256').update('measurement').digest();
const client = generateX25519KeyPair();
const job = new Address(0, nodeCrypto.createHash('sha256').update('escrow 1').digest());

function envelopeFor(recipients: Enclave[], payload: Buffer) {
    return sealInput({ networkId: NET, modelHash, clientResultPublicKey: client.publicKey, recipients: recipients.map((e) => e.x25519PublicKey), payload });
}

function ctxFor(jobNonce: Buffer, extra: Partial<JobContext> = {}): JobContext {
    return { networkId: NET, modelHash, clientResultPublicKey: client.publicKey, jobNonce, job, ...extra };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
    try {
        await p;
    } catch (e) {
        if (e instanceof EnvelopeError) return e.code;
        return `other: ${(e as Error).message}`;
    }
    return 'OK';
}

const reverse = async (p: Buffer) => Buffer.from(p).reverse();

describe('Enclave keys and attestation', () => {
    it('exposes 32-byte public keys, copies only, and distinct keys per enclave', () => {
        const a = new Enclave();
        const b = new Enclave();
        expect(a.ed25519PublicKey.length).toBe(32);
        expect(a.x25519PublicKey.length).toBe(32);
        expect(a.ed25519PublicKey.equals(b.ed25519PublicKey)).toBe(false);
        expect(a.x25519PublicKey.equals(b.x25519PublicKey)).toBe(false);
        const copy = a.x25519PublicKey;
        copy.fill(0);
        expect(a.x25519PublicKey.equals(copy)).toBe(false);
        expect(a.recipientId.equals(nodeCrypto.createHash('sha256').update(a.x25519PublicKey).digest().subarray(0, 8))).toBe(true);
    });

    it('reportData is sha256("cocoon/enclave-keys/v1" ‖ ed25519 ‖ x25519) followed by 32 zero bytes', () => {
        const e = new Enclave();
        const digest = nodeCrypto.createHash('sha256').update(Buffer.concat([Buffer.from('cocoon/enclave-keys/v1'), e.ed25519PublicKey, e.x25519PublicKey])).digest();
        expect(e.reportData().equals(Buffer.concat([digest, Buffer.alloc(32)]))).toBe(true);
    });

    it('attest() quotes the report data through the attestation source', async () => {
        const seen: Buffer[] = [];
        const source: AttestationSource = {
            teeType: 'simulated',
            measurement,
            quote: async (rd) => {
                seen.push(rd);
                return Buffer.concat([Buffer.from('QUOTE'), rd]);
            },
        };
        const e = new Enclave({ attestation: source });
        const a = await e.attest();
        expect(seen).toHaveLength(1);
        expect(seen[0].equals(e.reportData())).toBe(true);
        expect(a.teeType).toBe('simulated');
        expect(a.quote.equals(Buffer.concat([Buffer.from('QUOTE'), e.reportData()]))).toBe(true);
        expect(a.ed25519PublicKey.equals(e.ed25519PublicKey)).toBe(true);
        expect(a.x25519PublicKey.equals(e.x25519PublicKey)).toBe(true);
        expect(e.measurement!.equals(measurement)).toBe(true);
        await expect(new Enclave().attest()).rejects.toThrow(/no attestation source/);
    });
});

describe('Enclave jobs', () => {
    it('opens an envelope addressed to it; a non-candidate gets NOT_A_RECIPIENT', () => {
        const e = new Enclave({ measurement });
        const payload = nodeCrypto.randomBytes(512);
        const s = envelopeFor([e], payload);
        expect(e.openInput(s.envelope, ctxFor(s.jobNonce)).equals(payload)).toBe(true);
        let code = '';
        try {
            new Enclave().openInput(s.envelope, ctxFor(s.jobNonce));
        } catch (err) {
            code = (err as EnvelopeError).code;
        }
        expect(code).toBe('NOT_A_RECIPIENT');
    });

    it('runJob decrypts, runs the function, seals to the client and signs a receipt that verifies', async () => {
        const e = new Enclave({ measurement });
        const payload = nodeCrypto.randomBytes(256 * 1024);
        const s = envelopeFor([e], payload);
        const seenInputs: Buffer[] = [];
        const out = await e.runJob(s.envelope, ctxFor(s.jobNonce, { inputCommitment: s.commitment }), async (p) => {
            seenInputs.push(Buffer.from(p));
            return reverse(p);
        });
        expect(seenInputs[0].equals(payload)).toBe(true);
        const result = openResult(out.resultEnvelope, { networkId: NET, job, modelHash }, client.privateKey);
        expect(result.equals(Buffer.from(payload).reverse())).toBe(true);
        expect(readResultHeader(out.resultEnvelope).job.equals(job)).toBe(true);

        expect(out.inputCommitment.equals(s.commitment)).toBe(true);
        expect(out.outputCommitment.equals(nodeCrypto.createHash('sha256').update(out.resultEnvelope).digest())).toBe(true);
        expect(out.receipt).toEqual({
            networkId: NET,
            job,
            inputCommitment: bufferToUint256(s.commitment),
            outputCommitment: bufferToUint256(out.outputCommitment),
            modelHash: bufferToUint256(modelHash),
            measurement: bufferToUint256(measurement),
        });
        expect(verifyReceipt(out.receipt, out.receiptSignature, e.ed25519PublicKey)).toBe(true);
        expect(verifyReceipt(out.receipt, out.receiptSignature, new Enclave().ed25519PublicKey)).toBe(false);
        expect(verifyReceipt({ ...out.receipt, outputCommitment: out.receipt.outputCommitment ^ 1n }, out.receiptSignature, e.ed25519PublicKey)).toBe(false);
    });

    it('seals small results inline and large ones off the JS thread: both open, commit and verify the same way', async () => {
        const e = new Enclave({ measurement });
        for (const size of [1024, OFF_THREAD_SEAL_MIN_BYTES - 1, OFF_THREAD_SEAL_MIN_BYTES, OFF_THREAD_SEAL_MIN_BYTES + 4096]) {
            const payload = nodeCrypto.randomBytes(size);
            const s = envelopeFor([e], payload);
            const out = await e.runJob(s.envelope, ctxFor(s.jobNonce, { inputCommitment: s.commitment }), reverse);
            expect(openResult(out.resultEnvelope, { networkId: NET, job, modelHash }, client.privateKey).equals(Buffer.from(payload).reverse())).toBe(true);
            expect(out.outputCommitment.equals(nodeCrypto.createHash('sha256').update(out.resultEnvelope).digest())).toBe(true);
            expect(verifyReceipt(out.receipt, out.receiptSignature, e.ed25519PublicKey)).toBe(true);
        }
    });

    it('commits to exactly the envelope bytes even when the Buffer is a view into a larger allocation', async () => {
        const e = new Enclave({ measurement });
        const s = envelopeFor([e], Buffer.from('view'));
        const view = Buffer.concat([Buffer.alloc(100, 0xaa), s.envelope, Buffer.alloc(50, 0xbb)]).subarray(100, 100 + s.envelope.length);
        const out = await e.runJob(view, ctxFor(s.jobNonce, { inputCommitment: s.commitment }), reverse);
        expect(out.inputCommitment.equals(s.commitment)).toBe(true);
    });

    it('any candidate enclave can run the same envelope (re-routing without the client)', async () => {
        const candidates = [new Enclave({ measurement }), new Enclave({ measurement }), new Enclave({ measurement })];
        const payload = Buffer.from('route me anywhere');
        const s = envelopeFor(candidates, payload);
        for (const e of candidates.slice(1)) {
            const out = await e.runJob(s.envelope, ctxFor(s.jobNonce), reverse);
            expect(openResult(out.resultEnvelope, { networkId: NET, job, modelHash }, client.privateKey).equals(Buffer.from(payload).reverse())).toBe(true);
            expect(verifyReceipt(out.receipt, out.receiptSignature, e.ed25519PublicKey)).toBe(true);
        }
    });

    it('wipes the input plaintext after the inference function returns', async () => {
        const e = new Enclave({ measurement });
        const s = envelopeFor([e], Buffer.from('wipe me please'));
        let held: Buffer | undefined;
        await e.runJob(s.envelope, ctxFor(s.jobNonce), async (p) => {
            held = p;
            return Buffer.from('ok');
        });
        expect(held!.length).toBe(14);
        expect(held!.every((byte) => byte === 0)).toBe(true);
    });

    it('refuses a wrong binding before running the function, and a wrong commitment before sealing or signing', async () => {
        const e = new Enclave({ measurement });
        const s = envelopeFor([e], Buffer.from('payload'));
        const infer = jest.fn(reverse);
        expect(await codeOf(e.runJob(s.envelope, ctxFor(s.jobNonce, { jobNonce: nodeCrypto.randomBytes(32) }), infer))).toBe('WRONG_BINDING');
        expect(await codeOf(e.runJob(s.envelope, ctxFor(s.jobNonce, { modelHash: Buffer.alloc(32, 1) }), infer))).toBe('WRONG_BINDING');
        expect(await codeOf(e.runJob(s.envelope, ctxFor(s.jobNonce, { networkId: NETWORK_IDS.mainnet }), infer))).toBe('WRONG_BINDING');
        expect(infer).not.toHaveBeenCalled();
        expect(await codeOf(e.runJob(s.envelope, ctxFor(s.jobNonce, { inputCommitment: Buffer.alloc(32) }), infer))).toBe('WRONG_COMMITMENT');
        const tampered = Buffer.from(s.envelope);
        tampered[tampered.length - 1] ^= 1;
        expect(await codeOf(e.runJob(tampered, ctxFor(s.jobNonce), infer))).toBe('AUTH_FAILED');
    });

    it('needs a measurement (from the options or the attestation source) and a Buffer result', async () => {
        const bare = new Enclave();
        const s2 = envelopeFor([bare], Buffer.from('x'));
        expect(await codeOf(bare.runJob(s2.envelope, ctxFor(s2.jobNonce), reverse))).toMatch(/no measurement/);
        const fromSource = new Enclave({ attestation: { teeType: 'simulated', measurement, quote: async () => Buffer.alloc(0) } });
        const s3 = envelopeFor([fromSource], Buffer.from('x'));
        const out = await fromSource.runJob(s3.envelope, ctxFor(s3.jobNonce), reverse);
        expect(out.receipt.measurement).toBe(bufferToUint256(measurement));
        const e = new Enclave({ measurement });
        const s4 = envelopeFor([e], Buffer.from('x'));
        expect(await codeOf(e.runJob(s4.envelope, ctxFor(s4.jobNonce), async () => 'text' as unknown as Buffer))).toMatch(/must return a Buffer/);
    });

    it('signReceipt re-signs only receipts of jobs the enclave ran', async () => {
        const e = new Enclave({ measurement });
        const s = envelopeFor([e], Buffer.from('job'));
        const out = await e.runJob(s.envelope, ctxFor(s.jobNonce), reverse);
        const again = e.signReceipt(out.receipt);
        expect(verifyReceipt(out.receipt, again, e.ed25519PublicKey)).toBe(true);
        expect(again.equals(out.receiptSignature)).toBe(true); // Ed25519 is deterministic
        expect(() => e.signReceipt({ ...out.receipt, outputCommitment: 123n })).toThrow(/did not produce/);
        expect(() => e.signReceipt({ ...out.receipt, measurement: 0n })).toThrow(/did not produce/);
        expect(() => new Enclave({ measurement }).signReceipt(out.receipt)).toThrow(/did not produce/);
    });
});

describe('Enclave private keys never leave the object', () => {
    it('appear in no JSON, inspect output, property or method result; signatures match protocol/receipt.ts', async () => {
        const seeds: Buffer[] = [];
        const xPrivate: nodeCrypto.KeyObject[] = [];
        const realRandomBytes = nodeCrypto.randomBytes;
        const realGenerate = nodeCrypto.generateKeyPairSync;
        const rb = jest.spyOn(nodeCrypto, 'randomBytes').mockImplementation(((n: number) => {
            const b = realRandomBytes(n);
            if (n === 32) seeds.push(Buffer.from(b));
            return b;
        }) as typeof nodeCrypto.randomBytes);
        const gk = jest.spyOn(nodeCrypto, 'generateKeyPairSync').mockImplementation(((type: 'x25519') => {
            const kp = realGenerate(type);
            xPrivate.push(kp.privateKey);
            return kp;
        }) as unknown as typeof nodeCrypto.generateKeyPairSync);
        let e: Enclave;
        try {
            e = new Enclave({ measurement, attestation: { teeType: 'simulated', quote: async (rd) => rd } });
        } finally {
            rb.mockRestore();
            gk.mockRestore();
        }
        expect(seeds).toHaveLength(1);
        expect(xPrivate).toHaveLength(1);
        const edSecret = keyPairFromSeed(seeds[0]).secretKey;
        expect(edSecret.subarray(32).equals(e.ed25519PublicKey)).toBe(true); // captured the real seed
        const xd = Buffer.from(xPrivate[0].export({ format: 'jwk' }).d as string, 'base64url');

        const s = envelopeFor([e], Buffer.from('job'));
        const out = await e.runJob(s.envelope, ctxFor(s.jobNonce), reverse);
        expect(signReceipt(out.receipt, edSecret).equals(out.receiptSignature)).toBe(true);

        const views = [
            JSON.stringify(e),
            JSON.stringify({ nested: e }),
            util.inspect(e),
            util.inspect(e, { showHidden: true, depth: Infinity, getters: true }),
            util.inspect({ nested: [e] }, { showHidden: true, depth: Infinity }),
            String(e),
            `${Object.keys(e)} ${Object.getOwnPropertyNames(e)} ${Object.getOwnPropertySymbols(e).length}`,
            JSON.stringify(await e.attest(), (_k, v) => (v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v)),
            JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v)),
        ].join('\n');
        const secrets = [seeds[0], edSecret, xd];
        for (const secret of secrets) {
            for (const form of [secret.toString('hex'), secret.toString('base64'), secret.toString('base64url'), secret.subarray(0, 16).toString('hex')]) {
                expect(views.includes(form)).toBe(false);
            }
        }
        // and the views do show the public keys, so the check above looked at real output
        expect(JSON.stringify(e)).toContain(e.ed25519PublicKey.toString('hex'));
        expect(util.inspect(e)).toContain(e.x25519PublicKey.toString('hex'));
        expect(Object.keys(e)).toEqual([]);
    });
});
