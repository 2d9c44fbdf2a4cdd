/**
 * The process's inference thread (threadMain.ts), seen from the JS thread: one worker thread, started on first use,
 * shared by every InferenceEngine of the process; each engine gets an `InferenceThread` handle that runs whole jobs
 * for the models it placed there (placement.ts).
 *
 * The thread is never terminated: onnxruntime-node keeps process-wide state, and terminating a thread that loaded
 * it crashed later sessions of the process (seen under jest, which reloads modules per test file). Closing an engine
 * releases its sessions on the thread instead, and an idle thread does not keep the process alive. If the thread
 * dies, the runs in flight fail with MODEL_RUN_FAILED (another worker may succeed) and the next run starts a new one.
 *
 * Inputs are copied into the message (the caller keeps its Buffer, as with inline runs) and the thread wipes its
 * copy; outputs are transferred back.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { ModelCatalog } from '../catalog';
import { InferenceError, InferenceErrorCode, InferenceInputError, InputErrorCode, ModelCatalogError } from '../errors';
import type { ModelStats } from '../sessions';
import type { ThreadError, ThreadRequest, ThreadResponse } from './messages';

const THREAD_FILE = path.join(__dirname, 'inference-thread.js');

type Request = ThreadRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

interface Pending {
    resolve(r: ThreadResponse & { ok: true }): void;
    reject(e: Error): void;
}

/** Rebuilds the engine's error classes so callers (and the runner's redaction by code) see what an inline run throws. */
function rebuild(e: ThreadError): Error {
    const code = e.code as InferenceErrorCode | undefined;
    if (e.name === 'InferenceInputError' && code) return new InferenceInputError(code as InputErrorCode, e.message);
    if (e.name === 'ModelCatalogError' && code) return new ModelCatalogError(code as 'CATALOG_INVALID', e.message);
    if (e.name === 'InferenceError' && code) return new InferenceError(code, e.message);
    const err = new Error(e.message);
    err.name = e.name;
    return err;
}

/** The one worker thread, its pending requests and its generation (bumped when a dead thread is replaced). */
class ThreadHost {
    #worker: Worker | undefined;
    readonly #pending = new Map<number, Pending>();
    #nextId = 1;
    generation = 0;

    send(req: Request, transfer: ArrayBuffer[] = []): Promise<ThreadResponse & { ok: true }> {
        const worker = this.#thread();
        const id = this.#nextId++;
        return new Promise((resolve, reject) => {
            this.#pending.set(id, { resolve, reject });
            worker.ref(); // a request in flight keeps the process alive, an idle thread does not
            try {
                worker.postMessage({ ...req, id } as ThreadRequest, transfer);
            } catch (e) {
                this.#settle(id, worker);
                reject(e as Error);
            }
        });
    }

    #settle(id: number, worker: Worker): Pending | undefined {
        const p = this.#pending.get(id);
        this.#pending.delete(id);
        if (this.#pending.size === 0) worker.unref();
        return p;
    }

    #thread(): Worker {
        if (this.#worker) return this.#worker;
        const worker = new Worker(THREAD_FILE);
        this.generation++;
        worker.on('message', (m: ThreadResponse) => {
            const p = this.#settle(m.id, worker);
            if (!p) return;
            if (m.ok) p.resolve(m);
            else p.reject(rebuild(m.error));
        });
        const fail = (why: string) => {
            if (this.#worker === worker) this.#worker = undefined;
            const pending = [...this.#pending.values()];
            this.#pending.clear();
            for (const p of pending) p.reject(new InferenceError('MODEL_RUN_FAILED', `the inference thread stopped (${why})`));
        };
        worker.on('error', (e) => fail(e.name));
        worker.on('exit', (code) => fail(`exit code ${code}`));
        worker.unref();
        this.#worker = worker;
        return worker;
    }
}

let host: ThreadHost | undefined;
let nextEngine = 1;

/** One engine's use of the process's inference thread. */
export class InferenceThread {
    readonly #engine = nextEngine++;
    #openedIn = 0; // the thread generation this engine's twin was created in
    #stats: ModelStats[] = [];
    #closed = false;

    constructor(
        private readonly catalog: ModelCatalog,
        private readonly options: Record<string, unknown>,
    ) {}

    /** Runs a job on the thread: input bytes → output bytes, like InferenceEngine.run. */
    async run(task: string, modelHash: string, input: Uint8Array): Promise<Buffer> {
        const copy = new Uint8Array(input.byteLength);
        copy.set(input);
        const r = await this.#send({ op: 'run', engine: this.#engine, task, modelHash, input: copy }, [copy.buffer]);
        return r.output ? Buffer.from(r.output.buffer, r.output.byteOffset, r.output.byteLength) : Buffer.alloc(0);
    }

    /** Creates the sessions of these models on the thread. */
    async warmup(modelHashes: string[]): Promise<void> {
        await this.#send({ op: 'warmup', engine: this.#engine, modelHashes });
    }

    /** Session stats of this engine's twin as of the thread's last answer. */
    stats(): ModelStats[] {
        return this.#stats;
    }

    /** Lets runs in flight finish and releases this engine's sessions on the thread (the thread itself stays). */
    async close(): Promise<void> {
        if (this.#closed) return;
        this.#closed = true;
        if (!host || this.#openedIn !== host.generation) return; // nothing of ours is on the current thread
        await host.send({ op: 'close', engine: this.#engine }).catch(() => undefined);
    }

    async #send(req: Request, transfer: ArrayBuffer[] = []): Promise<ThreadResponse & { ok: true }> {
        if (this.#closed) throw new InferenceError('ENGINE_CLOSED', 'the inference engine is closed');
        host ??= new ThreadHost();
        if (this.#openedIn !== host.generation || this.#openedIn === 0) {
            const opening = host.send({ op: 'open', engine: this.#engine, catalog: this.catalog, options: this.options });
            this.#openedIn = host.generation;
            await opening;
        }
        const r = await host.send(req, transfer);
        this.#stats = r.stats;
        return r;
    }
}
