import { createHash } from 'crypto';
import * as fs from 'fs';
import { Address, fromNano } from '@ton/core';
import { NETWORK_IDS } from '../../protocol/network';

/**
 * Parsers for script arguments. Each takes the argument's name (without the leading dashes) and its raw text, and
 * either returns the typed value or throws an Error whose message starts with `--<name>:` and says what is
 * expected, so that a wrong command line fails before anything is sent.
 */

const MAX_UINT64 = (1n << 64n) - 1n;

/** A value quoted for an error message, shortened when long. */
export function quote(value: string): string {
    const v = value.length > 48 ? value.slice(0, 45) + '...' : value;
    return JSON.stringify(v);
}

function fail(name: string, message: string): never {
    throw new Error(`--${name}: ${message}`);
}

export interface TonOptions {
    /** Accept 0 (default: the amount must be positive). */
    allowZero?: boolean;
    /** Largest accepted amount in nanoTON (default: 2^64 - 1, what the contracts store). */
    max?: bigint;
}

/** An amount in TON ("1.5", "0.05", "12") → nanoTON. At most 9 decimals, no sign, no exponent. */
export function parseTon(name: string, value: string, opts: TonOptions = {}): bigint {
    const v = value.trim();
    const m = /^(\d+)(?:\.(\d{1,9}))?$/.exec(v);
    if (!m) fail(name, `expected an amount in TON like 1.5 (at most 9 decimals), got ${quote(value)}`);
    const nano = BigInt(m[1]) * 1_000_000_000n + BigInt((m[2] ?? '').padEnd(9, '0'));
    if (nano === 0n && !opts.allowZero) fail(name, `must be more than 0 TON, got ${quote(value)}`);
    const max = opts.max ?? MAX_UINT64;
    if (nano > max) fail(name, `at most ${fromNano(max)} TON, got ${quote(value)}`);
    return nano;
}

/** A 256-bit hash or key: exactly 64 hex characters, optionally prefixed with 0x. */
export function parseHash256(name: string, value: string): bigint {
    const v = value.trim();
    const hex = v.startsWith('0x') || v.startsWith('0X') ? v.slice(2) : v;
    if (/^[0-9a-fA-F]*$/.test(hex) && hex.length !== 64) {
        fail(name, `expected a 256-bit hash as 64 hex characters (0x prefix optional), got ${hex.length} hex characters`);
    }
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
        fail(name, `expected a 256-bit hash as 64 hex characters (0x prefix optional), got ${quote(value)}`);
    }
    return BigInt('0x' + hex);
}

/** sha256 of a file's bytes, as a 256-bit integer. */
export function sha256File(path: string): bigint {
    return BigInt('0x' + createHash('sha256').update(fs.readFileSync(path)).digest('hex'));
}

/**
 * A 256-bit hash given either as hex (see parseHash256) or as the path of an existing file whose sha256 is the hash
 * (an .onnx model, an attestation quote, an input envelope).
 */
export function parseHashOrFile(name: string, value: string): { hash: bigint; file?: string } {
    const v = value.trim();
    const hex = v.startsWith('0x') || v.startsWith('0X') ? v.slice(2) : v;
    if (/^[0-9a-fA-F]{64}$/.test(hex)) return { hash: BigInt('0x' + hex) };
    let isFile = false;
    try {
        isFile = v.length > 0 && fs.statSync(v).isFile();
    } catch {
        isFile = false;
    }
    if (isFile) return { hash: sha256File(v), file: v };
    fail(name, `expected a 256-bit hash as 64 hex characters (0x prefix optional) or the path of an existing file, got ${quote(value)}`);
}

/** A TON address in any of its forms (EQ…/UQ…/kQ…/0Q… or raw 0:<64 hex>). */
export function parseAddress(name: string, value: string): Address {
    const v = value.trim();
    try {
        return Address.parse(v);
    } catch {
        fail(name, `expected a TON address (EQ…, UQ…, kQ…, 0Q… or 0:<64 hex>), got ${quote(value)}`);
    }
}

/** Comma-separated addresses; duplicates rejected. */
export function parseAddressList(name: string, value: string, opts: { max?: number } = {}): Address[] {
    const parts = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (parts.length === 0) fail(name, 'expected one or more comma-separated TON addresses, got an empty list');
    const out: Address[] = [];
    parts.forEach((p, i) => {
        let a: Address;
        try {
            a = Address.parse(p);
        } catch {
            fail(name, `entry ${i + 1}: expected a TON address (EQ…, UQ…, kQ…, 0Q… or 0:<64 hex>), got ${quote(p)}`);
        }
        if (out.some((o) => o.equals(a))) fail(name, `entry ${i + 1}: ${quote(p)} is listed twice`);
        out.push(a);
    });
    if (opts.max !== undefined && out.length > opts.max) fail(name, `at most ${opts.max} addresses, got ${out.length}`);
    return out;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds as a readable duration: 600 → "10m", 90061 → "1d 1h 1m 1s". */
export function formatDuration(seconds: number): string {
    if (seconds === 0) return '0s';
    const parts: string[] = [];
    let rest = seconds;
    for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
        const n = Math.floor(rest / size);
        if (n > 0) parts.push(`${n}${unit}`);
        rest -= n * size;
    }
    return parts.join(' ');
}

export interface DurationOptions {
    min?: number;
    max?: number;
}

/** A duration in seconds: "600", "600s", "10m", "1h", "7d" (one integer and one optional unit). */
export function parseDuration(name: string, value: string, opts: DurationOptions = {}): number {
    const v = value.trim();
    const m = /^(\d+)\s*([smhd]?)$/.exec(v);
    if (!m) fail(name, `expected a duration in seconds or with a unit s/m/h/d (e.g. 600, 10m, 1h, 7d), got ${quote(value)}`);
    const seconds = Number(m[1]) * UNIT_SECONDS[m[2] || 's'];
    if (!Number.isSafeInteger(seconds)) fail(name, `duration ${quote(value)} is too large`);
    if (opts.min !== undefined && seconds < opts.min) {
        fail(name, `at least ${opts.min} s (${formatDuration(opts.min)}), got ${seconds} s`);
    }
    if (opts.max !== undefined && seconds > opts.max) {
        fail(name, `at most ${opts.max} s (${formatDuration(opts.max)}), got ${seconds} s`);
    }
    return seconds;
}

/** A decimal integer within [min, max]. */
export function parseInteger(name: string, value: string, opts: { min: number; max: number }): number {
    const v = value.trim();
    const n = /^-?\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < opts.min || n > opts.max) {
        fail(name, `expected an integer from ${opts.min} to ${opts.max}, got ${quote(value)}`);
    }
    return n;
}

/** Basis points (1 bp = 0.01 %) within [min, max]. */
export function parseBps(name: string, value: string, opts: { min?: number; max: number }): number {
    const v = value.trim();
    const min = opts.min ?? 0;
    const n = /^\d+$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > opts.max) {
        fail(name, `expected basis points from ${min} to ${opts.max} (${min / 100} % to ${opts.max / 100} %), got ${quote(value)}`);
    }
    return n;
}

/** A network id: mainnet, testnet, devnet, or a signed 32-bit integer. */
export function parseNetworkId(name: string, value: string): number {
    const v = value.trim();
    if (v in NETWORK_IDS) return NETWORK_IDS[v as keyof typeof NETWORK_IDS];
    if (/^-?\d+$/.test(v)) {
        const n = Number(v);
        if (Number.isSafeInteger(n) && n >= -(2 ** 31) && n < 2 ** 31) return n;
    }
    fail(name, `expected mainnet, testnet, devnet or a signed 32-bit integer, got ${quote(value)}`);
}

/** Name of a deployment file (deployments/<name>.json). */
export function parseDeploymentName(name: string, value: string): string {
    const v = value.trim();
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) fail(name, `expected a name of letters, digits, '-' or '_' (e.g. testnet), got ${quote(value)}`);
    return v;
}

/**
 * The models a provider serves and its price per job: comma-separated `<model>=<price in TON>` entries where the
 * model is a hash or an .onnx path (see parseHashOrFile).
 */
export function parseModelPrices(name: string, value: string, opts: { max?: number } = {}): Map<bigint, bigint> {
    const entries = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
    if (entries.length === 0) fail(name, 'expected one or more <model hash>=<price in TON> entries, got an empty list');
    const out = new Map<bigint, bigint>();
    entries.forEach((e, i) => {
        const eq = e.lastIndexOf('=');
        if (eq <= 0 || eq === e.length - 1) fail(name, `entry ${i + 1}: expected <model hash>=<price in TON>, got ${quote(e)}`);
        const { hash } = parseHashOrFile(`${name} entry ${i + 1}`, e.slice(0, eq));
        const price = parseTon(`${name} entry ${i + 1}`, e.slice(eq + 1));
        if (out.has(hash)) fail(name, `entry ${i + 1}: model ${hex256(hash)} is listed twice`);
        out.set(hash, price);
    });
    if (opts.max !== undefined && out.size > opts.max) fail(name, `at most ${opts.max} models, got ${out.size}`);
    return out;
}

/** A job: its id (0, 1, …) in the registry, or the address of its JobEscrow contract. */
export type JobRef = { id: bigint } | { address: Address };

export function parseJobRef(name: string, value: string): JobRef {
    const v = value.trim();
    if (/^\d+$/.test(v)) {
        const id = BigInt(v);
        if (id <= MAX_UINT64) return { id };
    }
    try {
        return { address: Address.parse(v) };
    } catch {
        fail(name, `expected a job id (0, 1, …) or a job contract address, got ${quote(value)}`);
    }
}

/** An endpoint URL or host the worker is reached at; the provider contract stores at most `maxBytes` bytes. */
export function parseEndpoint(name: string, value: string, maxBytes: number): string {
    const v = value.trim();
    const bytes = Buffer.byteLength(v, 'utf8');
    if (bytes === 0) fail(name, 'expected the endpoint where clients reach the worker (e.g. https://worker.example/cocoon), got an empty string');
    if (bytes > maxBytes) fail(name, `at most ${maxBytes} bytes, got ${bytes}`);
    return v;
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(name: string, value: string, choices: readonly T[]): T {
    const v = value.trim();
    if ((choices as readonly string[]).includes(v)) return v as T;
    fail(name, `expected one of ${choices.join(', ')}, got ${quote(value)}`);
}

/** A 256-bit value as 0x + 64 hex characters. */
export function hex256(x: bigint): string {
    return '0x' + x.toString(16).padStart(64, '0');
}

/** A 256-bit value shortened for one-line output: 0x1234abcd…. */
export function shortHex(x: bigint): string {
    return hex256(x).slice(0, 10) + '…';
}
