/**
 * The worker's inference engine: `run(task, modelHash, inputBytes) → UTF-8 JSON bytes`.
 *
 * The model hash is the on-chain one (see catalog.ts for the task → hash rule). The engine refuses hashes that
 * are not in its verified catalog (UNKNOWN_MODEL) and hashes served for another task (WRONG_TASK); inputs are
 * validated by the task before any model sees them (InferenceInputError with a code). Pipelines and sessions are
 * created lazily on first use and reused.
 */
import { promises as fs } from 'fs';
import {
    CatalogEntry,
    DEFAULT_CATALOG_PATH,
    JOB_TASKS,
    JobTask,
    loadCatalog,
    ModelCatalog,
    normalizeModelHash,
    SERVED_CATALOG_TASK,
    servedModels,
    sha256Hex,
    taskOfModel,
} from './catalog';
import { InferenceError, ModelCatalogError } from './errors';
import { InferenceThreadMode, ModelPlacement, Placement } from './placement';
import { InferenceThread } from './thread/inferenceThread';
import { ctcCharacters, OcrOptions, OcrPipeline, OcrResult } from './ocr';
import { ModelStats, SessionPool, SessionPoolOptions } from './sessions';
import { TensorLimits, TensorPipeline } from './tensor';
import { VadOptions, VadPipeline, VadResult } from './vad';

export interface InferenceEngineOptions extends SessionPoolOptions {
    /**
     * Where models run (placement.ts): 'auto' (default) moves a model whose runs take ≥ 4 ms to the engine's
     * inference thread after timing its first runs, 'on' runs every model there, 'off' keeps all on the JS thread.
     */
    inferenceThread?: InferenceThreadMode;
    /** In 'auto' mode, the probe time (fastest probe run) from which a model moves to the thread (default THREAD_MIN_RUN_MS). */
    threadMinRunMs?: number;
    ocr?: Partial<OcrOptions>;
    vad?: Partial<VadOptions>;
    tensor?: Partial<TensorLimits>;
}

/** A model hash as lower/upper-case hex (optionally 0x-prefixed), a uint256 bigint (as stored on-chain) or 32 bytes. */
export type ModelHashLike = string | bigint | Uint8Array;

export type TaskOutput = OcrResult | VadResult | Awaited<ReturnType<TensorPipeline['run']>>;

interface Pipeline {
    run(bytes: Uint8Array): Promise<TaskOutput>;
}

export class InferenceEngine {
    readonly pool: SessionPool;
    readonly placement: ModelPlacement;
    private readonly pipelines = new Map<string, Promise<Pipeline>>();
    private thread?: InferenceThread;
    /** Models placed on the thread whose sessions are ready there (until then their runs stay inline). */
    private readonly threadReady = new Set<string>();
    private readonly threadWarming = new Set<string>();

    constructor(
        readonly catalog: ModelCatalog,
        readonly options: InferenceEngineOptions = {},
    ) {
        this.pool = new SessionPool(options);
        this.placement = new ModelPlacement(options.inferenceThread ?? 'auto', options.threadMinRunMs);
    }

    /** Loads and verifies a catalog file (default: worker/models/catalog.json), then builds an engine on it. */
    static async fromCatalogFile(file: string = DEFAULT_CATALOG_PATH, options: InferenceEngineOptions = {}): Promise<InferenceEngine> {
        return new InferenceEngine(await loadCatalog(file), options);
    }

    /** The models this engine serves, as (task, on-chain model hash, name). */
    models(): { task: JobTask; modelHash: string; name: string }[] {
        return servedModels(this.catalog);
    }

    /** The job task a model hash is served for, or undefined. */
    taskOf(modelHash: ModelHashLike): JobTask | undefined {
        return taskOfModel(this.catalog, normalizeModelHash(modelHash));
    }

    /** Resolves (task, model hash) to the served catalog entry, or throws UNKNOWN_TASK / UNKNOWN_MODEL / WRONG_TASK. */
    resolve(task: string, modelHash: ModelHashLike): CatalogEntry {
        if (!JOB_TASKS.includes(task as JobTask))
            throw new InferenceError('UNKNOWN_TASK', `unknown task ${JSON.stringify(task)} (tasks: ${JOB_TASKS.join(', ')})`);
        let hash = '';
        if (typeof modelHash === 'string' || typeof modelHash === 'bigint' || modelHash instanceof Uint8Array)
            hash = normalizeModelHash(modelHash);
        const entry = this.catalog.byHash.get(hash);
        if (!entry) {
            const served = this.models().map((m) => `${m.task}:${m.modelHash}`).join(', ');
            throw new InferenceError(
                'UNKNOWN_MODEL',
                `model ${JSON.stringify(typeof modelHash === 'string' ? modelHash : hash)} is not in this worker's catalog${this.catalog.file ? ` (${this.catalog.file})` : ''}; served: ${served}`,
            );
        }
        const want = SERVED_CATALOG_TASK[task as JobTask];
        if (entry.task !== want) {
            const actual = this.taskOf(hash);
            throw new InferenceError(
                'WRONG_TASK',
                `model ${hash} ("${entry.name}") is a ${entry.task} model${actual ? ` served for task "${actual}"` : ' (not servable on its own)'}; task "${task}" needs the hash of a ${want} model`,
            );
        }
        return entry;
    }

    private pipeline(entry: CatalogEntry): Promise<Pipeline> {
        let p = this.pipelines.get(entry.sha256);
        if (!p) {
            p = this.build(entry);
            this.pipelines.set(entry.sha256, p);
            p.catch(() => this.pipelines.delete(entry.sha256));
        }
        return p;
    }

    private async build(entry: CatalogEntry): Promise<Pipeline> {
        switch (entry.task) {
            case 'ocr-rec': {
                const det = this.catalog.byHash.get(entry.detector!)!;
                const dict = entry.dictionary!;
                let bytes: Buffer;
                try {
                    bytes = await fs.readFile(dict.path);
                } catch (e) {
                    throw new ModelCatalogError('MODEL_FILE_MISSING', `dictionary of "${entry.name}": cannot read ${dict.path}: ${(e as Error).message}`);
                }
                const actual = sha256Hex(bytes);
                if (actual !== dict.sha256)
                    throw new ModelCatalogError(
                        'MODEL_HASH_MISMATCH',
                        `dictionary of "${entry.name}": sha256 mismatch for ${dict.path}: catalog pins ${dict.sha256}, file has ${actual}; refusing to load`,
                    );
                return new OcrPipeline(this.pool, det, entry, ctcCharacters(bytes.toString('utf8')), this.options.ocr);
            }
            case 'vad':
                return new VadPipeline(this.pool, entry, this.options.vad);
            case 'tensor':
                return new TensorPipeline(this.pool, entry, this.options.tensor);
            default:
                throw new InferenceError('WRONG_TASK', `model "${entry.name}" (${entry.task}) cannot be run on its own`);
        }
    }

    /** Runs a job and returns its output as a JS object (what `run` serialises). */
    async runJson(task: JobTask | string, modelHash: ModelHashLike, input: Uint8Array): Promise<TaskOutput> {
        const entry = this.resolve(task, modelHash);
        const pipeline = await this.pipeline(entry);
        return pipeline.run(input);
    }

    /**
     * Runs a job: input bytes → output bytes (UTF-8 JSON; binary tensors for a binary tensor request), on the JS
     * thread or on the inference thread (see `placementOf`). The caller keeps `input` either way.
     */
    async run(task: JobTask | string, modelHash: ModelHashLike, input: Uint8Array): Promise<Buffer> {
        const entry = this.resolve(task, modelHash);
        if (this.placementOf(entry.sha256) === 'thread') return this.inferenceThread().run(task, entry.sha256, input);
        const pipeline = await this.pipeline(entry);
        const started = performance.now();
        // tensor requests may be binary (protocol/tensor-binary.ts): the pipeline answers in the request's form
        const output = pipeline instanceof TensorPipeline ? await pipeline.runBytes(input) : Buffer.from(JSON.stringify(await pipeline.run(input)), 'utf8');
        if (this.placement.recordInlineRun(entry.sha256, performance.now() - started) === 'thread') this.moveToThread(entry.sha256);
        return output;
    }

    /** Where the served model's next run goes: 'thread' only once the thread has its sessions ready (or mode 'on'). */
    placementOf(modelHash: string): Placement {
        const p = this.placement.placementOf(modelHash);
        if (p !== 'thread') return 'inline';
        return this.placement.mode === 'on' || this.threadReady.has(modelHash) ? 'thread' : 'inline';
    }

    private inferenceThread(): InferenceThread {
        if (!this.thread) {
            const { inferenceThread: _mode, threadMinRunMs: _min, ...options } = this.options;
            this.thread = new InferenceThread(this.catalog, options as Record<string, unknown>);
        }
        return this.thread;
    }

    /**
     * Loads the model on the thread, then sends its runs there; if loading fails the model simply stays inline. Its
     * JS-thread sessions stay loaded (the pool releases sessions only all together), so a moved model's session
     * memory is held twice.
     */
    private moveToThread(modelHash: string): void {
        if (this.threadWarming.has(modelHash)) return;
        this.threadWarming.add(modelHash);
        this.inferenceThread()
            .warmup([modelHash])
            .then(() => this.threadReady.add(modelHash))
            .catch(() => undefined);
    }

    /**
     * Creates the sessions of the given served models (default: all) ahead of the first job: on the inference
     * thread in mode 'on', on the JS thread otherwise (in 'auto' the first runs are timed inline).
     */
    async warmup(modelHashes?: string[]): Promise<void> {
        const targets = modelHashes ?? this.models().map((m) => m.modelHash);
        for (const h of targets) {
            const task = this.taskOf(h);
            if (!task) throw new InferenceError('UNKNOWN_MODEL', `model ${h} is not served by this worker`);
            const entry = this.resolve(task, h);
            if (this.placement.mode === 'on') {
                await this.inferenceThread().warmup([entry.sha256]);
                continue;
            }
            await this.pipeline(entry);
            await this.pool.session(entry);
            if (entry.task === 'ocr-rec') await this.pool.session(this.catalog.byHash.get(entry.detector!)!);
        }
    }

    /** Per-model session stats, the JS thread's and the inference thread's added up. */
    stats(): ModelStats[] {
        const merged = new Map<string, ModelStats>();
        for (const s of [...this.pool.stats(), ...(this.thread?.stats() ?? [])]) {
            const m = merged.get(s.sha256);
            if (!m) merged.set(s.sha256, { ...s });
            else merged.set(s.sha256, { sha256: s.sha256, loaded: m.loaded || s.loaded, runs: m.runs + s.runs, running: m.running + s.running, queued: m.queued + s.queued });
        }
        return [...merged.values()];
    }

    async close(): Promise<void> {
        this.pipelines.clear();
        await Promise.all([this.pool.close(), this.thread?.close()]);
    }
}
