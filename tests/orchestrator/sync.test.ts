/**
 * DirectorySync against the devnet and a real redis-server: the directory mirrors the providers' contracts and the
 * registry, follows pub/sub change notices at once (the periodic refresh is set to a minute, so only the message
 * can explain the change), and applies heartbeats (load, capacity, draining → capacity 0, staleness).
 */
import { toNano } from '@ton/core';
import pino from 'pino';
import { DirectorySync } from '../../orchestrator/providers';
import { route } from '../../orchestrator/router';
import { waitFor } from '../../localnet/bootstrap';
import { KEYS, PROVIDER_CHANGED_CHANNEL, REGISTRY_CHANGED_CHANNEL } from '../../protocol/work';
import { Registry, providerStakeInit } from '../../wrappers';
import { FakeWorker, startTestNetwork, TestNetwork } from './service-fixture';
import Redis from 'ioredis';

const logger = pino({ level: 'silent' });

describe('DirectorySync', () => {
    let t: TestNetwork;
    let sync: DirectorySync;
    let sub: Redis;
    const workers: FakeWorker[] = [];

    beforeAll(async () => {
        // provider-2 stakes but registers no enclave
        t = await startTestNetwork(['provider-1', 'provider-2'], { register: [true, false] });
        await t.redis.sadd(KEYS.providers, ...t.owners);
        sub = new Redis(t.redisServer.url);
        sync = new DirectorySync({
            chain: t.chain,
            redis: t.redis,
            subscriber: sub,
            registry: t.net.registry,
            refreshIntervalMs: 60_000,
            heartbeatIntervalMs: 100,
            heartbeatTtlMs: 800,
            logger,
        });
        await sync.start();
    }, 60_000);

    afterAll(async () => {
        for (const w of workers) await w.close();
        await sync.stop();
        await sub.quit();
        await t.close();
    });

    test('mirrors stake, enclave record, config snapshot, models and the registry allowlist', () => {
        const [p1, p2] = t.owners;
        const e1 = sync.directory.get(p1)!;
        expect(e1).toBeDefined();
        expect(e1.stake).toBe(toNano('50'));
        expect(e1.locked).toBe(0n);
        expect(e1.active).toBe(true);
        expect(e1.measurement).toBe(t.net.measurement);
        expect(e1.endpoint).toBe('local://provider-1');
        expect(e1.models.get(t.model)).toBe(toNano('0.2'));
        expect(e1.config).toEqual({ minProviderStake: toNano('10'), lockRatioBps: 20000 });
        const e2 = sync.directory.get(p2)!;
        expect(e2.active).toBe(false);
        expect(e2.models.size).toBe(0);
        expect(sync.directory.network.allowedMeasurements.has(t.net.measurement)).toBe(true);
        expect(sync.directory.network.allowedModels.has(t.model)).toBe(true);
        expect(sync.directory.network.minProviderStake).toBe(toNano('10'));
        expect(sync.directory.network.heartbeatTtlMs).toBe(800);
        expect(sync.directory.verifyIndex()).toEqual([]);
    });

    test('heartbeats: unknown → healthy (routable) → draining (capacity 0) → stale', async () => {
        const [p1] = t.owners;
        const job = { jobId: 1n, modelHash: t.model, maxPrice: toNano('0.5'), deadline: Math.floor(Date.now() / 1000) + 600 };
        expect(sync.health(p1)).toBe('unknown');
        expect(route(job, sync.directory, { nowMs: Date.now() }).rejectedCounts).toEqual({ STALE_HEARTBEAT: 1 });

        const stake = (await providerStakeInit(t.net.registry, t.net.providers[0].address)).address.toRawString();
        const w = new FakeWorker(t.redisServer.url, p1, stake);
        workers.push(w);
        await w.startBeating();
        await waitFor(async () => sync.health(p1) === 'healthy', 'a healthy heartbeat', 3_000);
        expect(sync.directory.get(p1)!.capacity).toBe(4);
        expect(route(job, sync.directory, { nowMs: Date.now() }).chosen?.owner).toBe(p1);
        const view = sync.providersForModel(t.model);
        expect(view).toHaveLength(1);
        expect(view[0]).toMatchObject({ owner: p1, price: toNano('0.2').toString(), teeType: 'simulated', healthy: true, capacity: 4, measurement: t.net.measurement });
        expect(view[0].quote).toBe(Buffer.from('simulated quote').toString('base64'));

        w.draining = true;
        await w.heartbeat();
        await waitFor(async () => sync.health(p1) === 'draining', 'the draining flag', 3_000);
        expect(sync.directory.get(p1)!.capacity).toBe(0);
        expect(route(job, sync.directory, { nowMs: Date.now() }).rejectedCounts).toEqual({ AT_CAPACITY: 1 });
        expect(sync.providersForModel(t.model)[0].healthy).toBe(false);

        w.stopBeating();
        await waitFor(async () => sync.health(p1) === 'stale', 'staleness after the ttl', 3_000);
        expect(route(job, sync.directory, { nowMs: Date.now() }).rejectedCounts).toEqual({ STALE_HEARTBEAT: 1 });
    });

    test('a provider-changed message re-reads that provider at once', async () => {
        const [, p2] = t.owners;
        const p = t.net.providers[1];
        const stake = t.chain.open(await providerStakeInit(t.net.registry, p.address));
        await stake.send(p.wallet, { value: toNano('0.1') }, { $$type: 'RequestUnstake', queryId: 0n, amount: toNano('5') });
        await t.devnet.waitIdle();
        expect(sync.directory.get(p2)!.pendingUnstake).toBe(0n); // nothing told the directory yet
        const t0 = Date.now();
        await t.redis.publish(PROVIDER_CHANGED_CHANNEL, p2);
        await waitFor(async () => sync.directory.get(p2)!.pendingUnstake === toNano('5'), 'the unstake request in the directory', 3_000);
        expect(Date.now() - t0).toBeLessThan(2_000);
    });

    test('a registry-changed message re-reads the allowlist: a revoked model leaves routing', async () => {
        const registry = t.chain.open(Registry.fromAddress(t.net.registry));
        await registry.send(t.net.governance.wallet, { value: toNano('0.05') }, { $$type: 'RevokeModel', queryId: 0n, modelHash: BigInt('0x' + t.model) });
        await t.devnet.waitIdle();
        expect(sync.directory.network.allowedModels.has(t.model)).toBe(true);
        await t.redis.publish(REGISTRY_CHANGED_CHANNEL, 'ModelRevoked');
        await waitFor(async () => !sync.directory.network.allowedModels.has(t.model), 'the revocation in the directory', 3_000);
        const r = route({ jobId: 2n, modelHash: t.model, maxPrice: toNano('0.5'), deadline: Math.floor(Date.now() / 1000) + 600 }, sync.directory, { nowMs: Date.now() });
        expect(r.rejectedCounts).toEqual({ MODEL_NOT_ALLOWED: 1 });
    });
});
