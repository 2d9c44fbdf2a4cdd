/**
 * Chain access shared by every off-chain part: ChainClient (reads, get methods, transactions, sendBoc, and a
 * ContractProvider for wrappers) and WalletSender (serialized, idempotent sends from a V4R2 / V5R1 wallet).
 * Works against any toncenter v2 JSON-RPC endpoint: toncenter.com, a self-hosted ton-http-api, the local devnet.
 */
import './nativeSha256'; // before anything hashes a cell: Node's SHA-256 for @ton/core (see the module)
export * from './client';
export * from './wallet';
export * from './errors';
export { normalizedMessageHash } from './hash';
export { nativeCellHashing } from './nativeSha256';
export { parseApiStack, serializeApiStack } from './stack';
export { JsonRpcTransport, DEFAULT_RETRY, backoffDelay, normalizeEndpoint } from './transport';
export type { RetryPolicy, TransportOptions, CallOptions, FetchLike } from './transport';
