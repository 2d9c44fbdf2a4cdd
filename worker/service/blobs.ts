/**
 * The worker's side of the orchestrator blob API (docs/orchestrator-api.md): fetch an input envelope by its
 * commitment, upload a result envelope pinned to its commitment. Only ciphertext crosses here.
 */
import { WorkFailure } from './failures';

export interface BlobClientOptions {
    /** API base URL, e.g. http://127.0.0.1:8080 */
    apiUrl: string;
    /** Per request (default 30 s: an 8 MiB envelope on a slow link). */
    timeoutMs?: number;
    /** Upload attempts on network errors and 5xx (default: as many as fit in retryForMs). */
    uploadAttempts?: number;
    /**
     * How long a fetch or an upload keeps retrying network errors and 5xx answers (default 30 s). An orchestrator
     * restart or a load-balancer failover takes seconds: failing at once would make the dispatcher exclude this
     * healthy provider from the job (before the claim: every provider behind the same API fails alike, and the job
     * is stuck until its deadline), or lose a result already claimed on chain (after the claim: a slash).
     */
    retryForMs?: number;
}

/** Backoff between blob API retries: 250 ms doubling, at most 2 s. */
const retryDelayMs = (attempt: number) => Math.min(2_000, 250 * 2 ** (attempt - 1));

export class BlobClient {
    private readonly base: string;
    private readonly timeoutMs: number;
    private readonly uploadAttempts: number;
    private readonly retryForMs: number;

    constructor(opts: BlobClientOptions) {
        this.base = opts.apiUrl.replace(/\/+$/, '');
        this.timeoutMs = opts.timeoutMs ?? 30_000;
        this.uploadAttempts = opts.uploadAttempts ?? Infinity;
        this.retryForMs = opts.retryForMs ?? 30_000;
    }

    /**
     * The input envelope stored under `hash`. 404 (never uploaded, expired) and 500 BLOB_CORRUPTED are INPUT_MISSING:
     * the client may still upload the right bytes. Network errors and other 5xx are retried for retryForMs, then
     * they are this worker's failure (WORKER_ERROR), like any other 4xx.
     */
    async fetchInput(hash: string): Promise<Buffer> {
        const giveUpAt = Date.now() + this.retryForMs;
        for (let attempt = 1; ; attempt++) {
            let failure: WorkFailure;
            try {
                const res = await fetch(`${this.base}/v1/blobs/${hash}`, { signal: AbortSignal.timeout(this.timeoutMs) });
                if (res.ok) return Buffer.from(await res.arrayBuffer());
                if (res.status === 404) throw new WorkFailure('INPUT_MISSING', `input envelope ${hash} is not in the blob store (not uploaded or expired)`);
                const code = await errorCode(res);
                if (code === 'BLOB_CORRUPTED') throw new WorkFailure('INPUT_MISSING', `the stored input envelope ${hash} is corrupted (it does not hash to its key)`);
                failure = new WorkFailure('WORKER_ERROR', `fetching input envelope ${hash} failed: HTTP ${res.status} ${code}`);
                if (res.status < 500 && res.status !== 408 && res.status !== 429) throw failure; // the request itself is wrong
            } catch (e) {
                if (e instanceof WorkFailure) throw e;
                failure = new WorkFailure('WORKER_ERROR', `cannot reach the blob API at ${this.base}: ${(e as Error).message}`);
            }
            // unreachable or 5xx: the API may be restarting; waiting costs nothing before the claim
            const delay = retryDelayMs(attempt);
            if (Date.now() + delay > giveUpAt) throw failure;
            await new Promise((r) => setTimeout(r, delay));
        }
    }

    /** Stores a result envelope under its sha256 (`hash`, checked by the server); retries transient failures for retryForMs. */
    async uploadResult(envelope: Buffer, hash: string): Promise<void> {
        let last = '';
        const giveUpAt = Date.now() + this.retryForMs;
        for (let attempt = 1; attempt <= this.uploadAttempts; attempt++) {
            try {
                const res = await fetch(`${this.base}/v1/blobs/result`, {
                    method: 'PUT',
                    headers: { 'Content-Type': 'application/octet-stream', 'X-Content-Sha256': hash },
                    body: envelope,
                    signal: AbortSignal.timeout(this.timeoutMs),
                });
                if (res.ok) {
                    await res.arrayBuffer();
                    return;
                }
                const code = await errorCode(res);
                last = `HTTP ${res.status} ${code}`;
                if (res.status < 500 && res.status !== 408) break; // the request itself is wrong: retrying cannot help
            } catch (e) {
                last = (e as Error).message;
            }
            const delay = retryDelayMs(attempt);
            if (attempt >= this.uploadAttempts || Date.now() + delay > giveUpAt) break;
            await new Promise((r) => setTimeout(r, delay));
        }
        throw new WorkFailure('WORKER_ERROR', `uploading result envelope ${hash} failed: ${last}`);
    }
}

async function errorCode(res: Response): Promise<string> {
    try {
        const body = (await res.json()) as { error?: { code?: unknown } };
        return typeof body?.error?.code === 'string' ? body.error.code : '';
    } catch {
        return '';
    }
}
