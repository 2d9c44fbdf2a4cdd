/**
 * BlobStore: the orchestrator's content-addressed store of encrypted job envelopes in Redis.
 *
 * A blob is stored under `<prefix><sha256 hex of its bytes>` as a plain Redis string with a TTL. The hash is the
 * job's on-chain commitment (inputCommitment for an input envelope, outputCommitment for a result envelope), so the
 * key is all a client or worker needs to fetch it, and the reader can check what it got against the chain.
 *
 * The store never parses, decrypts or logs what it keeps. The only look inside is the 4-byte magic at the start,
 * so that a plaintext file uploaded by mistake (a PNG, a JSON document) is refused instead of sitting in Redis:
 * an input must start with "COCI", a result with "COCR" (protocol/envelope.ts).
 *
 * Writes are one Lua script: absent → SET with TTL; present with the same bytes → keep, extend the TTL (never
 * shorten it); present with other bytes (the stored copy is corrupted: its key is the hash of the bytes we now
 * hold) → overwrite. Reads re-hash the bytes and refuse a mismatch with BlobError('CORRUPTED').
 */
import { INPUT_MAGIC, RESULT_MAGIC } from '../../protocol/envelope';
import * as crypto from 'crypto';
import type { Cluster, Redis } from 'ioredis';
import { MAX_INPUT_ENVELOPE_BYTES, MAX_RESULT_ENVELOPE_BYTES } from '../../protocol/envelope';
import { BlobError } from './errors';

export type BlobKind = 'input' | 'result';

export const BLOB_KINDS: readonly BlobKind[] = ['input', 'result'];

export const DEFAULT_BLOB_PREFIX = 'cocoon:blob:';
export const DEFAULT_BLOB_TTL_SECONDS = 24 * 60 * 60;
/** The largest envelope either kind can be: an 8 MiB payload plus the largest header (8 recipient slots). */
export const DEFAULT_MAX_BLOB_BYTES = Math.max(MAX_INPUT_ENVELOPE_BYTES, MAX_RESULT_ENVELOPE_BYTES);

/**
 * The envelopes' magic bytes. protocol/envelope.ts keeps its constants private, so they are restated here; the
 * tests seal real envelopes with that module, which keeps the two in step.
 */
export const ENVELOPE_MAGIC: Readonly<Record<BlobKind, Buffer>> = Object.freeze({
    input: INPUT_MAGIC,
    result: RESULT_MAGIC,
});
export const MAGIC_BYTES = 4;

const HASH_RE = /^[0-9a-fA-F]{64}$/;

export interface BlobStoreOptions {
    /** Prefix of every key. Default `cocoon:blob:`. */
    prefix?: string;
    /** Expiry of a stored blob in seconds (a re-upload extends it). Default 24 h. */
    ttlSeconds?: number;
    /** Largest blob accepted, in bytes. Default DEFAULT_MAX_BLOB_BYTES (8 MiB + envelope overhead). */
    maxBytes?: number;
}

export interface PutOptions {
    kind: BlobKind;
    /** Overrides the store's TTL for this blob. */
    ttlSeconds?: number;
    /** sha256 hex the caller expects (e.g. an upload's X-Content-Sha256); a mismatch stores nothing. */
    expectedHash?: string;
}

export interface PutResult {
    /** sha256 of the bytes, lowercase hex: the blob's key and the on-chain commitment. */
    hash: string;
    size: number;
    /** The same bytes were already stored (nothing was written; the TTL was extended if shorter). */
    existed: boolean;
    /** A corrupted copy was stored under this hash and has been replaced by these bytes. */
    repaired: boolean;
}

/** True for 64 hex digits (either case). */
export function isBlobHash(s: unknown): s is string {
    return typeof s === 'string' && HASH_RE.test(s);
}

/** Lowercase form of a valid hash; BlobError('BAD_HASH') otherwise. */
export function normalizeBlobHash(s: unknown): string {
    if (!isBlobHash(s)) throw new BlobError('BAD_HASH', 'a blob hash is 64 hex digits (sha256)');
    return s.toLowerCase();
}

export function isBlobKind(s: unknown): s is BlobKind {
    return s === 'input' || s === 'result';
}

/**
 * Checks the first bytes of a blob against the magic of its kind. Accepts a prefix of at least MAGIC_BYTES bytes
 * (so an upload can be refused on its first chunk); throws BlobError('BAD_MAGIC').
 */
export function checkEnvelopeMagic(kind: BlobKind, head: Buffer): void {
    const magic = ENVELOPE_MAGIC[kind];
    if (!magic) throw new BlobError('BAD_ARGUMENT', `unknown blob kind (expected input or result)`);
    if (head.length < MAGIC_BYTES || !head.subarray(0, MAGIC_BYTES).equals(magic)) {
        throw new BlobError('BAD_MAGIC', `not an encrypted ${kind} envelope (its first bytes must be "${magic.toString('latin1')}")`);
    }
}

export function sha256Hex(bytes: Buffer): string {
    return crypto.createHash('sha256').update(bytes).digest('hex');
}

function checkTtl(ttl: number, what: string): number {
    if (!Number.isSafeInteger(ttl) || ttl < 1) throw new BlobError('BAD_ARGUMENT', `${what} must be a positive whole number of seconds`);
    return ttl;
}

// KEYS[1] = blob key; ARGV[1] = bytes, ARGV[2] = ttl (s). Returns 0 created, 1 existed, 2 repaired.
const PUT_SCRIPT = `
local ttl = tonumber(ARGV[2])
local cur = redis.call('GET', KEYS[1])
if not cur then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
  return 0
end
if cur == ARGV[1] then
  local left = redis.call('TTL', KEYS[1])
  if left >= 0 and left < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
  return 1
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
return 2
`;

export type BlobRedis = Redis | Cluster;

export class BlobStore {
    readonly prefix: string;
    readonly ttlSeconds: number;
    readonly maxBytes: number;

    constructor(
        private readonly redis: BlobRedis,
        options: BlobStoreOptions = {},
    ) {
        this.prefix = options.prefix ?? DEFAULT_BLOB_PREFIX;
        this.ttlSeconds = checkTtl(options.ttlSeconds ?? DEFAULT_BLOB_TTL_SECONDS, 'ttlSeconds');
        const maxBytes = options.maxBytes ?? DEFAULT_MAX_BLOB_BYTES;
        if (!Number.isSafeInteger(maxBytes) || maxBytes < MAGIC_BYTES) {
            throw new BlobError('BAD_ARGUMENT', `maxBytes must be a whole number ≥ ${MAGIC_BYTES}`);
        }
        this.maxBytes = maxBytes;
    }

    /** The Redis key of a blob. */
    key(hash: string): string {
        return this.prefix + normalizeBlobHash(hash);
    }

    /** Stores an envelope (idempotent: the same bytes always land on the same key). */
    async put(bytes: Buffer, options: PutOptions): Promise<PutResult> {
        if (!Buffer.isBuffer(bytes)) throw new BlobError('BAD_ARGUMENT', 'blob must be a Buffer');
        if (!isBlobKind(options?.kind)) throw new BlobError('BAD_ARGUMENT', 'kind must be "input" or "result"');
        const ttl = checkTtl(options.ttlSeconds ?? this.ttlSeconds, 'ttlSeconds');
        if (bytes.length > this.maxBytes) {
            throw new BlobError('TOO_LARGE', `blob is ${bytes.length} bytes, the cap is ${this.maxBytes}`);
        }
        checkEnvelopeMagic(options.kind, bytes);
        const expected = options.expectedHash === undefined ? undefined : normalizeBlobHash(options.expectedHash);
        const hash = sha256Hex(bytes);
        if (expected !== undefined && expected !== hash) {
            throw new BlobError('HASH_MISMATCH', `the bytes hash to ${hash}, not the expected ${expected}`);
        }
        const r = Number(await this.redis.eval(PUT_SCRIPT, 1, this.prefix + hash, bytes, String(ttl)));
        return { hash, size: bytes.length, existed: r === 1, repaired: r === 2 };
    }

    /**
     * The blob's bytes, or null when absent (never stored, expired or deleted). Throws BlobError('CORRUPTED') when
     * the stored bytes do not hash to the key: corrupted bytes are never returned.
     */
    async get(hash: string): Promise<Buffer | null> {
        const h = normalizeBlobHash(hash);
        const bytes = await this.redis.getBuffer(this.prefix + h);
        if (bytes === null) return null;
        if (sha256Hex(bytes) !== h) throw new BlobError('CORRUPTED', `stored blob ${h} does not match its hash`);
        return bytes;
    }

    async has(hash: string): Promise<boolean> {
        return (await this.redis.exists(this.key(hash))) === 1;
    }

    /** Stored size in bytes (not verified), or null when absent. */
    async size(hash: string): Promise<number | null> {
        // Every stored blob has at least MAGIC_BYTES bytes, and STRLEN of a missing key is 0.
        const n = await this.redis.strlen(this.key(hash));
        return n > 0 ? n : null;
    }

    /** Seconds until the blob expires; null when absent, -1 when it has no expiry. */
    async ttl(hash: string): Promise<number | null> {
        const t = await this.redis.ttl(this.key(hash));
        return t === -2 ? null : t;
    }

    /** Removes a blob; true if it was there. */
    async delete(hash: string): Promise<boolean> {
        return (await this.redis.del(this.key(hash))) > 0;
    }

    /** True when Redis answers PING. */
    async ping(): Promise<boolean> {
        try {
            return (await this.redis.ping()) === 'PONG';
        } catch {
            return false;
        }
    }
}
