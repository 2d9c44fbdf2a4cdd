/**
 * The orchestrator's public HTTP API (Node `http`, no framework): encrypted envelope upload and download, the
 * provider directory and job status (both injected), health and Prometheus metrics. docs/orchestrator-api.md.
 *
 * The API never sees plaintext and never logs content: a log line carries the route template, method, status,
 * body size, blob hash, latency and an error code — never a URL query, a header value or a byte of a body.
 *
 * Uploads are read as a stream under a byte cap: a Content-Length above the cap is refused before any body byte is
 * read (and without `100 Continue`), a chunked body is refused as soon as it crosses the cap, and a body whose first
 * four bytes are not the envelope magic is refused on its first chunk. An early refusal closes the connection.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import { Address } from '@ton/core';
import pino, { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { BlobError, BlobKind, BlobStore, MAGIC_BYTES, checkEnvelopeMagic, isBlobHash } from '../blobs';
import { ApiMetrics, createApiMetrics } from './metrics';

/** Providers serving a model (lowercase hex model hash); the directory is wired in later. */
export type ProvidersSource = (modelHash: string) => Promise<readonly unknown[]>;
/** A job's status by escrow address (raw form `wc:hex`); null/undefined when the job is unknown. */
export type JobStatusSource = (address: string) => Promise<unknown>;
/** Job counts per queue (GET /v1/queues), any JSON-able object. */
export type QueuesSource = () => Promise<unknown>;
/** The status page (GET /dashboard): a complete, self-contained HTML document. */
export type DashboardSource = () => Promise<string>;

/** What the API needs of the blob store (a BlobStore; an interface so tests and wrappers can stand in). */
export type ApiBlobStore = Pick<BlobStore, 'put' | 'get' | 'has' | 'size' | 'ping' | 'maxBytes'>;

export interface ApiServerOptions {
    blobs: ApiBlobStore;
    providers?: ProvidersSource;
    jobStatus?: JobStatusSource;
    queues?: QueuesSource;
    dashboard?: DashboardSource;
    /** Register the API's metrics on this registry (e.g. the orchestrator's, so /metrics serves both). Default: a new one. */
    metricsRegistry?: Registry;
    logger?: Logger;
    /** Largest upload body. Default (and upper bound in effect): blobs.maxBytes. */
    maxBodyBytes?: number;
    /** Time allowed to receive an upload body (ms); 408 after it. Default 30 000. */
    bodyTimeoutMs?: number;
    /** Time allowed to receive the request headers (ms). Default 10 000. */
    headersTimeoutMs?: number;
    /** Time allowed to the blob store and the injected sources per call (ms); 504 after it. Default 10 000. */
    upstreamTimeoutMs?: number;
    /** Uploads received at the same time; more get 503 BUSY. Default 16 (each buffers up to maxBodyBytes). */
    maxConcurrentUploads?: number;
    /** How long close() lets in-flight requests finish before cutting their connections (ms). Default 5 000. */
    closeGraceMs?: number;
}

export interface ApiServer {
    readonly server: http.Server;
    /** This server's own prom-client registry (what GET /metrics serves). */
    readonly metrics: Registry;
    /** Base URL once listening, e.g. http://127.0.0.1:41234. */
    readonly url: string | undefined;
    listen(port?: number, host?: string): Promise<{ port: number; host: string; url: string }>;
    /** Stops accepting, lets in-flight requests finish (up to closeGraceMs), closes every connection. */
    close(): Promise<void>;
}

export type ApiErrorCode =
    | 'BAD_HASH'
    | 'BAD_MAGIC'
    | 'HASH_MISMATCH'
    | 'BAD_MODEL_HASH'
    | 'BAD_ADDRESS'
    | 'BLOB_NOT_FOUND'
    | 'JOB_NOT_FOUND'
    | 'NOT_FOUND'
    | 'METHOD_NOT_ALLOWED'
    | 'REQUEST_TIMEOUT'
    | 'BLOB_TOO_LARGE'
    | 'UNSUPPORTED_MEDIA_TYPE'
    | 'BLOB_CORRUPTED'
    | 'INTERNAL'
    | 'UPSTREAM_FAILED'
    | 'NOT_CONFIGURED'
    | 'BUSY'
    | 'STORE_UNAVAILABLE'
    | 'UPSTREAM_TIMEOUT';

/** A response-shaped error. `closeConnection`: the request body was not read to its end. */
export class ApiError extends Error {
    constructor(
        readonly status: number,
        readonly code: ApiErrorCode,
        message: string,
        readonly headers: Record<string, string> = {},
        readonly closeConnection = false,
    ) {
        super(message);
        this.name = 'ApiError';
    }
}

/** The client disconnected before its request was complete: nobody to answer. */
class ClientGone extends Error {}

interface Ctx {
    req: http.IncomingMessage;
    res: http.ServerResponse;
    url: URL;
    params: string[];
    route: string;
    /** Logged fields (metadata only). */
    size?: number;
    hash?: string;
    errorCode?: string;
    errorName?: string;
}

type Handler = (ctx: Ctx) => Promise<void>;

interface Route {
    name: string;
    pattern: RegExp;
    methods: Record<string, Handler>;
}

const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' };
const KNOWN_METHODS = new Set(['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS']);

/** JSON with bigint → decimal string, Buffer → hex, TON Address → user-friendly form. */
export function toJson(value: unknown): string {
    return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
        const original = key === '' ? value : this[key];
        if (Buffer.isBuffer(original)) return original.toString('hex');
        if (original instanceof Uint8Array) return Buffer.from(original).toString('hex');
        if (Address.isAddress(original)) return original.toString();
        if (typeof v === 'bigint') return v.toString();
        return v;
    });
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout;
    const t = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new ApiError(504, 'UPSTREAM_TIMEOUT', `${what} did not answer within ${ms} ms`)), ms);
    });
    return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function blobErrorToApi(e: BlobError): ApiError {
    switch (e.code) {
        case 'TOO_LARGE':
            return new ApiError(413, 'BLOB_TOO_LARGE', 'the blob is larger than the cap');
        case 'BAD_MAGIC':
            return new ApiError(400, 'BAD_MAGIC', e.message.replace(/^BAD_MAGIC: /, ''));
        case 'BAD_HASH':
            return new ApiError(400, 'BAD_HASH', 'a blob hash is 64 hex digits (sha256)');
        case 'HASH_MISMATCH':
            return new ApiError(400, 'HASH_MISMATCH', e.message.replace(/^HASH_MISMATCH: /, ''));
        case 'CORRUPTED':
            return new ApiError(500, 'BLOB_CORRUPTED', 'the stored blob does not match its hash');
        default:
            return new ApiError(500, 'INTERNAL', 'internal error');
    }
}

export function createApiServer(options: ApiServerOptions): ApiServer {
    const { blobs } = options;
    if (!blobs || typeof blobs.put !== 'function' || typeof blobs.get !== 'function') throw new TypeError('createApiServer: blobs must be a BlobStore');
    const logger = options.logger ?? pino({ name: 'cocoon-api' });
    const maxBody = Math.min(options.maxBodyBytes ?? blobs.maxBytes, blobs.maxBytes);
    const bodyTimeoutMs = options.bodyTimeoutMs ?? 30_000;
    const headersTimeoutMs = options.headersTimeoutMs ?? 10_000;
    const upstreamMs = options.upstreamTimeoutMs ?? 10_000;
    const maxUploads = options.maxConcurrentUploads ?? 16;
    const closeGraceMs = options.closeGraceMs ?? 5_000;
    const m: ApiMetrics = createApiMetrics(options.metricsRegistry);
    let uploadsActive = 0;
    let inFlight = 0;
    let closing: Promise<void> | undefined;
    let baseUrl: string | undefined;

    // ---------------------------------------------------------------------------------------------------------
    // helpers

    const sendJson = (ctx: Ctx, status: number, body: unknown, headers: Record<string, string> = {}) => {
        const text = toJson(body);
        ctx.res.writeHead(status, { ...JSON_HEADERS, 'Content-Length': String(Buffer.byteLength(text)), ...headers });
        ctx.res.end(text);
    };

    const sendError = (ctx: Ctx, e: ApiError) => {
        ctx.errorCode = e.code;
        const headers: Record<string, string> = { ...e.headers };
        if (e.closeConnection) headers.Connection = 'close';
        sendJson(ctx, e.status, { error: { code: e.code, message: e.message } }, headers);
    };

    /** Blob store / source calls: BlobError → its response, timeouts pass, anything else → `fallback`. */
    const guard = async <T>(p: Promise<T>, what: string, fallback: () => ApiError): Promise<T> => {
        try {
            return await withTimeout(p, upstreamMs, what);
        } catch (e) {
            if (e instanceof ApiError) throw e;
            if (e instanceof BlobError) throw blobErrorToApi(e);
            throw fallback();
        }
    };
    const storeDown = () => new ApiError(503, 'STORE_UNAVAILABLE', 'the blob store is unavailable');

    /** Reads an upload body under the cap, checking the magic on the first bytes. */
    const readBody = (ctx: Ctx, kind: BlobKind): Promise<Buffer> =>
        new Promise((resolve, reject) => {
            const { req } = ctx;
            const chunks: Buffer[] = [];
            let total = 0;
            let checked = false;
            let done = false;
            const finish = (err: Error | null, body?: Buffer) => {
                if (done) return;
                done = true;
                clearTimeout(timer);
                req.off('data', onData);
                req.off('end', onEnd);
                req.off('close', onClose);
                req.off('error', onError);
                if (err) {
                    req.resume(); // discard whatever still arrives until the connection closes
                    reject(err);
                } else resolve(body!);
            };
            const timer = setTimeout(
                () => finish(new ApiError(408, 'REQUEST_TIMEOUT', `the body was not received within ${bodyTimeoutMs} ms`, {}, true)),
                bodyTimeoutMs,
            );
            const onData = (chunk: Buffer) => {
                total += chunk.length;
                ctx.size = total;
                if (total > maxBody) {
                    finish(new ApiError(413, 'BLOB_TOO_LARGE', `the body exceeds the cap of ${maxBody} bytes`, {}, true));
                    return;
                }
                chunks.push(chunk);
                if (!checked && total >= MAGIC_BYTES) {
                    checked = true;
                    try {
                        checkEnvelopeMagic(kind, chunks.length === 1 ? chunk : Buffer.concat(chunks));
                    } catch (e) {
                        const api = e instanceof BlobError ? blobErrorToApi(e) : new ApiError(400, 'BAD_MAGIC', 'not an envelope');
                        finish(new ApiError(api.status, api.code, api.message, {}, true));
                    }
                }
            };
            const onEnd = () => finish(null, Buffer.concat(chunks, total));
            const onClose = () => {
                if (!req.complete) finish(new ClientGone());
            };
            const onError = () => finish(new ClientGone());
            req.on('data', onData);
            req.on('end', onEnd);
            req.on('close', onClose);
            req.on('error', onError);
        });

    // ---------------------------------------------------------------------------------------------------------
    // handlers

    const putBlob =
        (kind: BlobKind): Handler =>
        async (ctx) => {
            const { req } = ctx;
            const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
            if (type !== 'application/octet-stream') {
                throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'upload the envelope as application/octet-stream', {}, true);
            }
            const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
            if (encoding !== 'identity') {
                throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'content encodings are not accepted: send the envelope bytes as they are', {}, true);
            }
            const declared = req.headers['x-content-sha256'];
            let expectedHash: string | undefined;
            if (declared !== undefined) {
                if (!isBlobHash(declared)) throw new ApiError(400, 'BAD_HASH', 'X-Content-Sha256 must be 64 hex digits', {}, true);
                expectedHash = declared.toLowerCase();
            }
            const length = req.headers['content-length'];
            if (length !== undefined && Number(length) > maxBody) {
                ctx.size = Number(length);
                throw new ApiError(413, 'BLOB_TOO_LARGE', `the body exceeds the cap of ${maxBody} bytes`, {}, true);
            }
            if (uploadsActive >= maxUploads) {
                throw new ApiError(503, 'BUSY', 'too many uploads in progress, retry shortly', { 'Retry-After': '1' }, true);
            }
            uploadsActive++;
            m.uploadsInFlight.inc();
            try {
                if ((req.headers.expect ?? '').toLowerCase() === '100-continue') ctx.res.writeContinue();
                const body = await readBody(ctx, kind);
                const r = await guard(blobs.put(body, { kind, expectedHash }), 'the blob store', storeDown);
                ctx.hash = r.hash;
                const outcome = r.existed ? 'existed' : r.repaired ? 'repaired' : 'created';
                m.uploads.inc({ kind, outcome });
                if (!r.existed) m.bytesStored.inc({ kind }, r.size);
                sendJson(ctx, r.existed ? 200 : 201, { hash: r.hash, size: r.size }, { Location: `/v1/blobs/${r.hash}`, ETag: `"${r.hash}"` });
            } finally {
                uploadsActive--;
                m.uploadsInFlight.dec();
            }
        };

    const blobHashParam = (ctx: Ctx): string => {
        const raw = ctx.params[0];
        if (!isBlobHash(raw)) throw new ApiError(400, 'BAD_HASH', 'a blob hash is 64 hex digits (sha256)');
        const hash = raw.toLowerCase();
        ctx.hash = hash;
        return hash;
    };

    const blobHeaders = (hash: string, size: number) => ({
        'Content-Type': 'application/octet-stream',
        'Content-Length': String(size),
        ETag: `"${hash}"`,
        // Content-addressed: the bytes behind a hash never change (the blob may expire, never mutate).
        'Cache-Control': 'public, max-age=31536000, immutable',
    });

    const notModified = (ctx: Ctx, hash: string): boolean => {
        const inm = ctx.req.headers['if-none-match'];
        if (!inm) return false;
        return inm.split(',').some((t) => {
            const v = t.trim().replace(/^W\//, '');
            return v === '*' || v.replace(/"/g, '').toLowerCase() === hash;
        });
    };

    const getBlob: Handler = async (ctx) => {
        const hash = blobHashParam(ctx);
        if (notModified(ctx, hash) && (await guard(blobs.has(hash), 'the blob store', storeDown))) {
            ctx.res.writeHead(304, { ETag: `"${hash}"` });
            ctx.res.end();
            return;
        }
        const bytes = await guard(blobs.get(hash), 'the blob store', storeDown);
        if (!bytes) throw new ApiError(404, 'BLOB_NOT_FOUND', 'no blob with this hash (never uploaded, expired or deleted)');
        ctx.size = bytes.length;
        m.bytesServed.inc(bytes.length);
        ctx.res.writeHead(200, blobHeaders(hash, bytes.length));
        ctx.res.end(bytes);
    };

    const headBlob: Handler = async (ctx) => {
        const hash = blobHashParam(ctx);
        const size = await guard(blobs.size(hash), 'the blob store', storeDown);
        if (size === null) {
            ctx.errorCode = 'BLOB_NOT_FOUND';
            ctx.res.writeHead(404, JSON_HEADERS);
            ctx.res.end();
            return;
        }
        ctx.size = size;
        ctx.res.writeHead(200, blobHeaders(hash, size));
        ctx.res.end();
    };

    const getProviders: Handler = async (ctx) => {
        const model = ctx.url.searchParams.get('model');
        if (!isBlobHash(model)) throw new ApiError(400, 'BAD_MODEL_HASH', 'model must be a 64-hex-digit model hash');
        const modelHash = model.toLowerCase();
        ctx.hash = modelHash;
        const source = options.providers;
        if (!source) throw new ApiError(503, 'NOT_CONFIGURED', 'this orchestrator has no provider directory');
        const list = await guard(Promise.resolve().then(() => source(modelHash)), 'the provider directory', () => new ApiError(502, 'UPSTREAM_FAILED', 'the provider directory failed'));
        if (!Array.isArray(list)) throw new ApiError(502, 'UPSTREAM_FAILED', 'the provider directory returned no list');
        sendJson(ctx, 200, { model: modelHash, providers: list });
    };

    const getJob: Handler = async (ctx) => {
        let address: string;
        try {
            address = Address.parse(decodeURIComponent(ctx.params[0])).toRawString();
        } catch {
            throw new ApiError(400, 'BAD_ADDRESS', 'not a TON address (raw wc:hex or user-friendly form)');
        }
        const source = options.jobStatus;
        if (!source) throw new ApiError(503, 'NOT_CONFIGURED', 'this orchestrator has no job status source');
        const status = await guard(Promise.resolve().then(() => source(address)), 'the job status source', () => new ApiError(502, 'UPSTREAM_FAILED', 'the job status source failed'));
        if (status === null || status === undefined) throw new ApiError(404, 'JOB_NOT_FOUND', 'no job known at this address');
        sendJson(ctx, 200, { address, status });
    };

    const getQueues: Handler = async (ctx) => {
        const source = options.queues;
        if (!source) throw new ApiError(503, 'NOT_CONFIGURED', 'this orchestrator has no queue view');
        const counts = await guard(Promise.resolve().then(() => source()), 'the queue view', () => new ApiError(502, 'UPSTREAM_FAILED', 'the queue view failed'));
        sendJson(ctx, 200, counts);
    };

    const getDashboard: Handler = async (ctx) => {
        const source = options.dashboard;
        if (!source) throw new ApiError(503, 'NOT_CONFIGURED', 'this orchestrator has no dashboard');
        const html = await guard(Promise.resolve().then(() => source()), 'the dashboard', () => new ApiError(502, 'UPSTREAM_FAILED', 'the dashboard failed'));
        ctx.res.writeHead(200, {
            'Content-Type': 'text/html; charset=utf-8',
            'Cache-Control': 'no-store',
            // self-contained page: inline style only, no scripts, nothing fetched from elsewhere
            'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
            'Content-Length': String(Buffer.byteLength(html)),
        });
        ctx.res.end(html);
    };

    const healthz: Handler = async (ctx) => {
        let ok = false;
        try {
            ok = await withTimeout(blobs.ping(), Math.min(upstreamMs, 2_000), 'redis');
        } catch {
            ok = false;
        }
        sendJson(ctx, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', redis: ok ? 'ok' : 'unreachable' });
    };

    const metrics: Handler = async (ctx) => {
        const text = await m.registry.metrics();
        ctx.res.writeHead(200, { 'Content-Type': m.registry.contentType, 'Cache-Control': 'no-store', 'Content-Length': String(Buffer.byteLength(text)) });
        ctx.res.end(text);
    };

    const routes: Route[] = [
        { name: '/v1/blobs/input', pattern: /^\/v1\/blobs\/input$/, methods: { PUT: putBlob('input') } },
        { name: '/v1/blobs/result', pattern: /^\/v1\/blobs\/result$/, methods: { PUT: putBlob('result') } },
        { name: '/v1/blobs/:hash', pattern: /^\/v1\/blobs\/([^/]+)$/, methods: { GET: getBlob, HEAD: headBlob } },
        { name: '/v1/providers', pattern: /^\/v1\/providers$/, methods: { GET: getProviders } },
        { name: '/v1/jobs/:address', pattern: /^\/v1\/jobs\/([^/]+)$/, methods: { GET: getJob } },
        { name: '/v1/queues', pattern: /^\/v1\/queues$/, methods: { GET: getQueues } },
        { name: '/dashboard', pattern: /^\/dashboard$/, methods: { GET: getDashboard } },
        { name: '/healthz', pattern: /^\/healthz$/, methods: { GET: healthz } },
        { name: '/metrics', pattern: /^\/metrics$/, methods: { GET: metrics } },
    ];

    // ---------------------------------------------------------------------------------------------------------
    // dispatch

    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
        const started = process.hrtime.bigint();
        inFlight++;
        const method = KNOWN_METHODS.has(req.method ?? '') ? req.method! : 'OTHER';
        let url: URL;
        try {
            url = new URL(req.url ?? '/', 'http://localhost');
        } catch {
            url = new URL('http://localhost/');
        }
        const ctx: Ctx = { req, res, url, params: [], route: 'unmatched' };
        res.setHeader('X-Content-Type-Options', 'nosniff');
        if (closing) res.setHeader('Connection', 'close');

        let recorded = false;
        res.once('close', () => {
            if (recorded) return;
            recorded = true;
            inFlight--;
            const status = res.writableFinished ? res.statusCode : 499;
            const seconds = Number(process.hrtime.bigint() - started) / 1e9;
            m.requests.inc({ route: ctx.route, method, status: String(status) });
            m.duration.observe({ route: ctx.route, method }, seconds);
            const line: Record<string, unknown> = { route: ctx.route, method, status, ms: Math.round(seconds * 1000) };
            if (ctx.size !== undefined) line.size = ctx.size;
            if (ctx.hash !== undefined) line.hash = ctx.hash;
            if (ctx.errorCode !== undefined) line.error = ctx.errorCode;
            if (ctx.errorName !== undefined) line.errorName = ctx.errorName;
            if (status >= 500) logger.warn(line, 'request');
            else logger.info(line, 'request');
        });

        let handler: Handler | undefined;
        let allowed: string[] | undefined;
        for (const r of routes) {
            const match = r.pattern.exec(url.pathname);
            if (!match) continue;
            ctx.route = r.name;
            ctx.params = match.slice(1);
            handler = r.methods[req.method ?? ''];
            if (!handler) allowed = Object.keys(r.methods);
            break;
        }

        const run = async () => {
            if (!handler) {
                if (allowed) throw new ApiError(405, 'METHOD_NOT_ALLOWED', `use ${allowed.join(' or ')}`, { Allow: allowed.join(', ') });
                throw new ApiError(404, 'NOT_FOUND', 'no such endpoint');
            }
            await handler(ctx);
        };
        run().catch((e: unknown) => {
            if (e instanceof ClientGone) {
                ctx.errorCode = 'CLIENT_GONE';
                res.destroy();
                return;
            }
            const api = e instanceof ApiError ? e : new ApiError(500, 'INTERNAL', 'internal error');
            if (!(e instanceof ApiError)) ctx.errorName = e instanceof Error ? e.name : typeof e;
            if (res.headersSent || res.destroyed) {
                ctx.errorCode = api.code;
                res.destroy();
                return;
            }
            // A request whose body we did not read (other than a bodiless GET) cannot reuse its connection.
            const unread = !req.complete && req.method !== 'GET' && req.method !== 'HEAD';
            sendError(ctx, unread && !api.closeConnection ? new ApiError(api.status, api.code, api.message, api.headers, true) : api);
            if (unread) req.resume();
        });
    };

    const requestTimeout = bodyTimeoutMs + Math.max(headersTimeoutMs, 5_000);
    const server = http.createServer(
        {
            requestTimeout,
            headersTimeout: Math.min(headersTimeoutMs, requestTimeout),
            connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs),
            keepAliveTimeout: 5_000,
        },
        onRequest,
    );
    // Expect: 100-continue goes through the same dispatch; the upload handler sends 100 only once it accepts.
    server.on('checkContinue', onRequest);

    return {
        server,
        metrics: m.registry,
        get url() {
            return baseUrl;
        },
        listen(port = 0, host = '127.0.0.1') {
            return new Promise((resolve, reject) => {
                const onError = (e: Error) => reject(e);
                server.once('error', onError);
                server.listen(port, host, () => {
                    server.off('error', onError);
                    const a = server.address() as AddressInfo;
                    const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
                    baseUrl = `http://${h}:${a.port}`;
                    resolve({ port: a.port, host: a.address, url: baseUrl });
                });
            });
        },
        close() {
            if (closing) return closing;
            closing = new Promise<void>((resolve) => {
                if (!server.listening) {
                    server.closeAllConnections();
                    resolve();
                    return;
                }
                const sweep = setInterval(() => server.closeIdleConnections(), 50);
                const cut = setTimeout(() => server.closeAllConnections(), closeGraceMs);
                server.close(() => {
                    clearInterval(sweep);
                    clearTimeout(cut);
                    resolve();
                });
                server.closeIdleConnections();
                if (inFlight === 0) server.closeAllConnections();
            });
            return closing;
        },
    };
}
