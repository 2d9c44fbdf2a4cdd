import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ed25519PublicKeyObject } from '../ed25519';
import { AttestationProvider, checkReportData, REPORT_DATA_LENGTH } from './types';

/**
 * The simulated TEE: a software stand-in for Intel TDX on machines without it (development, CI, local networks).
 *
 * SIMULATED TEE: NO HARDWARE PROTECTION. Nothing isolates the "enclave" from the host: whoever runs the worker can
 * read its keys, inputs and outputs and can run any code while producing a valid quote, as long as they hold the
 * vendor private key. A simulated quote only proves "someone holding the vendor key vouched for this measurement
 * and report data". Use it to exercise the protocol, never to protect real data.
 *
 * Quote layout (212 bytes, integers big-endian):
 *
 *   header     magic "COCOON-SIM" (10 B ASCII) | version u16 (= 1)
 *   body       measurement 32 B | report data 64 B | timestamp u64 (ms since the Unix epoch) |
 *              vendor public key 32 B (raw Ed25519)
 *   signature  Ed25519 by the vendor key over header ‖ body (64 B)
 */

/** Put in every simulated result and documentation: the simulated TEE does not protect anything. */
export const SIMULATED_WARNING = 'simulated TEE: no hardware protection' as const;

export const SIM_QUOTE_MAGIC = Buffer.from('COCOON-SIM', 'ascii');
export const SIM_QUOTE_VERSION = 1;
const HEADER_LEN = SIM_QUOTE_MAGIC.length + 2;
const BODY_LEN = 32 + REPORT_DATA_LENGTH + 8 + 32;
const SIG_LEN = 64;
/** Total size of a version-1 simulated quote. */
export const SIM_QUOTE_LENGTH = HEADER_LEN + BODY_LEN + SIG_LEN;

/** Largest millisecond timestamp a JavaScript Date can hold. */
const MAX_DATE_MS = 8.64e15;

/** Allowed clock skew for quotes timestamped in the future when a maximum age is enforced. */
const FUTURE_SKEW_MS = 5 * 60_000;

// ------------------------------------------------------------------------------------------------ vendor keys

/**
 * A simulated "TEE vendor" Ed25519 key pair. Simulated TEE only: NO hardware protection. Verifiers are configured
 * with `publicKeyHex` (raw 32-byte key in hex).
 */
export interface VendorKeyPair {
    privateKey: crypto.KeyObject;
    publicKey: crypto.KeyObject;
    publicKeyHex: string;
}

/** Generates a random simulated-TEE vendor key pair (simulated TEE: NO hardware protection). */
export function generateVendorKeyPair(): VendorKeyPair {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
    return { privateKey, publicKey, publicKeyHex: vendorPublicKeyToHex(publicKey) };
}

/** DER prefix of a PKCS#8 Ed25519 private key (RFC 8410): the 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/**
 * INSECURE, for local development networks only: derives the simulated-TEE vendor key pair deterministically from
 * a seed string (Ed25519 seed = sha256("cocoon-ton/dev-tee-vendor-key/v1\0" ‖ seed)), so every process of a local
 * network agrees on the vendor key without distributing it. Anyone who knows the seed (it is usually public, e.g.
 * "devnet") can forge quotes. Simulated TEE: NO hardware protection.
 */
export function devVendorKeyPair(seed: string): VendorKeyPair {
    const ed25519Seed = crypto.createHash('sha256').update('cocoon-ton/dev-tee-vendor-key/v1\0').update(seed, 'utf8').digest();
    const privateKey = crypto.createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, ed25519Seed]), format: 'der', type: 'pkcs8' });
    const publicKey = crypto.createPublicKey(privateKey);
    return { privateKey, publicKey, publicKeyHex: vendorPublicKeyToHex(publicKey) };
}

/** Raw 32-byte Ed25519 public key of a vendor key, in hex (simulated TEE: NO hardware protection). */
export function vendorPublicKeyToHex(key: crypto.KeyObject): string {
    if (key.asymmetricKeyType !== 'ed25519') throw new Error('vendor key must be Ed25519');
    const pub = key.type === 'private' ? crypto.createPublicKey(key) : key;
    return Buffer.from(pub.export({ format: 'jwk' }).x as string, 'base64url').toString('hex');
}

/**
 * Accepts a vendor public key as a KeyObject, a raw 32-byte Buffer or 64 hex chars (optionally 0x-prefixed).
 * Simulated TEE: NO hardware protection.
 */
export function parseVendorPublicKey(key: crypto.KeyObject | Buffer | string): crypto.KeyObject {
    if (key instanceof crypto.KeyObject) {
        if (key.asymmetricKeyType !== 'ed25519') throw new Error('vendor public key must be Ed25519');
        return key.type === 'private' ? crypto.createPublicKey(key) : key;
    }
    let raw: Buffer;
    if (typeof key === 'string') {
        const h = key.trim().replace(/^0x/i, '');
        if (!/^[0-9a-fA-F]{64}$/.test(h)) throw new Error('vendor public key must be 32 bytes as 64 hex characters');
        raw = Buffer.from(h, 'hex');
    } else {
        raw = key;
    }
    if (raw.length !== 32) throw new Error(`vendor public key must be 32 bytes, got ${raw.length}`);
    return ed25519PublicKeyObject(raw);
}

// ------------------------------------------------------------------------------------------------ measurement

/**
 * Canonical JSON of a static configuration: object keys sorted (by UTF-16 code units), no whitespace, properties
 * whose value is undefined dropped (as JSON.stringify does). Rejects values JSON cannot represent faithfully
 * (non-finite numbers, bigint, functions, symbols, undefined array items). Used by the simulated TEE's measurement.
 */
export function canonicalJson(value: unknown): string {
    const walk = (v: unknown, at: string): string => {
        if (v === null) return 'null';
        switch (typeof v) {
            case 'boolean':
            case 'string':
                return JSON.stringify(v);
            case 'number':
                if (!Number.isFinite(v)) throw new Error(`canonicalJson: ${at} is not a finite number`);
                return JSON.stringify(v);
            case 'object': {
                if (Array.isArray(v)) return `[${v.map((x, i) => walk(x, `${at}[${i}]`)).join(',')}]`;
                const proto = Object.getPrototypeOf(v);
                if (proto !== Object.prototype && proto !== null) {
                    throw new Error(`canonicalJson: ${at} is not a plain object`);
                }
                const obj = v as Record<string, unknown>;
                const keys = Object.keys(obj)
                    .filter((k) => obj[k] !== undefined)
                    .sort();
                return `{${keys.map((k) => `${JSON.stringify(k)}:${walk(obj[k], `${at}.${k}`)}`).join(',')}}`;
            }
            default:
                throw new Error(`canonicalJson: ${at} has unsupported type ${typeof v}`);
        }
    };
    return walk(value, '$');
}

/** Directories (relative to the checkout root) whose .ts and .js files make up the worker-side code. */
export const MEASURED_DIRS = ['worker', 'protocol'] as const;

/**
 * The files the simulated measurement covers: every `.ts` and `.js` file under worker/ and protocol/ (recursively, skipping
 * node_modules and dot-directories), as POSIX paths relative to rootDir, sorted by their UTF-8 bytes. Symbolic links
 * are refused (they could point outside the measured tree).
 */
export function listMeasuredFiles(rootDir: string, dirs: readonly string[] = MEASURED_DIRS): string[] {
    const out: string[] = [];
    const visit = (rel: string): void => {
        const abs = path.join(rootDir, ...rel.split('/'));
        for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
            const childRel = `${rel}/${entry.name}`;
            if (entry.isSymbolicLink()) throw new Error(`measurement: ${childRel} is a symbolic link; measured trees must not contain links`);
            if (entry.isDirectory()) {
                if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
                visit(childRel);
            } else if (entry.isFile() && (entry.name.endsWith('.ts') || entry.name.endsWith('.js'))) {
                out.push(childRel);
            }
        }
    };
    for (const d of dirs) {
        const abs = path.join(rootDir, d);
        if (!fs.existsSync(abs) || !fs.statSync(abs).isDirectory()) {
            throw new Error(`measurement: ${abs} is not a directory (expected the checkout root, with ${dirs.join('/ and ')}/)`);
        }
        visit(d);
    }
    return out.sort((a, b) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8')));
}

const MEASUREMENT_DOMAIN = 'cocoon-ton/simulated-measurement/v1';

function u32(n: number): Buffer {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
}

function u64(n: number): Buffer {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(BigInt(n));
    return b;
}

/**
 * The simulated TEE's image measurement (hex, 64 chars) of a worker checkout and its static configuration:
 *
 *   sha256( u32(len(D)) ‖ D                                  D = "cocoon-ton/simulated-measurement/v1"
 *         ‖ u32(file count)
 *         ‖ for each file of listMeasuredFiles(rootDir), in order:
 *               u32(len(path)) ‖ path (UTF-8, POSIX, relative) ‖ u64(len(content)) ‖ content
 *         ‖ u64(len(C)) ‖ C )                                C = canonicalJson(config), UTF-8
 *
 * (integers big-endian). Every field is length-prefixed, so no two different trees/configs hash the same bytes.
 * The same checkout and config always give the same value; any byte of a measured file, a renamed/added/removed
 * file, or any config value changes it. Model files are not covered: they are pinned by their own model hash.
 * Simulated TEE: this value is self-reported by software and gives NO hardware protection.
 */
export function computeWorkerMeasurement(rootDir: string, config: unknown, dirs: readonly string[] = MEASURED_DIRS): string {
    const files = listMeasuredFiles(rootDir, dirs);
    const h = crypto.createHash('sha256');
    const domain = Buffer.from(MEASUREMENT_DOMAIN, 'utf8');
    h.update(u32(domain.length)).update(domain);
    h.update(u32(files.length));
    for (const rel of files) {
        const p = Buffer.from(rel, 'utf8');
        const content = fs.readFileSync(path.join(rootDir, ...rel.split('/')));
        h.update(u32(p.length)).update(p).update(u64(content.length)).update(content);
    }
    const c = Buffer.from(canonicalJson(config), 'utf8');
    h.update(u64(c.length)).update(c);
    return h.digest('hex');
}

// ------------------------------------------------------------------------------------------------ quotes

function toMeasurement(m: string | Buffer): Buffer {
    const b = typeof m === 'string' ? Buffer.from(m.replace(/^0x/i, ''), 'hex') : m;
    if (b.length !== 32 || (typeof m === 'string' && !/^(0x)?[0-9a-fA-F]{64}$/.test(m))) {
        throw new Error('measurement must be 32 bytes (64 hex characters)');
    }
    return Buffer.from(b);
}

export interface SimulatedTeeOptions {
    /** Vendor private key (Ed25519). Simulated TEE: the host holding it can forge any quote. */
    vendorPrivateKey: crypto.KeyObject;
    /** Image measurement to report, e.g. computeWorkerMeasurement(root, config). */
    measurement: string | Buffer;
    /** Clock for the quote timestamp (ms since the epoch); default Date.now. */
    clock?: () => number;
}

/**
 * A software TEE that signs quotes with a "TEE vendor" key. SIMULATED TEE: NO HARDWARE PROTECTION — the host can
 * read the enclave's memory and forge quotes with the vendor key. For development and tests only.
 */
export class SimulatedTee implements AttestationProvider {
    readonly teeType = 'simulated' as const;
    readonly warning = SIMULATED_WARNING;
    private readonly key: crypto.KeyObject;
    private readonly m: Buffer;
    private readonly clock: () => number;
    private readonly vendorRaw: Buffer;

    constructor(opts: SimulatedTeeOptions) {
        if (opts.vendorPrivateKey.type !== 'private' || opts.vendorPrivateKey.asymmetricKeyType !== 'ed25519') {
            throw new Error('SimulatedTee needs an Ed25519 vendor private key');
        }
        this.key = opts.vendorPrivateKey;
        this.m = toMeasurement(opts.measurement);
        this.clock = opts.clock ?? Date.now;
        this.vendorRaw = Buffer.from(vendorPublicKeyToHex(this.key), 'hex');
    }

    /** The measurement this TEE reports (hex). */
    get measurement(): string {
        return this.m.toString('hex');
    }

    /** Raw vendor public key (hex) verifiers must be configured with. */
    get vendorPublicKeyHex(): string {
        return this.vendorRaw.toString('hex');
    }

    /** Signs a simulated quote over (measurement, reportData, now). Simulated: NO hardware protection. */
    async quote(reportData: Buffer): Promise<Buffer> {
        return this.quoteSync(reportData);
    }

    /** Synchronous form of quote(). Simulated: NO hardware protection. */
    quoteSync(reportData: Buffer): Buffer {
        checkReportData(reportData);
        const ts = this.clock();
        if (!Number.isSafeInteger(ts) || ts < 0) throw new Error(`clock returned an invalid timestamp ${ts}`);
        const header = Buffer.alloc(HEADER_LEN);
        SIM_QUOTE_MAGIC.copy(header, 0);
        header.writeUInt16BE(SIM_QUOTE_VERSION, SIM_QUOTE_MAGIC.length);
        const signed = Buffer.concat([header, this.m, reportData, u64(ts), this.vendorRaw]);
        return Buffer.concat([signed, crypto.sign(null, signed, this.key)]);
    }
}

export type SimulatedErrorCode = 'truncated' | 'malformed' | 'unsupported' | 'vendor_key' | 'signature' | 'stale' | 'future' | 'config';

export class SimulatedQuoteError extends Error {
    constructor(
        readonly code: SimulatedErrorCode,
        message: string,
    ) {
        super(message);
        this.name = 'SimulatedQuoteError';
    }
}

/** A parsed simulated quote (simulated TEE: NO hardware protection). */
export interface ParsedSimulatedQuote {
    version: number;
    measurement: Buffer;
    reportData: Buffer;
    /** Milliseconds since the epoch; NaN when the quote's value is beyond what a Date can represent. */
    timestampMs: number;
    vendorPublicKey: Buffer;
    signedData: Buffer;
    signature: Buffer;
}

/** True when the bytes start with the simulated quote magic "COCOON-SIM". */
export function looksLikeSimulatedQuote(quote: Buffer): boolean {
    return quote.length >= SIM_QUOTE_MAGIC.length && quote.subarray(0, SIM_QUOTE_MAGIC.length).equals(SIM_QUOTE_MAGIC);
}

/** Parses a simulated quote without checking its signature. Throws SimulatedQuoteError. NO hardware protection. */
export function parseSimulatedQuote(quote: Buffer): ParsedSimulatedQuote {
    if (!looksLikeSimulatedQuote(quote)) throw new SimulatedQuoteError('malformed', 'not a simulated quote (magic "COCOON-SIM" missing)');
    if (quote.length < HEADER_LEN) throw new SimulatedQuoteError('truncated', `simulated quote truncated: ${quote.length} bytes, header needs ${HEADER_LEN}`);
    const version = quote.readUInt16BE(SIM_QUOTE_MAGIC.length);
    if (version !== SIM_QUOTE_VERSION) throw new SimulatedQuoteError('unsupported', `unsupported simulated quote version ${version} (expected ${SIM_QUOTE_VERSION})`);
    if (quote.length < SIM_QUOTE_LENGTH) {
        throw new SimulatedQuoteError('truncated', `simulated quote truncated: ${quote.length} bytes, expected ${SIM_QUOTE_LENGTH}`);
    }
    if (quote.length > SIM_QUOTE_LENGTH) {
        throw new SimulatedQuoteError('malformed', `simulated quote has ${quote.length - SIM_QUOTE_LENGTH} unexpected trailing bytes`);
    }
    let o = HEADER_LEN;
    const take = (n: number): Buffer => quote.subarray(o, (o += n));
    const measurement = take(32);
    const reportData = take(REPORT_DATA_LENGTH);
    const ts = take(8).readBigUInt64BE(0);
    const vendorPublicKey = take(32);
    return {
        version,
        measurement,
        reportData,
        // out-of-range values (never produced by SimulatedTee) become NaN and are rejected after the signature check
        timestampMs: ts <= BigInt(MAX_DATE_MS) ? Number(ts) : NaN,
        vendorPublicKey,
        signedData: quote.subarray(0, HEADER_LEN + BODY_LEN),
        signature: quote.subarray(HEADER_LEN + BODY_LEN),
    };
}

export interface SimulatedVerifyOptions {
    /** The vendor public key this verifier trusts (KeyObject, raw 32 bytes or hex). */
    vendorPublicKey: crypto.KeyObject | Buffer | string;
    /** Reference time for maxAgeMs (default now). */
    now?: Date;
    /** Reject quotes older than this (and more than 5 minutes in the future). Default: no age limit. */
    maxAgeMs?: number;
}

interface SimulatedFields {
    teeType: 'simulated';
    /** Always present: the simulated TEE gives NO hardware protection. */
    warning: typeof SIMULATED_WARNING;
    version: number;
    measurement: string;
    reportData: string;
    /** Quote time, ISO 8601. */
    timestamp: string;
    /** Vendor public key named in the quote (hex). */
    vendorPublicKey: string;
}

/** Result of verifying a simulated quote. Even when valid: simulated TEE, NO hardware protection (see `warning`). */
export type SimulatedVerifyResult =
    | (SimulatedFields & { valid: true })
    | (Partial<SimulatedFields> & {
          valid: false;
          teeType: 'simulated';
          warning: typeof SIMULATED_WARNING;
          error: string;
          errorCode: SimulatedErrorCode;
      });

/**
 * Verifies a simulated quote against the configured vendor public key (and optionally its age). Never throws for a
 * bad quote. A valid result still means NO hardware protection: it carries `warning`.
 */
export function verifySimulatedQuote(quote: Buffer, opts: SimulatedVerifyOptions): SimulatedVerifyResult {
    const fail = (code: SimulatedErrorCode, error: string, fields: Partial<SimulatedFields> = {}): SimulatedVerifyResult => ({
        ...fields,
        valid: false,
        teeType: 'simulated',
        warning: SIMULATED_WARNING,
        error,
        errorCode: code,
    });
    let q: ParsedSimulatedQuote;
    try {
        q = parseSimulatedQuote(quote);
    } catch (e) {
        if (e instanceof SimulatedQuoteError) return fail(e.code, e.message);
        throw e;
    }
    const fields: SimulatedFields = {
        teeType: 'simulated',
        warning: SIMULATED_WARNING,
        version: q.version,
        measurement: q.measurement.toString('hex'),
        reportData: q.reportData.toString('hex'),
        timestamp: Number.isNaN(q.timestampMs) ? 'out of range' : new Date(q.timestampMs).toISOString(),
        vendorPublicKey: q.vendorPublicKey.toString('hex'),
    };
    let trusted: crypto.KeyObject;
    try {
        trusted = parseVendorPublicKey(opts.vendorPublicKey);
    } catch (e) {
        return fail('config', `bad vendor public key: ${(e as Error).message}`, fields);
    }
    const trustedHex = vendorPublicKeyToHex(trusted);
    if (trustedHex !== fields.vendorPublicKey) {
        return fail('vendor_key', `quote names vendor key ${fields.vendorPublicKey}, but this verifier trusts ${trustedHex}`, fields);
    }
    if (!crypto.verify(null, q.signedData, trusted, q.signature)) {
        return fail('signature', 'simulated quote signature does not verify with the vendor public key', fields);
    }
    if (Number.isNaN(q.timestampMs)) return fail('malformed', 'simulated quote timestamp is out of range', fields);
    if (opts.maxAgeMs !== undefined) {
        const now = (opts.now ?? new Date()).getTime();
        if (q.timestampMs > now + FUTURE_SKEW_MS) {
            return fail('future', `simulated quote is dated ${fields.timestamp}, in the future`, fields);
        }
        if (now - q.timestampMs > opts.maxAgeMs) {
            return fail('stale', `simulated quote from ${fields.timestamp} is older than ${opts.maxAgeMs} ms`, fields);
        }
    }
    return { ...fields, valid: true };
}
