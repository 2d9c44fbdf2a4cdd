/**
 * BlobStore against a real redis-server on a private port, with real envelopes sealed by protocol/envelope.ts.
 */
import * as crypto from 'crypto';
import { Address } from '@ton/core';
import Redis from 'ioredis';
import {
    MAX_INPUT_ENVELOPE_BYTES,
    generateX25519KeyPair,
    openInput,
    openResult,
    sealInput,
    sealResult,
} from '../../protocol/envelope';
import {
    BlobError,
    BlobStore,
    DEFAULT_BLOB_PREFIX,
    DEFAULT_BLOB_TTL_SECONDS,
    DEFAULT_MAX_BLOB_BYTES,
    checkEnvelopeMagic,
} from '../../orchestrator/blobs';
import { RedisServer, startRedis } from '../helpers/redis';

const MARKER = Buffer.from('PLAINTEXT-MARKER-7f3a9c-do-not-store', 'utf8');
const NETWORK = -239;
const MODEL = crypto.createHash('sha256').update('model:test').digest();
const JOB = new Address(0, crypto.createHash('sha256').update('job:test').digest());

const enclave = generateX25519KeyPair();
const client = generateX25519KeyPair();

function input(payload: Buffer = Buffer.concat([Buffer.from('input '), MARKER, crypto.randomBytes(64)])) {
    return sealInput({ networkId: NETWORK, modelHash: MODEL, clientResultPublicKey: client.publicKey, recipients: [enclave.publicKey], payload });
}

function result(plaintext: Buffer = Buffer.concat([Buffer.from('result '), MARKER, crypto.randomBytes(64)])) {
    return sealResult(plaintext, { networkId: NETWORK, job: JOB, modelHash: MODEL, clientResultPublicKey: client.publicKey });
}

const sha = (b: Buffer) => crypto.createHash('sha256').update(b).digest('hex');

async function expectBlobError(p: Promise<unknown>, code: string): Promise<BlobError> {
    let caught: unknown;
    try {
        await p;
    } catch (e) {
        caught = e;
    }
    expect(caught).toBeInstanceOf(BlobError);
    expect((caught as BlobError).code).toBe(code);
    return caught as BlobError;
}

/** Every key and every string value in the database, as raw bytes. */
async function dumpAll(redis: Redis): Promise<Buffer[]> {
    const out: Buffer[] = [];
    let cursor = '0';
    do {
        const [next, keys] = await redis.scanBuffer(cursor, 'COUNT', 1000);
        cursor = next.toString();
        for (const key of keys) {
            out.push(key);
            const type = await redis.type(key);
            if (type === 'string') out.push((await redis.getBuffer(key))!);
            else if (type === 'hash') out.push(...Object.values(await redis.hgetallBuffer(key)));
            else if (type === 'list') out.push(...(await redis.lrangeBuffer(key, 0, -1)));
            else if (type === 'set') out.push(...(await redis.smembersBuffer(key)));
            else if (type === 'zset') out.push(...(await redis.zrangeBuffer(key, 0, -1)));
        }
    } while (cursor !== '0');
    return out;
}

let server: RedisServer;
let redis: Redis;

beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.port, '127.0.0.1', { lazyConnect: false, maxRetriesPerRequest: 1 });
});

afterAll(async () => {
    await redis?.quit();
    await server?.stop();
});

beforeEach(async () => {
    await redis.flushall();
});

describe('BlobStore', () => {
    test('round trip of an input envelope: key = sha256 = inputCommitment, bytes intact and openable', async () => {
        const store = new BlobStore(redis);
        const sealed = input();
        const put = await store.put(sealed.envelope, { kind: 'input' });
        expect(put).toEqual({ hash: sealed.commitment.toString('hex'), size: sealed.envelope.length, existed: false, repaired: false });
        expect(await redis.exists(`${DEFAULT_BLOB_PREFIX}${put.hash}`)).toBe(1);
        const got = await store.get(put.hash);
        expect(got).not.toBeNull();
        expect(got!.equals(sealed.envelope)).toBe(true);
        const payload = openInput(got!, { networkId: NETWORK, modelHash: MODEL, clientResultPublicKey: client.publicKey, jobNonce: sealed.jobNonce }, enclave.privateKey);
        expect(payload.includes(MARKER)).toBe(true);
        expect(await store.has(put.hash)).toBe(true);
        expect(await store.size(put.hash)).toBe(sealed.envelope.length);
        // upper-case hashes name the same blob
        expect((await store.get(put.hash.toUpperCase()))!.equals(sealed.envelope)).toBe(true);
    });

    test('round trip of a result envelope', async () => {
        const store = new BlobStore(redis);
        const env = result();
        const put = await store.put(env, { kind: 'result' });
        expect(put.hash).toBe(sha(env));
        const got = await store.get(put.hash);
        expect(got!.equals(env)).toBe(true);
        const plain = openResult(got!, { networkId: NETWORK, job: JOB, modelHash: MODEL }, client.privateKey);
        expect(plain.includes(MARKER)).toBe(true);
    });

    test('idempotent: the same bytes land on the same key once; re-upload extends but never shortens the TTL', async () => {
        const store = new BlobStore(redis);
        const sealed = input();
        const a = await store.put(sealed.envelope, { kind: 'input', ttlSeconds: 1000 });
        const b = await store.put(Buffer.from(sealed.envelope), { kind: 'input', ttlSeconds: 100 });
        expect(a.existed).toBe(false);
        expect(b).toEqual({ ...a, existed: true });
        expect(await redis.dbsize()).toBe(1);
        expect(await store.ttl(a.hash)).toBeGreaterThan(900);
        await store.put(sealed.envelope, { kind: 'input', ttlSeconds: 5000 });
        expect(await store.ttl(a.hash)).toBeGreaterThan(4900);
        // a different envelope of the same plaintext is a different blob (fresh ephemeral key and nonce)
        const other = input(Buffer.from('same'));
        const other2 = input(Buffer.from('same'));
        const c = await store.put(other.envelope, { kind: 'input' });
        const d = await store.put(other2.envelope, { kind: 'input' });
        expect(c.hash).not.toBe(d.hash);
        expect(await redis.dbsize()).toBe(3);
    });

    test('TTL: 24 h by default, configurable per store and per put', async () => {
        expect(DEFAULT_BLOB_TTL_SECONDS).toBe(86_400);
        const store = new BlobStore(redis);
        const a = await store.put(input().envelope, { kind: 'input' });
        const t = await redis.ttl(`${DEFAULT_BLOB_PREFIX}${a.hash}`);
        expect(t).toBeGreaterThan(86_390);
        expect(t).toBeLessThanOrEqual(86_400);

        const short = new BlobStore(redis, { ttlSeconds: 60 });
        const b = await short.put(result(), { kind: 'result' });
        expect(await short.ttl(b.hash)).toBeGreaterThan(50);
        expect(await short.ttl(b.hash)).toBeLessThanOrEqual(60);
        const c = await short.put(result(), { kind: 'result', ttlSeconds: 7 });
        expect(await short.ttl(c.hash)).toBeLessThanOrEqual(7);

        const tiny = new BlobStore(redis, { ttlSeconds: 1 });
        const d = await tiny.put(input().envelope, { kind: 'input' });
        await new Promise((r) => setTimeout(r, 2_100));
        expect(await tiny.get(d.hash)).toBeNull();
        expect(await tiny.ttl(d.hash)).toBeNull();

        expect(() => new BlobStore(redis, { ttlSeconds: 0 })).toThrow(BlobError);
        await expectBlobError(store.put(input().envelope, { kind: 'input', ttlSeconds: -5 }), 'BAD_ARGUMENT');
    });

    test('key prefix is configurable', async () => {
        const store = new BlobStore(redis, { prefix: 'net-a:blobs:' });
        const put = await store.put(input().envelope, { kind: 'input' });
        expect(store.key(put.hash)).toBe(`net-a:blobs:${put.hash}`);
        expect(await redis.keys('*')).toEqual([`net-a:blobs:${put.hash}`]);
        expect(await new BlobStore(redis).get(put.hash)).toBeNull();
    });

    test('wrong magic is refused and nothing is written: plaintext PNG, JSON, the other envelope kind, too short', async () => {
        const store = new BlobStore(redis);
        const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), MARKER]);
        const json = Buffer.from(JSON.stringify({ prompt: MARKER.toString() }));
        const e1 = await expectBlobError(store.put(png, { kind: 'input' }), 'BAD_MAGIC');
        await expectBlobError(store.put(json, { kind: 'result' }), 'BAD_MAGIC');
        await expectBlobError(store.put(input().envelope, { kind: 'result' }), 'BAD_MAGIC');
        await expectBlobError(store.put(result(), { kind: 'input' }), 'BAD_MAGIC');
        await expectBlobError(store.put(Buffer.from('CO'), { kind: 'input' }), 'BAD_MAGIC');
        await expectBlobError(store.put(Buffer.alloc(0), { kind: 'input' }), 'BAD_MAGIC');
        // the error names the problem without quoting the bytes
        expect(e1.message).not.toContain(MARKER.toString());
        expect(e1.message).toContain('COCI');
        expect(await redis.dbsize()).toBe(0);
        // the check is the magic only: the store does not parse envelopes
        expect(() => checkEnvelopeMagic('input', Buffer.from('COCIxyz'))).not.toThrow();
        expect(() => checkEnvelopeMagic('result', Buffer.from('COCRxyz'))).not.toThrow();
    });

    test('size cap: default is the largest envelope; over the cap is TOO_LARGE and nothing is written', async () => {
        expect(DEFAULT_MAX_BLOB_BYTES).toBe(MAX_INPUT_ENVELOPE_BYTES);
        expect(DEFAULT_MAX_BLOB_BYTES).toBeGreaterThan(8 * 1024 * 1024);
        const store = new BlobStore(redis);
        expect(store.maxBytes).toBe(DEFAULT_MAX_BLOB_BYTES);
        const big = Buffer.alloc(DEFAULT_MAX_BLOB_BYTES + 1);
        big.write('COCI', 0, 'latin1');
        const e = await expectBlobError(store.put(big, { kind: 'input' }), 'TOO_LARGE');
        expect(e.message).toContain(String(DEFAULT_MAX_BLOB_BYTES));

        const small = new BlobStore(redis, { maxBytes: 256 });
        await expectBlobError(small.put(input(crypto.randomBytes(200)).envelope, { kind: 'input' }), 'TOO_LARGE');
        const okEnv = result(Buffer.from('x'));
        expect(okEnv.length).toBeLessThanOrEqual(256);
        await small.put(okEnv, { kind: 'result' });
        expect(await redis.dbsize()).toBe(1);
    });

    test('expectedHash: a mismatch stores nothing; a malformed hash is BAD_HASH', async () => {
        const store = new BlobStore(redis);
        const sealed = input();
        await expectBlobError(store.put(sealed.envelope, { kind: 'input', expectedHash: sha(Buffer.from('other')) }), 'HASH_MISMATCH');
        await expectBlobError(store.put(sealed.envelope, { kind: 'input', expectedHash: 'abc' }), 'BAD_HASH');
        expect(await redis.dbsize()).toBe(0);
        const ok = await store.put(sealed.envelope, { kind: 'input', expectedHash: sealed.commitment.toString('hex').toUpperCase() });
        expect(ok.hash).toBe(sealed.commitment.toString('hex'));
    });

    test('a corrupted blob is reported as CORRUPTED, never returned; a re-upload repairs it', async () => {
        const store = new BlobStore(redis);
        const sealed = input();
        const { hash } = await store.put(sealed.envelope, { kind: 'input' });
        const tampered = Buffer.from(sealed.envelope);
        tampered[tampered.length - 1] ^= 0x01;
        await redis.set(store.key(hash), tampered, 'KEEPTTL');
        const e = await expectBlobError(store.get(hash), 'CORRUPTED');
        expect(e.message).toContain(hash);
        // truncated is corrupted too
        await redis.set(store.key(hash), tampered.subarray(0, 10));
        await expectBlobError(store.get(hash), 'CORRUPTED');

        const again = await store.put(sealed.envelope, { kind: 'input' });
        expect(again).toMatchObject({ hash, existed: false, repaired: true });
        expect((await store.get(hash))!.equals(sealed.envelope)).toBe(true);
        expect(await store.ttl(hash)).toBeGreaterThan(86_000);
    });

    test('absent blobs: get → null, has → false, size → null, delete → false; malformed hashes are BAD_HASH', async () => {
        const store = new BlobStore(redis);
        const missing = sha(Buffer.from('never uploaded'));
        expect(await store.get(missing)).toBeNull();
        expect(await store.has(missing)).toBe(false);
        expect(await store.size(missing)).toBeNull();
        expect(await store.delete(missing)).toBe(false);
        for (const bad of ['', 'zz'.repeat(32), missing.slice(1), `${missing}0`, '../etc/passwd', `${missing.slice(0, 63)}*`]) {
            await expectBlobError(store.get(bad), 'BAD_HASH');
        }
        expect(() => store.key('nope')).toThrow(BlobError);
    });

    test('delete removes a blob', async () => {
        const store = new BlobStore(redis);
        const { hash } = await store.put(result(), { kind: 'result' });
        expect(await store.delete(hash)).toBe(true);
        expect(await store.has(hash)).toBe(false);
        expect(await store.get(hash)).toBeNull();
        expect(await redis.dbsize()).toBe(0);
    });

    test('argument errors are typed', async () => {
        const store = new BlobStore(redis);
        await expectBlobError(store.put('COCI' as unknown as Buffer, { kind: 'input' }), 'BAD_ARGUMENT');
        await expectBlobError(store.put(input().envelope, { kind: 'other' as 'input' }), 'BAD_ARGUMENT');
        expect(() => new BlobStore(redis, { maxBytes: 2 })).toThrow(BlobError);
        expect(await store.ping()).toBe(true);
    });

    test('no plaintext reaches Redis: a scan of every key and value after uploads finds the marker nowhere', async () => {
        const store = new BlobStore(redis);
        for (let i = 0; i < 5; i++) {
            await store.put(input().envelope, { kind: 'input' });
            await store.put(result(), { kind: 'result' });
        }
        // refused plaintext uploads leave nothing either
        await store.put(Buffer.concat([Buffer.from('{"x":"'), MARKER, Buffer.from('"}')]), { kind: 'input' }).catch(() => undefined);
        expect(await redis.dbsize()).toBe(10);
        const all = await dumpAll(redis);
        expect(all.length).toBe(20);
        const needles = [MARKER, Buffer.from(MARKER.toString('hex')), Buffer.from(MARKER.toString('base64'))];
        for (const b of all) for (const n of needles) expect(b.includes(n)).toBe(false);
        // and the check can see the marker when it is there
        await redis.set('probe', Buffer.concat([Buffer.from('x'), MARKER]));
        expect((await dumpAll(redis)).some((b) => b.includes(MARKER))).toBe(true);
    });
});
