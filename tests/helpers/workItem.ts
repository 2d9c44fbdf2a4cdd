/**
 * Test helpers that play the client and the dispatcher around a worker: open a confidential job on chain, build its
 * WorkItem, assign and enqueue it the way the dispatcher does, and wait for the worker's OUTCOME_CHANNEL message.
 */
import { Address, Dictionary, toNano } from '@ton/core';
import { Job, Queue } from 'bullmq';
import Redis from 'ioredis';
import { ChainClient, WalletSender } from '../../protocol/chain';
import { generateX25519KeyPair, sealInput } from '../../protocol/envelope';
import { bufferToUint256 } from '../../protocol/receipt';
import { attemptId, KEYS, OUTCOME_CHANNEL, WorkItem } from '../../protocol/work';
import { waitFor } from '../../localnet/bootstrap';
import { JobEscrow, JobStatus, openJobMessage, Registry, tactConstant } from '../../wrappers';

export interface OpenedTestJob {
    jobId: bigint;
    job: Address;
    modelHash: string;
    inputCommitment: string;
    envelope: Buffer;
    resultKeys: ReturnType<typeof generateX25519KeyPair>;
    maxPrice: bigint;
    deadline: number;
}

export interface OpenJobParams {
    chain: ChainClient;
    registry: Address;
    networkId: number;
    client: WalletSender;
    modelHash: string;
    payload: Buffer;
    /** enclave X25519 keys the input is sealed for */
    recipients: Buffer[];
    candidates: Address[];
    maxPrice?: bigint;
    deadlineInSec?: number;
}

/** Seals `payload` for `recipients` and opens an escrow for it (OpenJob from the client wallet); waits until Open. */
export async function openTestJob(p: OpenJobParams): Promise<OpenedTestJob> {
    const resultKeys = generateX25519KeyPair();
    const sealed = sealInput({
        networkId: p.networkId,
        modelHash: Buffer.from(p.modelHash, 'hex'),
        clientResultPublicKey: resultKeys.publicKey,
        recipients: p.recipients,
        payload: p.payload,
    });
    const registry = p.chain.open(Registry.fromAddress(p.registry));
    const maxPrice = p.maxPrice ?? toNano('0.5');
    const deadline = Math.floor(Date.now() / 1000) + (p.deadlineInSec ?? 600);
    const candidates = Dictionary.empty(Dictionary.Keys.Address(), Dictionary.Values.Bool());
    for (const c of p.candidates) candidates.set(c, true);
    const jobId = await registry.getJobCount();
    await registry.send(p.client, { value: maxPrice + tactConstant('OpenJobFee') }, openJobMessage({
        queryId: jobId,
        maxPrice,
        deadline: BigInt(deadline),
        modelHash: BigInt('0x' + p.modelHash),
        inputCommitment: bufferToUint256(sealed.commitment),
        resultKey: bufferToUint256(resultKeys.publicKey),
        candidates,
        network: await registry.getJobNetwork(),
    }));
    const job = await registry.getJobAddress(jobId);
    const escrow = p.chain.open(JobEscrow.fromAddress(job));
    await waitFor(async () => (await escrow.getStatus()) === BigInt(JobStatus.Open), `job ${jobId} to open`);
    return { jobId, job, modelHash: p.modelHash, inputCommitment: sealed.commitment.toString('hex'), envelope: sealed.envelope, resultKeys, maxPrice, deadline };
}

/** The WorkItem the dispatcher would put in the provider's queue for attempt `attempt`. */
export function workItemFor(j: Pick<OpenedTestJob, 'jobId' | 'job' | 'modelHash' | 'inputCommitment' | 'maxPrice' | 'deadline'>, attempt = 1, price = '0'): WorkItem {
    return {
        jobId: j.jobId.toString(),
        job: j.job.toRawString(),
        modelHash: j.modelHash,
        inputCommitment: j.inputCommitment,
        maxPrice: j.maxPrice.toString(),
        deadline: j.deadline,
        attempt,
        attemptId: attemptId(j.jobId, attempt),
        price,
        routedBy: 'test-dispatcher',
        routedAtMs: Date.now(),
    };
}

/** What the dispatcher does: SET the assignment (unless `assignment` names another attempt), then enqueue. */
export async function dispatchItem(redis: Redis, queue: Queue<WorkItem>, item: WorkItem, assignment: string = item.attemptId): Promise<void> {
    await redis.set(KEYS.assignment(item.jobId), assignment);
    await queue.add(item.attemptId, item, { jobId: item.attemptId, attempts: 1 });
}

export interface RecordedOutcome {
    attemptId: string;
    /** the BullMQ job's state when the message arrived (null: the job was removed) */
    state: string | null;
    returnvalue?: unknown;
    failedReason?: string;
}

/**
 * Subscribes to OUTCOME_CHANNEL; for every message reads the work job from the queue at once, so tests can check
 * that the outcome was recorded BEFORE it was published.
 */
export async function outcomeListener(redisUrl: string, queue: Queue<WorkItem>) {
    const sub = new Redis(redisUrl);
    const seen = new Map<string, Promise<RecordedOutcome>>();
    const waiters = new Map<string, (o: Promise<RecordedOutcome>) => void>();
    sub.on('message', (_channel: string, id: string) => {
        const read = (async (): Promise<RecordedOutcome> => {
            const job = await Job.fromId(queue, id);
            if (!job) return { attemptId: id, state: null };
            return { attemptId: id, state: await job.getState(), returnvalue: job.returnvalue, failedReason: job.failedReason };
        })();
        seen.set(id, read);
        waiters.get(id)?.(read);
    });
    await sub.subscribe(OUTCOME_CHANNEL);
    return {
        published: () => [...seen.keys()],
        wait(id: string, timeoutMs = 45_000): Promise<RecordedOutcome> {
            const got = seen.get(id);
            if (got) return got;
            return new Promise<RecordedOutcome>((resolve, reject) => {
                const t = setTimeout(() => reject(new Error(`no outcome published for ${id} within ${timeoutMs} ms`)), timeoutMs);
                waiters.set(id, (p) => {
                    clearTimeout(t);
                    p.then(resolve, reject);
                });
            });
        },
        close: () => sub.quit(),
    };
}
