/**
 * DirectorySync: keeps a ProviderDirectory (orchestrator/router) in step with the chain and the workers.
 *
 *  - chain, every `refreshIntervalMs` (5 s) and at once on pub/sub: the registry's parameters and allowlist, and
 *    for every provider in KEYS.providers ∪ KEYS.workers its ProviderStake state (stake, locks, enclave record,
 *    ProviderConfig snapshot) and model prices. The leader's watcher PUBLISHes PROVIDER_CHANGED_CHANNEL (owner) and
 *    REGISTRY_CHANGED_CHANNEL when events change them, so routing follows the chain within one read.
 *  - workers, every `heartbeatIntervalMs` (1 s): KEYS.workers scores (last heartbeat) and KEYS.worker hashes (load,
 *    capacity, draining, quote...). A draining worker is given capacity 0, so the router skips it (AT_CAPACITY).
 *
 * Addresses of ProviderStake contracts are derived locally (providerStakeInit), never taken from a heartbeat: the
 * chain state read for an owner is always its genuine contract's.
 */
import { Address } from '@ton/core';
import type { RedisClient } from '../../protocol/redis';
import pino, { Logger } from 'pino';
import type { ChainClient } from '../../protocol/chain';
import { HEARTBEAT_TTL_MS, KEYS, PROVIDER_CHANGED_CHANNEL, REGISTRY_CHANGED_CHANNEL, WorkerHeartbeat, decodeHeartbeat, ownerKeyOf } from '../../protocol/work';
import { ProviderDirectory, hashKey } from '../router';
import { ProviderStake, Registry, loadRegistration, providerStakeInit } from '../../wrappers';
import { knownProviderOwners } from './known';
import type { ServiceMetrics } from '../metrics';

/** Registry allowlist bits (contracts/constants.tact AllowMeasurementBit / AllowModelBit). */
const MEASUREMENT_BIT = 1;
const MODEL_BIT = 2;

export type SyncChain = Pick<ChainClient, 'open' | 'isDeployed'>;

export type WorkerHealth = 'healthy' | 'stale' | 'draining' | 'unknown';

/** One provider as GET /v1/providers lists it (strings: JSON). */
export interface ProviderView {
    owner: string;
    stakeContract: string;
    /** nanoTON for the requested model */
    price: string;
    teeType: string;
    /** the attestation quote (base64) from the worker's heartbeat; clients check it against attestationHash */
    quote: string;
    attestationHash: string;
    measurement: string;
    receiptKey: string;
    encryptionKey: string;
    endpoint: string;
    load: number;
    capacity: number;
    lastHeartbeatMs: number | null;
    /** enclave active, measurement allowed, heartbeat fresh, not draining */
    healthy: boolean;
}

export interface DirectorySyncOptions {
    chain: SyncChain;
    /** commands connection */
    redis: RedisClient;
    /** a connection in subscriber mode (shared with other listeners of this process); none: timers only */
    subscriber?: RedisClient;
    registry: Address;
    directory?: ProviderDirectory;
    /** full chain refresh period. Default 5 000 ms */
    refreshIntervalMs?: number;
    /** heartbeat read period. Default 1 000 ms */
    heartbeatIntervalMs?: number;
    /** a worker silent for longer is stale. Default HEARTBEAT_TTL_MS */
    heartbeatTtlMs?: number;
    /** routing policy: time that must be left before a deadline. Default: the directory's (30 s) */
    minTimeLeftMs?: number;
    /** provider contracts read at once during a full refresh. Default 8 */
    concurrency?: number;
    logger?: Logger;
    metrics?: ServiceMetrics;
}

export class DirectorySync {
    readonly directory: ProviderDirectory;
    private readonly log: Logger;
    private readonly heartbeats = new Map<string, WorkerHeartbeat>();
    private readonly stakeAddresses = new Map<string, Address>();
    private readonly refreshIntervalMs: number;
    private readonly heartbeatIntervalMs: number;
    readonly heartbeatTtlMs: number;
    private refreshTimer?: NodeJS.Timeout;
    private heartbeatTimer?: NodeJS.Timeout;
    private running = false;
    private fullRefresh?: Promise<void>;
    private pendingOwners = new Set<string>();
    private pendingRegistry = false;
    private flushTimer?: NodeJS.Timeout;
    private inFlight = new Set<Promise<unknown>>();
    private readonly onMessage = (channel: string, message: string) => {
        if (channel === PROVIDER_CHANGED_CHANNEL) {
            try {
                this.pendingOwners.add(ownerKeyOf(message));
            } catch {
                this.log.warn({ channel }, 'ignored a provider-changed message that is not an address');
                return;
            }
        } else if (channel === REGISTRY_CHANGED_CHANNEL) {
            this.pendingRegistry = true;
        } else return;
        this.scheduleFlush();
    };

    constructor(private readonly opts: DirectorySyncOptions) {
        this.heartbeatTtlMs = opts.heartbeatTtlMs ?? HEARTBEAT_TTL_MS;
        this.directory = opts.directory ?? new ProviderDirectory();
        this.directory.setParams({ heartbeatTtlMs: this.heartbeatTtlMs, ...(opts.minTimeLeftMs !== undefined ? { minTimeLeftMs: opts.minTimeLeftMs } : {}) });
        this.refreshIntervalMs = opts.refreshIntervalMs ?? 5_000;
        this.heartbeatIntervalMs = opts.heartbeatIntervalMs ?? 1_000;
        this.log = (opts.logger ?? pino({ name: 'cocoon-orchestrator' })).child({ component: 'directory-sync' });
    }

    /** First full read (chain + heartbeats), then the timers and the pub/sub listener. */
    async start(): Promise<void> {
        if (this.running) return;
        this.running = true;
        if (this.opts.subscriber) {
            this.opts.subscriber.on('message', this.onMessage);
            await this.opts.subscriber.subscribe(PROVIDER_CHANGED_CHANNEL, REGISTRY_CHANGED_CHANNEL);
        }
        await this.refreshAll();
        await this.readHeartbeats();
        this.refreshTimer = setInterval(() => void this.track(this.refreshAll()), this.refreshIntervalMs);
        this.heartbeatTimer = setInterval(() => void this.track(this.readHeartbeats()), this.heartbeatIntervalMs);
    }

    async stop(): Promise<void> {
        this.running = false;
        clearInterval(this.refreshTimer);
        clearInterval(this.heartbeatTimer);
        clearTimeout(this.flushTimer);
        if (this.opts.subscriber) {
            this.opts.subscriber.off('message', this.onMessage);
            await this.opts.subscriber.unsubscribe(PROVIDER_CHANGED_CHANNEL, REGISTRY_CHANGED_CHANNEL).catch(() => undefined);
        }
        await Promise.allSettled([...this.inFlight]);
    }

    /** Registry parameters and allowlists, then every known provider. Concurrent calls share one run. */
    refreshAll(): Promise<void> {
        if (!this.fullRefresh) {
            this.fullRefresh = (async () => {
                try {
                    await this.refreshRegistry();
                    const owners = await this.knownOwners();
                    for (const o of this.directory.entries()) owners.add(o.owner);
                    await this.forEachLimited([...owners], (o) =>
                        this.refreshProvider(o).catch((e) => this.log.warn({ owner: o, err: (e as Error).message }, 'provider refresh failed')),
                    );
                    this.updateGauges();
                } catch (e) {
                    this.log.warn({ err: (e as Error).message }, 'directory refresh failed; keeping the last view');
                } finally {
                    this.fullRefresh = undefined;
                }
            })();
        }
        return this.fullRefresh;
    }

    async refreshRegistry(): Promise<void> {
        const registry = this.opts.chain.open(Registry.fromAddress(this.opts.registry));
        const [params, allowlist] = await Promise.all([registry.getParams(), registry.getAllowlist()]);
        this.directory.setParams({ minProviderStake: params.minProviderStake, lockRatioBps: Number(params.lockRatioBps) });
        const measurements = new Set<string>();
        const models = new Set<string>();
        for (const [hash, bits] of allowlist) {
            const h = hashKey(hash);
            if ((Number(bits) & MEASUREMENT_BIT) !== 0) measurements.add(h);
            if ((Number(bits) & MODEL_BIT) !== 0) models.add(h);
        }
        const net = this.directory.network;
        for (const m of [...net.allowedMeasurements]) if (!measurements.has(m)) this.directory.markRevoked('measurement', m);
        for (const m of [...net.allowedModels]) if (!models.has(m)) this.directory.markRevoked('model', m);
        for (const m of measurements) this.directory.allowMeasurement(m);
        for (const m of models) this.directory.allowModel(m);
    }

    /** Re-reads one provider's contract; forgets the provider when its contract is not deployed. */
    async refreshProvider(owner: string): Promise<void> {
        const key = ownerKeyOf(owner);
        const address = await this.stakeAddress(key);
        const stake = this.opts.chain.open(ProviderStake.fromAddress(address));
        let state;
        let models;
        try {
            [state, models] = await Promise.all([stake.getState(), stake.getModels()]);
        } catch (e) {
            if (!(await this.opts.chain.isDeployed(address).catch(() => true))) {
                if (this.directory.remove(key)) this.log.info({ owner: key }, 'provider contract is gone; removed from the directory');
                return;
            }
            this.log.warn({ owner: key, err: (e as Error).message }, 'could not read a provider contract; keeping its last state');
            return;
        }
        const reg = state.registration ? loadRegistration(state.registration.beginParse()) : null;
        const prices = new Map<string, bigint>();
        for (const [hash, price] of models) prices.set(hashKey(hash), price);
        this.directory.upsert({
            owner: key,
            stakeContract: address.toRawString(),
            stake: state.stake,
            locked: state.locked,
            pendingUnstake: state.pendingUnstake,
            active: reg?.active ?? false,
            ...(reg
                ? {
                      measurement: reg.record.measurement,
                      attestationHash: reg.record.attestationHash,
                      receiptKey: reg.record.receiptKey,
                      encryptionKey: reg.record.encryptionKey,
                      endpoint: reg.record.endpoint,
                      config: { minProviderStake: reg.config.minProviderStake, lockRatioBps: Number(reg.config.lockRatioBps) },
                  }
                : {}),
            models: prices,
        });
        // a heartbeat read before the provider was known could not be applied then
        const hb = this.heartbeats.get(key);
        if (hb) this.applyHeartbeat(hb);
    }

    /** Worker heartbeats into the directory (load, capacity; draining → capacity 0). */
    async readHeartbeats(): Promise<void> {
        let flat: string[];
        try {
            flat = await this.opts.redis.zrange(KEYS.workers, 0, -1, 'WITHSCORES');
        } catch (e) {
            this.log.warn({ err: (e as Error).message }, 'could not read heartbeats');
            return;
        }
        const scores = new Map<string, number>();
        for (let i = 0; i < flat.length; i += 2) scores.set(flat[i], Number(flat[i + 1]));
        const owners = [...scores.keys()];
        this.applyDepartures(owners);
        if (owners.length === 0) {
            this.updateGauges();
            return;
        }
        const p = this.opts.redis.pipeline();
        for (const o of owners) p.hgetall(KEYS.worker(o));
        const res = (await p.exec()) ?? [];
        const unknown: string[] = [];
        owners.forEach((o, i) => {
            const [err, fields] = res[i] ?? [null, null];
            if (err) return;
            const hb = decodeHeartbeat(fields as Record<string, string>);
            if (!hb) return;
            let key: string;
            try {
                key = ownerKeyOf(hb.owner);
            } catch {
                return;
            }
            // the ZSET score is the protocol's heartbeat clock; the hash may lag a moment behind it
            hb.heartbeatAtMs = Math.max(hb.heartbeatAtMs, scores.get(o) ?? 0);
            this.heartbeats.set(key, hb);
            if (!this.applyHeartbeat(hb)) unknown.push(key);
        });
        // a worker the directory does not know yet: read its contract now rather than at the next full refresh
        for (const o of unknown) if (this.running) void this.track(this.refreshProvider(o).catch(() => undefined));
        this.updateGauges();
    }

    /**
     * A worker that left the live set (a clean stop: it drains, beats once more with `draining`, then ZREMs itself)
     * takes no new work from now on. Its draining beat lasts less than one read interval and is easily missed;
     * without this the directory kept routing to the departed worker until its last beat went stale (10 s), and
     * each such attempt was abandoned, using up one of the job's attempts.
     */
    private applyDepartures(liveOwners: string[]): void {
        const live = new Set<string>();
        for (const o of liveOwners) {
            try {
                live.add(ownerKeyOf(o));
            } catch {
                // not an address: readHeartbeats skips it too
            }
        }
        for (const [key, hb] of this.heartbeats) {
            if (live.has(key) || hb.draining) continue;
            hb.draining = true;
            this.applyHeartbeat(hb);
        }
    }

    /** The last heartbeat of a worker. */
    heartbeat(owner: string): WorkerHeartbeat | undefined {
        return this.heartbeats.get(ownerKeyOf(owner));
    }

    health(owner: string, nowMs = Date.now()): WorkerHealth {
        const hb = this.heartbeats.get(ownerKeyOf(owner));
        if (!hb) return 'unknown';
        if (nowMs - hb.heartbeatAtMs > this.heartbeatTtlMs) return 'stale';
        return hb.draining ? 'draining' : 'healthy';
    }

    /** GET /v1/providers?model=…: every provider serving the model, healthy ones first, then by price. */
    providersForModel(model: string, nowMs = Date.now()): ProviderView[] {
        const m = hashKey(model);
        const out: ProviderView[] = [];
        const net = this.directory.network;
        for (const owner of this.directory.ownersForModel(m)) {
            const e = this.directory.get(owner);
            if (!e) continue;
            const hb = this.heartbeats.get(owner);
            const price = e.models.get(m);
            if (price === undefined) continue;
            const healthy = e.active && net.allowedMeasurements.has(e.measurement) && this.health(owner, nowMs) === 'healthy';
            out.push({
                owner,
                stakeContract: e.stakeContract,
                price: price.toString(),
                teeType: hb?.teeType ?? '',
                quote: hb?.quote ?? '',
                attestationHash: e.attestationHash,
                measurement: e.measurement,
                receiptKey: e.receiptKey,
                encryptionKey: e.encryptionKey,
                endpoint: e.endpoint,
                load: e.load,
                capacity: e.capacity,
                lastHeartbeatMs: Number.isFinite(e.lastHeartbeatMs) ? e.lastHeartbeatMs : null,
                healthy,
            });
        }
        out.sort((a, b) => Number(b.healthy) - Number(a.healthy) || (BigInt(a.price) < BigInt(b.price) ? -1 : BigInt(a.price) > BigInt(b.price) ? 1 : 0));
        return out;
    }

    private applyHeartbeat(hb: WorkerHeartbeat): boolean {
        return this.directory.heartbeat(hb.owner, hb.heartbeatAtMs, { load: hb.load, capacity: hb.draining ? 0 : hb.capacity });
    }

    private knownOwners(): Promise<Set<string>> {
        return knownProviderOwners(this.opts.redis, (entry) => this.log.warn({ key: KEYS.providers, entry }, 'ignored a provider entry that is not an address'));
    }

    private async stakeAddress(owner: string): Promise<Address> {
        let a = this.stakeAddresses.get(owner);
        if (!a) {
            a = (await providerStakeInit(this.opts.registry, Address.parse(owner))).address;
            this.stakeAddresses.set(owner, a);
        }
        return a;
    }

    private scheduleFlush(): void {
        if (this.flushTimer || !this.running) return;
        // coalesce a burst of events (one batch of the watcher) into one read per provider
        this.flushTimer = setTimeout(() => {
            this.flushTimer = undefined;
            const owners = [...this.pendingOwners];
            const registry = this.pendingRegistry;
            this.pendingOwners.clear();
            this.pendingRegistry = false;
            void this.track(
                (async () => {
                    if (registry) await this.refreshRegistry().catch((e) => this.log.warn({ err: (e as Error).message }, 'registry refresh failed'));
                    await this.forEachLimited(owners, (o) => this.refreshProvider(o).catch((e) => this.log.warn({ owner: o, err: (e as Error).message }, 'provider refresh failed')));
                    this.updateGauges();
                })(),
            );
        }, 20);
    }

    private updateGauges(): void {
        const m = this.opts.metrics;
        if (!m) return;
        const now = Date.now();
        const counts = { healthy: 0, stale: 0, draining: 0 };
        for (const owner of this.heartbeats.keys()) {
            const h = this.health(owner, now);
            if (h !== 'unknown') counts[h]++;
        }
        for (const [health, n] of Object.entries(counts)) m.workers.set({ health }, n);
        m.directoryProviders.set(this.directory.size);
    }

    private async forEachLimited<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
        let next = 0;
        const limit = Math.max(1, this.opts.concurrency ?? 8);
        const worker = async () => {
            while (next < items.length) await fn(items[next++]);
        };
        await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
    }

    private track<T>(p: Promise<T>): Promise<T> {
        this.inFlight.add(p);
        void p.finally(() => this.inFlight.delete(p)).catch(() => undefined);
        return p;
    }
}
