/**
 * The leader's pruner on the devnet: when governance revokes a model or a measurement, the orchestrator prunes every
 * provider that still advertises it (PruneProvider from the operator wallet), so none of them can win a claim on a
 * job opened for it, without waiting for anyone else to notice.
 */
import { Address, toNano } from '@ton/core';
import { Job } from 'bullmq';
import pino from 'pino';
import { OrchestratorService } from '../../orchestrator/service';
import { Pruner, PruneResult } from '../../orchestrator/dispatch/pruner';
import { PruneItem, QueueSet } from '../../orchestrator/dispatch/queues';
import { connectRedis } from '../../protocol/redis';
import { KEYS } from '../../protocol/work';
import { waitFor } from '../../localnet/bootstrap';
import { providerEnclave, providerStakeInit, Registry } from '../../wrappers';
import { registerEnclave, startTestNetwork, TestNetwork } from './service-fixture';

const logger = pino({ level: 'silent' });

describe('orchestrator pruner', () => {
    let t: TestNetwork;
    let svc: OrchestratorService;
    const registry = () => t.chain.open(Registry.fromAddress(t.net.registry));
    const stake = async (i: number) => t.chain.open(await providerStakeInit(t.net.registry, Address.parse(t.owners[i])));

    beforeAll(async () => {
        // provider-1 and provider-2 serve the test model (OCR); provider-3 serves only VAD
        t = await startTestNetwork(['provider-1', 'provider-2', 'provider-3'], { register: [true, true, false] });
        await registerEnclave(t.chain, t.net, 2, t.net.models.vad, toNano('0.2'));
        const third = await stake(2);
        await waitFor(async () => (await providerEnclave(third)) !== null, "provider-3's enclave approval");
        svc = new OrchestratorService({
            chain: t.chain,
            registry: t.net.registry,
            redisUrl: t.redisServer.url,
            instanceId: 'pruner-test',
            operator: t.net.operator.wallet,
            api: false,
            leaderTtlMs: 1_000,
            watcher: { pollIntervalMs: 100 },
            logger,
        });
        await svc.start();
        await waitFor(async () => svc.leading, 'the service to lead', 5_000);
        await waitFor(async () => [0, 1, 2].every((i) => svc.directory.get(t.owners[i])?.active === true), 'the providers in the directory', 15_000);
    }, 60_000);

    afterAll(async () => {
        await svc.close();
        await t.close();
    });


    /** The prune jobs of the queue (any state), oldest first. */
    async function pruneJobs(): Promise<Job<PruneItem, PruneResult>[]> {
        const jobs = await svc.queues.prune.getJobs(['completed', 'failed', 'active', 'waiting', 'delayed']);
        return jobs.sort((a, b) => a.timestamp - b.timestamp);
    }

    async function finished(id: string): Promise<Job<PruneItem, PruneResult>> {
        await waitFor(async () => (await svc.queues.prune.getJobState(id)) === 'completed', `prune job ${id} to complete`, 30_000);
        // read once completed: a Job read before that holds no return value
        return (await Job.fromId<PruneItem, PruneResult>(svc.queues.prune, id))!;
    }

    test('a revocation queued for a hash that is allowed again prunes nothing', async () => {
        await svc.queues.prune.add('prune', { kind: 'model', hash: t.model, revokedIn: 'manual' }, { jobId: 'manual-allowed' });
        const job = await finished('manual-allowed');
        expect(job.returnvalue).toEqual({ action: 'none', checked: 0, pruned: [], reason: 'STILL_ALLOWED' });
        expect((await (await stake(0)).getModels()).has(BigInt('0x' + t.model))).toBe(true);
    }, 40_000);

    test('ModelRevoked: the two providers serving the model are pruned from the operator wallet, paying gas only; the third keeps its model', async () => {
        const model = BigInt('0x' + t.model);
        const operator = t.net.operator.wallet;
        const operatorBefore = await operator.getBalance();
        await registry().send(t.net.governance.wallet, { value: toNano('0.05') }, { $$type: 'RevokeModel', queryId: 0n, modelHash: model });
        await waitFor(async () => (await pruneJobs()).some((j) => j.data.kind === 'model' && j.id !== 'manual-allowed'), 'the prune job', 15_000);
        const queued = (await pruneJobs()).find((j) => j.data.kind === 'model' && j.id !== 'manual-allowed')!;
        expect(queued.id).toMatch(/^prune-[0-9a-f]{64}-\d+$/);
        expect(queued.data).toMatchObject({ kind: 'model', hash: t.model });
        const job = await finished(queued.id!);
        expect(job.returnvalue).toEqual({ action: 'pruned', checked: 3, pruned: [t.owners[0], t.owners[1]].sort() });
        for (const i of [0, 1]) expect((await (await stake(i)).getModels()).has(model)).toBe(false);
        expect([...(await (await stake(2)).getModels()).keys()]).toEqual([BigInt('0x' + t.net.models.vad)]);
        // the routing directory follows the providers' EnclaveRevoked events
        await waitFor(async () => [0, 1].every((i) => !svc.directory.get(t.owners[i])?.models.has(t.model)), 'the directory to drop the model', 10_000);
        await t.devnet.waitIdle();
        const spent = operatorBefore - (await operator.getBalance());
        expect(spent).toBeGreaterThan(0n);
        expect(spent).toBeLessThan(toNano('0.05')); // two PruneProviders of 0.05 TON each went out; the rest came back
    }, 60_000);

    test('MeasurementRevoked: every enclave that uses it is deactivated', async () => {
        await registry().send(t.net.governance.wallet, { value: toNano('0.05') }, { $$type: 'RevokeMeasurement', queryId: 0n, measurement: BigInt('0x' + t.net.measurement) });
        await waitFor(async () => (await pruneJobs()).some((j) => j.data.kind === 'measurement'), 'the prune job', 15_000);
        const job = await finished((await pruneJobs()).find((j) => j.data.kind === 'measurement')!.id!);
        expect(job.returnvalue).toEqual({ action: 'pruned', checked: 3, pruned: [...t.owners].sort() });
        for (const i of [0, 1, 2]) expect(await (await stake(i)).getEnclave()).toBeNull();
    }, 60_000);
});

describe('pruner without an operator wallet', () => {
    let t: TestNetwork;

    beforeAll(async () => {
        t = await startTestNetwork(['provider-1']);
    }, 60_000);

    afterAll(async () => {
        await t.close();
    });

    test('reports the providers it cannot prune and sends nothing', async () => {
        const model = BigInt('0x' + t.model);
        await t.chain.open(Registry.fromAddress(t.net.registry)).send(t.net.governance.wallet, { value: toNano('0.05') }, { $$type: 'RevokeModel', queryId: 0n, modelHash: model });
        await t.devnet.waitIdle();
        await t.redis.sadd(KEYS.providers, t.owners[0]); // what the leader's intake records from chain events
        const bull = connectRedis(t.redisServer.url, { redisOptions: { maxRetriesPerRequest: null } });
        const queues = new QueueSet(bull);
        const pruner = new Pruner({ queues, redis: t.redis, chain: t.chain, registry: t.net.registry, logger });
        try {
            await queues.prune.add('prune', { kind: 'model', hash: t.model, revokedIn: 'test' }, { jobId: 'no-operator' });
            await waitFor(async () => (await queues.prune.getJobState('no-operator')) === 'completed', 'the prune job', 15_000);
            const job = await Job.fromId<PruneItem, PruneResult>(queues.prune, 'no-operator');
            expect(job!.returnvalue).toEqual({ action: 'none', checked: 1, pruned: [], reason: 'NO_OPERATOR_WALLET' });
            const stake = t.chain.open(await providerStakeInit(t.net.registry, Address.parse(t.owners[0])));
            expect((await stake.getModels()).has(model)).toBe(true);
        } finally {
            await pruner.close();
            await queues.close();
            await bull.quit();
        }
    }, 40_000);
});
