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
import { ctcCharacters, OcrOptions, OcrPipeline, OcrResult } from './ocr';
import { ModelStats, SessionPool, SessionPoolOptions } from './sessions';
import { TensorLimits, TensorPipeline } from './tensor';
import { VadOptions, VadPipeline, VadResult } from './vad';

export interface InferenceEngineOptions extends SessionPoolOptions {
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
    private readonly pipelines = new Map<string, Promise<Pipeline>>();

    constructor(
        readonly catalog: ModelCatalog,
        readonly options: InferenceEngineOptions = {},
    ) {
        this.pool = new SessionPool(options);
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

    /** Runs a job: input bytes → output bytes (UTF-8 JSON; binary tensors for a binary tensor request). */
    async run(task: JobTask | string, modelHash: ModelHashLike, input: Uint8Array): Promise<Buffer> {
        const entry = this.resolve(task, modelHash);
        const pipeline = await this.pipeline(entry);
        // tensor requests may be binary (protocol/tensor-binary.ts): the pipeline answers in the request's form
        if (pipeline instanceof TensorPipeline) return pipeline.runBytes(input);
        return Buffer.from(JSON.stringify(await pipeline.run(input)), 'utf8');
    }

    /** Creates the sessions of the given served models (default: all) ahead of the first job. */
    async warmup(modelHashes?: string[]): Promise<void> {
        const targets = modelHashes ?? this.models().map((m) => m.modelHash);
        for (const h of targets) {
            const task = this.taskOf(h);
            if (!task) throw new InferenceError('UNKNOWN_MODEL', `model ${h} is not served by this worker`);
            const entry = this.resolve(task, h);
            await this.pipeline(entry);
            await this.pool.session(entry);
            if (entry.task === 'ocr-rec') await this.pool.session(this.catalog.byHash.get(entry.detector!)!);
        }
    }

    stats(): ModelStats[] {
        return this.pool.stats();
    }

    async close(): Promise<void> {
        this.pipelines.clear();
        await this.pool.close();
    }
}
