/**
 * HTTP front of the devnet, shaped like toncenter's v2 API:
 *   POST /jsonRPC (also /api/v2/jsonRPC)   {id, jsonrpc, method, params} → {ok, result, id, jsonrpc} | {ok:false, error, code, id, jsonrpc}
 *   GET  /<method>?a=b (also /api/v2/<method>) and POST /<method> with a JSON object of params → {ok, result} | {ok:false, error, code}
 * Errors use toncenter's status codes (see errors.ts). Nothing a client sends can crash the server.
 */
import * as http from 'http';
import { AddressInfo } from 'net';
import { DevnetChain } from './chain';
import { RpcError } from './errors';
import { methods } from './api';
import { Params } from './params';

const MAX_BODY = 16 * 1024 * 1024;

export interface ServerOptions {
    /** When set, requests must carry it as X-API-Key header or api_key query parameter. */
    apiKey?: string;
    log?: (line: string) => void;
}

interface Reply {
    status: number;
    body: Record<string, unknown>;
}

export function createDevnetServer(chain: DevnetChain, opts: ServerOptions = {}): http.Server {
    const server = http.createServer((req, res) => {
        handle(chain, opts, req)
            .catch((e): Reply => {
                opts.log?.(`devnet: internal error: ${(e as Error).stack ?? e}`);
                return { status: 503, body: { ok: false, error: `internal devnet error: ${(e as Error).message}`, code: 503 } };
            })
            .then((reply) => {
                const text = JSON.stringify(reply.body);
                res.writeHead(reply.status, {
                    'Content-Type': 'application/json',
                    'Content-Length': Buffer.byteLength(text),
                    'Access-Control-Allow-Origin': '*',
                    'Access-Control-Allow-Headers': 'Content-Type, X-API-Key, X-Ton-Client-Version',
                });
                res.end(text);
            })
            .catch(() => res.destroy());
    });
    server.keepAliveTimeout = 5_000;
    return server;
}

function fail(status: number, error: string, extra: Record<string, unknown> = {}): Reply {
    return { status, body: { ok: false, error, code: status, ...extra } };
}

async function handle(chain: DevnetChain, opts: ServerOptions, req: http.IncomingMessage): Promise<Reply> {
    const url = new URL(req.url ?? '/', 'http://devnet');
    let path = url.pathname.replace(/\/+$/, '');
    if (path.startsWith('/api/v2')) path = path.slice('/api/v2'.length);
    if (req.method === 'OPTIONS') {
        await readBody(req).catch(() => undefined);
        return { status: 204, body: {} };
    }
    if (opts.apiKey !== undefined) {
        const key = req.headers['x-api-key'] ?? url.searchParams.get('api_key');
        if (key !== opts.apiKey) {
            await readBody(req).catch(() => undefined);
            return fail(401, key === undefined || key === null ? 'API key required' : 'Invalid API key');
        }
    }
    if (path === '/jsonRPC') {
        if (req.method !== 'POST') return fail(405, 'Method Not Allowed: use POST for /jsonRPC');
        let body: unknown;
        try {
            body = JSON.parse((await readBody(req)).toString('utf8'));
        } catch (e) {
            if (e instanceof RpcError) return fail(e.status, e.message);
            return fail(422, `Validation error: request body is not valid JSON (${(e as Error).message})`);
        }
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
            return fail(422, 'Validation error: the body must be a JSON-RPC object {id, jsonrpc, method, params}');
        }
        const rpc = body as { id?: unknown; method?: unknown; params?: unknown };
        const id = rpc.id === undefined || rpc.id === null ? null : String(rpc.id);
        const tag = { id, jsonrpc: '2.0' };
        if (typeof rpc.method !== 'string') return fail(422, 'Validation error: "method" must be a string', tag);
        const handler = Object.prototype.hasOwnProperty.call(methods, rpc.method) ? methods[rpc.method] : undefined;
        if (!handler) return fail(422, `Unknown method: ${JSON.stringify(rpc.method)}`, tag);
        const params = rpc.params ?? {};
        if (typeof params !== 'object' || params === null || Array.isArray(params)) {
            return fail(422, 'Validation error: "params" must be an object of named parameters', tag);
        }
        return call(chain, handler, params as Params, tag);
    }
    const name = path.slice(1);
    if (name === '' && req.method === 'GET') {
        return { status: 200, body: { ok: true, result: { network: 'cocoon devnet', methods: Object.keys(methods) } } };
    }
    const handler = name && Object.prototype.hasOwnProperty.call(methods, name) ? methods[name] : undefined;
    if (!handler) {
        await readBody(req).catch(() => undefined);
        return fail(404, `Not Found: ${url.pathname} (JSON-RPC is served at POST /jsonRPC)`);
    }
    let params: Params;
    if (req.method === 'GET') {
        params = {};
        for (const [k, v] of url.searchParams) if (k !== 'api_key') params[k] = v;
    } else if (req.method === 'POST') {
        try {
            const text = (await readBody(req)).toString('utf8');
            const parsed = text.trim() === '' ? {} : JSON.parse(text);
            if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('expected a JSON object');
            params = parsed as Params;
        } catch (e) {
            if (e instanceof RpcError) return fail(e.status, e.message);
            return fail(422, `Validation error: request body is not a JSON object of parameters (${(e as Error).message})`);
        }
    } else {
        return fail(405, `Method Not Allowed: ${req.method}`);
    }
    return call(chain, handler, params, {});
}

async function call(chain: DevnetChain, handler: (typeof methods)[string], params: Params, tag: Record<string, unknown>): Promise<Reply> {
    try {
        const result = await handler(chain, params);
        return { status: 200, body: { ok: true, result, ...tag } };
    } catch (e) {
        if (e instanceof RpcError) return fail(e.status, e.message, tag);
        throw e;
    }
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let tooLarge = false;
        req.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_BODY) tooLarge = true;
            else chunks.push(c);
        });
        req.on('end', () => (tooLarge ? reject(new RpcError(413, `request body larger than ${MAX_BODY} bytes`)) : resolve(Buffer.concat(chunks))));
        req.on('error', reject);
    });
}

export function listen(server: http.Server, port: number, host: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const onError = (e: Error) => reject(e);
        server.once('error', onError);
        server.listen(port, host, () => {
            server.off('error', onError);
            resolve((server.address() as AddressInfo).port);
        });
    });
}

export function closeServer(server: http.Server): Promise<void> {
    return new Promise((resolve) => {
        if (!server.listening) return resolve();
        // In-flight requests get a moment to finish, then every socket goes.
        const t = setTimeout(() => server.closeAllConnections(), 1_000);
        server.close(() => {
            clearTimeout(t);
            resolve();
        });
        server.closeIdleConnections();
    });
}
