/**
 * Conversions of the values a worker reads from the chain (uint256 bigints) or from job metadata (hex, buffers) to
 * the 32-byte buffers the envelope layer takes. Failures are BAD_REQUEST JobErrors (the caller's mistake).
 */
import { Address } from '@ton/core';
import { uint256ToBuffer } from '../../protocol/receipt';
import { JobError } from './errors';

/** A 256-bit value: 32 bytes, a uint256 bigint (as stored on chain) or 64 hex digits (optionally 0x-prefixed). */
export type Bytes32Like = Buffer | Uint8Array | bigint | string;

const HEX64 = /^(0x)?[0-9a-fA-F]{64}$/;

function badRequest(message: string): JobError {
    return new JobError('operator', 'BAD_REQUEST', false, message);
}

export function toBytes32(value: Bytes32Like, what: string): Buffer {
    if (typeof value === 'bigint') {
        if (value < 0n || value >= 1n << 256n) throw badRequest(`${what} does not fit in 256 bits`);
        return uint256ToBuffer(value);
    }
    if (typeof value === 'string') {
        if (!HEX64.test(value)) throw badRequest(`${what} must be 64 hex digits`);
        return Buffer.from(value.replace(/^0x/, ''), 'hex');
    }
    if (value instanceof Uint8Array && value.length === 32) return Buffer.from(value.buffer, value.byteOffset, 32);
    throw badRequest(`${what} must be 32 bytes, a uint256 or 64 hex digits`);
}

export function toAddress(value: Address | string, what: string): Address {
    if (Address.isAddress(value)) return value;
    if (typeof value === 'string') {
        try {
            return Address.parse(value);
        } catch {
            /* below */
        }
    }
    throw badRequest(`${what} is not a TON address`);
}

export function checkNetworkId(networkId: number | bigint): number {
    const n = typeof networkId === 'bigint' ? Number(networkId) : networkId;
    if (!Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff) throw badRequest('networkId must be an int32');
    return n;
}
