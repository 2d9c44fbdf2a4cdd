import * as crypto from 'crypto';
import * as util from 'util';
import { Address } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { envelopeCommitment, EnvelopeError, InputBinding, openInput, sealResult } from '../../protocol/envelope';
import { ResultSealerThread } from './resultSealer';
import { ed25519PrivateKeyObject } from '../../protocol/ed25519';
import { enclaveReportData } from '../../protocol/enclave-keys';
import { bufferToUint256, receiptHash, ReceiptFields } from '../../protocol/receipt';
import { EphemeralKeyPool, exportX25519PublicKey, recipientId, X25519Recipient, x25519SharedSecret } from '../../protocol/x25519';

/**
 * The enclave's key holder: the only object that ever holds the enclave's private keys or job plaintext.
 *
 * Keys are generated here and kept in ES private fields (#…): they are not reachable by property access,
 * Object.keys, JSON.stringify or util.inspect, and no method returns, logs or serializes them. On a real TEE this
 * object lives inside the trust domain and the host talks to it through `runJob`; in development it runs in the
 * worker process and the simulated attestation says so.
 *
 * Signing uses Node's native Ed25519 on a KeyObject built from the @ton/crypto seed: Ed25519 is deterministic
 * (RFC 8032), so signatures are byte-identical to protocol/receipt.ts signReceipt (tweetnacl), which takes ~12 ms
 * per signature here against ~0.1 ms native.
 *
 * Receipts are signed only for jobs this enclave ran (`runJob`). A generic "sign these fields" call would let the
 * host vouch for any output commitment, and since anyone can encrypt a result to the client's public key, the
 * receipt signature is the client's only evidence that the enclave produced the result.
 */

export interface AttestationSource {
    readonly teeType: string;
    /** 32-byte measurement the receipt names (Buffer, or 64 hex chars as SimulatedTee reports it), when known. */
    readonly measurement?: Buffer | string;
    quote(reportData: Buffer): Promise<Buffer>;
}

export interface EnclaveOptions {
    attestation?: AttestationSource;
    /** 32 bytes; overrides attestation.measurement. Must equal the measurement recorded in the provider contract. */
    measurement?: Buffer;
}

export interface Attestation {
    teeType: string;
    quote: Buffer;
    reportData: Buffer;
    ed25519PublicKey: Buffer;
    x25519PublicKey: Buffer;
}

/** Everything the worker reads from the job on chain. */
export interface JobContext extends InputBinding {
    /** The escrow address. */
    job: Address | string;
    /** The escrow's inputCommitment; when given, a different envelope is refused before decryption. */
    inputCommitment?: Buffer;
}

export interface JobOutcome {
    resultEnvelope: Buffer;
    inputCommitment: Buffer;
    outputCommitment: Buffer;
    receipt: ReceiptFields;
    receiptSignature: Buffer;
}

/** How many receipts `signReceipt` can re-sign (the most recent runJob results). */
export const RECEIPT_MEMORY = 1024;

/**
 * Results at least this large are sealed and hashed on the enclave's sealing thread (resultSealer.ts), so the JS
 * thread can run the next job's model meanwhile; below it the thread hand-off costs more than the work.
 */
export const OFF_THREAD_SEAL_MIN_BYTES = 256 * 1024;

export class Enclave {
    readonly #edPrivateKey: crypto.KeyObject;
    readonly #edPublicKey: Buffer;
    readonly #x25519PrivateKey: crypto.KeyObject;
    readonly #x25519PublicKey: Buffer;
    readonly #recipient: X25519Recipient;
    readonly #attestation: AttestationSource | undefined;
    readonly #measurement: Buffer | undefined;
    readonly #signed = new Set<string>(); // receipt hashes (hex) of runJob results, insertion-ordered for eviction
    readonly #ephemeralKeys = new EphemeralKeyPool(4); // one-time keys for result envelopes, made off the JS thread
    readonly #sealer = new ResultSealerThread(); // started on the first large result

    constructor(options: EnclaveOptions = {}) {
        const seed = crypto.randomBytes(32);
        const ed = keyPairFromSeed(seed);
        this.#edPrivateKey = ed25519PrivateKeyObject(ed);
        seed.fill(0);
        ed.secretKey.fill(0);
        this.#edPublicKey = ed.publicKey;
        const x = crypto.generateKeyPairSync('x25519');
        this.#x25519PrivateKey = x.privateKey;
        this.#x25519PublicKey = exportX25519PublicKey(x.publicKey);
        const priv = this.#x25519PrivateKey;
        this.#recipient = Object.freeze({ publicKey: this.#x25519PublicKey, sharedSecret: (peer: Buffer) => x25519SharedSecret(priv, peer) });

        this.#attestation = options.attestation;
        const fromSource = options.attestation?.measurement;
        const measurement = options.measurement ?? (typeof fromSource === 'string' ? Buffer.from(fromSource, 'hex') : fromSource);
        if (measurement !== undefined && (!Buffer.isBuffer(measurement) || measurement.length !== 32)) {
            throw new Error('measurement must be 32 bytes');
        }
        this.#measurement = measurement === undefined ? undefined : Buffer.from(measurement);
    }

    /** Copies, so callers cannot alter the keys the enclave uses. */
    get ed25519PublicKey(): Buffer {
        return Buffer.from(this.#edPublicKey);
    }

    get x25519PublicKey(): Buffer {
        return Buffer.from(this.#x25519PublicKey);
    }

    /** The slot id clients put in input envelopes for this enclave. */
    get recipientId(): Buffer {
        return recipientId(this.#x25519PublicKey);
    }

    get teeType(): string | undefined {
        return this.#attestation?.teeType;
    }

    get measurement(): Buffer | undefined {
        return this.#measurement && Buffer.from(this.#measurement);
    }

    /** 64 bytes for the quote: see protocol/enclave-keys.ts for the rule. */
    reportData(): Buffer {
        return enclaveReportData(this.#edPublicKey, this.#x25519PublicKey);
    }

    async attest(): Promise<Attestation> {
        if (!this.#attestation) throw new Error('this enclave has no attestation source');
        const reportData = this.reportData();
        const quote = await this.#attestation.quote(Buffer.from(reportData));
        return { teeType: this.#attestation.teeType, quote, reportData, ed25519PublicKey: this.ed25519PublicKey, x25519PublicKey: this.x25519PublicKey };
    }

    /** Decrypts an input envelope addressed to this enclave. Prefer runJob, which keeps the plaintext inside. */
    openInput(envelope: Buffer, binding: InputBinding): Buffer {
        return openInput(envelope, binding, this.#recipient);
    }

    /**
     * Re-signs a receipt this enclave produced in runJob (e.g. for a relayer that lost the signature). Refuses any
     * other fields: the enclave only vouches for results it computed.
     */
    signReceipt(fields: ReceiptFields): Buffer {
        const hash = receiptHash(fields);
        if (!this.#signed.has(hash.toString('hex'))) throw new Error('refusing to sign a receipt for a result this enclave did not produce');
        return crypto.sign(null, hash, this.#edPrivateKey);
    }

    /**
     * Unwraps the input, runs `infer` on the plaintext, seals the output to the client and signs the receipt.
     * The input plaintext is handed only to `infer` and wiped afterwards (best effort: JS may have copied it).
     *
     * The receipt's input commitment is computed here from the bytes actually decrypted, so only an escrow whose
     * inputCommitment names this very envelope accepts the receipt. Hashing 256 KB costs ~1 ms on these machines
     * (no SHA extensions), so it runs on libuv's thread pool (WebCrypto digest copies the bytes at call time) while
     * this thread decrypts and `infer` runs; a mismatch with ctx.inputCommitment is still refused before any
     * result or receipt exists.
     *
     * The Buffer `infer` returns is consumed: a large one is handed to the sealing thread (resultSealer.ts) and comes
     * back detached (length 0), so return a Buffer nothing else needs.
     */
    async runJob(envelope: Buffer, ctx: JobContext, infer: (plaintext: Buffer) => Promise<Buffer>): Promise<JobOutcome> {
        if (!this.#measurement) throw new Error('the enclave has no measurement: pass options.measurement or an attestation source that has one');
        const job = Address.isAddress(ctx.job) ? ctx.job : Address.parse(ctx.job);
        const hashing = crypto.subtle.digest('SHA-256', envelope).then((d) => ({ ok: Buffer.from(d) }), (e: unknown) => ({ error: e }));
        const plaintext = this.openInput(envelope, ctx);
        let output: Buffer;
        try {
            output = await infer(plaintext);
            if (!Buffer.isBuffer(output)) throw new TypeError('the inference function must return a Buffer');
            const hashed = await hashing;
            if ('error' in hashed) throw hashed.error;
            const inputCommitment = hashed.ok;
            if (ctx.inputCommitment !== undefined && !inputCommitment.equals(ctx.inputCommitment)) {
                throw new EnvelopeError('WRONG_COMMITMENT', "sha256(envelope) differs from the job's input commitment");
            }
            const resultBinding = { networkId: ctx.networkId, job, modelHash: ctx.modelHash, clientResultPublicKey: ctx.clientResultPublicKey };
            const ephemeral = this.#ephemeralKeys.take();
            let resultEnvelope: Buffer;
            let outputCommitment: Buffer;
            if (output.length >= OFF_THREAD_SEAL_MIN_BYTES) {
                ({ envelope: resultEnvelope, commitment: outputCommitment } = await this.#sealer.seal(output, resultBinding, ephemeral));
            } else {
                resultEnvelope = sealResult(output, resultBinding, ephemeral);
                outputCommitment = envelopeCommitment(resultEnvelope);
            }
            const receipt: ReceiptFields = {
                networkId: ctx.networkId,
                job,
                inputCommitment: bufferToUint256(inputCommitment),
                outputCommitment: bufferToUint256(outputCommitment),
                modelHash: bufferToUint256(ctx.modelHash),
                measurement: bufferToUint256(this.#measurement),
            };
            const hash = receiptHash(receipt);
            this.#remember(hash.toString('hex'));
            return { resultEnvelope, inputCommitment, outputCommitment, receipt, receiptSignature: crypto.sign(null, hash, this.#edPrivateKey) };
        } finally {
            plaintext.fill(0);
        }
    }

    #remember(hashHex: string): void {
        this.#signed.add(hashHex);
        if (this.#signed.size > RECEIPT_MEMORY) this.#signed.delete(this.#signed.values().next().value as string);
    }

    /** Public view only: what JSON.stringify and util.inspect show. */
    toJSON(): { teeType: string | null; ed25519PublicKey: string; x25519PublicKey: string; measurement: string | null } {
        return {
            teeType: this.teeType ?? null,
            ed25519PublicKey: this.#edPublicKey.toString('hex'),
            x25519PublicKey: this.#x25519PublicKey.toString('hex'),
            measurement: this.#measurement ? this.#measurement.toString('hex') : null,
        };
    }

    [util.inspect.custom](): string {
        const j = this.toJSON();
        return `Enclave { teeType: ${j.teeType}, ed25519PublicKey: ${j.ed25519PublicKey}, x25519PublicKey: ${j.x25519PublicKey} }`;
    }
}
