/**
 * The enclave's crypto thread: a worker thread of the enclave's process (crypto-thread.js) for the work of a job
 * that does not need the JS thread, where onnxruntime-node runs small models and everything else of the worker.
 *
 * - `prepare` (every job, at its start): sha256 of the input envelope — the receipt's input commitment — and the
 *   one-time X25519 agreement with the client's result key, while the JS thread decrypts and the model runs. The
 *   envelope is copied into the message (the caller keeps it); for a 256 KB input this costs the JS thread ~0.05 ms
 *   against ~0.7 ms of hashing, ~0.1 ms of key generation and ~0.1 ms of X25519.
 * - `seal` (large results): the JS thread derives the key (protocol/envelope.ts) and hands the plaintext's memory
 *   over (a transfer, not a copy); the thread encrypts, builds the envelope, hashes it and hands its memory back.
 *   With two jobs in flight one job is sealed while the next one's model runs.
 *
 * The thread is part of the enclave: same process, same trust domain (on TDX, the same TD). It wipes the plaintext
 * and keys once used. A plaintext Buffer that shares its memory with other data (a view into a larger allocation)
 * is copied instead of transferred, so nothing else is moved away from its owner; a transferred Buffer is detached
 * (length 0) on return. An idle thread does not keep the process alive; if it dies, pending calls fail with a clear
 * error and the next call starts a new one.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { EnvelopeError, prepareResultSeal, ResultBinding, ResultKey, ResultKeyAgreement } from '../../protocol/envelope';
import { X25519_KEY_BYTES } from '../../protocol/x25519';

export interface SealedResult {
    envelope: Buffer;
    /** sha256(envelope): the receipt's output commitment. */
    commitment: Buffer;
}

export interface PreparedJob {
    /** sha256 of the input envelope. */
    inputCommitment: Buffer;
    /** The one-time agreement with the client's result key, or why it failed (a low-order or malformed key). */
    agreement: ResultKeyAgreement | { error: string };
}

interface Reply {
    id: number;
    error?: string;
    envelope?: Uint8Array;
    commitment?: Uint8Array;
    inputCommitment?: Uint8Array;
    agreement?: { ephemeralPublicKey: Uint8Array; sharedSecret: Uint8Array };
    agreementError?: string;
}

interface Pending {
    resolve(r: Reply): void;
    reject(e: Error): void;
}

const THREAD_FILE = path.join(__dirname, 'crypto-thread.js');

const view = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

export class EnclaveCryptoThread {
    #worker: Worker | undefined;
    readonly #pending = new Map<number, Pending>();
    #nextId = 1;

    /** Hashes `envelope` and makes a one-time agreement with `clientResultPublicKey`, off the JS thread. */
    async prepare(envelope: Buffer, clientResultPublicKey: Buffer): Promise<PreparedJob> {
        if (!Buffer.isBuffer(envelope)) throw new EnvelopeError('BAD_ARGUMENT', 'envelope must be a Buffer');
        if (!Buffer.isBuffer(clientResultPublicKey) || clientResultPublicKey.length !== X25519_KEY_BYTES) {
            throw new EnvelopeError('BAD_ARGUMENT', 'client result key is not a usable X25519 public key');
        }
        const copy = new Uint8Array(envelope.byteLength);
        copy.set(envelope);
        const r = await this.#call({ op: 'prepare', envelope: copy, clientPublicKey: clientResultPublicKey }, [copy.buffer]);
        if (!r.inputCommitment) throw new Error('the crypto thread gave no input commitment');
        return {
            inputCommitment: view(r.inputCommitment),
            agreement: r.agreement
                ? { ephemeralPublicKey: view(r.agreement.ephemeralPublicKey), sharedSecret: view(r.agreement.sharedSecret) }
                : { error: r.agreementError ?? 'unknown' },
        };
    }

    /**
     * Seals `plaintext` (transferred when it owns its memory) to the client's result key; `ephemeral`/`derived` as
     * in prepareResultSeal.
     */
    async seal(plaintext: Buffer, binding: ResultBinding & { clientResultPublicKey: Buffer }, ephemeral?: Parameters<typeof prepareResultSeal>[2], derived?: ResultKey): Promise<SealedResult> {
        if (!Buffer.isBuffer(plaintext)) throw new EnvelopeError('BAD_ARGUMENT', 'result must be a Buffer');
        const seal = prepareResultSeal(plaintext.length, binding, ephemeral, derived);
        const ownsMemory = plaintext.byteOffset === 0 && plaintext.byteLength === plaintext.buffer.byteLength && !(plaintext.buffer instanceof SharedArrayBuffer);
        try {
            const r = await this.#call(
                { op: 'seal', header: seal.header, aad: seal.aad, nonce: seal.nonce, key: seal.key, plaintext },
                ownsMemory ? [plaintext.buffer as ArrayBuffer] : [],
            );
            if (!r.envelope || !r.commitment) throw new Error('the crypto thread gave no envelope');
            return { envelope: view(r.envelope), commitment: view(r.commitment) };
        } finally {
            seal.key.fill(0); // the thread got its own copy
        }
    }

    /** Stops the thread (pending calls fail). Not needed before exit: an idle thread does not keep the process alive. */
    async close(): Promise<void> {
        const w = this.#worker;
        this.#worker = undefined;
        if (w) await w.terminate();
    }

    #call(message: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<Reply> {
        const worker = this.#thread();
        const id = this.#nextId++;
        return new Promise<Reply>((resolve, reject) => {
            this.#pending.set(id, { resolve, reject });
            worker.ref(); // while a call is pending the process waits for it
            try {
                worker.postMessage({ ...message, id }, transfer);
            } catch (e) {
                this.#pending.delete(id);
                if (this.#pending.size === 0) worker.unref();
                reject(e as Error);
            }
        });
    }

    #thread(): Worker {
        if (this.#worker) return this.#worker;
        const worker = new Worker(THREAD_FILE);
        worker.on('message', (m: Reply) => {
            const p = this.#pending.get(m.id);
            if (!p) return;
            this.#pending.delete(m.id);
            if (this.#pending.size === 0) worker.unref();
            if (m.error !== undefined) p.reject(new Error(`the crypto thread failed (${m.error})`));
            else p.resolve(m);
        });
        const fail = (why: string) => {
            if (this.#worker === worker) this.#worker = undefined;
            const pending = [...this.#pending.values()];
            this.#pending.clear();
            for (const p of pending) p.reject(new Error(`the crypto thread stopped (${why})`));
        };
        worker.on('error', (e) => fail(e.name));
        worker.on('exit', (code) => fail(`exit code ${code}`));
        worker.unref(); // after the listeners (a 'message' listener refs it): an idle thread never keeps the process up
        this.#worker = worker;
        return worker;
    }
}
