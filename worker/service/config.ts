/**
 * Static settings of a worker process: default prices, timing budgets, and the two conversions every caller needs
 * (a Redis URL to connection options, `--price` specs to a model-hash → nanoTON map).
 */
import { toNano } from '@ton/core';
import IORedis, { RedisOptions } from 'ioredis';
import { connectRedis, parseRedisUrl, redactUrl as redact, RedisClient } from '../../protocol/redis';
import { JobTask } from '../inference/catalog';

/** Price per job a worker asks unless told otherwise, by task (TON). */
export const DEFAULT_PRICES_TON: Record<JobTask, string> = { ocr: '0.2', vad: '0.1', tensor: '0.05' };

/** Jobs with less time than this before their deadline are refused before any work (run + claim + commit). */
export const MIN_TIME_LEFT_MS = 20_000;
/** How long the worker waits for its claim to show on the escrow, and for the receipt to commit. */
export const CHAIN_CONFIRM_TIMEOUT_MS = 30_000;
/** Escrow re-reads while waiting for the chain. */
export const CHAIN_POLL_MS = 100;
/** BullMQ lock of a running work item; renewed every half of it, so a long inference run does not lose it. */
export const LOCK_DURATION_MS = 30_000;
/** ClaimJob value: covers the stake contract, the escrow's OfferClaim and a possible lock release; the rest returns. */
export const CLAIM_VALUE = toNano('0.05');
/** RegisterEnclave value: covers CheckEnclave at the registry and EnclaveApproved; the rest returns (cashback). */
export const REGISTER_VALUE = toNano('0.1');
/** How long start() waits for the registry to approve a new enclave record. */
export const REGISTRATION_TIMEOUT_MS = 60_000;

/**
 * Where the worker's Redis is: a URL — redis://, rediss://, or redis+cluster://host:port,host:port for a Redis
 * Cluster (protocol/redis.ts) — or ioredis options of one node.
 */
export type RedisConnection = string | RedisOptions;

/**
 * ioredis options of a single-node Redis URL (or a copy of the options given). A cluster URL has no such options
 * (it names several nodes): this throws for it; use openRedis().
 */
export function redisOptions(connection: RedisConnection): RedisOptions {
    if (typeof connection !== 'string') return { ...connection };
    const parsed = parseRedisUrl(connection);
    if (parsed.kind === 'cluster') throw new Error(`${JSON.stringify(redact(connection))} is a Redis Cluster URL: open it with openRedis(), it has no single-node options`);
    return parsed.options;
}

/** Validates a Redis connection up front (URL syntax, cluster seeds); throws naming the problem. */
export function checkRedisConnection(connection: RedisConnection): void {
    if (typeof connection === 'string') parseRedisUrl(connection);
}

/** A new connection (one node or a cluster) with `extra` ioredis options, e.g. `maxRetriesPerRequest: null` for BullMQ. */
export function openRedis(connection: RedisConnection, extra: RedisOptions = {}): RedisClient {
    if (typeof connection !== 'string') return new IORedis({ ...connection, ...extra });
    return connectRedis(connection, { redisOptions: extra });
}

/** A URL without its password, for messages. */
export function redactUrl(u: string): string {
    return redact(u);
}

/** A model the engine serves, as the price resolution sees it. */
export interface ServedModel {
    task: JobTask;
    modelHash: string;
}

/**
 * Prices (model hash hex → nanoTON) for the served models: the defaults by task, overridden by `overrides`, whose
 * keys are a task name (ocr|vad|tensor) or a model hash (64 hex). An override for a model the engine does not serve
 * is an error (a typo would otherwise silently keep the default).
 */
export function resolvePrices(served: readonly ServedModel[], overrides: Record<string, bigint> = {}): Record<string, bigint> {
    if (served.length === 0) throw new Error('the inference engine serves no model: check the catalog');
    const prices: Record<string, bigint> = {};
    for (const m of served) prices[m.modelHash] = toNano(DEFAULT_PRICES_TON[m.task]);
    for (const [key, price] of Object.entries(overrides)) {
        const k = key.toLowerCase().replace(/^0x/, '');
        const matches = /^[0-9a-f]{64}$/.test(k) ? served.filter((m) => m.modelHash === k) : served.filter((m) => m.task === k);
        if (matches.length === 0) {
            throw new Error(`price for "${key}": this worker does not serve that model (served: ${served.map((m) => `${m.task}=${m.modelHash}`).join(', ')})`);
        }
        if (price <= 0n || price >= 1n << 64n) throw new Error(`price for "${key}" must be positive and below 2^64 nanoTON`);
        for (const m of matches) prices[m.modelHash] = price;
    }
    return prices;
}

/** `<model>=<TON>` (e.g. `ocr=0.25`) → [model, nanoTON]; throws naming the spec when it is malformed. */
export function parsePriceSpec(spec: string): [string, bigint] {
    const m = /^([A-Za-z]+|(?:0x)?[0-9a-fA-F]{64})=(\d+(?:\.\d{1,9})?)$/.exec(spec.trim());
    if (!m) throw new Error(`price "${spec}" must look like <model>=<TON>, model being ocr|vad|tensor or a 64-hex hash, e.g. ocr=0.25`);
    return [m[1].toLowerCase(), toNano(m[2])];
}
