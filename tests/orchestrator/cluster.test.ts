/**
 * The off-chain system on a real Redis Cluster (3 masters, started by the test with redis-server --cluster-enabled
 * and redis-cli --cluster create): the key layout keeps every multi-key group in one slot while the groups spread
 * over the nodes; the chain watcher's WATCH/MULTI commits exactly once with two watchers racing; and the
 * orchestrator service (intake, dispatch, heartbeats, job status) routes, retries and completes jobs through it.
 */
import { Job } from 'bullmq';
import pino from 'pino';
import { Devnet, startDevnet } from '../../devnet';
import { ChainWatcher } from '../../orchestrator/watcher';
import { OrchestratorService } from '../../orchestrator/service';
import type { DispatchResult, DispatchState } from '../../orchestrator/dispatch';
import { waitFor } from '../../localnet/bootstrap';
import { ChainClient } from '../../protocol/chain';
import { connectRedis, isCluster, parseRedisUrl, RedisClient } from '../../protocol/redis';
import { DISPATCH_QUEUE, KEYS, QUEUE_PREFIX, WATCHER_KEY_PREFIX, attemptId, dispatchJobId, workQueueName } from '../../protocol/work';
import { providerStakeInit } from '../../wrappers';
import { RedisCluster, startRedisCluster } from '../helpers/redis';
import { deployNetwork, emittedEvents } from './devnet-network';
import { deployEmitter } from './emitter';
import { FakeWorker, openJob, startTestNetwork, TestNetwork, waitJobState } from './service-fixture';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }, pino.destination(2));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Redis URLs', () => {
    test('single node and cluster URLs parse; mistakes are refused with what to write instead', () => {
        expect(parseRedisUrl('redis://:pw@10.0.0.1:6380/2')).toEqual({ kind: 'single', options: { host: '10.0.0.1', port: 6380, password: 'pw', db: 2 } });
        expect(parseRedisUrl('redis+cluster://u:p%40ss@a.example:7000,10.0.0.2:7001,[::1]:7002')).toEqual({
            kind: 'cluster',
            nodes: [
                { host: 'a.example', port: 7000 },
                { host: '10.0.0.2', port: 7001 },
                { host: '::1', port: 7002 },
            ],
            options: { username: 'u', password: 'p@ss' },
        });
        expect(parseRedisUrl('rediss+cluster://h:1').options).toEqual({ tls: {} });
        expect(() => parseRedisUrl('http://h:1')).toThrow('the Redis URL must start with redis://, rediss://, redis+cluster:// or rediss+cluster://, got http:// ("http://h:1")');
        expect(() => parseRedisUrl('redis+cluster://h1:7000,h2')).toThrow('the Redis Cluster URL "redis+cluster://h1:7000,h2": seed node "h2" must be host:port (port 1-65535)');
        expect(() => parseRedisUrl('redis+cluster://:secret@h1:7000/3')).toThrow('the Redis Cluster URL "redis+cluster://:***@h1:7000/3" names database "3": a cluster has only database 0, drop the /3');
        expect(() => parseRedisUrl('redis://h1:7000,h2:7001')).toThrow('names several hosts: a Redis Cluster is redis+cluster://host:port,host:port');
        expect(() => parseRedisUrl('localhost:6379')).toThrow('is not a URL');
    });
});

describe('on a 3-master Redis Cluster', () => {
    let cluster: RedisCluster;
    let redis: RedisClient;

    beforeAll(async () => {
        cluster = await startRedisCluster();
        redis = connectRedis(cluster.url);
    }, 30_000);

    afterAll(async () => {
        await redis?.quit();
        await cluster?.stop();
    });

    const slotOf = async (key: string) => Number(await redis.call('CLUSTER', 'KEYSLOT', key));

    test('the key layout: each group that is written together in one slot; queues, workers and the watcher on different slots', async () => {
        expect(isCluster(redis)).toBe(true);
        const owner = '0:' + 'ab'.repeat(32);
        // the watcher's MULTI: its keys plus the intake's writes
        const chain = await Promise.all([WATCHER_KEY_PREFIX + 'cursor:' + owner, WATCHER_KEY_PREFIX + 'follow', KEYS.providers, KEYS.jobByAddress(owner)].map(slotOf));
        expect(new Set(chain).size).toBe(1);
        // the heartbeat MULTI and the dispatcher's pipeline
        const workers = await Promise.all([KEYS.workers, KEYS.worker(owner)].map(slotOf));
        expect(new Set(workers).size).toBe(1);
        // a BullMQ queue's keys
        const dispatch = await Promise.all(['wait', 'active', 'meta', 'job-1', 'events'].map((k) => slotOf(`${QUEUE_PREFIX}:${DISPATCH_QUEUE}:${k}`)));
        expect(new Set(dispatch).size).toBe(1);
        const work = await slotOf(`${QUEUE_PREFIX}:${workQueueName(owner)}:wait`);
        expect(new Set([chain[0], workers[0], dispatch[0], work]).size).toBe(4);
    });

    describe('with the devnet', () => {
        let devnet: Devnet;
        let chain: ChainClient;

        beforeAll(async () => {
            devnet = await startDevnet({ port: 0 });
            chain = new ChainClient({ endpoint: devnet.endpoint, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } });
        }, 30_000);

        afterAll(async () => {
            await devnet?.close();
        });

        test('a watcher key prefix without the {chain} hash tag is refused on a cluster', async () => {
            const net = await deployNetwork(devnet, 'cluster-prefix');
            expect(() => new ChainWatcher({ chain, redis, registry: net.registry.address, keyPrefix: 'plain:watcher:', handler: () => undefined, logger })).toThrow(
                `on a Redis Cluster the watcher's keyPrefix must carry the {chain} hash tag (e.g. 'cocoon:{chain}:watcher:'), got "plain:watcher:"`,
            );
        });

        test("the watcher's WATCH/MULTI commits every batch exactly once, two watchers racing", async () => {
            const net = await deployNetwork(devnet, 'cluster-dedupe');
            const em = await deployEmitter(devnet, 21);
            for (const n of [30, 30]) await em.generate(n, BigInt(n));
            for (let i = 0; i < 6; i++) await net.governanceEvent(i);
            const prefix = 'test:{chain}:cluster-dedupe:';
            const list = `${prefix}delivered`;
            const make = () =>
                new ChainWatcher({
                    chain,
                    redis,
                    registry: net.registry.address,
                    keyPrefix: prefix,
                    pollIntervalMs: 20,
                    batchSize: 10,
                    logger,
                    // the handler's write joins the batch's MULTI (same slot as the cursor): it lands exactly once
                    handler: async (ev, ctx) => {
                        await sleep(2);
                        ctx.multi.rpush(list, ev.id);
                    },
                });
            const a = make();
            const b = make();
            await a.follow(em.address, 'other');
            await Promise.all([a.start(), b.start()]);
            const want = [...emittedEvents(devnet, net.registry.address), ...emittedEvents(devnet, em.address)].map((e) => e.id);
            expect(want.length).toBe(66);
            try {
                await waitFor(async () => (await redis.llen(list)) >= want.length, `${want.length} events delivered`, 30_000);
                await sleep(300);
            } finally {
                await Promise.all([a.stop(), b.stop()]);
            }
            const got = await redis.lrange(list, 0, -1);
            expect(got.length).toBe(want.length);
            expect(new Set(got)).toEqual(new Set(want));
            expect(a.stats().events + b.stats().events).toBe(want.length);
            expect(a.stats().errors.redis + b.stats().errors.redis).toBe(0);
        }, 60_000);
    });

    describe('the orchestrator service', () => {
        let t: TestNetwork;
        let svc: OrchestratorService;
        const workers: FakeWorker[] = [];
        const stakeOf = new Map<string, string>();

        beforeAll(async () => {
            // the network's Redis is the cluster (its stop() stays with the outer afterAll)
            t = await startTestNetwork(['provider-A', 'provider-B'], { redis: { url: cluster.url, stop: async () => undefined } });
            for (let i = 0; i < 2; i++) stakeOf.set(t.owners[i], (await providerStakeInit(t.net.registry, t.net.providers[i].address)).address.toRawString());
            svc = new OrchestratorService({
                chain: t.chain,
                registry: t.net.registry,
                redisUrl: cluster.url,
                instanceId: 'cluster-o1',
                api: { port: 0 },
                leaderTtlMs: 1_000,
                watcher: { pollIntervalMs: 100 },
                sync: { refreshIntervalMs: 2_000, heartbeatIntervalMs: 100, heartbeatTtlMs: 1_500 },
                dispatcher: { retryBaseMs: 200, pollIntervalMs: 200, heartbeatTtlMs: 1_500, lockDurationMs: 5_000 },
                logger,
            });
            await svc.start();
            await waitFor(async () => svc.leading, 'the instance to lead', 10_000);
        }, 60_000);

        afterEach(async () => {
            for (const w of workers.splice(0)) await w.close();
        });

        afterAll(async () => {
            await svc?.close();
            await t?.close();
        });

        const finished = async (jobId: string) => {
            const job = await waitJobState(svc.queues.dispatch, () => Job.fromId<DispatchState, DispatchResult>(svc.queues.dispatch, dispatchJobId(jobId)), 'completed', 30_000);
            return { result: job.returnvalue as DispatchResult, attempts: (job.data as DispatchState).attempts };
        };

        test('a job: intake (watcher MULTI) → dispatch → a transient failure → retried on the only candidate → committed; status and queues answer', async () => {
            const [A] = t.owners;
            const w = new FakeWorker(cluster.url, A, stakeOf.get(A)!, (item) => (item.attempt === 1 ? { fail: 'WORKER_ERROR: the chain API timed out' } : { complete: true }));
            workers.push(w);
            await w.startBeating();
            w.consume();
            const j = await openJob(t, { candidates: [A] });
            const { result, attempts } = await finished(j.jobId);
            expect(attempts.map((a) => [a.owner, a.outcome])).toEqual([
                [A, 'failed'],
                [A, 'committed'],
            ]);
            expect(result).toMatchObject({ state: 'committed', owner: A, attemptId: attemptId(j.jobId, 2) });
            expect(await redis.get(KEYS.assignment(j.jobId))).toBe(attemptId(j.jobId, 2));
            // written by the intake inside the watcher's MULTI
            expect(await redis.get(KEYS.jobByAddress(j.raw))).toBe(j.jobId);
            const status = (await (await fetch(`${svc.url}/v1/jobs/${encodeURIComponent(j.address.toString())}`)).json()) as { status: { jobId: string; dispatch: { state: string } } };
            expect(status.status).toMatchObject({ jobId: j.jobId, dispatch: { state: 'committed' } });
            const q = (await (await fetch(`${svc.url}/v1/queues`)).json()) as { dispatch: { completed: number }; work: { byProvider: Record<string, { completed: number; failed: number }> } };
            expect(q.dispatch.completed).toBeGreaterThanOrEqual(1);
            expect(q.work.byProvider[A]).toMatchObject({ completed: 1, failed: 1 });
        }, 45_000);

        test('two providers: the one whose worker is stale is passed over; the heartbeats (MULTI in the {workers} slot) reach the directory', async () => {
            const [A, B] = t.owners;
            const a = new FakeWorker(cluster.url, A, stakeOf.get(A)!);
            const b = new FakeWorker(cluster.url, B, stakeOf.get(B)!);
            workers.push(a, b);
            await a.heartbeat(); // one beat, then silence: stale after the TTL
            await b.startBeating();
            b.consume();
            await waitFor(async () => svc.sync.health(B) === 'healthy' && svc.sync.health(A) === 'stale', 'A stale and B healthy in the directory', 10_000);
            const j = await openJob(t, { candidates: [A, B] });
            const { result, attempts } = await finished(j.jobId);
            expect(attempts).toHaveLength(1);
            expect(result).toMatchObject({ state: 'committed', owner: B });
        }, 45_000);
    });
});
