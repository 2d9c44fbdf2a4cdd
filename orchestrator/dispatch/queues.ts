/**
 * The BullMQ queues one orchestrator talks to: dispatch, dead-letter, expiry, prune, and one `work-<owner>` queue per
 * provider (created on first use and kept). All share one ioredis connection (BullMQ needs
 * `maxRetriesPerRequest: null` on it; a Cluster works as well) and the key prefix (`cocoon`). Each queue's name is
 * its own hash tag (`{dispatch}`, `{work-…}`: protocol/work.ts), so every key of a queue hashes to one Cluster slot
 * and the queues spread over the nodes.
 */
import { Queue } from 'bullmq';
import type { RedisClient } from '../../protocol/redis';
import { DEAD_LETTER_QUEUE, DISPATCH_QUEUE, EXPIRY_QUEUE, PRUNE_QUEUE, QUEUE_PREFIX, WorkItem, workQueueName } from '../../protocol/work';
import type { DispatchState } from './types';

export interface DeadLetter {
    job: DispatchState;
    reason: string;
    attempts: DispatchState['attempts'];
}

export interface ExpiryItem {
    jobId: string;
    /** escrow address, raw */
    job: string;
    deadline: number;
}

/** A registry revocation the leader applies to the providers that still advertise the hash. */
export interface PruneItem {
    kind: 'measurement' | 'model';
    /** the revoked hash, 64 hex digits */
    hash: string;
    /** the registry transaction that revoked it (hex), for the logs */
    revokedIn: string;
}

export class QueueSet {
    readonly dispatch: Queue<DispatchState>;
    readonly deadLetter: Queue<DeadLetter>;
    readonly expiry: Queue<ExpiryItem>;
    readonly prune: Queue<PruneItem>;
    private readonly work = new Map<string, Queue<WorkItem>>();

    constructor(
        readonly connection: RedisClient,
        readonly prefix: string = QUEUE_PREFIX,
    ) {
        this.dispatch = new Queue(DISPATCH_QUEUE, { connection, prefix });
        this.deadLetter = new Queue(DEAD_LETTER_QUEUE, { connection, prefix });
        this.expiry = new Queue(EXPIRY_QUEUE, { connection, prefix });
        this.prune = new Queue(PRUNE_QUEUE, { connection, prefix });
    }

    /** The work queue of a provider (any address form). */
    workQueue(owner: string): Queue<WorkItem> {
        const name = workQueueName(owner);
        let q = this.work.get(name);
        if (!q) {
            q = new Queue<WorkItem>(name, { connection: this.connection, prefix: this.prefix });
            this.work.set(name, q);
        }
        return q;
    }

    /** Work queues opened so far, by name. */
    workQueues(): ReadonlyMap<string, Queue<WorkItem>> {
        return this.work;
    }

    async close(): Promise<void> {
        await Promise.all([this.dispatch, this.deadLetter, this.expiry, this.prune, ...this.work.values()].map((q) => q.close().catch(() => undefined)));
        this.work.clear();
    }
}
