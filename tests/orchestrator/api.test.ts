/**
 * The orchestrator HTTP API over a real BlobStore on a private redis-server, with real envelopes.
 */
import * as crypto from 'crypto';
import * as http from 'http';
import { Address } from '@ton/core';
import Redis from 'ioredis';
import pino from 'pino';
import { generateX25519KeyPair, openInput, openResult, sealInput, sealResult } from '../../protocol/envelope';
import { BlobStore, DEFAULT_MAX_BLOB_BYTES } from '../../orchestrator/blobs';
import { ApiServer, ApiServerOptions, createApiServer } from '../../orchestrator/api';
import { RedisServer, startRedis } from '../helpers/redis';

const MARKER = Buffer.from('PLAINTEXT-MARKER-c0c00n-api-91b2', 'utf8');
const NETWORK = -239;
const MODEL = crypto.createHash('sha256').update('model:api').digest();
const JOB = new Address(0, crypto.createHash('sha256').update('job:api').digest());
const enclave = generateX25519KeyPair();
const client = generateX25519KeyPair();
const OCTET = { 'Content-Type': 'application/octet-stream' };
const PNG_HEAD = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

function input(payload: Buffer = Buffer.concat([Buffer.from('prompt: '), MARKER, crypto.randomBytes(32)])) {
    return sealInput({ networkId: NETWORK, modelHash: MODEL, clientResultPublicKey: client.publicKey, recipients: [enclave.publicKey], payload });
}

function result(plaintext: Buffer = Buffer.concat([Buffer.from('answer: '), MARKER, crypto.randomBytes(32)])) {
    return sealResult(plaintext, { networkId: NETWORK, job: JOB, modelHash: MODEL, clientResultPublicKey: client.publicKey });
}

interface Resp {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
    json: any;
}

function collect(res: http.IncomingMessage): Promise<Resp> {
    return new Promise((resolve, reject) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
            const body = Buffer.concat(chunks);
            let json: any;
            try {
                json = JSON.parse(body.toString('utf8'));
            } catch {
                json = undefined;
            }
            resolve({ status: res.statusCode!, headers: res.headers, body, json });
        });
    });
}

function call(base: string, method: string, path: string, opts: { body?: Buffer | string; headers?: Record<string, string> } = {}): Promise<Resp> {
    return new Promise((resolve, reject) => {
        const req = http.request(`${base}${path}`, { method, headers: opts.headers, agent: false }, (res) => collect(res).then(resolve, reject));
        req.on('error', reject);
        req.end(opts.body);
    });
}

/**
 * Sends headers and `chunks`, never ends the body, and resolves with the response (if the server answers before
 * the body is complete) — the proof that it refused without reading everything.
 */
function sendUnfinished(base: string, path: string, headers: Record<string, string>, chunks: Buffer[]): Promise<Resp & { sent: number }> {
    return new Promise((resolve, reject) => {
        let sent = 0;
        let answered = false;
        const req = http.request(`${base}${path}`, { method: 'PUT', headers, agent: false }, (res) => {
            answered = true;
            collect(res).then(
                (r) => {
                    req.destroy();
                    resolve({ ...r, sent });
                },
                (e) => reject(e),
            );
        });
        req.on('error', (e) => {
            if (!answered) reject(e);
        });
        req.flushHeaders();
        for (const c of chunks) {
            if (answered) break;
            req.write(c);
            sent += c.length;
        }
    });
}

let redisServer: RedisServer;
let redis: Redis;
let servers: ApiServer[] = [];
let logs: string[] = [];

beforeAll(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.port, '127.0.0.1', { maxRetriesPerRequest: 1 });
});

afterAll(async () => {
    await redis?.quit();
    await redisServer?.stop();
});

beforeEach(async () => {
    await redis.flushall();
    logs = [];
});

afterEach(async () => {
    await Promise.all(servers.map((s) => s.close()));
    servers = [];
});

async function start(opts: Partial<ApiServerOptions> & { store?: BlobStore } = {}): Promise<{ api: ApiServer; base: string; store: BlobStore }> {
    const store = opts.store ?? new BlobStore(redis);
    const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(s) });
    const api = createApiServer({ blobs: store, logger, ...opts });
    servers.push(api);
    const { url } = await api.listen(0);
    return { api, base: url, store };
}

describe('blob upload and download', () => {
    test('input round trip: PUT → 201 {hash,size}; GET → the exact bytes with ETag; re-upload → 200', async () => {
        const { base } = await start();
        const sealed = input();
        const hash = sealed.commitment.toString('hex');
        const put = await call(base, 'PUT', '/v1/blobs/input', { body: sealed.envelope, headers: OCTET });
        expect(put.status).toBe(201);
        expect(put.json).toEqual({ hash, size: sealed.envelope.length });
        expect(put.headers.location).toBe(`/v1/blobs/${hash}`);

        const get = await call(base, 'GET', `/v1/blobs/${hash}`);
        expect(get.status).toBe(200);
        expect(get.headers['content-type']).toBe('application/octet-stream');
        expect(get.headers.etag).toBe(`"${hash}"`);
        expect(get.headers['x-content-type-options']).toBe('nosniff');
        expect(get.body.equals(sealed.envelope)).toBe(true);
        const plain = openInput(get.body, { networkId: NETWORK, modelHash: MODEL, clientResultPublicKey: client.publicKey, jobNonce: sealed.jobNonce }, enclave.privateKey);
        expect(plain.includes(MARKER)).toBe(true);

        const again = await call(base, 'PUT', '/v1/blobs/input', { body: sealed.envelope, headers: OCTET });
        expect(again.status).toBe(200);
        expect(again.json).toEqual({ hash, size: sealed.envelope.length });
        expect(await redis.dbsize()).toBe(1);

        const head = await call(base, 'HEAD', `/v1/blobs/${hash.toUpperCase()}`);
        expect(head.status).toBe(200);
        expect(head.headers['content-length']).toBe(String(sealed.envelope.length));
        expect(head.body.length).toBe(0);

        const cached = await call(base, 'GET', `/v1/blobs/${hash}`, { headers: { 'If-None-Match': `"${hash}"` } });
        expect(cached.status).toBe(304);
    });

    test('result round trip, TTL set in Redis', async () => {
        const { base } = await start({ store: new BlobStore(redis, { ttlSeconds: 120 }) });
        const env = result();
        const put = await call(base, 'PUT', '/v1/blobs/result', { body: env, headers: { 'Content-Type': 'application/octet-stream; charset=binary' } });
        expect(put.status).toBe(201);
        expect(put.json.hash).toBe(sha(env));
        const ttl = await redis.ttl(`cocoon:blob:${put.json.hash}`);
        expect(ttl).toBeGreaterThan(100);
        expect(ttl).toBeLessThanOrEqual(120);
        const get = await call(base, 'GET', `/v1/blobs/${put.json.hash}`);
        expect(openResult(get.body, { networkId: NETWORK, job: JOB, modelHash: MODEL }, client.privateKey).includes(MARKER)).toBe(true);
    });

    test('default TTL is 24 h', async () => {
        const { base } = await start();
        const put = await call(base, 'PUT', '/v1/blobs/input', { body: input().envelope, headers: OCTET });
        const ttl = await redis.ttl(`cocoon:blob:${put.json.hash}`);
        expect(ttl).toBeGreaterThan(86_390);
    });

    test('X-Content-Sha256: a match stores, a mismatch is 400 HASH_MISMATCH and stores nothing, malformed is 400 BAD_HASH', async () => {
        const { base } = await start();
        const sealed = input();
        const wrong = await call(base, 'PUT', '/v1/blobs/input', { body: sealed.envelope, headers: { ...OCTET, 'X-Content-Sha256': sha(Buffer.from('x')) } });
        expect(wrong.status).toBe(400);
        expect(wrong.json.error.code).toBe('HASH_MISMATCH');
        expect(typeof wrong.json.error.message).toBe('string');
        const bad = await call(base, 'PUT', '/v1/blobs/input', { body: sealed.envelope, headers: { ...OCTET, 'X-Content-Sha256': 'not-a-hash' } });
        expect(bad.status).toBe(400);
        expect(bad.json.error.code).toBe('BAD_HASH');
        expect(await redis.dbsize()).toBe(0);
        const ok = await call(base, 'PUT', '/v1/blobs/input', { body: sealed.envelope, headers: { ...OCTET, 'X-Content-Sha256': sealed.commitment.toString('hex') } });
        expect(ok.status).toBe(201);
    });

    test('415 for a missing or wrong content type or a content encoding', async () => {
        const { base } = await start();
        const env = input().envelope;
        for (const headers of <Record<string, string>[]>[{}, { 'Content-Type': 'application/json' }, { 'Content-Type': 'text/plain' }, { ...OCTET, 'Content-Encoding': 'gzip' }]) {
            const r = await call(base, 'PUT', '/v1/blobs/input', { body: env, headers });
            expect(r.status).toBe(415);
            expect(r.json.error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
        }
        expect(await redis.dbsize()).toBe(0);
    });

    test('wrong magic: plaintext PNG and JSON uploads and the other envelope kind are refused with 400 BAD_MAGIC', async () => {
        const { base } = await start();
        const png = Buffer.concat([PNG_HEAD, MARKER, crypto.randomBytes(100)]);
        const json = Buffer.from(JSON.stringify({ prompt: MARKER.toString('utf8') }));
        const cases: [string, Buffer][] = [
            ['/v1/blobs/input', png],
            ['/v1/blobs/result', png],
            ['/v1/blobs/input', json],
            ['/v1/blobs/input', result()],
            ['/v1/blobs/result', input().envelope],
            ['/v1/blobs/input', Buffer.from('CO')],
            ['/v1/blobs/input', Buffer.alloc(0)],
        ];
        for (const [path, body] of cases) {
            const r = await call(base, 'PUT', path, { body, headers: OCTET });
            expect(r.status).toBe(400);
            expect(r.json.error.code).toBe('BAD_MAGIC');
            expect(r.body.includes(MARKER)).toBe(false);
        }
        expect(await redis.dbsize()).toBe(0);
        expect(logs.join('').includes(MARKER.toString('utf8'))).toBe(false);
    });

    test('wrong magic is refused on the first chunk, before the rest of the body is sent', async () => {
        const { base } = await start();
        const r = await sendUnfinished(base, '/v1/blobs/input', OCTET, [Buffer.concat([PNG_HEAD, MARKER])]);
        expect(r.status).toBe(400);
        expect(r.json.error.code).toBe('BAD_MAGIC');
        expect(r.headers.connection).toBe('close');
    });

    test('413 when Content-Length is over the cap: refused before any body byte is sent', async () => {
        const { base } = await start({ maxBodyBytes: 64 * 1024 });
        const r = await sendUnfinished(base, '/v1/blobs/input', { ...OCTET, 'Content-Length': String(64 * 1024 + 1) }, []);
        expect(r.sent).toBe(0);
        expect(r.status).toBe(413);
        expect(r.json.error.code).toBe('BLOB_TOO_LARGE');
    });

    test('413 for a streamed (chunked) body as soon as it crosses the cap, before the body ends', async () => {
        const cap = 64 * 1024;
        const { base } = await start({ maxBodyBytes: cap });
        const first = Buffer.alloc(16 * 1024, 7);
        first.write('COCI', 0, 'latin1');
        const chunks = [first, ...Array.from({ length: 4 }, () => Buffer.alloc(16 * 1024, 7))]; // cap + 16 KiB, body never ended
        const r = await sendUnfinished(base, '/v1/blobs/input', OCTET, chunks);
        expect(r.status).toBe(413);
        expect(r.json.error.code).toBe('BLOB_TOO_LARGE');
        expect(await redis.dbsize()).toBe(0);
    });

    test('413 at the default cap (8 MiB + envelope overhead) for a streamed body', async () => {
        const { base, store } = await start();
        expect(store.maxBytes).toBe(DEFAULT_MAX_BLOB_BYTES);
        const mib = 1024 * 1024;
        const first = Buffer.alloc(mib);
        first.write('COCI', 0, 'latin1');
        const chunks = [first, ...Array.from({ length: 9 }, () => Buffer.alloc(mib))]; // 10 MiB, never ended
        const r = await sendUnfinished(base, '/v1/blobs/input', OCTET, chunks);
        expect(r.status).toBe(413);
        expect(r.json.error.code).toBe('BLOB_TOO_LARGE');
    });

    test('Expect: 100-continue: an oversized declaration gets 413 without 100 Continue; an accepted one gets 100 then 201', async () => {
        const { base } = await start({ maxBodyBytes: 4096 });
        const refused = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
            let continued = false;
            const req = http.request(`${base}/v1/blobs/input`, { method: 'PUT', agent: false, headers: { ...OCTET, Expect: '100-continue', 'Content-Length': '5000' } }, (res) => {
                res.resume();
                res.on('end', () => resolve({ status: res.statusCode!, continued }));
                req.destroy();
            });
            req.on('continue', () => (continued = true));
            req.on('error', reject);
            req.flushHeaders();
        });
        expect(refused).toEqual({ status: 413, continued: false });

        const env = result(Buffer.from('small'));
        const accepted = await new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
            let continued = false;
            const req = http.request(`${base}/v1/blobs/result`, { method: 'PUT', agent: false, headers: { ...OCTET, Expect: '100-continue', 'Content-Length': String(env.length) } }, (res) => {
                res.resume();
                res.on('end', () => resolve({ status: res.statusCode!, continued }));
            });
            req.on('continue', () => {
                continued = true;
                req.end(env);
            });
            req.on('error', reject);
            req.flushHeaders();
        });
        expect(accepted).toEqual({ status: 201, continued: true });
    });

    test('408 when the body does not arrive in time', async () => {
        const { base } = await start({ bodyTimeoutMs: 300 });
        const started = Date.now();
        const r = await sendUnfinished(base, '/v1/blobs/input', OCTET, [Buffer.from('COCI-partial')]);
        expect(r.status).toBe(408);
        expect(r.json.error.code).toBe('REQUEST_TIMEOUT');
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(await redis.dbsize()).toBe(0);
    });

    test('503 BUSY over the concurrent upload limit', async () => {
        const { base } = await start({ maxConcurrentUploads: 1, bodyTimeoutMs: 2_000 });
        const hanging = http.request(`${base}/v1/blobs/input`, { method: 'PUT', headers: OCTET, agent: false });
        hanging.on('error', () => undefined);
        hanging.write(Buffer.from('COCI'));
        await new Promise((r) => setTimeout(r, 150));
        const r = await call(base, 'PUT', '/v1/blobs/input', { body: input().envelope, headers: OCTET });
        expect(r.status).toBe(503);
        expect(r.json.error.code).toBe('BUSY');
        expect(r.headers['retry-after']).toBe('1');
        hanging.destroy();
        await new Promise((r) => setTimeout(r, 150));
        const ok = await call(base, 'PUT', '/v1/blobs/input', { body: input().envelope, headers: OCTET });
        expect(ok.status).toBe(201);
    });

    test('a corrupted blob in Redis is 500 BLOB_CORRUPTED, never served', async () => {
        const { base, store } = await start();
        const env = input().envelope;
        const put = await call(base, 'PUT', '/v1/blobs/input', { body: env, headers: OCTET });
        const corrupted = Buffer.from(env);
        corrupted[200] ^= 0xff;
        await redis.set(store.key(put.json.hash), corrupted);
        const r = await call(base, 'GET', `/v1/blobs/${put.json.hash}`);
        expect(r.status).toBe(500);
        expect(r.json.error.code).toBe('BLOB_CORRUPTED');
        expect(r.body.includes(corrupted.subarray(150, 250))).toBe(false);
        // a re-upload of the genuine bytes repairs it
        const again = await call(base, 'PUT', '/v1/blobs/input', { body: env, headers: OCTET });
        expect(again.status).toBe(201);
        expect((await call(base, 'GET', `/v1/blobs/${put.json.hash}`)).body.equals(env)).toBe(true);
    });

    test('404 for unknown blobs and routes, 400 for malformed hashes, 405 for wrong methods', async () => {
        const { base } = await start();
        const missing = sha(Buffer.from('missing'));
        const nf = await call(base, 'GET', `/v1/blobs/${missing}`);
        expect(nf.status).toBe(404);
        expect(nf.json.error.code).toBe('BLOB_NOT_FOUND');
        expect((await call(base, 'HEAD', `/v1/blobs/${missing}`)).status).toBe(404);
        for (const bad of ['xyz', missing.slice(1), `${missing}0`, `${missing.slice(0, 63)}g`, '%20']) {
            const r = await call(base, 'GET', `/v1/blobs/${bad}`);
            expect(r.status).toBe(400);
            expect(r.json.error.code).toBe('BAD_HASH');
        }
        const route = await call(base, 'GET', '/v1/nothing');
        expect(route.status).toBe(404);
        expect(route.json.error.code).toBe('NOT_FOUND');
        const del = await call(base, 'DELETE', `/v1/blobs/${missing}`);
        expect(del.status).toBe(405);
        expect(del.json.error.code).toBe('METHOD_NOT_ALLOWED');
        expect(del.headers.allow).toBe('GET, HEAD');
        const postInput = await call(base, 'POST', '/v1/blobs/input', { body: 'x', headers: OCTET });
        expect(postInput.status).toBe(405);
        expect(postInput.headers.allow).toBe('PUT');
    });
});

describe('providers and jobs', () => {
    test('GET /v1/providers delegates with the lowercase model hash; 400 for a malformed hash', async () => {
        const seen: string[] = [];
        const { base } = await start({
            providers: async (model) => {
                seen.push(model);
                return [{ address: JOB, stake: 10n ** 12n, key: Buffer.from([1, 2, 3]), endpoint: 'https://p.example' }];
            },
        });
        const model = MODEL.toString('hex');
        const r = await call(base, 'GET', `/v1/providers?model=${model.toUpperCase()}`);
        expect(r.status).toBe(200);
        expect(seen).toEqual([model]);
        expect(r.json).toEqual({ model, providers: [{ address: JOB.toString(), stake: '1000000000000', key: '010203', endpoint: 'https://p.example' }] });
        for (const q of ['', '?model=', '?model=abc', `?model=${model}00`, `?other=${model}`]) {
            const bad = await call(base, 'GET', `/v1/providers${q}`);
            expect(bad.status).toBe(400);
            expect(bad.json.error.code).toBe('BAD_MODEL_HASH');
        }
        expect(seen.length).toBe(1);
    });

    test('GET /v1/providers: 503 without a source, 502 when it fails, 504 when it hangs', async () => {
        const model = MODEL.toString('hex');
        const none = await start();
        const r = await call(none.base, 'GET', `/v1/providers?model=${model}`);
        expect(r.status).toBe(503);
        expect(r.json.error.code).toBe('NOT_CONFIGURED');

        const failing = await start({
            providers: async () => {
                throw new Error('directory down');
            },
        });
        const f = await call(failing.base, 'GET', `/v1/providers?model=${model}`);
        expect(f.status).toBe(502);
        expect(f.json.error.code).toBe('UPSTREAM_FAILED');
        expect(f.body.toString()).not.toContain('directory down');

        const notList = await start({ providers: async () => ({ nope: true }) as unknown as unknown[] });
        expect((await call(notList.base, 'GET', `/v1/providers?model=${model}`)).status).toBe(502);

        const hanging = await start({ providers: () => new Promise(() => undefined), upstreamTimeoutMs: 200 });
        const h = await call(hanging.base, 'GET', `/v1/providers?model=${model}`);
        expect(h.status).toBe(504);
        expect(h.json.error.code).toBe('UPSTREAM_TIMEOUT');
    });

    test('GET /v1/jobs/:address delegates with the raw address (raw or friendly input); 404 unknown; 400 malformed; 503 unconfigured', async () => {
        const seen: string[] = [];
        const { base } = await start({
            jobStatus: async (address) => {
                seen.push(address);
                return address === JOB.toRawString() ? { state: 'Committed', outputCommitment: Buffer.alloc(32, 9), price: 5n } : null;
            },
        });
        const raw = await call(base, 'GET', `/v1/jobs/${JOB.toRawString()}`);
        expect(raw.status).toBe(200);
        expect(raw.json).toEqual({ address: JOB.toRawString(), status: { state: 'Committed', outputCommitment: '09'.repeat(32), price: '5' } });
        const friendly = await call(base, 'GET', `/v1/jobs/${encodeURIComponent(JOB.toString({ urlSafe: false }))}`);
        expect(friendly.status).toBe(200);
        const urlSafe = await call(base, 'GET', `/v1/jobs/${JOB.toString()}`);
        expect(urlSafe.status).toBe(200);
        expect(seen).toEqual([JOB.toRawString(), JOB.toRawString(), JOB.toRawString()]);

        const other = new Address(0, Buffer.alloc(32, 1));
        const nf = await call(base, 'GET', `/v1/jobs/${other.toString()}`);
        expect(nf.status).toBe(404);
        expect(nf.json.error.code).toBe('JOB_NOT_FOUND');
        for (const bad of ['nope', '0:abc', '%ZZ']) {
            const r = await call(base, 'GET', `/v1/jobs/${bad}`);
            expect(r.status).toBe(400);
            expect(r.json.error.code).toBe('BAD_ADDRESS');
        }
        const none = await start();
        const u = await call(none.base, 'GET', `/v1/jobs/${JOB.toString()}`);
        expect(u.status).toBe(503);
        expect(u.json.error.code).toBe('NOT_CONFIGURED');
    });
});

describe('health, metrics, logs, close', () => {
    test('GET /healthz reports Redis', async () => {
        const { base } = await start();
        const r = await call(base, 'GET', '/healthz');
        expect(r.status).toBe(200);
        expect(r.json).toEqual({ status: 'ok', redis: 'ok' });

        const dead = new Redis(1, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null, disconnectTimeout: 10 });
        dead.on('error', () => undefined);
        const down = await start({ store: new BlobStore(dead) });
        const d = await call(down.base, 'GET', '/healthz');
        expect(d.status).toBe(503);
        expect(d.json.status).toBe('unavailable');
        const g = await call(down.base, 'GET', `/v1/blobs/${sha(Buffer.from('x'))}`);
        expect(g.status).toBe(503);
        expect(g.json.error.code).toBe('STORE_UNAVAILABLE');
        dead.disconnect();
    });

    test('GET /metrics exposes request counters by route and status, bytes stored and a latency histogram (per server)', async () => {
        const { base, api } = await start();
        const env = input().envelope;
        await call(base, 'PUT', '/v1/blobs/input', { body: env, headers: OCTET });
        await call(base, 'PUT', '/v1/blobs/input', { body: env, headers: OCTET });
        const r = result();
        await call(base, 'PUT', '/v1/blobs/result', { body: r, headers: OCTET });
        await call(base, 'GET', `/v1/blobs/${sha(Buffer.from('missing'))}`);
        await call(base, 'PUT', '/v1/blobs/input', { body: PNG_HEAD, headers: OCTET });
        const m = await call(base, 'GET', '/metrics');
        expect(m.status).toBe(200);
        expect(m.headers['content-type']).toContain('text/plain');
        const text = m.body.toString();
        expect(text).toContain('cocoon_api_requests_total{route="/v1/blobs/input",method="PUT",status="201"} 1');
        expect(text).toContain('cocoon_api_requests_total{route="/v1/blobs/input",method="PUT",status="200"} 1');
        expect(text).toContain('cocoon_api_requests_total{route="/v1/blobs/input",method="PUT",status="400"} 1');
        expect(text).toContain('cocoon_api_requests_total{route="/v1/blobs/:hash",method="GET",status="404"} 1');
        expect(text).toContain(`cocoon_api_blob_bytes_stored_total{kind="input"} ${env.length}`);
        expect(text).toContain(`cocoon_api_blob_bytes_stored_total{kind="result"} ${r.length}`);
        expect(text).toContain('cocoon_api_blob_uploads_total{kind="input",outcome="existed"} 1');
        expect(text).toMatch(/cocoon_api_request_duration_seconds_bucket\{le="[^"]+",route="\/v1\/blobs\/input",method="PUT"\} 3/);
        expect(text).toContain('cocoon_api_request_duration_seconds_count{route="/v1/blobs/input",method="PUT"} 3');
        // hashes never become label values
        expect(text).not.toContain(sha(env));
        // each server has its own registry
        const other = await start();
        const text2 = (await call(other.base, 'GET', '/metrics')).body.toString();
        expect(text2).not.toContain('status="201"');
        expect(api.metrics).not.toBe(other.api.metrics);
    });

    test('logs carry route, status, size and hash only; nothing in Redis or the logs contains the plaintext marker', async () => {
        const { base } = await start();
        const hashes: string[] = [];
        for (let i = 0; i < 3; i++) {
            const sealed = input();
            hashes.push((await call(base, 'PUT', '/v1/blobs/input', { body: sealed.envelope, headers: OCTET })).json.hash);
            hashes.push((await call(base, 'PUT', '/v1/blobs/result', { body: result(), headers: OCTET })).json.hash);
        }
        for (const h of hashes) expect((await call(base, 'GET', `/v1/blobs/${h}`)).status).toBe(200);
        // plaintext uploaded by mistake, with the marker in the body and in a header
        await call(base, 'PUT', '/v1/blobs/input', { body: Buffer.concat([PNG_HEAD, MARKER]), headers: { ...OCTET, 'X-Note': MARKER.toString() } });
        await call(base, 'PUT', '/v1/blobs/input', { body: Buffer.from(`{"prompt":"${MARKER}"}`), headers: { 'Content-Type': 'application/json' } });

        // Redis: every key and value
        const keys = await redis.keysBuffer('*');
        expect(keys.length).toBe(6);
        for (const k of keys) {
            expect(k.includes(MARKER)).toBe(false);
            const v = (await redis.getBuffer(k))!;
            expect(v.includes(MARKER)).toBe(false);
            expect(v.includes(Buffer.from(MARKER.toString('hex')))).toBe(false);
        }
        // Logs: metadata only
        const all = logs.join('');
        expect(all).not.toContain(MARKER.toString());
        const lines = logs.map((l) => JSON.parse(l));
        const requestLines = lines.filter((l) => l.msg === 'request');
        expect(requestLines.length).toBe(14);
        const allowed = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'route', 'method', 'status', 'ms', 'size', 'hash', 'error', 'errorName']);
        for (const l of lines) for (const k of Object.keys(l)) expect(allowed.has(k)).toBe(true);
        const up = requestLines.find((l) => l.route === '/v1/blobs/input' && l.status === 201);
        expect(up).toMatchObject({ method: 'PUT', hash: hashes[0] });
        expect(up.size).toBeGreaterThan(0);
        expect(requestLines.find((l) => l.status === 415)).toMatchObject({ error: 'UNSUPPORTED_MEDIA_TYPE' });
    });

    test('close() stops accepting, ends in-flight uploads after the grace period, and is idempotent', async () => {
        const { api, base } = await start({ closeGraceMs: 200 });
        expect((await call(base, 'GET', '/healthz')).status).toBe(200);
        const hanging = http.request(`${base}/v1/blobs/input`, { method: 'PUT', headers: OCTET, agent: false });
        const hangingDone = new Promise<void>((resolve) => {
            hanging.on('error', () => resolve());
            hanging.on('close', () => resolve());
        });
        hanging.write(Buffer.from('COCI'));
        await new Promise((r) => setTimeout(r, 100));
        const started = Date.now();
        await api.close();
        await api.close();
        expect(Date.now() - started).toBeLessThan(3_000);
        await hangingDone;
        expect(api.server.listening).toBe(false);
        await expect(call(base, 'GET', '/healthz')).rejects.toThrow(/ECONNREFUSED/);
    });
});
