/**
 * Wake-ups for dispatchers waiting on work items: one subscriber connection on OUTCOME_CHANNEL per process, a map
 * attemptId → waiters. A message only wakes the waiter up: the outcome itself is always read from the work job
 * (BullMQ), so a lost or duplicated message costs at most one poll interval, never a wrong result.
 */
import type { RedisClient } from '../../protocol/redis';
import { OUTCOME_CHANNEL } from '../../protocol/work';

export class OutcomeWaiters {
    private readonly waiters = new Map<string, Set<() => void>>();
    private started = false;
    private closed = false;
    private readonly onMessage = (channel: string, message: string) => {
        if (channel === OUTCOME_CHANNEL) this.wake(message);
    };

    /** `subscriber` must be a connection of its own (it enters subscriber mode); the caller owns and closes it. */
    constructor(private readonly subscriber: RedisClient) {}

    async start(): Promise<void> {
        if (this.started) return;
        this.started = true;
        this.subscriber.on('message', this.onMessage);
        await this.subscriber.subscribe(OUTCOME_CHANNEL);
    }

    /** Resolves after `ms`, or earlier when `attemptId` is published, or when wakeAll() is called. */
    wait(attemptId: string, ms: number): Promise<void> {
        if (this.closed) return Promise.resolve();
        return new Promise((resolve) => {
            let set = this.waiters.get(attemptId);
            if (!set) {
                set = new Set();
                this.waiters.set(attemptId, set);
            }
            const done = () => {
                clearTimeout(timer);
                const s = this.waiters.get(attemptId);
                s?.delete(done);
                if (s && s.size === 0) this.waiters.delete(attemptId);
                resolve();
            };
            const timer = setTimeout(done, ms);
            set.add(done);
        });
    }

    wake(attemptId: string): void {
        const set = this.waiters.get(attemptId);
        if (set) for (const w of [...set]) w();
    }

    /** Wakes every waiter (shutdown: they notice and hand their jobs back). */
    wakeAll(): void {
        for (const id of [...this.waiters.keys()]) this.wake(id);
    }

    get waiting(): number {
        return this.waiters.size;
    }

    async close(): Promise<void> {
        this.closed = true;
        this.wakeAll();
        this.subscriber.off('message', this.onMessage);
        if (this.started) await this.subscriber.unsubscribe(OUTCOME_CHANNEL).catch(() => undefined);
    }
}
