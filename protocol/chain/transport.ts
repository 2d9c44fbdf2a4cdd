/**
 * JSON-RPC transport to a toncenter-v2-compatible endpoint (toncenter.com, a self-hosted ton-http-api, the devnet).
 * Reads are retried with jittered exponential backoff on HTTP 429, 5xx and network errors; calls made with
 * `retry: false` (sends) get exactly one attempt.
 */
import { ChainApiError, ChainNetworkError } from './errors';

export interface RetryPolicy {
    /** Total attempts including the first. */
    attempts: number;
    baseDelayMs: number;
    maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 5_000 };

export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal }) => Promise<{
    status: number;
    headers: { get(name: string): string | null };
    text(): Promise<string>;
}>;

export interface TransportOptions {
    /** JSON-RPC URL, e.g. https://testnet.toncenter.com/api/v2/jsonRPC; a base URL gets `/jsonRPC` appended. */
    endpoint: string;
    apiKey?: string;
    /** Per-request timeout (ms). Default 15 000. */
    timeoutMs?: number;
    retry?: Partial<RetryPolicy>;
    /** Replaceable for tests; the global fetch by default. */
    fetch?: FetchLike;
    /** Called before each retry (logging, metrics). */
    onRetry?: (info: { method: string; attempt: number; delayMs: number; error: Error }) => void;
}

export interface CallOptions {
    /** Retry on 429 / 5xx / network errors. Default true; sends pass false. */
    retry?: boolean;
}

export function normalizeEndpoint(endpoint: string): string {
    const url = new URL(endpoint);
    if (!/\/jsonRPC$/.test(url.pathname)) url.pathname = url.pathname.replace(/\/+$/, '') + '/jsonRPC';
    return url.toString();
}

/** Full-jitter exponential backoff: uniform in [0, min(max, base·2^attempt)]. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
    const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
    return Math.floor(random() * cap);
}

export class JsonRpcTransport {
    readonly endpoint: string;
    private readonly retry: RetryPolicy;
    private readonly timeoutMs: number;
    private readonly fetchImpl: FetchLike;
    private nextId = 1;

    constructor(private readonly opts: TransportOptions) {
        this.endpoint = normalizeEndpoint(opts.endpoint);
        this.retry = { ...DEFAULT_RETRY, ...opts.retry };
        if (this.retry.attempts < 1) this.retry.attempts = 1;
        this.timeoutMs = opts.timeoutMs ?? 15_000;
        this.fetchImpl = opts.fetch ?? (globalThis.fetch as unknown as FetchLike);
    }

    /** How long one request may take before it fails (ms). */
    get requestTimeoutMs(): number {
        return this.timeoutMs;
    }

    async call<T>(method: string, params: Record<string, unknown>, options: CallOptions = {}): Promise<T> {
        const attempts = options.retry === false ? 1 : this.retry.attempts;
        for (let attempt = 0; ; attempt++) {
            try {
                return await this.once<T>(method, params);
            } catch (e) {
                const err = e as ChainApiError | ChainNetworkError;
                const retryable = (err instanceof ChainApiError || err instanceof ChainNetworkError) && err.retryable;
                if (!retryable || attempt + 1 >= attempts) throw err;
                let delay = backoffDelay(this.retry, attempt);
                const retryAfter = (err as ChainApiError & { retryAfterMs?: number }).retryAfterMs;
                if (retryAfter !== undefined) delay = Math.max(delay, Math.min(retryAfter, this.retry.maxDelayMs));
                this.opts.onRetry?.({ method, attempt: attempt + 1, delayMs: delay, error: err });
                await new Promise((r) => setTimeout(r, delay));
            }
        }
    }

    private async once<T>(method: string, params: Record<string, unknown>): Promise<T> {
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        if (this.opts.apiKey) headers['X-API-Key'] = this.opts.apiKey;
        const body = JSON.stringify({ id: String(this.nextId++), jsonrpc: '2.0', method, params });
        let status: number;
        let text: string;
        let retryAfter: string | null = null;
        const controller = new AbortController();
        const timer = setTimeout(() => controller.abort(), this.timeoutMs);
        try {
            const res = await this.fetchImpl(this.endpoint, { method: 'POST', headers, body, signal: controller.signal });
            status = res.status;
            retryAfter = res.headers.get('retry-after');
            text = await res.text();
        } catch (e) {
            const err = e as Error & { cause?: { code?: string; message?: string } };
            const why = controller.signal.aborted
                ? `no answer within ${this.timeoutMs} ms`
                : err.cause?.code ?? err.cause?.message ?? err.message;
            throw new ChainNetworkError(method, this.endpoint, why);
        } finally {
            clearTimeout(timer);
        }
        let parsed: { ok?: boolean; result?: unknown; error?: unknown } | undefined;
        try {
            parsed = JSON.parse(text);
        } catch {
            parsed = undefined;
        }
        if (status === 200 && parsed && parsed.ok === true) return parsed.result as T;
        if (!parsed && status === 200) {
            throw new ChainNetworkError(method, this.endpoint, `answer is not JSON: ${text.slice(0, 200)}`);
        }
        const apiError = parsed && typeof parsed.error === 'string' ? parsed.error : text.slice(0, 500) || `HTTP ${status}`;
        const err = new ChainApiError(method, status, apiError, this.endpoint);
        if (retryAfter && /^\d+$/.test(retryAfter)) (err as ChainApiError & { retryAfterMs?: number }).retryAfterMs = Number(retryAfter) * 1000;
        throw err;
    }
}
