/**
 * The orchestrator's chain watcher: typed Cocoon events from the registry, provider and job contracts, delivered
 * in lt order per contract and exactly once in effect (Redis cursor + processed ids in one MULTI). docs/watcher.md.
 */
export { ChainWatcher, watcherBackoff } from './watcher';
export type { ChainWatcherOptions, EventHandler, HandlerContext, WatcherChain, WatcherStats, FollowedInfo } from './watcher';
export { EVENT_DEFS, TERMINAL_JOB_EVENTS, decodeEvent, eventDef, tagHex } from './events';
export type { ChainEvent, ContractKind, EventName, EventOf, EventPayloads, SkipReason, DecodeResult } from './events';
export { WatcherKeys, DEFAULT_KEY_PREFIX, encodeCursor, decodeCursor } from './keys';
export type { Cursor } from './keys';
