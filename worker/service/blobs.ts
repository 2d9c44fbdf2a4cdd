/**
 * The worker's side of the orchestrator blob API (docs/orchestrator-api.md): fetch an input envelope by its
 * commitment, upload a result envelope pinned to its commitment. Only ciphertext crosses here.
 */
import { WorkFailure } from './failures';

export interface BlobClientOptions {
    /**
     * API base URL, e.g. http://127.0.0.1:8080, or several orchestrators' (in order of preference). They all serve
     * the same blob store (one Redis), so any of them will do: a request goes to the one that answered last, and
     * moves on to the next on a connection error, a timeout or a 5xx answer.
     */
    apiUrl: string | readonly string[];
    /** Per request (default 30 s: an 8 MiB envelope on a slow link). */
    timeoutMs?: number;
    /** Upload attempts on network errors and 5xx, over all URLs (default: as many as fit in retryForMs). */
    uploadAttempts?: number;
    /**
     * How long a fetch or an upload keeps retrying network errors and 5xx answers (default 30 s). An orchestrator
     * restart or a load-balancer failover takes seconds: failing at once would make the dispatcher exclude this
     * healthy provider from the job (before the claim: every provider behind the same API fails alike, and the job
     * is stuck until its deadline), or lose a result already claimed on chain (after the claim: a slash).
     */
    retryForMs?: number;
    /** Called when a request moves from one API URL to the next (for logs: URLs and the reason, no payload). */
    onFailover?: (from: string, to: string, why: string) => void;
}

/** Backoff between rounds of blob API retries: 250 ms doubling, at most 2 s. */
const retryDelayMs = (round: number) => Math.min(2_000, 250 * 2 ** (round - 1));

/** The API base URLs of `apiUrl` (trailing slashes dropped); throws when there is none or one is not http(s). */
export function apiBases(apiUrl: string | readonly string[]): string[] {
    const list = (typeof apiUrl === 'string' ? [apiUrl] : [...apiUrl]).map((u) => u.trim().replace(/\/+$/, ''));
    if (list.length === 0) throw new Error('no orchestrator API URL given');
    for (const u of list) if (!/^https?:\/\/[^/]/.test(u)) throw new Error(`orchestrator API URL ${JSON.stringify(u)} must be an http(s) URL`);
    return list;
}

export class BlobClient {
    private readonly bases: string[];
    private readonly timeoutMs: number;
    private readonly uploadAttempts: number;
    private readonly retryForMs: number;
    /** index of the URL that answered last: requests start there */
    private current = 0;

    constructor(private readonly opts: BlobClientOptions) {
        this.bases = apiBases(opts.apiUrl);
        this.timeoutMs = opts.timeoutMs ?? 30_000;
        this.uploadAttempts = opts.uploadAttempts ?? Infinity;
        this.retryForMs = opts.retryForMs ?? 30_000;
    }

    /** The API base URL requests go to now. */
    get apiUrl(): string {
        return this.bases[this.current];
    }

    /**
     * The input envelope stored under `hash`. 404 (never uploaded, expired) and 500 BLOB_CORRUPTED are INPUT_MISSING:
     * the client may still upload the right bytes. Network errors and other 5xx fail over to the next API URL and
     * are retried for retryForMs, then they are this worker's failure (WORKER_ERROR), like any other 4xx.
     */
    async fetchInput(hash: string): Promise<Buffer> {
        const giveUpAt = Date.now() + this.retryForMs;
        for (let attempt = 1; ; attempt++) {
            const base = this.apiUrl;
            let failure: WorkFailure;
            try {
                const res = await fetch(`${base}/v1/blobs/${hash}`, { signal: AbortSignal.timeout(this.timeoutMs) });
                if (res.ok) return Buffer.from(await res.arrayBuffer());
                if (res.status === 404) throw new WorkFailure('INPUT_MISSING', `input envelope ${hash} is not in the blob store (not uploaded or expired)`);
                const code = await errorCode(res);
                if (code === 'BLOB_CORRUPTED') throw new WorkFailure('INPUT_MISSING', `the stored input envelope ${hash} is corrupted (it does not hash to its key)`);
                failure = new WorkFailure('WORKER_ERROR', `fetching input envelope ${hash} from ${base} failed: HTTP ${res.status} ${code}`);
                if (res.status < 500 && res.status !== 408 && res.status !== 429) throw failure; // the request itself is wrong
            } catch (e) {
                if (e instanceof WorkFailure) throw e;
                failure = new WorkFailure('WORKER_ERROR', `cannot reach the blob API at ${base}: ${(e as Error).message}`);
            }
            // unreachable or 5xx: the next orchestrator at once; after a full round, wait (they may be restarting)
            if (!(await this.next(attempt, giveUpAt, failure.message))) throw failure;
        }
    }

    /**
     * Stores a result envelope under its sha256 (`hash`, checked by the server); network errors and 5xx fail over to
     * the next API URL and are retried for retryForMs.
     */
    async uploadResult(envelope: Buffer, hash: string): Promise<void> {
        let last = '';
        const giveUpAt = Date.now() + this.retryForMs;
        for (let attempt = 1; attempt <= this.uploadAttempts; attempt++) {
            const base = this.apiUrl;
            try {
                const res = await fetch(`${base}/v1/blobs/result`, {
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
                last = `${base}: HTTP ${res.status} ${code}`;
                if (res.status < 500 && res.status !== 408) break; // the request itself is wrong: retrying cannot help
            } catch (e) {
                last = `${base}: ${(e as Error).message}`;
            }
            if (attempt >= this.uploadAttempts || !(await this.next(attempt, giveUpAt, last))) break;
        }
        throw new WorkFailure('WORKER_ERROR', `uploading result envelope ${hash} failed: ${last}`);
    }

    /**
     * After failed attempt n: moves to the next URL, waiting first when every URL has failed in this round.
     * False when the time budget does not allow another attempt (only once every URL was tried).
     */
    private async next(attempt: number, giveUpAt: number, why: string): Promise<boolean> {
        const n = this.bases.length;
        const endOfRound = attempt % n === 0;
        const delay = endOfRound ? retryDelayMs(attempt / n) : 0;
        // every URL gets one try, even when the first one used up the time budget (a blackholed host times out)
        if (attempt >= n && Date.now() + delay > giveUpAt) return false;
        if (n > 1) {
            const from = this.bases[this.current];
            this.current = (this.current + 1) % n;
            this.opts.onFailover?.(from, this.bases[this.current], why);
        }
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        return true;
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
