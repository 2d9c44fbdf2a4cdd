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
    /** Upload attempts on network errors and 5xx (default 4). After the claim, losing the result is costly. */
    uploadAttempts?: number;
}

export class BlobClient {
    private readonly base: string;
    private readonly timeoutMs: number;
    private readonly uploadAttempts: number;

    constructor(opts: BlobClientOptions) {
        this.base = opts.apiUrl.replace(/\/+$/, '');
        this.timeoutMs = opts.timeoutMs ?? 30_000;
        this.uploadAttempts = opts.uploadAttempts ?? 4;
    }

    /**
     * The input envelope stored under `hash`. 404 (never uploaded, expired) and 500 BLOB_CORRUPTED are INPUT_MISSING:
     * the client may still upload the right bytes. Other failures are this worker's (WORKER_ERROR).
     */
    async fetchInput(hash: string): Promise<Buffer> {
        let res: Response;
        try {
            res = await fetch(`${this.base}/v1/blobs/${hash}`, { signal: AbortSignal.timeout(this.timeoutMs) });
        } catch (e) {
            throw new WorkFailure('WORKER_ERROR', `cannot reach the blob API at ${this.base}: ${(e as Error).message}`);
        }
        if (res.status === 404) throw new WorkFailure('INPUT_MISSING', `input envelope ${hash} is not in the blob store (not uploaded or expired)`);
        if (!res.ok) {
            const code = await errorCode(res);
            if (code === 'BLOB_CORRUPTED') throw new WorkFailure('INPUT_MISSING', `the stored input envelope ${hash} is corrupted (it does not hash to its key)`);
            throw new WorkFailure('WORKER_ERROR', `fetching input envelope ${hash} failed: HTTP ${res.status} ${code}`);
        }
        return Buffer.from(await res.arrayBuffer());
    }

    /** Stores a result envelope under its sha256 (`hash`, checked by the server); retries transient failures. */
    async uploadResult(envelope: Buffer, hash: string): Promise<void> {
        let last = '';
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
            if (attempt < this.uploadAttempts) await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 1)));
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
