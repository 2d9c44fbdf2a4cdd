/**
 * Read-only views over dispatch for the API: a job's status by escrow address (on-chain status + where dispatch
 * stands), queue counts, and the recent jobs the dashboard lists. Only public metadata: ids, addresses, owners,
 * states, failure codes.
 */
import { Address } from '@ton/core';
import { Job } from 'bullmq';
import type { ChainClient } from '../../protocol/chain';
import { AttemptRecord, KEYS, dispatchJobId, ownerOfWorkQueue } from '../../protocol/work';
import type { RedisClient } from '../../protocol/redis';
import { JobEscrow, JobStatusName } from '../../wrappers';
import type { QueueSet } from './queues';
import type { DispatchResult, DispatchState, DispatchStateName } from './types';

export interface DispatchView {
    state: DispatchStateName;
    attempts: AttemptRecord[];
    reason?: string;
}

export interface JobStatusView {
    address: string;
    jobId: string;
    /** on-chain status name (Open, Claimed, Committed, Settled, Cancelled, Expired), or Unknown when unreadable */
    status: string;
    dispatch: DispatchView;
}

export interface RecentJob {
    jobId: string;
    job: string;
    state: DispatchStateName;
    attempts: number;
    owner: string | null;
    reason?: string;
    seenAtMs: number;
}

export type QueueCounts = Record<string, number>;

export interface QueuesView {
    dispatch: QueueCounts;
    'dead-letter': QueueCounts;
    expiry: QueueCounts;
    /** every provider work queue this orchestrator knows, summed, and per owner */
    work: { total: QueueCounts; byProvider: Record<string, QueueCounts> };
}

const COUNT_TYPES = ['waiting', 'active', 'delayed', 'completed', 'failed'] as const;

/** Where a dispatch job stands, from its BullMQ state and data. */
export function dispatchView(job: Job<DispatchState, DispatchResult>, bullState: string): DispatchView {
    const attempts = job.data.attempts ?? [];
    const last = attempts[attempts.length - 1];
    switch (bullState) {
        case 'completed': {
            const rv = job.returnvalue;
            return { state: rv?.state ?? 'finished', attempts, ...(rv?.reason ? { reason: rv.reason } : {}) };
        }
        case 'failed':
            return { state: 'dead', attempts, reason: job.failedReason };
        case 'active':
            return { state: last && !last.outcome ? 'running' : 'routing', attempts, ...(job.data.note ? { reason: job.data.note } : {}) };
        case 'delayed':
            return { state: 'routing', attempts, ...(job.data.note ? { reason: job.data.note } : {}) };
        default:
            return { state: attempts.length === 0 ? 'queued' : 'routing', attempts, ...(job.data.note ? { reason: job.data.note } : {}) };
    }
}

export class DispatchStatus {
    constructor(
        private readonly queues: QueueSet,
        private readonly redis: RedisClient,
        private readonly chain: Pick<ChainClient, 'open'>,
        /** owners whose work queues are counted besides the ones opened here */
        private readonly owners: () => Iterable<string> = () => [],
    ) {}

    /** GET /v1/jobs/:address; null when no JobOpened was seen for the address. */
    async jobStatus(address: string): Promise<JobStatusView | null> {
        const raw = Address.parse(address).toRawString();
        const jobId = await this.redis.get(KEYS.jobByAddress(raw));
        if (!jobId) return null;
        let status = 'Unknown';
        try {
            const s = Number(await this.chain.open(JobEscrow.fromAddress(Address.parseRaw(raw))).getStatus());
            status = JobStatusName[s] ?? String(s);
        } catch {
            // the chain API is down: dispatch state is still worth answering with
        }
        // state first, then the job: a job read before its final state might lack its return value
        const state = await this.queues.dispatch.getJobState(dispatchJobId(jobId));
        const job = state === 'unknown' ? undefined : await Job.fromId<DispatchState, DispatchResult>(this.queues.dispatch, dispatchJobId(jobId));
        let dispatch: DispatchView;
        if (job) {
            dispatch = dispatchView(job, state);
        } else {
            const dead = await Job.fromId(this.queues.deadLetter, dispatchJobId(jobId));
            dispatch = dead
                ? { state: 'dead', attempts: dead.data.attempts ?? [], reason: dead.data.reason }
                : { state: 'finished', attempts: [], reason: 'the dispatch record has expired' };
        }
        return { address: raw, jobId, status, dispatch };
    }

    async queueCounts(): Promise<QueuesView> {
        const counts = async (q: { getJobCounts(...t: string[]): Promise<Record<string, number>> }): Promise<QueueCounts> => {
            const c = await q.getJobCounts(...COUNT_TYPES);
            return Object.fromEntries(COUNT_TYPES.map((t) => [t, c[t] ?? 0]));
        };
        for (const o of this.owners()) this.queues.workQueue(o);
        const byProvider: Record<string, QueueCounts> = {};
        const total: QueueCounts = Object.fromEntries(COUNT_TYPES.map((t) => [t, 0]));
        for (const [name, q] of this.queues.workQueues()) {
            const c = await counts(q);
            byProvider[ownerOfWorkQueue(name) ?? name] = c;
            for (const t of COUNT_TYPES) total[t] += c[t];
        }
        return {
            dispatch: await counts(this.queues.dispatch),
            'dead-letter': await counts(this.queues.deadLetter),
            expiry: await counts(this.queues.expiry),
            work: { total, byProvider },
        };
    }

    /** The newest dispatch jobs (any state), newest first. */
    async recentJobs(limit = 30): Promise<RecentJob[]> {
        const jobs = (await this.queues.dispatch.getJobs([...COUNT_TYPES], 0, limit - 1)) as Job<DispatchState, DispatchResult>[];
        const withState = await Promise.all(jobs.filter(Boolean).map(async (j) => ({ j, s: await j.getState() })));
        return withState
            .sort((a, b) => b.j.timestamp - a.j.timestamp)
            .slice(0, limit)
            .map(({ j, s }) => {
                const v = dispatchView(j, s);
                const last = v.attempts[v.attempts.length - 1];
                return { jobId: j.data.jobId, job: j.data.job, state: v.state, attempts: v.attempts.length, owner: last?.owner ?? null, ...(v.reason ? { reason: v.reason } : {}), seenAtMs: j.data.seenAtMs };
            });
    }
}
