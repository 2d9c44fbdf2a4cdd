import { Address, Cell } from '@ton/core';
import { RpcError, invalidParam } from './errors';

/** Request parameters as they arrive: JSON values (JSON-RPC / POST) or strings (GET query). */
export type Params = Record<string, unknown>;

export function has(params: Params, name: string): boolean {
    return params[name] !== undefined && params[name] !== null;
}

export function required(params: Params, name: string): unknown {
    if (!has(params, name)) throw invalidParam(`Missing required parameter "${name}"`);
    return params[name];
}

export function parseAddressValue(value: unknown, name = 'address'): Address {
    if (typeof value !== 'string' || value.trim() === '') {
        throw new RpcError(416, `Incorrect address in "${name}": expected a string, got ${describe(value)}`);
    }
    const text = value.trim();
    try {
        if (Address.isRaw(text)) return Address.parseRaw(text);
        if (Address.isFriendly(text)) return Address.parseFriendly(text).address;
    } catch {
        // fall through to the error below
    }
    throw new RpcError(
        416,
        `Incorrect address in "${name}": ${JSON.stringify(clip(text))} is neither a raw (<workchain>:<64 hex>) nor a user-friendly (48 base64 characters) address`,
    );
}

export function addressParam(params: Params, name = 'address'): Address {
    return parseAddressValue(required(params, name), name);
}

/** An integer given as a JSON number or a decimal string (toncenter coerces strings for lt and similar). */
export function intParam(params: Params, name: string, opts: { min?: bigint; max?: bigint } = {}): bigint | undefined {
    if (!has(params, name)) return undefined;
    const v = params[name];
    let n: bigint;
    if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
    else if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) n = BigInt(v.trim());
    else throw invalidParam(`Parameter "${name}" must be an integer, got ${describe(v)}`);
    if (opts.min !== undefined && n < opts.min) throw invalidParam(`Parameter "${name}" must be >= ${opts.min}, got ${n}`);
    if (opts.max !== undefined && n > opts.max) throw invalidParam(`Parameter "${name}" must be <= ${opts.max}, got ${n}`);
    return n;
}

export function boolParam(params: Params, name: string, fallback: boolean): boolean {
    if (!has(params, name)) return fallback;
    const v = params[name];
    if (typeof v === 'boolean') return v;
    if (v === 'true' || v === '1' || v === 1) return true;
    if (v === 'false' || v === '0' || v === 0) return false;
    throw invalidParam(`Parameter "${name}" must be a boolean, got ${describe(v)}`);
}

export function stringParam(params: Params, name: string): string | undefined {
    if (!has(params, name)) return undefined;
    const v = params[name];
    if (typeof v !== 'string') throw invalidParam(`Parameter "${name}" must be a string, got ${describe(v)}`);
    return v;
}

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

/** A 32-byte hash in hex (64 characters) or base64 / base64url (43–44 characters). */
export function parseHash(value: string, name: string): Buffer {
    const text = value.trim();
    if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
    if (BASE64.test(text) && (text.length === 44 || text.length === 43)) {
        const buf = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
        if (buf.length === 32) return buf;
    }
    throw invalidParam(`Parameter "${name}" must be a 32-byte hash in hex or base64, got ${JSON.stringify(clip(text))}`);
}

/** Decodes a base64 BoC with exactly one root; the error says what was wrong. */
export function decodeBoc(value: unknown, name: string): Cell {
    if (typeof value !== 'string') throw new BocError(`"${name}" must be a base64 string, got ${describe(value)}`);
    const text = value.replace(/\s+/g, '');
    if (text === '' || !BASE64.test(text)) throw new BocError(`"${name}" is not valid base64`);
    let cells: Cell[];
    try {
        cells = Cell.fromBoc(Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64'));
    } catch (e) {
        throw new BocError(`"${name}" is not a valid bag of cells (${(e as Error).message})`);
    }
    if (cells.length !== 1) throw new BocError(`"${name}" must hold exactly one root cell, found ${cells.length}`);
    return cells[0];
}

export class BocError extends Error {}

export function describe(v: unknown): string {
    if (v === undefined) return 'nothing';
    if (v === null) return 'null';
    if (typeof v === 'string') return JSON.stringify(clip(v));
    if (Array.isArray(v)) return 'an array';
    return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

function clip(s: string): string {
    return s.length > 80 ? s.slice(0, 77) + '...' : s;
}
