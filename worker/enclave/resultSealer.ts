/**
 * Seals large results on a worker thread of the enclave's process.
 *
 * onnxruntime-node runs every model on the JS thread, so whatever else the JS thread does per job comes straight off
 * a worker's throughput. For a 1 MB result (the OCR recognizer's full output) sealing is ~1 ms of AES-GCM, ~3 ms of
 * sha256 and, done through WebCrypto, three 1 MB copies and allocations on the JS thread. Here the JS thread only
 * derives the key (protocol/envelope.ts prepareResultSeal) and hands the plaintext's memory to the sealing thread
 * (a transfer, not a copy); the thread encrypts, builds the envelope, hashes it and hands its memory back. With two
 * jobs in flight one job is sealed while the next one's model runs.
 *
 * The thread is part of the enclave: same process, same trust domain (on TDX, the same TD). It wipes the plaintext
 * and the key once sealed. A plaintext Buffer that shares its memory with other data (a view into a larger
 * allocation) is copied instead of transferred, so nothing else is moved away from its owner; a transferred Buffer
 * is detached (length 0) on return.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import { EphemeralX25519Key, EnvelopeError, prepareResultSeal, ResultBinding } from '../../protocol/envelope';

export interface SealedResult {
    envelope: Buffer;
    /** sha256(envelope): the receipt's output commitment. */
    commitment: Buffer;
}

interface Pending {
    resolve(r: SealedResult): void;
    reject(e: Error): void;
}

const THREAD_FILE = path.join(__dirname, 'result-sealer-thread.js');

export class ResultSealerThread {
    #worker: Worker | undefined;
    readonly #pending = new Map<number, Pending>();
    #nextId = 1;

    /** Seals `plaintext` (transferred when it owns its memory) to the client's result key. */
    seal(plaintext: Buffer, binding: ResultBinding & { clientResultPublicKey: Buffer }, ephemeral?: EphemeralX25519Key): Promise<SealedResult> {
        if (!Buffer.isBuffer(plaintext)) return Promise.reject(new EnvelopeError('BAD_ARGUMENT', 'result must be a Buffer'));
        let seal;
        try {
            seal = prepareResultSeal(plaintext.length, binding, ephemeral);
        } catch (e) {
            return Promise.reject(e);
        }
        const worker = this.#thread();
        const id = this.#nextId++;
        const ownsMemory = plaintext.byteOffset === 0 && plaintext.byteLength === plaintext.buffer.byteLength && !(plaintext.buffer instanceof SharedArrayBuffer);
        return new Promise<SealedResult>((resolve, reject) => {
            this.#pending.set(id, { resolve, reject });
            worker.ref(); // while a seal is pending the process waits for it
            try {
                worker.postMessage(
                    { id, header: seal.header, aad: seal.aad, nonce: seal.nonce, key: seal.key, plaintext },
                    ownsMemory ? [plaintext.buffer as ArrayBuffer] : [],
                );
            } catch (e) {
                this.#pending.delete(id);
                if (this.#pending.size === 0) worker.unref();
                reject(e as Error);
            } finally {
                seal.key.fill(0); // the thread got its own copy
            }
        });
    }

    /** Stops the thread (pending seals fail). Not needed before exit: an idle thread does not keep the process alive. */
    async close(): Promise<void> {
        const w = this.#worker;
        this.#worker = undefined;
        if (w) await w.terminate();
    }

    #thread(): Worker {
        if (this.#worker) return this.#worker;
        const worker = new Worker(THREAD_FILE);
        worker.on('message', (m: { id: number; envelope?: Uint8Array; commitment?: Uint8Array; error?: string }) => {
            const p = this.#pending.get(m.id);
            if (!p) return;
            this.#pending.delete(m.id);
            if (this.#pending.size === 0) worker.unref();
            if (m.error !== undefined || !m.envelope || !m.commitment) {
                p.reject(new Error(`the sealing thread failed (${m.error ?? 'no envelope'})`));
                return;
            }
            p.resolve({
                envelope: Buffer.from(m.envelope.buffer, m.envelope.byteOffset, m.envelope.byteLength),
                commitment: Buffer.from(m.commitment.buffer, m.commitment.byteOffset, m.commitment.byteLength),
            });
        });
        const fail = (why: string) => {
            if (this.#worker === worker) this.#worker = undefined;
            const pending = [...this.#pending.values()];
            this.#pending.clear();
            for (const p of pending) p.reject(new Error(`the sealing thread stopped (${why})`));
        };
        worker.on('error', (e) => fail(e.name));
        worker.on('exit', (code) => fail(`exit code ${code}`));
        worker.unref(); // after the listeners (a 'message' listener refs it): an idle thread never keeps the process up
        this.#worker = worker;
        return worker;
    }
}
