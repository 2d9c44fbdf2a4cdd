/**
 * onnxruntime sessions, one per model hash, created lazily (once, even under concurrent first use) from the
 * verified bytes of the model file, and reused. Each model has a small FIFO semaphore bounding how many runs are
 * in flight at once.
 *
 * Note: onnxruntime-node 1.30 executes `session.run` synchronously on the JS thread (inside a setImmediate), using
 * its intra-op thread pool for the maths. Runs therefore never overlap inside one process and the event loop is
 * busy for the duration of each run (a 32 ms VAD window: ~0.2 ms; an OCR detection pass: 50–500 ms). The
 * semaphore keeps jobs fair (FIFO per model, a long VAD job interleaves with others window by window). The engine
 * moves slow models to its inference thread (placement.ts), which has a pool of its own, so they do not block the
 * JS thread; more parallelism comes from more worker processes.
 */
import { promises as fs } from 'fs';
import * as os from 'os';
import * as ort from './ort';
import { CatalogEntry, CatalogTask, sha256Hex } from './catalog';
import { InferenceError, ModelCatalogError } from './errors';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface SessionPoolOptions {
    /** 'cpu' (default) or 'cuda'. CUDA needs onnxruntime-node's CUDA binaries; there is no silent CPU fallback. */
    executionProvider?: ExecutionProvider;
    /**
     * onnxruntime intra-op threads per session, for every model. When unset, defaultIntraOpThreads() applies per
     * catalog task: 1 for the tiny sequential VAD and tensor models (thread hand-offs cost more than they save),
     * half the cores (at least 1) for the OCR models, leaving the rest to the event loop and other processes.
     */
    intraOpNumThreads?: number;
    /** Per-task overrides of the intra-op thread count (win over intraOpNumThreads). */
    intraOpNumThreadsByTask?: Partial<Record<CatalogTask, number>>;
    /** onnxruntime inter-op threads per session (default 1; the graphs here are sequential). */
    interOpNumThreads?: number;
    /** Runs of one model allowed at once (default: max(1, floor(cores / 2)), i.e. 1 on 2 cores). */
    concurrencyPerModel?: number;
    /** Per-model overrides of concurrencyPerModel, keyed by sha256. */
    concurrencyByModel?: Record<string, number>;
    /** onnxruntime log severity: 0 verbose … 4 fatal (default 3, errors only). */
    logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
}

/**
 * Intra-op threads used when SessionPoolOptions sets none. Measured on 2 busy cores: one thread was 1.5–3× faster
 * than two for VAD and the MLP, and 1.3–1.7× faster for OCR (two threads spin against other processes).
 */
export function defaultIntraOpThreads(task: CatalogTask): number {
    return task === 'vad' || task === 'tensor' ? 1 : defaultConcurrency();
}

/**
 * The exact onnxruntime session options the pool uses for a model. Exported so benchmarks can build an identical
 * direct session to compare against.
 */
export function sessionOptionsFor(entry: CatalogEntry, options: SessionPoolOptions = {}): ort.InferenceSession.SessionOptions {
    const opts: ort.InferenceSession.SessionOptions = {
        executionProviders: [options.executionProvider ?? 'cpu'],
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        interOpNumThreads: options.interOpNumThreads ?? 1,
        logSeverityLevel: options.logSeverityLevel ?? 3,
    };
    const threads =
        options.intraOpNumThreadsByTask?.[entry.task] ?? options.intraOpNumThreads ?? defaultIntraOpThreads(entry.task);
    opts.intraOpNumThreads = threads;
    return opts;
}

export function defaultConcurrency(): number {
    const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    return Math.max(1, Math.floor(cores / 2));
}

/** A counting semaphore with FIFO hand-off. */
export class Semaphore {
    private available: number;
    private readonly waiters: (() => void)[] = [];
    constructor(readonly permits: number) {
        if (!Number.isInteger(permits) || permits < 1) throw new RangeError(`semaphore permits must be ≥ 1, got ${permits}`);
        this.available = permits;
    }
    get inUse(): number {
        return this.permits - this.available;
    }
    get queued(): number {
        return this.waiters.length;
    }
    acquire(): Promise<void> {
        if (this.available > 0) {
            this.available--;
            return Promise.resolve();
        }
        return new Promise((resolve) => this.waiters.push(resolve));
    }
    release(): void {
        const next = this.waiters.shift();
        if (next) next(); // the permit passes straight to the next waiter
        else this.available++;
    }
    async use<T>(fn: () => Promise<T>): Promise<T> {
        await this.acquire();
        try {
            return await fn();
        } finally {
            this.release();
        }
    }
}

export const CUDA_UNAVAILABLE_MESSAGE =
    'CUDA execution provider is not installed: onnxruntime-node was installed without CUDA binaries ' +
    '(onnxruntime-node-install=skip), or the CUDA/cuDNN libraries are missing on this machine. ' +
    "Reinstall onnxruntime-node with its CUDA 12 binaries (ONNXRUNTIME_NODE_INSTALL=cuda12, needs network access) " +
    "or run the worker with executionProvider 'cpu'.";

interface ModelSlot {
    session?: Promise<ort.InferenceSession>;
    sem: Semaphore;
    runs: number;
}

export interface ModelStats {
    sha256: string;
    loaded: boolean;
    runs: number;
    running: number;
    queued: number;
}

export class SessionPool {
    readonly executionProvider: ExecutionProvider;
    private readonly slots = new Map<string, ModelSlot>();
    private closed = false;

    constructor(readonly options: SessionPoolOptions = {}) {
        this.executionProvider = options.executionProvider ?? 'cpu';
        if (this.executionProvider !== 'cpu' && this.executionProvider !== 'cuda')
            throw new InferenceError(
                'EXECUTION_PROVIDER_UNAVAILABLE',
                `unknown execution provider "${String(this.executionProvider)}" (expected 'cpu' or 'cuda')`,
            );
    }

    private slot(entry: CatalogEntry): ModelSlot {
        let s = this.slots.get(entry.sha256);
        if (!s) {
            const permits =
                this.options.concurrencyByModel?.[entry.sha256] ??
                this.options.concurrencyPerModel ??
                defaultConcurrency();
            s = { sem: new Semaphore(permits), runs: 0 };
            this.slots.set(entry.sha256, s);
        }
        return s;
    }

    /** The session of a model, created on first use from the file's bytes after re-checking their sha256. */
    session(entry: CatalogEntry): Promise<ort.InferenceSession> {
        if (this.closed) return Promise.reject(new InferenceError('ENGINE_CLOSED', 'the session pool is closed'));
        const s = this.slot(entry);
        if (!s.session) {
            s.session = this.create(entry);
            // A failed creation is not cached: a later call retries (e.g. after the file is restored).
            s.session.catch(() => {
                if (this.slots.get(entry.sha256) === s) s.session = undefined;
            });
        }
        return s.session;
    }

    private async create(entry: CatalogEntry): Promise<ort.InferenceSession> {
        let bytes: Buffer;
        try {
            bytes = await fs.readFile(entry.path);
        } catch (e) {
            throw new ModelCatalogError('MODEL_FILE_MISSING', `model "${entry.name}": cannot read ${entry.path}: ${(e as Error).message}`);
        }
        const actual = sha256Hex(bytes);
        if (actual !== entry.sha256)
            throw new ModelCatalogError(
                'MODEL_HASH_MISMATCH',
                `model "${entry.name}": sha256 mismatch for ${entry.path}: catalog pins ${entry.sha256}, file has ${actual}; refusing to load`,
            );
        const opts = sessionOptionsFor(entry, this.options);
        try {
            return await ort.InferenceSession.create(bytes, opts);
        } catch (e) {
            const msg = (e as Error).message ?? String(e);
            if (this.executionProvider === 'cuda')
                throw new InferenceError('EXECUTION_PROVIDER_UNAVAILABLE', `${CUDA_UNAVAILABLE_MESSAGE} (onnxruntime: ${msg})`, { cause: e });
            throw new InferenceError('SESSION_CREATE_FAILED', `model "${entry.name}" (${entry.sha256}): cannot create session: ${msg}`, { cause: e });
        }
    }

    /**
     * Runs a model once under its semaphore. Feeds are passed through as given (no copies); the returned tensors
     * are owned by the caller.
     */
    async run(
        entry: CatalogEntry,
        feeds: Record<string, ort.Tensor>,
        fetches?: readonly string[],
    ): Promise<Record<string, ort.Tensor>> {
        const session = await this.session(entry);
        const s = this.slot(entry);
        await s.sem.acquire();
        try {
            s.runs++;
            return fetches ? await session.run(feeds, fetches as string[]) : await session.run(feeds);
        } catch (e) {
            throw new InferenceError('MODEL_RUN_FAILED', `model "${entry.name}" (${entry.sha256}) failed: ${(e as Error).message}`, { cause: e });
        } finally {
            s.sem.release();
        }
    }

    stats(): ModelStats[] {
        return [...this.slots].map(([sha256, s]) => ({
            sha256,
            loaded: s.session !== undefined,
            runs: s.runs,
            running: s.sem.inUse,
            queued: s.sem.queued,
        }));
    }

    /** Releases every session. Runs in flight finish first (each release waits for its model's permits). */
    async close(): Promise<void> {
        this.closed = true;
        const slots = [...this.slots.values()];
        this.slots.clear();
        await Promise.all(
            slots.map(async (s) => {
                if (!s.session) return;
                const session = await s.session.catch(() => undefined);
                if (!session) return;
                for (let i = 0; i < s.sem.permits; i++) await s.sem.acquire();
                await session.release();
            }),
        );
    }
}
