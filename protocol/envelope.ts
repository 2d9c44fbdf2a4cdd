import * as crypto from 'crypto';
import { Address } from '@ton/core';
import { deriveKeyAndNonce, gcmOpen, gcmSealInto, AES_KEY_BYTES, GCM_NONCE_BYTES, GCM_TAG_BYTES } from './aead';
import { EnvelopeError } from './envelope-error';
import {
    EphemeralX25519Key,
    exportX25519PublicKey,
    generateEphemeralX25519Key,
    recipientId,
    x25519Recipient,
    X25519Recipient,
    x25519SharedSecret,
    RECIPIENT_ID_BYTES,
    X25519_KEY_BYTES,
} from './x25519';

/**
 * Job-data envelopes: client → enclave input (multi-recipient) and enclave → client result.
 *
 * JOB BINDING RULE. The client cannot know the escrow address when it encrypts (the escrow is deployed afterwards),
 * so an input envelope is bound to
 *     jobBinding = sha256(networkId:int32be ‖ modelHash:32 ‖ clientResultPublicKey:32 ‖ jobNonce:32)
 * where jobNonce is 32 random bytes chosen by the client. The four values are carried in the envelope header (so a
 * worker can reject a mismatch with WRONG_BINDING before any crypto), and the payload's AES-GCM associated data
 * contains jobBinding computed from the values the *opener expects* (taken from the chain), not from the header:
 * even if the header check were skipped, a mismatch fails authentication. The escrow records
 * inputCommitment = sha256(whole envelope), which therefore commits to the jobNonce and every other header byte.
 * The binding to the result key is what stops replay: whoever reopens a job with a copied envelope only gets a
 * result encrypted to the original client.
 *
 * Results are bound to the escrow address (known by then), network and model; see sealResult.
 *
 * INPUT ENVELOPE v1 (all integers big-endian)
 *   0     4   magic "COCI"
 *   4     1   version = 1
 *   5     4   networkId (int32)
 *   9    32   modelHash
 *   41   32   clientResultPublicKey (X25519)
 *   73   32   jobNonce
 *   105  32   ephemeral X25519 public key (one per envelope)
 *   137   1   n = recipient count, 1..MAX_RECIPIENTS
 *   138  56n  slots: recipientId (8) ‖ wrapped data key (32) ‖ GCM tag (16)
 *   +     12  payload nonce (random)
 *   +      4  payload length L ≤ MAX_PAYLOAD_BYTES
 *   +      L  payload ciphertext
 *   +     16  payload GCM tag
 *
 * Per slot: KEK ‖ nonce = HKDF-SHA256(X25519(eph, recipient), salt = ephPub ‖ recipientPub,
 * info = "cocoon/input/v1" ‖ networkId), 44 bytes; data key wrapped with AES-256-GCM, AD = domain ‖ bytes 0..137
 * (so a slot cannot be moved into an envelope with another binding or ephemeral key).
 * Payload: AES-256-GCM under the random data key, AD = domain ‖ jobBinding ‖ header (every byte before the
 * ciphertext, so the recipient list, nonce and length are authenticated too).
 */

export const INPUT_DOMAIN = 'cocoon/input/v1';
export const RESULT_DOMAIN = 'cocoon/result/v1';
export const ENVELOPE_VERSION = 1;
export const MAX_RECIPIENTS = 8;
/** Hard cap on the encrypted payload of either envelope kind (8 MiB); larger inputs belong in a blob protocol. */
export const MAX_PAYLOAD_BYTES = 8 * 1024 * 1024;

/** First bytes of every input envelope (the blob store refuses uploads without them). */
export const INPUT_MAGIC = Buffer.from('COCI', 'latin1');
/** First bytes of every result envelope. */
export const RESULT_MAGIC = Buffer.from('COCR', 'latin1');
const INPUT_DOMAIN_BYTES = Buffer.from(INPUT_DOMAIN, 'latin1');
const RESULT_DOMAIN_BYTES = Buffer.from(RESULT_DOMAIN, 'latin1');

const HASH_BYTES = 32;
const SLOT_BYTES = RECIPIENT_ID_BYTES + AES_KEY_BYTES + GCM_TAG_BYTES; // 56
const IN_NETWORK = 5;
const IN_MODEL = 9;
const IN_RESULT_KEY = 41;
const IN_NONCE = 73;
const IN_EPHEMERAL = 105;
const IN_COUNT = 137;
const IN_SLOTS = 138;
const IN_TRAILER = GCM_NONCE_BYTES + 4; // payload nonce + length, after the slots

export const MAX_INPUT_ENVELOPE_BYTES = IN_SLOTS + MAX_RECIPIENTS * SLOT_BYTES + IN_TRAILER + MAX_PAYLOAD_BYTES + GCM_TAG_BYTES;

const RES_NETWORK = 5;
const RES_WORKCHAIN = 9;
const RES_JOB_HASH = 10;
const RES_MODEL = 42;
const RES_RECIPIENT = 74;
const RES_EPHEMERAL = 82;
const RES_LENGTH = 114;
const RES_HEADER = 118;

export const MAX_RESULT_ENVELOPE_BYTES = RES_HEADER + MAX_PAYLOAD_BYTES + GCM_TAG_BYTES;

/** What the opener of an input envelope expects, taken from the job on chain. */
export interface InputBinding {
    networkId: number;
    modelHash: Buffer;
    clientResultPublicKey: Buffer;
    jobNonce: Buffer;
}

export interface SealInputParams extends Omit<InputBinding, 'jobNonce'> {
    /** 32 bytes; random when omitted (returned either way). */
    jobNonce?: Buffer;
    /** Raw X25519 enclave keys of the candidate providers, 1..MAX_RECIPIENTS, distinct. */
    recipients: readonly Buffer[];
    payload: Buffer;
}

export interface SealedInput {
    envelope: Buffer;
    jobNonce: Buffer;
    /** sha256(envelope): the job's inputCommitment. */
    commitment: Buffer;
}

/** The result envelope is bound to the escrow it answers. */
export interface ResultBinding {
    networkId: number;
    job: Address | string;
    modelHash: Buffer;
}

/** A private key (raw or KeyObject) or anything that computes X25519 with a key it keeps to itself. */
export type RecipientKey = Buffer | crypto.KeyObject | X25519Recipient;

/** Public header of an input envelope (copies; safe to keep). */
export interface InputEnvelopeInfo {
    version: number;
    networkId: number;
    modelHash: Buffer;
    clientResultPublicKey: Buffer;
    jobNonce: Buffer;
    ephemeralPublicKey: Buffer;
    recipientIds: Buffer[];
    payloadLength: number;
}

export interface ResultEnvelopeInfo {
    version: number;
    networkId: number;
    job: Address;
    modelHash: Buffer;
    recipientId: Buffer;
    payloadLength: number;
}

// ---------------------------------------------------------------------------------------------------------------
// helpers

function arg(ok: boolean, message: string): void {
    if (!ok) throw new EnvelopeError('BAD_ARGUMENT', message);
}

function checkNetworkId(networkId: number): void {
    arg(Number.isInteger(networkId) && networkId >= -0x80000000 && networkId <= 0x7fffffff, `networkId must be an int32, got ${networkId}`);
}

function check32(what: string, b: Buffer): void {
    arg(Buffer.isBuffer(b) && b.length === HASH_BYTES, `${what} must be ${HASH_BYTES} bytes`);
}

function toRecipient(key: RecipientKey): X25519Recipient {
    if (Buffer.isBuffer(key) || key instanceof crypto.KeyObject) return x25519Recipient(key);
    return key;
}

function normalizeJob(job: Address | string): Address {
    if (Address.isAddress(job)) return job;
    try {
        return Address.parse(job);
    } catch {
        throw new EnvelopeError('BAD_ARGUMENT', `job is not a TON address: ${String(job).slice(0, 80)}`);
    }
}

function ensureLength(bytes: Buffer, needed: number, what: string): void {
    if (bytes.length < needed) {
        throw new EnvelopeError('TRUNCATED', `envelope ends at byte ${bytes.length}, ${what} needs ${needed}`);
    }
}

function int32be(n: number): Buffer {
    const b = Buffer.allocUnsafe(4);
    b.writeInt32BE(n, 0);
    return b;
}

function kdfInfo(domain: Buffer, networkId: number): Buffer {
    return Buffer.concat([domain, int32be(networkId)]);
}

/** sha256(networkId ‖ modelHash ‖ clientResultPublicKey ‖ jobNonce): the job binding rule documented at the top. */
export function jobBinding(b: InputBinding): Buffer {
    checkNetworkId(b.networkId);
    check32('modelHash', b.modelHash);
    check32('clientResultPublicKey', b.clientResultPublicKey);
    check32('jobNonce', b.jobNonce);
    return crypto.createHash('sha256').update(int32be(b.networkId)).update(b.modelHash).update(b.clientResultPublicKey).update(b.jobNonce).digest();
}

/** The on-chain commitment to an envelope (input or result): sha256 of its exact bytes. */
export function envelopeCommitment(bytes: Buffer): Buffer {
    return crypto.createHash('sha256').update(bytes).digest();
}

// ---------------------------------------------------------------------------------------------------------------
// input envelope

interface ParsedInput {
    count: number;
    headerEnd: number; // first ciphertext byte
    payloadLength: number;
}

/** Strict structural parse; returns offsets only (the hot path works on views of `bytes`). */
function parseInput(bytes: Buffer): ParsedInput {
    if (!Buffer.isBuffer(bytes)) throw new EnvelopeError('BAD_ARGUMENT', 'envelope must be a Buffer');
    if (bytes.length > MAX_INPUT_ENVELOPE_BYTES) {
        throw new EnvelopeError('TOO_LARGE', `input envelope is ${bytes.length} bytes, the cap is ${MAX_INPUT_ENVELOPE_BYTES}`);
    }
    ensureLength(bytes, 4, 'the magic');
    if (!bytes.subarray(0, 4).equals(INPUT_MAGIC)) throw new EnvelopeError('BAD_MAGIC', 'not an input envelope (magic is not "COCI")');
    ensureLength(bytes, 5, 'the version');
    if (bytes[4] !== ENVELOPE_VERSION) throw new EnvelopeError('BAD_VERSION', `input envelope version ${bytes[4]} is not supported (expected ${ENVELOPE_VERSION})`);
    ensureLength(bytes, IN_SLOTS, 'the fixed header');
    const count = bytes[IN_COUNT];
    if (count === 0) throw new EnvelopeError('MALFORMED', 'input envelope has no recipients');
    if (count > MAX_RECIPIENTS) throw new EnvelopeError('TOO_MANY_RECIPIENTS', `input envelope has ${count} recipients, the maximum is ${MAX_RECIPIENTS}`);
    const trailer = IN_SLOTS + count * SLOT_BYTES;
    const headerEnd = trailer + IN_TRAILER;
    ensureLength(bytes, headerEnd, `the ${count} recipient slots, payload nonce and length`);
    const payloadLength = bytes.readUInt32BE(trailer + GCM_NONCE_BYTES);
    if (payloadLength > MAX_PAYLOAD_BYTES) throw new EnvelopeError('TOO_LARGE', `payload length ${payloadLength} exceeds the cap ${MAX_PAYLOAD_BYTES}`);
    const end = headerEnd + payloadLength + GCM_TAG_BYTES;
    ensureLength(bytes, end, `a ${payloadLength}-byte payload and its tag`);
    if (bytes.length > end) throw new EnvelopeError('TRAILING_BYTES', `${bytes.length - end} bytes after the end of the input envelope`);
    for (let i = 1; i < count; i++) {
        const id = bytes.subarray(IN_SLOTS + i * SLOT_BYTES, IN_SLOTS + i * SLOT_BYTES + RECIPIENT_ID_BYTES);
        for (let j = 0; j < i; j++) {
            if (id.equals(bytes.subarray(IN_SLOTS + j * SLOT_BYTES, IN_SLOTS + j * SLOT_BYTES + RECIPIENT_ID_BYTES))) {
                throw new EnvelopeError('MALFORMED', `recipient slots ${j} and ${i} have the same id`);
            }
        }
    }
    return { count, headerEnd, payloadLength };
}

export function readInputHeader(bytes: Buffer): InputEnvelopeInfo {
    const p = parseInput(bytes);
    const copy = (from: number, len: number) => Buffer.from(bytes.subarray(from, from + len));
    const recipientIds: Buffer[] = [];
    for (let i = 0; i < p.count; i++) recipientIds.push(copy(IN_SLOTS + i * SLOT_BYTES, RECIPIENT_ID_BYTES));
    return {
        version: bytes[4],
        networkId: bytes.readInt32BE(IN_NETWORK),
        modelHash: copy(IN_MODEL, HASH_BYTES),
        clientResultPublicKey: copy(IN_RESULT_KEY, X25519_KEY_BYTES),
        jobNonce: copy(IN_NONCE, HASH_BYTES),
        ephemeralPublicKey: copy(IN_EPHEMERAL, X25519_KEY_BYTES),
        recipientIds,
        payloadLength: p.payloadLength,
    };
}

export function sealInput(params: SealInputParams): SealedInput {
    const { networkId, modelHash, clientResultPublicKey, recipients, payload } = params;
    const jobNonce = params.jobNonce ?? crypto.randomBytes(HASH_BYTES);
    const binding = jobBinding({ networkId, modelHash, clientResultPublicKey, jobNonce });
    arg(Buffer.isBuffer(payload), 'payload must be a Buffer');
    if (payload.length > MAX_PAYLOAD_BYTES) throw new EnvelopeError('TOO_LARGE', `payload is ${payload.length} bytes, the cap is ${MAX_PAYLOAD_BYTES}`);
    arg(Array.isArray(recipients) && recipients.length >= 1, 'at least one recipient is required');
    if (recipients.length > MAX_RECIPIENTS) throw new EnvelopeError('TOO_MANY_RECIPIENTS', `${recipients.length} recipients, the maximum is ${MAX_RECIPIENTS}`);
    const ids = recipients.map((r) => recipientId(r));
    ids.forEach((id, i) => arg(ids.findIndex((o) => o.equals(id)) === i, `recipient ${i} is listed twice (or shares an id)`));

    const count = recipients.length;
    const trailer = IN_SLOTS + count * SLOT_BYTES;
    const headerEnd = trailer + IN_TRAILER;
    const out = Buffer.allocUnsafe(headerEnd + payload.length + GCM_TAG_BYTES);

    const eph = crypto.generateKeyPairSync('x25519');
    const ephPub = exportX25519PublicKey(eph.publicKey);
    INPUT_MAGIC.copy(out, 0);
    out[4] = ENVELOPE_VERSION;
    out.writeInt32BE(networkId, IN_NETWORK);
    modelHash.copy(out, IN_MODEL);
    clientResultPublicKey.copy(out, IN_RESULT_KEY);
    jobNonce.copy(out, IN_NONCE);
    ephPub.copy(out, IN_EPHEMERAL);
    out[IN_COUNT] = count;

    const secrets = crypto.randomBytes(AES_KEY_BYTES + GCM_NONCE_BYTES);
    const dataKey = secrets.subarray(0, AES_KEY_BYTES);
    const info = kdfInfo(INPUT_DOMAIN_BYTES, networkId);
    const wrapAad = [INPUT_DOMAIN_BYTES, out.subarray(0, IN_COUNT)];
    try {
        for (let i = 0; i < count; i++) {
            const slot = IN_SLOTS + i * SLOT_BYTES;
            ids[i].copy(out, slot);
            let shared: Buffer;
            try {
                shared = x25519SharedSecret(eph.privateKey, recipients[i]);
            } catch {
                throw new EnvelopeError('BAD_ARGUMENT', `recipient ${i} is not a usable X25519 public key`);
            }
            const kek = deriveKeyAndNonce(shared, Buffer.concat([ephPub, recipients[i]]), info);
            shared.fill(0);
            gcmSealInto(kek.key, kek.nonce, wrapAad, dataKey, out, slot + RECIPIENT_ID_BYTES);
            kek.key.fill(0);
        }
        secrets.copy(out, trailer, AES_KEY_BYTES); // payload nonce
        out.writeUInt32BE(payload.length, trailer + GCM_NONCE_BYTES);
        const payloadNonce = out.subarray(trailer, trailer + GCM_NONCE_BYTES);
        gcmSealInto(dataKey, payloadNonce, [INPUT_DOMAIN_BYTES, binding, out.subarray(0, headerEnd)], payload, out, headerEnd);
    } finally {
        secrets.fill(0);
    }
    return { envelope: out, jobNonce, commitment: envelopeCommitment(out) };
}

function bindingMismatch(bytes: Buffer, b: InputBinding): string | undefined {
    const envNetwork = bytes.readInt32BE(IN_NETWORK);
    if (envNetwork !== b.networkId) return `network id is ${envNetwork}, expected ${b.networkId}`;
    if (!bytes.subarray(IN_MODEL, IN_MODEL + HASH_BYTES).equals(b.modelHash)) return 'model hash differs from the job';
    if (!bytes.subarray(IN_RESULT_KEY, IN_RESULT_KEY + X25519_KEY_BYTES).equals(b.clientResultPublicKey)) return 'client result key differs from the job';
    if (!bytes.subarray(IN_NONCE, IN_NONCE + HASH_BYTES).equals(b.jobNonce)) return 'job nonce differs from the job';
    return undefined;
}

/**
 * Opens an input envelope as one of its recipients. Checks, in order: structure, binding (WRONG_BINDING), a slot
 * for this key (NOT_A_RECIPIENT), the wrapped key and the payload (AUTH_FAILED). The caller owns the returned
 * plaintext and should wipe it when done.
 */
export function openInput(bytes: Buffer, binding: InputBinding, recipient: RecipientKey): Buffer {
    const ad = jobBinding(binding); // validates the binding arguments too
    const p = parseInput(bytes);
    const mismatch = bindingMismatch(bytes, binding);
    if (mismatch) throw new EnvelopeError('WRONG_BINDING', mismatch);

    const me = toRecipient(recipient);
    const myId = recipientId(me.publicKey);
    let slot = -1;
    for (let i = 0; i < p.count && slot < 0; i++) {
        const at = IN_SLOTS + i * SLOT_BYTES;
        if (bytes.subarray(at, at + RECIPIENT_ID_BYTES).equals(myId)) slot = at;
    }
    if (slot < 0) throw new EnvelopeError('NOT_A_RECIPIENT', `no slot for recipient ${myId.toString('hex')} among ${p.count}`);

    const ephPub = bytes.subarray(IN_EPHEMERAL, IN_EPHEMERAL + X25519_KEY_BYTES);
    const shared = me.sharedSecret(ephPub);
    const kek = deriveKeyAndNonce(shared, Buffer.concat([ephPub, me.publicKey]), kdfInfo(INPUT_DOMAIN_BYTES, binding.networkId));
    shared.fill(0);
    const wrapped = slot + RECIPIENT_ID_BYTES;
    const dataKey = gcmOpen(
        kek.key,
        kek.nonce,
        [INPUT_DOMAIN_BYTES, bytes.subarray(0, IN_COUNT)],
        bytes.subarray(wrapped, wrapped + AES_KEY_BYTES),
        bytes.subarray(wrapped + AES_KEY_BYTES, wrapped + AES_KEY_BYTES + GCM_TAG_BYTES),
        'wrapped data key',
    );
    kek.key.fill(0);
    const trailer = p.headerEnd - IN_TRAILER;
    const ctEnd = p.headerEnd + p.payloadLength;
    try {
        return gcmOpen(
            dataKey,
            bytes.subarray(trailer, trailer + GCM_NONCE_BYTES),
            [INPUT_DOMAIN_BYTES, ad, bytes.subarray(0, p.headerEnd)],
            bytes.subarray(p.headerEnd, ctEnd),
            bytes.subarray(ctEnd, ctEnd + GCM_TAG_BYTES),
            'payload',
        );
    } finally {
        dataKey.fill(0);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// result envelope
//
//   0    4  magic "COCR"          9   1  job workchain (int8)       74   8  recipient id (client result key)
//   4    1  version = 1           10 32  job account hash           82  32  ephemeral X25519 public key
//   5    4  networkId (int32)     42 32  modelHash                  114  4  length L, then L ciphertext, 16 tag
//
// Key ‖ nonce = HKDF-SHA256(X25519(eph, client), salt = ephPub ‖ clientPub, info = "cocoon/result/v1" ‖ networkId);
// AD = domain ‖ header (bytes 0..118). The job is stored in binary form so raw and user-friendly spellings of the
// same address bind identically.

function parseResult(bytes: Buffer): number {
    if (!Buffer.isBuffer(bytes)) throw new EnvelopeError('BAD_ARGUMENT', 'envelope must be a Buffer');
    if (bytes.length > MAX_RESULT_ENVELOPE_BYTES) {
        throw new EnvelopeError('TOO_LARGE', `result envelope is ${bytes.length} bytes, the cap is ${MAX_RESULT_ENVELOPE_BYTES}`);
    }
    ensureLength(bytes, 4, 'the magic');
    if (!bytes.subarray(0, 4).equals(RESULT_MAGIC)) throw new EnvelopeError('BAD_MAGIC', 'not a result envelope (magic is not "COCR")');
    ensureLength(bytes, 5, 'the version');
    if (bytes[4] !== ENVELOPE_VERSION) throw new EnvelopeError('BAD_VERSION', `result envelope version ${bytes[4]} is not supported (expected ${ENVELOPE_VERSION})`);
    ensureLength(bytes, RES_HEADER, 'the header');
    const length = bytes.readUInt32BE(RES_LENGTH);
    if (length > MAX_PAYLOAD_BYTES) throw new EnvelopeError('TOO_LARGE', `result length ${length} exceeds the cap ${MAX_PAYLOAD_BYTES}`);
    const end = RES_HEADER + length + GCM_TAG_BYTES;
    ensureLength(bytes, end, `a ${length}-byte result and its tag`);
    if (bytes.length > end) throw new EnvelopeError('TRAILING_BYTES', `${bytes.length - end} bytes after the end of the result envelope`);
    return length;
}

export function readResultHeader(bytes: Buffer): ResultEnvelopeInfo {
    const payloadLength = parseResult(bytes);
    return {
        version: bytes[4],
        networkId: bytes.readInt32BE(RES_NETWORK),
        job: new Address(bytes.readInt8(RES_WORKCHAIN), Buffer.from(bytes.subarray(RES_JOB_HASH, RES_JOB_HASH + HASH_BYTES))),
        modelHash: Buffer.from(bytes.subarray(RES_MODEL, RES_MODEL + HASH_BYTES)),
        recipientId: Buffer.from(bytes.subarray(RES_RECIPIENT, RES_RECIPIENT + RECIPIENT_ID_BYTES)),
        payloadLength,
    };
}

function checkResultBinding(b: ResultBinding): Address {
    checkNetworkId(b.networkId);
    check32('modelHash', b.modelHash);
    const job = normalizeJob(b.job);
    arg(job.workChain >= -128 && job.workChain <= 127, `job workchain ${job.workChain} does not fit in int8`);
    return job;
}

/**
 * Everything sealing a result of a given length needs except the plaintext: the header, the AEAD's associated data
 * (domain ‖ header), and the key and nonce. sealResult uses it; so do sealers that run the bulk AES-GCM elsewhere
 * (worker/enclave/resultSealer.ts, on a worker thread). The envelope is header ‖ AES-256-GCM(key, nonce, aad,
 * plaintext) ‖ tag. Wipe `key` once used.
 */
export interface ResultSeal {
    header: Buffer;
    aad: Buffer;
    key: Buffer;
    nonce: Buffer;
}

export function prepareResultSeal(length: number, binding: ResultBinding & { clientResultPublicKey: Buffer }, ephemeral?: EphemeralX25519Key): ResultSeal {
    const job = checkResultBinding(binding);
    arg(Number.isInteger(length) && length >= 0, `result length must be a non-negative integer, got ${length}`);
    if (length > MAX_PAYLOAD_BYTES) throw new EnvelopeError('TOO_LARGE', `result is ${length} bytes, the cap is ${MAX_PAYLOAD_BYTES}`);
    const clientPub = binding.clientResultPublicKey;
    const id = recipientId(clientPub);
    const eph = ephemeral ?? generateEphemeralX25519Key();
    let shared: Buffer;
    try {
        shared = x25519SharedSecret(eph.privateKey, clientPub);
    } catch {
        throw new EnvelopeError('BAD_ARGUMENT', 'client result key is not a usable X25519 public key');
    }
    const k = deriveKeyAndNonce(shared, Buffer.concat([eph.publicKey, clientPub]), kdfInfo(RESULT_DOMAIN_BYTES, binding.networkId));
    shared.fill(0);

    const header = Buffer.allocUnsafe(RES_HEADER);
    RESULT_MAGIC.copy(header, 0);
    header[4] = ENVELOPE_VERSION;
    header.writeInt32BE(binding.networkId, RES_NETWORK);
    header.writeInt8(job.workChain, RES_WORKCHAIN);
    job.hash.copy(header, RES_JOB_HASH);
    binding.modelHash.copy(header, RES_MODEL);
    id.copy(header, RES_RECIPIENT);
    eph.publicKey.copy(header, RES_EPHEMERAL);
    header.writeUInt32BE(length, RES_LENGTH);
    return { header, aad: Buffer.concat([RESULT_DOMAIN_BYTES, header]), key: k.key, nonce: k.nonce };
}

/**
 * Encrypts a result to the client's result key. Anyone can do this; the enclave's receipt is what vouches for it.
 * `ephemeral` is a fresh one-time key (e.g. from an EphemeralKeyPool); one is generated when omitted. Never pass
 * the same ephemeral key twice: the key and nonce are derived from it.
 */
export function sealResult(plaintext: Buffer, binding: ResultBinding & { clientResultPublicKey: Buffer }, ephemeral?: EphemeralX25519Key): Buffer {
    arg(Buffer.isBuffer(plaintext), 'result must be a Buffer');
    const s = prepareResultSeal(plaintext.length, binding, ephemeral);
    const out = Buffer.allocUnsafe(RES_HEADER + plaintext.length + GCM_TAG_BYTES);
    s.header.copy(out, 0);
    gcmSealInto(s.key, s.nonce, [s.aad], plaintext, out, RES_HEADER);
    s.key.fill(0);
    return out;
}

export function openResult(bytes: Buffer, binding: ResultBinding, recipient: RecipientKey): Buffer {
    const job = checkResultBinding(binding);
    const length = parseResult(bytes);
    const envNetwork = bytes.readInt32BE(RES_NETWORK);
    if (envNetwork !== binding.networkId) throw new EnvelopeError('WRONG_BINDING', `network id is ${envNetwork}, expected ${binding.networkId}`);
    if (bytes.readInt8(RES_WORKCHAIN) !== job.workChain || !bytes.subarray(RES_JOB_HASH, RES_JOB_HASH + HASH_BYTES).equals(job.hash)) {
        throw new EnvelopeError('WRONG_BINDING', 'result is for another job');
    }
    if (!bytes.subarray(RES_MODEL, RES_MODEL + HASH_BYTES).equals(binding.modelHash)) throw new EnvelopeError('WRONG_BINDING', 'model hash differs from the job');
    const me = toRecipient(recipient);
    if (!bytes.subarray(RES_RECIPIENT, RES_RECIPIENT + RECIPIENT_ID_BYTES).equals(recipientId(me.publicKey))) {
        throw new EnvelopeError('NOT_A_RECIPIENT', 'result is encrypted to another result key');
    }
    const ephPub = bytes.subarray(RES_EPHEMERAL, RES_EPHEMERAL + X25519_KEY_BYTES);
    const shared = me.sharedSecret(ephPub);
    const k = deriveKeyAndNonce(shared, Buffer.concat([ephPub, me.publicKey]), kdfInfo(RESULT_DOMAIN_BYTES, binding.networkId));
    shared.fill(0);
    try {
        return gcmOpen(
            k.key,
            k.nonce,
            [RESULT_DOMAIN_BYTES, bytes.subarray(0, RES_HEADER)],
            bytes.subarray(RES_HEADER, RES_HEADER + length),
            bytes.subarray(RES_HEADER + length),
            'result',
        );
    } finally {
        k.key.fill(0);
    }
}

export { EnvelopeError } from './envelope-error';
export type { EnvelopeErrorCode } from './envelope-error';
export { EphemeralKeyPool, generateEphemeralX25519Key, generateX25519KeyPair, recipientId, x25519PrivateKeyObject, x25519PublicKeyObject, x25519Recipient, exportX25519PublicKey } from './x25519';
export type { EphemeralX25519Key, X25519KeyPair, X25519Recipient } from './x25519';
