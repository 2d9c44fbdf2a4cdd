/**
 * Shared set-up of the orchestrator service tests: a private redis-server, the in-process devnet, a bootstrapped
 * network whose providers registered enclave records (random keys, the allowed measurement, the OCR model), jobs
 * opened by the client wallet, and small in-test workers: a BullMQ Worker on a provider's work queue that completes
 * with a WorkOutcome or fails with a code, plus the heartbeats a real worker writes.
 */
import { randomBytes } from 'crypto';
import { Address, Dictionary, toNano } from '@ton/core';
import { Job, Worker } from 'bullmq';
import { startDevnet, Devnet } from '../../devnet';
import { bootstrapNetwork, BootstrappedNetwork, waitFor } from '../../localnet/bootstrap';
import { ChainClient } from '../../protocol/chain';
import {
    encodeHeartbeat,
    KEYS,
    OUTCOME_CHANNEL,
    QUEUE_PREFIX,
    WorkItem,
    WorkOutcome,
    WorkerHeartbeat,
    workQueueName,
} from '../../protocol/work';
import { connectRedis, RedisClient } from '../../protocol/redis';
import { JobEscrow, JobStatus, openJobMessage, providerEnclave, providerStakeInit, tactConstant } from '../../wrappers';
import { startRedis } from '../helpers/redis';

/** The Redis a test network uses: a private redis-server, or a Redis Cluster (tests/helpers/redis.ts). */
export interface TestRedis {
    /** redis://… or redis+cluster://… */
    url: string;
    stop(): Promise<void>;
}

export interface TestNetwork {
    redisServer: TestRedis;
    /** commands connection (a Cluster connection on a cluster) */
    redis: RedisClient;
    devnet: Devnet;
    chain: ChainClient;
    net: BootstrappedNetwork;
    model: string;
    /** provider owners (raw), in bootstrap order */
    owners: string[];
    close(): Promise<void>;
}

/** `opts.redis`: run on this Redis (e.g. a cluster) instead of a private redis-server; it is stopped by close(). */
export async function startTestNetwork(providers: string[], opts: { register?: boolean[]; redis?: TestRedis } = {}): Promise<TestNetwork> {
    const redisServer: TestRedis = opts.redis ?? (await startRedis());
    const redis = connectRedis(redisServer.url);
    const devnet = await startDevnet({ port: 0 });
    const chain = new ChainClient({ endpoint: devnet.endpoint });
    const net = await bootstrapNetwork({ chain: devnet, providers, params: { maxJobDuration: 3600n } });
    const model = net.models.ocr;
    for (let i = 0; i < net.providers.length; i++) {
        if (opts.register && opts.register[i] === false) continue;
        await registerEnclave(chain, net, i, model, toNano('0.2'));
    }
    await devnet.waitIdle();
    for (let i = 0; i < net.providers.length; i++) {
        if (opts.register && opts.register[i] === false) continue;
        const stake = chain.open(await providerStakeInit(net.registry, net.providers[i].address));
        await waitFor(async () => (await providerEnclave(stake)) !== null, `${providers[i]}'s enclave approval`);
    }
    return {
        redisServer,
        redis,
        devnet,
        chain,
        net,
        model,
        owners: net.providers.map((p) => p.address.toRawString()),
        close: async () => {
            await redis.quit();
            await devnet.close();
            await redisServer.stop();
        },
    };
}

/** RegisterEnclave from provider i's wallet: random keys (no enclave runs here), the allowed measurement. */
export async function registerEnclave(chain: ChainClient, net: BootstrappedNetwork, i: number, model: string, price: bigint): Promise<void> {
    const p = net.providers[i];
    const stake = chain.open(await providerStakeInit(net.registry, p.address));
    const prices = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.BigUint(64));
    prices.set(BigInt('0x' + model), price);
    const rnd = () => BigInt('0x' + randomBytes(32).toString('hex'));
    await stake.send(p.wallet, { value: toNano('0.1') }, {
        $$type: 'RegisterEnclave',
        queryId: 0n,
        record: { $$type: 'EnclaveRecord', receiptKey: rnd(), encryptionKey: rnd(), measurement: BigInt('0x' + net.measurement), attestationHash: rnd(), endpoint: `local://${p.name}` },
        models: prices,
    });
}

export interface OpenedTestJob {
    jobId: string;
    address: Address;
    raw: string;
}

/** The client opens an escrow (real OpenJob through its wallet). */
export async function openJob(t: TestNetwork, o: { candidates?: string[]; deadlineInSec?: number; maxPrice?: bigint } = {}): Promise<OpenedTestJob> {
    const registry = t.chain.open((await import('../../wrappers')).Registry.fromAddress(t.net.registry));
    const candidates = Dictionary.empty(Dictionary.Keys.Address(), Dictionary.Values.Bool());
    for (const c of o.candidates ?? []) candidates.set(Address.parse(c), true);
    const maxPrice = o.maxPrice ?? toNano('0.5');
    const jobId = await registry.getJobCount();
    await registry.send(t.net.client.wallet, { value: maxPrice + tactConstant('OpenJobFee') }, openJobMessage({
        maxPrice,
        deadline: BigInt(Math.floor(Date.now() / 1000) + (o.deadlineInSec ?? 600)),
        modelHash: BigInt('0x' + t.model),
        inputCommitment: BigInt('0x' + randomBytes(32).toString('hex')),
        resultKey: BigInt('0x' + randomBytes(32).toString('hex')),
        candidates,
        network: await registry.getJobNetwork(),
    }));
    await t.devnet.waitIdle();
    const address = await registry.getJobAddress(jobId);
    await waitFor(async () => Number(await t.chain.open(JobEscrow.fromAddress(address)).getStatus()) === JobStatus.Open, `job ${jobId} to open`);
    return { jobId: jobId.toString(), address, raw: address.toRawString() };
}

export type Behaviour = { complete: true } | { fail: string };

/**
 * A stand-in worker for one provider: heartbeats (ZSET + HASH, like the real worker) and, unless `consume` is
 * false, a BullMQ Worker on its work queue that answers each item per `behave`, then PUBLISHes the attemptId.
 */
export class FakeWorker {
    readonly seen: WorkItem[] = [];
    worker?: Worker<WorkItem, WorkOutcome>;
    private beat?: NodeJS.Timeout;
    draining = false;
    /** jobs in flight the heartbeat reports (of capacity 4): a higher load makes the router prefer others */
    load = 0;
    private readonly conn: RedisClient;

    constructor(
        readonly redisUrl: string,
        readonly owner: string,
        readonly stakeContract: string,
        public behave: (item: WorkItem) => Behaviour = () => ({ complete: true }),
    ) {
        this.conn = connectRedis(redisUrl, { redisOptions: { maxRetriesPerRequest: null } });
    }

    async heartbeat(): Promise<void> {
        const now = Date.now();
        const hb: WorkerHeartbeat = {
            owner: this.owner,
            stakeContract: this.stakeContract,
            instance: `fake-${this.owner.slice(2, 8)}`,
            load: this.load,
            capacity: 4,
            endpoint: 'local://fake',
            models: {},
            teeType: 'simulated',
            quote: Buffer.from('simulated quote').toString('base64'),
            attestationHash: '00'.repeat(32),
            startedAtMs: now,
            heartbeatAtMs: now,
            draining: this.draining,
        };
        await this.conn.multi().hset(KEYS.worker(this.owner), encodeHeartbeat(hb)).zadd(KEYS.workers, now, this.owner).exec();
    }

    /** Heartbeats every 300 ms from now on. */
    async startBeating(): Promise<void> {
        await this.heartbeat();
        this.beat = setInterval(() => void this.heartbeat().catch(() => undefined), 300);
    }

    stopBeating(): void {
        clearInterval(this.beat);
        this.beat = undefined;
    }

    /** Starts consuming the provider's work queue. */
    consume(): void {
        this.worker = new Worker<WorkItem, WorkOutcome>(
            workQueueName(this.owner),
            async (job: Job<WorkItem>) => {
                const item = job.data;
                this.seen.push(item);
                try {
                    const b = this.behave(item);
                    if ('fail' in b) throw new Error(b.fail);
                    return {
                        status: 'committed',
                        jobId: item.jobId,
                        attemptId: item.attemptId,
                        owner: this.owner,
                        outputCommitment: randomBytes(32).toString('hex'),
                        timingsMs: { enclave: 1 },
                    };
                } finally {
                    // after BullMQ recorded the outcome
                    setTimeout(() => void this.conn.publish(OUTCOME_CHANNEL, item.attemptId).catch(() => undefined), 20);
                }
            },
            { connection: this.conn, prefix: QUEUE_PREFIX, concurrency: 2 },
        );
    }

    async close(): Promise<void> {
        this.stopBeating();
        await this.worker?.close();
        await this.conn.quit();
    }
}

/**
 * Waits until the BullMQ job reaches `want` and returns it read AFTER that state was seen (a job object read
 * earlier may predate its return value / failure reason).
 */
export async function waitJobState(queue: { name: string }, getJob: () => Promise<Job | undefined>, want: string, timeoutMs = 30_000): Promise<Job> {
    let state = '';
    await waitFor(
        async () => {
            const job = await getJob();
            state = job ? await job.getState() : 'missing';
            return state === want;
        },
        `${queue.name} job to be ${want}`,
        timeoutMs,
    ).catch((e) => {
        throw new Error(`${(e as Error).message} (last state ${state})`);
    });
    return (await getJob())!;
}
