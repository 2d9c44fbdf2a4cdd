/**
 * The orchestrator's HTTP API as the client uses it (docs/orchestrator-api.md): the provider directory, envelope
 * upload and download, and job dispatch status. Only ciphertext and public metadata cross it; whatever it says
 * about providers is checked against the chain by the caller (verifyProvider), and every blob against its hash.
 */
import { CocoonError } from './errors';

/** One item of GET /v1/providers?model=… (what the orchestrator's directory says; not trusted as it is). */
export interface ApiProvider {
    owner: string;
    stakeContract?: string;
    price?: string;
    teeType?: string;
    /** base64 attestation quote */
    quote: string;
    attestationHash?: string;
    measurement?: string;
    receiptKey?: string;
    encryptionKey?: string;
    endpoint?: string;
    load?: number;
    capacity?: number;
    lastHeartbeatMs?: number;
    healthy?: boolean;
}

/** The dispatch part of GET /v1/jobs/:address (the orchestrator's view of routing). */
export interface ApiDispatchStatus {
    state: 'queued' | 'routing' | 'running' | 'committed' | 'dead' | 'finished' | string;
    attempts?: unknown[];
    reason?: string;
}

export interface OrchestratorApiOptions {
    /** per request, ms (default 30 000) */
    timeoutMs?: number;
}

export class OrchestratorApi {
    readonly base: string;
    private readonly timeoutMs: number;

    constructor(base: string, options: OrchestratorApiOptions = {}) {
        this.base = base.replace(/\/+$/, '');
        this.timeoutMs = options.timeoutMs ?? 30_000;
    }

    private async request(path: string, init: RequestInit = {}): Promise<Response> {
        try {
            return await fetch(this.base + path, { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
        } catch (e) {
            const why = (e as Error).name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : ((e as Error & { cause?: Error }).cause?.message ?? (e as Error).message);
            throw new CocoonError('API_ERROR', `the orchestrator API at ${this.base} is unreachable (${why})`, 'check the "api" URL of the network file (is `cocoon up` running?)');
        }
    }

    /** `{code, message}` of an API error body, or the HTTP status. */
    private static async describe(res: Response): Promise<string> {
        try {
            const body = (await res.json()) as { error?: { code?: string; message?: string } };
            if (body?.error?.code) return `${res.status} ${body.error.code}: ${body.error.message ?? ''}`.trim();
        } catch {
            // not JSON
        }
        return `HTTP ${res.status}`;
    }

    async providers(modelHash: string): Promise<ApiProvider[]> {
        const res = await this.request(`/v1/providers?model=${modelHash}`);
        if (!res.ok) throw new CocoonError('API_ERROR', `GET /v1/providers failed: ${await OrchestratorApi.describe(res)}`, 'retry shortly; if it persists, the orchestrator has no provider directory');
        const body = (await res.json()) as { providers?: unknown };
        if (!body || !Array.isArray(body.providers)) throw new CocoonError('API_ERROR', 'GET /v1/providers answered without a "providers" list');
        return body.providers.filter((p): p is ApiProvider => !!p && typeof p === 'object' && typeof (p as ApiProvider).owner === 'string');
    }

    /** Uploads an input envelope pinned to its commitment (the server refuses bytes that hash to anything else). */
    async uploadInput(envelope: Buffer, commitmentHex: string): Promise<{ hash: string; size: number }> {
        const res = await this.request('/v1/blobs/input', {
            method: 'PUT',
            headers: { 'Content-Type': 'application/octet-stream', 'X-Content-Sha256': commitmentHex },
            body: envelope,
        });
        if (res.status !== 200 && res.status !== 201) {
            throw new CocoonError('UPLOAD_FAILED', `uploading the input envelope failed: ${await OrchestratorApi.describe(res)}`, 'nothing was paid yet: retry, or check the orchestrator API');
        }
        const body = (await res.json()) as { hash: string; size: number };
        if (body.hash !== commitmentHex) throw new CocoonError('UPLOAD_FAILED', `the API stored the envelope under ${body.hash}, expected ${commitmentHex}`, 'do not use this orchestrator');
        return body;
    }

    /** The blob stored under `hash`, or null when the API does not have it (404). */
    async blob(hash: string): Promise<Buffer | null> {
        const res = await this.request(`/v1/blobs/${hash}`);
        if (res.status === 404) return null;
        if (!res.ok) throw new CocoonError('API_ERROR', `GET /v1/blobs/${hash} failed: ${await OrchestratorApi.describe(res)}`, 'retry shortly');
        return Buffer.from(await res.arrayBuffer());
    }

    /** The orchestrator's dispatch view of a job, or null when it does not know the job or has no job source. */
    async dispatchStatus(jobAddressRaw: string): Promise<ApiDispatchStatus | null> {
        const res = await this.request(`/v1/jobs/${jobAddressRaw}`);
        if (!res.ok) return null;
        const body = (await res.json()) as { status?: { dispatch?: ApiDispatchStatus }; dispatch?: ApiDispatchStatus };
        const d = body?.status?.dispatch ?? body?.dispatch;
        return d && typeof d.state === 'string' ? d : null;
    }
}
