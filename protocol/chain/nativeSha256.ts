/**
 * @ton/core hashes every cell it builds or parses (every BoC read, every message, every get-method stack) with
 * @ton/crypto's sha256_sync, which runs SHA-256 in JavaScript over hex strings (jssha): on the devnet and in the
 * chain clients that was the largest single cost after the TVM emulator itself. Importing this module swaps in
 * Node's native SHA-256 for the same function: same input, same 32 bytes out (tests/protocol/native-sha256.test.ts
 * checks it against the original on seeded inputs and against known cell hashes). The swap is process-wide and
 * idempotent; it replaces only how the digest is computed, never what is hashed.
 */
import * as crypto from 'crypto';

type Sha256Sync = (source: Buffer | string) => Buffer;

// The module whose export @ton/crypto's index re-exports through a getter: replacing it here is what every
// `require('@ton/crypto').sha256_sync` call (wonderCalculator, Cell.hash) sees from then on.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const primitives: { sha256_sync: Sha256Sync } = require('@ton/crypto/dist/primitives/sha256');

/** The implementation @ton/crypto shipped, kept for the equivalence tests. */
export const jsSha256Sync: Sha256Sync = (primitives as { __jsSha256Sync?: Sha256Sync }).__jsSha256Sync ?? primitives.sha256_sync;

export const nativeSha256Sync: Sha256Sync = (source) =>
    crypto.createHash('sha256').update(typeof source === 'string' ? Buffer.from(source, 'utf-8') : source).digest();

if (primitives.sha256_sync !== nativeSha256Sync) {
    (primitives as { __jsSha256Sync?: Sha256Sync }).__jsSha256Sync = jsSha256Sync;
    primitives.sha256_sync = nativeSha256Sync;
}

/** Whether @ton/core's cell hashing runs on Node's native SHA-256 (true once this module is loaded). */
export function nativeCellHashing(): boolean {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('@ton/crypto') as { sha256_sync: Sha256Sync }).sha256_sync === nativeSha256Sync;
}
