/**
 * The confidential job path end to end, in process, with the real models: a client seals an input for candidate
 * enclaves, ConfidentialJobRunner (Enclave + InferenceEngine) runs it, the client opens the result and checks the
 * receipt. Failures are typed (kind, code, retryable) and never carry plaintext.
 */
import * as crypto from 'crypto';
import * as util from 'util';
import { Address } from '@ton/core';
import { NETWORK_IDS } from '../../protocol/network';
import { envelopeCommitment, generateX25519KeyPair, openResult, sealInput, SealedInput } from '../../protocol/envelope';
import { bufferToUint256, receiptHash, verifyReceipt } from '../../protocol/receipt';
import { Enclave, OFF_THREAD_SEAL_MIN_BYTES } from '../../worker/enclave/enclave';
import { InferenceEngine, SHIPPED_MODEL_HASHES } from '../../worker/inference';
import { ConfidentialJob, ConfidentialJobResult, ConfidentialJobRunner, isJobError, JobError, JobLogger } from '../../worker/job';
import { charAccuracy, makeSpeechWav, renderTextImage, requireImageMagick } from '../helpers/media';

const NET: number = NETWORK_IDS.devnet;
const OCR = Buffer.from(SHIPPED_MODEL_HASHES.ocr, 'hex');
const VAD = Buffer.from(SHIPPED_MODEL_HASHES.vad, 'hex');
const MLP = Buffer.from(SHIPPED_MODEL_HASHES.tensor, 'hex');
const MEASUREMENT = crypto.createHash('sha256').update('test worker image').digest();
const client = generateX25519KeyPair();
const jobAddress = new Address(0, crypto.createHash('sha256').update('escrow 7').digest());

interface LogLine {
    level: 'info' | 'warn';
    obj: Record<string, unknown>;
    msg: string;
}

let engine: InferenceEngine;
let alice: Enclave; // first candidate
let bob: Enclave; // second candidate
let carol: Enclave; // not a candidate
let logs: LogLine[];
let runA: ConfidentialJobRunner;
let runB: ConfidentialJobRunner;
let runC: ConfidentialJobRunner;

beforeAll(async () => {
    requireImageMagick();
    engine = await InferenceEngine.fromCatalogFile();
    await engine.warmup();
    logs = [];
    const logger: JobLogger = {
        info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
        warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
    };
    alice = new Enclave({ measurement: MEASUREMENT });
    bob = new Enclave({ measurement: MEASUREMENT });
    carol = new Enclave({ measurement: MEASUREMENT });
    runA = new ConfidentialJobRunner(alice, engine, { logger });
    runB = new ConfidentialJobRunner(bob, engine, { logger });
    runC = new ConfidentialJobRunner(carol, engine, { logger });
});

afterAll(async () => {
    await engine?.close();
});

function seal(modelHash: Buffer, payload: Buffer, recipients: Enclave[] = [alice, bob]): SealedInput {
    return sealInput({ networkId: NET, modelHash, clientResultPublicKey: client.publicKey, recipients: recipients.map((e) => e.x25519PublicKey), payload });
}

/** What a worker reads from the chain for this sealed input (values as the escrow stores them). */
function jobFor(sealed: SealedInput, modelHash: Buffer, extra: Partial<ConfidentialJob> = {}): ConfidentialJob {
    return {
        modelHash: bufferToUint256(modelHash),
        envelope: sealed.envelope,
        networkId: BigInt(NET),
        jobAddress: jobAddress.toString(),
        clientResultPublicKey: bufferToUint256(client.publicKey),
        inputCommitment: bufferToUint256(sealed.commitment),
        ...extra,
    };
}

/** The client's side: check the receipt and the commitment, then decrypt. */
function clientOpens(res: ConfidentialJobResult, enclave: Enclave, modelHash: Buffer, sealed: SealedInput): unknown {
    expect(verifyReceipt(res.receipt, res.receiptSignature, enclave.ed25519PublicKey)).toBe(true);
    expect(res.receipt.networkId).toBe(NET);
    expect(res.receipt.job.equals(jobAddress)).toBe(true);
    expect(res.receipt.inputCommitment).toBe(bufferToUint256(sealed.commitment));
    expect(res.receipt.outputCommitment).toBe(bufferToUint256(envelopeCommitment(res.resultEnvelope)));
    expect(res.outputCommitment.equals(envelopeCommitment(res.resultEnvelope))).toBe(true);
    expect(res.receipt.modelHash).toBe(bufferToUint256(modelHash));
    expect(res.receipt.measurement).toBe(bufferToUint256(MEASUREMENT));
    const plain = openResult(res.resultEnvelope, { networkId: NET, job: jobAddress, modelHash }, client.privateKey);
    return JSON.parse(plain.toString('utf8'));
}

async function failure(p: Promise<unknown>): Promise<JobError> {
    try {
        await p;
    } catch (e) {
        expect(isJobError(e)).toBe(true);
        return e as JobError;
    }
    throw new Error('expected the job to fail');
}

function tensorRequest(rows: number, seed = 1): Buffer {
    const x = new Float32Array(rows * 64);
    let s = seed;
    for (let i = 0; i < x.length; i++) {
        s = (s * 1103515245 + 12345) >>> 0;
        x[i] = (s / 0x100000000 - 0.5) * 4;
    }
    const data = Buffer.from(x.buffer).toString('base64');
    return Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [rows, 64], data } }, outputEncoding: 'base64' }));
}

describe('ConfidentialJobRunner: jobs', () => {
    test('OCR: the client reads the text; either candidate enclave can run the envelope; receipts verify', async () => {
        const text = 'Private inference on TON';
        const sealed = seal(OCR, renderTextImage(text, { pointSize: 40 }));
        const job = jobFor(sealed, OCR, { task: 'ocr' });

        const a = await runA.run(job);
        expect(a.task).toBe('ocr');
        const outA = clientOpens(a, alice, OCR, sealed) as { text: string };
        expect(charAccuracy(text, outA.text)).toBeGreaterThanOrEqual(0.9);
        // the receipt is bound to alice's key, not bob's
        expect(verifyReceipt(a.receipt, a.receiptSignature, bob.ed25519PublicKey)).toBe(false);

        // the second candidate (e.g. after alice stalls) runs the very same bytes without a new round trip
        const b = await runB.run(job);
        const outB = clientOpens(b, bob, OCR, sealed) as { text: string };
        expect(outB.text).toBe(outA.text);
        expect(verifyReceipt(b.receipt, b.receiptSignature, alice.ed25519PublicKey)).toBe(false);
        // fresh result encryption per run: different ciphertexts and commitments for the same output
        expect(b.outputCommitment.equals(a.outputCommitment)).toBe(false);
        // the enclave remembers what it ran, so it can re-sign that receipt (and nothing else)
        expect(alice.signReceipt(a.receipt).equals(a.receiptSignature)).toBe(true);
        expect(() => alice.signReceipt(b.receipt)).toThrow(/did not produce/);
    });

    test('VAD: the speech segment comes back to the client', async () => {
        const sp = makeSpeechWav('Hello from a confidential worker.', { leadSec: 1, trailSec: 1 });
        const sealed = seal(VAD, sp.wav);
        const res = await runA.run(jobFor(sealed, VAD)); // task omitted: taken from the model hash
        expect(res.task).toBe('vad');
        const out = clientOpens(res, alice, VAD, sealed) as { segments: { start: number; end: number }[]; durationSec: number };
        expect(out.durationSec).toBeCloseTo(sp.durationSec, 2);
        expect(out.segments.length).toBeGreaterThanOrEqual(1);
        expect(Math.abs(out.segments[0].start - sp.speechStart)).toBeLessThanOrEqual(0.3);
        expect(Math.abs(out.segments[out.segments.length - 1].end - sp.speechEnd)).toBeLessThanOrEqual(0.3);
    });

    test('tensor: the decrypted result is bit for bit the engine output on the plaintext', async () => {
        const req = tensorRequest(33);
        const sealed = seal(MLP, req, [bob, alice]);
        const res = await runB.run(jobFor(sealed, MLP, { task: 'tensor', jobNonce: sealed.jobNonce }));
        const out = clientOpens(res, bob, MLP, sealed);
        const direct = JSON.parse((await engine.run('tensor', MLP, req)).toString('utf8'));
        expect(out).toEqual(direct);
        expect((out as { outputs: { y: { shape: number[] } } }).outputs.y.shape).toEqual([33, 16]);
    });

    test('a result above the sealing-thread threshold (4096 rows → ~350 KB) reaches the client intact', async () => {
        const req = tensorRequest(4096, 7);
        const sealed = seal(MLP, req);
        const res = await runA.run(jobFor(sealed, MLP, { task: 'tensor' }));
        expect(res.resultEnvelope.length).toBeGreaterThan(OFF_THREAD_SEAL_MIN_BYTES);
        const out = clientOpens(res, alice, MLP, sealed);
        expect(out).toEqual(JSON.parse((await engine.run('tensor', MLP, req)).toString('utf8')));
        expect(verifyReceipt(res.receipt, res.receiptSignature, alice.ed25519PublicKey)).toBe(true);
    });

    test('job values can be given as bigints (chain), hex strings or buffers', async () => {
        const sealed = seal(MLP, tensorRequest(2));
        const res = await runA.run({
            modelHash: MLP.toString('hex'),
            envelope: sealed.envelope,
            networkId: NET,
            jobAddress,
            clientResultPublicKey: Uint8Array.from(client.publicKey),
            inputCommitment: '0x' + sealed.commitment.toString('hex'),
        });
        clientOpens(res, alice, MLP, sealed);
        expect(receiptHash(res.receipt).length).toBe(32);
    });
});

describe('ConfidentialJobRunner: typed errors', () => {
    const req = () => tensorRequest(4);

    test('an enclave that is not a recipient: NOT_A_RECIPIENT, envelope, retryable on another candidate', async () => {
        const sealed = seal(MLP, req());
        const e = await failure(runC.run(jobFor(sealed, MLP)));
        expect([e.kind, e.code, e.retryable]).toEqual(['envelope', 'NOT_A_RECIPIENT', true]);
    });

    test('a tampered ciphertext whose hash is the commitment: AUTH_FAILED, final', async () => {
        const sealed = seal(MLP, req());
        const bad = Buffer.from(sealed.envelope);
        bad[bad.length - 20] ^= 1; // a payload ciphertext byte
        const e = await failure(runA.run(jobFor({ ...sealed, envelope: bad, commitment: envelopeCommitment(bad) }, MLP)));
        expect([e.kind, e.code, e.retryable]).toEqual(['envelope', 'AUTH_FAILED', false]);
    });

    test('bytes that are not the committed envelope: WRONG_COMMITMENT, retryable (fetch again)', async () => {
        const sealed = seal(MLP, req());
        const tampered = Buffer.from(sealed.envelope);
        tampered[tampered.length - 20] ^= 1;
        const t = await failure(runA.run(jobFor(sealed, MLP, { envelope: tampered })));
        expect([t.kind, t.code, t.retryable]).toEqual(['envelope', 'WRONG_COMMITMENT', true]);
        const truncated = await failure(runA.run(jobFor(sealed, MLP, { envelope: sealed.envelope.subarray(0, 100) })));
        expect([truncated.kind, truncated.code, truncated.retryable]).toEqual(['envelope', 'WRONG_COMMITMENT', true]);
        // a valid envelope for this job that is not the one the escrow committed to: refused by the enclave
        const other = seal(MLP, req());
        const w = await failure(runA.run(jobFor(sealed, MLP, { envelope: other.envelope, jobNonce: other.jobNonce })));
        expect([w.kind, w.code, w.retryable]).toEqual(['envelope', 'WRONG_COMMITMENT', true]);
    });

    test('a committed envelope that is truncated: TRUNCATED, final', async () => {
        const sealed = seal(MLP, req());
        const cut = sealed.envelope.subarray(0, sealed.envelope.length - 1);
        const e = await failure(runA.run(jobFor({ ...sealed, envelope: cut, commitment: envelopeCommitment(cut) }, MLP)));
        expect([e.kind, e.code, e.retryable]).toEqual(['envelope', 'TRUNCATED', false]);
    });

    test('an envelope bound to another result key or model: WRONG_BINDING', async () => {
        const sealed = seal(MLP, req());
        const otherKey = generateX25519KeyPair().publicKey;
        const k = await failure(runA.run(jobFor(sealed, MLP, { clientResultPublicKey: otherKey })));
        expect([k.kind, k.code, k.retryable]).toEqual(['envelope', 'WRONG_BINDING', false]);
        const m = await failure(runA.run(jobFor(sealed, VAD)));
        expect([m.kind, m.code, m.retryable]).toEqual(['envelope', 'WRONG_BINDING', false]);
        const n = await failure(runA.run(jobFor(sealed, MLP, { networkId: NET + 1 })));
        expect(n.code).toBe('WRONG_BINDING');
    });

    test('a bad input: the engine code, kind input, final', async () => {
        const bad = Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [2, 63], data: new Array(126).fill(0) } } }));
        const e = await failure(runA.run(jobFor(seal(MLP, bad), MLP)));
        expect([e.kind, e.code, e.retryable]).toEqual(['input', 'TENSOR_SHAPE', false]);
        const img = await failure(runA.run(jobFor(seal(OCR, Buffer.from('not an image at all')), OCR)));
        expect([img.kind, img.code, img.retryable]).toEqual(['input', 'IMAGE_FORMAT', false]);
    });

    test('operator errors: unknown model (retryable elsewhere), task mismatch and bad requests (final)', async () => {
        const unknown = crypto.createHash('sha256').update('unknown model').digest();
        const sealed = seal(unknown, req());
        const u = await failure(runA.run(jobFor(sealed, unknown)));
        expect([u.kind, u.code, u.retryable]).toEqual(['operator', 'UNKNOWN_MODEL', true]);
        const okSealed = seal(MLP, req());
        const t = await failure(runA.run(jobFor(okSealed, MLP, { task: 'ocr' })));
        expect([t.kind, t.code, t.retryable]).toEqual(['operator', 'TASK_MISMATCH', false]);
        const b = await failure(runA.run(jobFor(okSealed, MLP, { inputCommitment: Buffer.alloc(31) })));
        expect([b.kind, b.code, b.retryable]).toEqual(['operator', 'BAD_REQUEST', false]);
        const addr = await failure(runA.run(jobFor(okSealed, MLP, { jobAddress: 'not an address' })));
        expect(addr.code).toBe('BAD_REQUEST');
        const noMeasurement = new ConfidentialJobRunner(new Enclave(), engine);
        const nm = await failure(noMeasurement.run(jobFor(okSealed, MLP)));
        expect([nm.kind, nm.code, nm.retryable]).toEqual(['operator', 'ENCLAVE_FAILURE', true]);
        expect(nm.message).toMatch(/no measurement/);
    });

    test('a result key that cannot receive a result: BAD_RESULT_KEY, kind input, no receipt', async () => {
        const lowOrder = Buffer.alloc(32); // the all-zero point: X25519 with it fails
        const sealed = sealInput({ networkId: NET, modelHash: MLP, clientResultPublicKey: lowOrder, recipients: [alice.x25519PublicKey], payload: req() });
        const e = await failure(runA.run(jobFor(sealed, MLP, { clientResultPublicKey: lowOrder })));
        expect([e.kind, e.code, e.retryable]).toEqual(['input', 'BAD_RESULT_KEY', false]);
    });
});

describe('ConfidentialJobRunner: no plaintext in errors or logs', () => {
    // Short, so that even V8's JSON error excerpt (about ten characters either side) quotes all of it.
    const MARKER = 'PTX' + crypto.randomBytes(4).toString('hex');

    function everythingSaid(e: JobError): string {
        return [e.message, e.stack ?? '', String(e), util.inspect(e, { depth: 10, showHidden: true }), JSON.stringify(e), String((e as { cause?: unknown }).cause ?? '')].join('\n');
    }

    // Each payload makes the model path fail with an engine message that quotes the marker.
    const cases: [string, Buffer, string][] = [
        ['invalid JSON', Buffer.from(`{"a": ${MARKER}}`), 'TENSOR_JSON'],
        ['an unknown input name', Buffer.from(JSON.stringify({ inputs: { [MARKER]: { dtype: 'float32', shape: [1, 64], data: [] } } })), 'TENSOR_UNKNOWN_INPUT'],
        ['a bad tensor element', Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [1, 64], data: [MARKER, ...new Array(63).fill(0)] } } })), 'TENSOR_DATA'],
    ];

    test.each(cases)('%s: the engine error quotes the marker, the JobError and the log lines do not', async (_label, payload, code) => {
        // the premise: the raw engine error does carry the plaintext
        const raw = await engine.run('tensor', MLP, payload).then(
            () => undefined,
            (e: Error) => e,
        );
        expect(raw).toBeDefined();
        expect(`${raw!.message}\n${raw!.stack}`).toContain(MARKER);

        const before = logs.length;
        const e = await failure(runA.run(jobFor(seal(MLP, payload), MLP)));
        expect([e.kind, e.code, e.retryable]).toEqual(['input', code, false]);
        expect(everythingSaid(e)).not.toContain(MARKER);
        expect((e as { cause?: unknown }).cause).toBeUndefined();
        const lines = logs.slice(before);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({ level: 'warn', msg: 'confidential job failed', obj: { code, kind: 'input', phase: 'infer' } });
        expect(JSON.stringify(lines)).not.toContain(MARKER);
    });

    test('an uncoded error thrown by the model path is withheld too', async () => {
        const sealed = seal(MLP, Buffer.from(MARKER));
        const throwing = Object.create(engine) as InferenceEngine;
        throwing.run = async (_t, _m, input) => {
            throw new Error(`boom on ${Buffer.from(input).toString('utf8')}`);
        };
        const runner = new ConfidentialJobRunner(alice, throwing);
        const e = await failure(runner.run(jobFor(sealed, MLP)));
        expect([e.kind, e.code, e.retryable]).toEqual(['operator', 'INFERENCE_FAILED', true]);
        expect(everythingSaid(e)).not.toContain(MARKER);
    });

    test('successful jobs log metadata only', async () => {
        const before = logs.length;
        const text = 'Secret payroll 4817';
        const sealed = seal(OCR, renderTextImage(text, { pointSize: 40 }));
        const res = await runA.run(jobFor(sealed, OCR));
        const out = clientOpens(res, alice, OCR, sealed) as { text: string };
        expect(charAccuracy(text, out.text)).toBeGreaterThanOrEqual(0.8);
        const lines = logs.slice(before);
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatchObject({ level: 'info', msg: 'confidential job done', obj: { task: 'ocr', job: jobAddress.toString() } });
        expect(JSON.stringify(lines)).not.toContain(text);
        expect(JSON.stringify(lines)).not.toContain(out.text);
    });
});
