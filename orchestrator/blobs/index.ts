/** Content-addressed store of encrypted job envelopes (input and result) in Redis. docs/orchestrator-api.md. */
export {
    BlobStore,
    BLOB_KINDS,
    DEFAULT_BLOB_PREFIX,
    DEFAULT_BLOB_TTL_SECONDS,
    DEFAULT_MAX_BLOB_BYTES,
    ENVELOPE_MAGIC,
    MAGIC_BYTES,
    checkEnvelopeMagic,
    isBlobHash,
    isBlobKind,
    normalizeBlobHash,
    sha256Hex,
} from './store';
export type { BlobKind, BlobRedis, BlobStoreOptions, PutOptions, PutResult } from './store';
export { BlobError, isBlobError } from './errors';
export type { BlobErrorCode } from './errors';
