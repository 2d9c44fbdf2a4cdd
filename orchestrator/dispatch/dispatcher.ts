/**
 * Dispatcher: a BullMQ Worker on the `dispatch` queue. For each on-chain job it routes an attempt to a provider's
 * work queue, waits for the outcome, and re-routes, dead-letters or stops (protocol/work.ts, docs/operations.md).
 *
 * Everything the dispatcher decides is written to the dispatch job's data (the attempt list) before it acts on it,
 * so a dispatch job that is picked up again — after a crash (stalled job), a hand-back at shutdown, or a backoff —
 * resumes where it stood: the last attempt without an outcome is re-attached to (its work job is found by the
 * deterministic attemptId), never routed a second time.
 *
 * Per attempt: SET KEYS.assignment(jobId) = attemptId (the fencing token the worker checks before it claims), add
 * the WorkItem to `work-<owner>` with job id = attemptId, then wait: a message on OUTCOME_CHANNEL wakes the wait
 * early, a poll every `pollIntervalMs` reads the work job and the worker's heartbeat.
 *   completed → committed;  failed → parseWorkFailure(failedReason);  missing → abandoned;
 *   still waiting and the worker stale or draining → removed, abandoned;  active and the worker stale → abandoned
 *   (the assignment moves on with the next attempt, so the old worker can no longer claim).
 * After a failed or abandoned attempt the escrow is read: not Open any more (claimed by that attempt after all,
 * cancelled, expired) → stop; a non-retryable code → dead-letter; attempts exhausted → dead-letter; else back off
 * (1 s·2^(n−1)) and route again.
 *
 * Which providers the next attempt may go to (exclusionsFor):
 *   - a provider whose failure is about THIS job on THAT provider (STICKY_FAILURES: its enclave cannot open the
 *     envelope, it does not serve the model at the job's price, it cannot finish before the deadline) is never
 *     tried again for the job;
 *   - a provider that failed transiently (WORKER_ERROR, CLAIM_LOST, INPUT_MISSING, DRAINING, an abandoned attempt)
 *     is passed over while another provider is eligible, and tried again when it is the only one left — so a job
 *     whose only provider hit a chain hiccup completes on the retry instead of dead-lettering as
 *     NO_ELIGIBLE_PROVIDER. maxAttempts bounds the retries either way; the router still skips a provider whose
 *     heartbeat is stale or that is draining, so "tried again" only happens once it is healthy.
 * When every candidate the job names has failed it for good, nothing can change before the deadline: the job is
 * dead-lettered at once with the last failure.
 */
import { Address } from '@ton/core';
import { DelayedError, Job, Worker } from 'bullmq';
import pino, { Logger } from 'pino';
import type { ChainClient } from '../../protocol/chain';
import type { RedisClient } from '../../protocol/redis';
import {
    AttemptRecord,
    DISPATCH_QUEUE,
    HEARTBEAT_TTL_MS,
    KEYS,
    NON_RETRYABLE_FAILURES,
    WorkFailureCode,
    WorkItem,
    WorkOutcome,
    attemptId,
    dispatchJobId,
    parseWorkFailure,
} from '../../protocol/work';
import { ProviderDirectory, RouteResult, route } from '../router';
import { JobEscrow, JobStatus, JobStatusName } from '../../wrappers';
import type { ServiceMetrics } from '../metrics';
import type { OutcomeWaiters } from './outcomes';
import type { QueueSet } from './queues';
import type { DispatchResult, DispatchState } from './types';

export interface DispatcherOptions {
    queues: QueueSet;
    /** commands connection (assignment keys, heartbeat reads) */
    redis: RedisClient;
    waiters: OutcomeWaiters;
    directory: ProviderDirectory;
    chain: Pick<ChainClient, 'open'>;
    /** recorded in every WorkItem (routedBy) */
    instanceId: string;
    /** dispatch jobs handled at once. Default 64 */
    concurrency?: number;
    /** providers tried per job before it is dead-lettered. Default 3 */
    maxAttempts?: number;
    /** backoff after a failed attempt: base·2^(n−1). Default 1 000 ms */
    retryBaseMs?: number;
    /** cap of the backoff while no provider is eligible. Default 30 000 ms */
    noProviderMaxDelayMs?: number;
    /**
     * While providers could take the job but all run at capacity, it is looked at again after busyRetryMs·2^(n−1),
     * capped at busyMaxDelayMs: a slot frees whenever a running job ends, so the long no-provider backoff would
     * leave jobs waiting seconds after a worker became free. Defaults 100 and 1 000 ms.
     */
    busyRetryMs?: number;
    busyMaxDelayMs?: number;
    /** poll of a waiting attempt (pub/sub wakes it earlier). Default 1 000 ms */
    pollIntervalMs?: number;
    heartbeatTtlMs?: number;
    /** how long after the deadline a running attempt is still waited for. Default 30 000 ms */
    deadlineGraceMs?: number;
    /** BullMQ lock of a dispatch job: another orchestrator takes a crashed one's jobs over after it. Default 15 000 */
    lockDurationMs?: number;
    /** BullMQ stalled-job check period. Default 5 000 */
    stalledIntervalMs?: number;
    /** times a dispatch job may be taken over after crashes before BullMQ fails it. Default 5 */
    maxStalledCount?: number;
    /** false: create the worker paused-free but do not start (tests drive run() themselves). Default true */
    autorun?: boolean;
    logger?: Logger;
    metrics?: ServiceMetrics;
}

type AttemptResult =
    | { kind: 'committed'; outcome: WorkOutcome }
    | { kind: 'failed'; code: WorkFailureCode; message: string }
    | { kind: 'abandoned'; why: string }
    | { kind: 'handback' };

/** Thrown inside the processor after the job was moved to `delayed`: BullMQ leaves it there. */
class Deferred extends DelayedError {}

const WAITING_STATES = new Set(['waiting', 'delayed', 'prioritized', 'waiting-children']);

/**
 * Failures that say the provider cannot do this job at all, so retrying it there is pointless: its enclave is not a
 * recipient of the envelope, it does not serve the model (or not at the job's price), or it cannot finish before the
 * deadline. Every other retryable failure is transient (a retry on the same provider may succeed).
 */
export const STICKY_FAILURES: ReadonlySet<WorkFailureCode> = new Set(['NOT_A_RECIPIENT', 'NOT_SERVED', 'DEADLINE_TOO_CLOSE']);

/** The providers attempts must avoid: `hard` never again for this job, `soft` only while another one is eligible. */
export function exclusionsFor(attempts: readonly AttemptRecord[]): { hard: Set<string>; soft: Set<string> } {
    const hard = new Set<string>();
    const soft = new Set<string>();
    for (const a of attempts) {
        if (a.outcome !== 'failed' && a.outcome !== 'abandoned') continue;
        const code = a.outcome === 'failed' ? parseWorkFailure(a.error).code : null;
        if (code !== null && STICKY_FAILURES.has(code)) hard.add(a.owner);
        else soft.add(a.owner);
    }
    for (const o of hard) soft.delete(o);
    return { hard, soft };
}

const NO_PROVIDER = 'NO_ELIGIBLE_PROVIDER: ';

/**
 * Why a job found no provider: the counts of each rejection (or that nobody serves the model). When the look comes
 * after the deadline got too close, it says nothing about the providers, so the previous look's reasons (the job's
 * note) come first: they are why the job was not routed while there was time.
 */
export function noProviderReason(res: Pick<RouteResult, 'rejectedCounts' | 'jobRejected'>, previousNote?: string): string {
    const why = Object.entries(res.rejectedCounts).map(([k, v]) => `${k}=${v}`).join(', ') || (res.jobRejected ? `${res.jobRejected} (no provider serves the model)` : 'no provider serves the model');
    const before = res.jobRejected === 'DEADLINE_TOO_CLOSE' && previousNote?.startsWith(NO_PROVIDER) ? previousNote.slice(NO_PROVIDER.length) : undefined;
    return NO_PROVIDER + (before ? `${before}; then ${why}` : why);
}

export class Dispatcher {
    readonly worker: Worker<DispatchState, DispatchResult>;
    private readonly log: Logger;
    private readonly o: Required<Omit<DispatcherOptions, 'logger' | 'metrics' | 'stalledIntervalMs'>> & { stalledIntervalMs: number };
    private closing = false;

    constructor(private readonly opts: DispatcherOptions) {
        // short enough that a crashed instance's jobs move on within ~20 s; the processor only awaits Redis and timers,
        // so its lock is renewed on time
        const lockDurationMs = opts.lockDurationMs ?? 15_000;
        this.o = {
            queues: opts.queues,
            redis: opts.redis,
            waiters: opts.waiters,
            directory: opts.directory,
            chain: opts.chain,
            instanceId: opts.instanceId,
            concurrency: opts.concurrency ?? 64,
            maxAttempts: opts.maxAttempts ?? 3,
            retryBaseMs: opts.retryBaseMs ?? 1_000,
            noProviderMaxDelayMs: opts.noProviderMaxDelayMs ?? 30_000,
            busyRetryMs: opts.busyRetryMs ?? 100,
            busyMaxDelayMs: opts.busyMaxDelayMs ?? 1_000,
            pollIntervalMs: opts.pollIntervalMs ?? 1_000,
            heartbeatTtlMs: opts.heartbeatTtlMs ?? HEARTBEAT_TTL_MS,
            deadlineGraceMs: opts.deadlineGraceMs ?? 30_000,
            lockDurationMs,
            stalledIntervalMs: opts.stalledIntervalMs ?? 5_000,
            maxStalledCount: opts.maxStalledCount ?? 5,
            autorun: opts.autorun ?? true,
        };
        this.log = (opts.logger ?? pino({ name: 'cocoon-orchestrator' })).child({ component: 'dispatcher', instance: opts.instanceId });
        this.worker = new Worker<DispatchState, DispatchResult>(DISPATCH_QUEUE, (job, token) => this.process(job, token), {
            connection: opts.queues.connection,
            prefix: opts.queues.prefix,
            concurrency: this.o.concurrency,
            lockDuration: lockDurationMs,
            stalledInterval: this.o.stalledIntervalMs,
            maxStalledCount: this.o.maxStalledCount,
            autorun: this.o.autorun,
        });
        this.worker.on('error', (e) => this.log.warn({ err: e.message }, 'dispatch worker error'));
        this.worker.on('failed', (job, err) => void this.onFailed(job, err));
    }

    /**
     * Stops taking dispatch jobs; the ones in progress hand themselves back (moved to `delayed`, due at once) so
     * another orchestrator resumes them from their recorded attempts.
     */
    async close(): Promise<void> {
        this.closing = true;
        this.o.waiters.wakeAll();
        await this.worker.close();
    }

    /** The BullMQ processor: one dispatch job, resumed from its data. */
    async process(job: Job<DispatchState, DispatchResult>, token?: string): Promise<DispatchResult> {
        const d: DispatchState = { ...job.data, attempts: [...(job.data.attempts ?? [])] };
        const log = this.log.child({ jobId: d.jobId, job: d.job });
        const m = this.opts.metrics;
        for (;;) {
            if (this.closing) return this.defer(job, token, d, Date.now(), 'handed back at shutdown');
            const last = d.attempts[d.attempts.length - 1];
            if (last && !last.outcome) {
                m?.dispatchInFlight.inc({ state: 'running' });
                let r: AttemptResult;
                try {
                    r = await this.awaitAttempt(d, last);
                } finally {
                    m?.dispatchInFlight.dec({ state: 'running' });
                }
                if (r.kind === 'handback') return this.defer(job, token, d, Date.now(), 'handed back at shutdown');
                const latencyMs = Date.now() - last.routedAtMs;
                this.o.directory.adjustLoad(last.owner, -1);
                if (r.kind === 'committed') {
                    last.outcome = 'committed';
                    await job.updateData(d);
                    this.o.directory.recordOutcome(last.owner, { ok: true, latencyMs });
                    m?.attempts.inc({ outcome: 'committed' });
                    m?.attemptSeconds.observe({ outcome: 'committed' }, latencyMs / 1000);
                    log.info({ attemptId: last.attemptId, owner: last.owner, ms: latencyMs, outputCommitment: r.outcome.outputCommitment }, 'attempt committed');
                    return this.finish({ state: 'committed', attemptId: last.attemptId, owner: last.owner, outputCommitment: r.outcome.outputCommitment });
                }
                last.outcome = r.kind;
                last.error = r.kind === 'failed' ? `${r.code}: ${r.message}` : `ABANDONED: ${r.why}`;
                await job.updateData(d);
                this.o.directory.recordOutcome(last.owner, { ok: false });
                m?.attempts.inc({ outcome: r.kind });
                m?.attemptSeconds.observe({ outcome: r.kind }, latencyMs / 1000);
                log.warn({ attemptId: last.attemptId, owner: last.owner, outcome: r.kind, error: last.error }, 'attempt did not commit');

                const status = await this.escrowStatus(d);
                if (status !== JobStatus.Open) {
                    return this.finish({ state: 'finished', reason: `ESCROW_NOT_OPEN: the escrow is ${JobStatusName[status] ?? status} after attempt ${last.attempt} (${last.error})` });
                }
                if (r.kind === 'failed' && NON_RETRYABLE_FAILURES.has(r.code)) return this.deadLetter(d, last.error);
                const failed = d.attempts.filter((a) => a.outcome === 'failed' || a.outcome === 'abandoned').length;
                if (failed >= this.o.maxAttempts) return this.deadLetter(d, `EXHAUSTED: ${failed} attempt(s) failed; last ${last.error}`);
                const delay = this.o.retryBaseMs * 2 ** (failed - 1);
                return this.defer(job, token, d, Date.now() + delay, `retrying after ${last.error}`);
            }
            if (last?.outcome === 'committed') return this.finish({ state: 'committed', attemptId: last.attemptId, owner: last.owner });

            // ---- route the next attempt
            if (Date.now() >= d.deadline * 1000) return this.deadLetter(d, 'DEADLINE_PASSED: no provider committed before the deadline');
            const { hard, soft } = exclusionsFor(d.attempts);
            const routable = { jobId: d.jobId, modelHash: d.modelHash, maxPrice: BigInt(d.maxPrice), deadline: d.deadline, candidates: d.candidates };
            const t0 = process.hrtime.bigint();
            let res = route(routable, this.o.directory, { nowMs: Date.now(), exclude: new Set([...hard, ...soft]) });
            if (!res.chosen && soft.size > 0) {
                // nobody else is eligible: a provider that only failed transiently gets another try
                res = route(routable, this.o.directory, { nowMs: Date.now(), exclude: hard });
                if (res.chosen) log.info({ owner: res.chosen.owner, failedBefore: d.attempts.filter((a) => a.owner === res.chosen!.owner).length }, 'no other provider is eligible: retrying one that failed transiently');
            }
            m?.routeSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
            // AT_CAPACITY is the last eligibility check: a provider rejected for it passed every other one, only busy
            const busy = !res.chosen && (res.rejectedCounts.AT_CAPACITY ?? 0) > 0;
            // The escrow is read before every attempt and every no-provider round; a job waiting for a busy
            // provider's slot looks again every second, so it reads the chain only every 10th round.
            if (!busy || ((d.busyRounds ?? 0) + 1) % 10 === 0) {
                const status = await this.escrowStatus(d);
                if (status !== JobStatus.Open) return this.finish({ state: 'finished', reason: `ESCROW_NOT_OPEN: the escrow is ${JobStatusName[status] ?? status}` });
            }
            if (!res.chosen && hard.size > 0 && d.candidates.length > 0 && d.candidates.every((c) => hard.has(c))) {
                const lastHard = [...d.attempts].reverse().find((a) => hard.has(a.owner) && a.outcome === 'failed');
                return this.deadLetter(d, `NO_ELIGIBLE_PROVIDER: every candidate failed this job for good; last ${lastHard?.error ?? 'unknown'}`);
            }
            if (!res.chosen) {
                const lastUseful = d.deadline * 1000 - this.o.directory.network.minTimeLeftMs;
                const rounds = busy ? (d.busyRounds ?? 0) + 1 : (d.noProviderRounds ?? 0) + 1;
                const delay = busy
                    ? Math.min(this.o.busyMaxDelayMs, this.o.busyRetryMs * 2 ** (rounds - 1))
                    : Math.min(this.o.noProviderMaxDelayMs, this.o.retryBaseMs * 2 ** (rounds - 1));
                if (Date.now() + delay >= lastUseful) return this.deadLetter(d, noProviderReason(res, d.note));
                if (busy) d.busyRounds = rounds;
                else d.noProviderRounds = rounds;
                // a busy wait looks again every second: only its first round is worth an info line
                log[busy && rounds > 1 ? 'debug' : 'info']({ rounds, delayMs: delay, busy, rejected: res.rejectedCounts }, busy ? 'every eligible provider is at capacity' : 'no eligible provider yet');
                m?.dispatchInFlight.inc({ state: 'routing' });
                try {
                    const counts = Object.entries(res.rejectedCounts).map(([k, v]) => `${k}=${v}`).join(', ');
                    return await this.defer(job, token, d, Date.now() + delay, busy ? `AT_CAPACITY: waiting for a free slot (${counts}; next look in ${delay} ms)` : noProviderReason(res));
                } finally {
                    m?.dispatchInFlight.dec({ state: 'routing' });
                }
            }
            const chosen = res.chosen;
            d.busyRounds = undefined;
            await this.sendAttempt(job, d, chosen.owner, chosen.price);
            log.info({ attemptId: d.attempts[d.attempts.length - 1].attemptId, owner: chosen.owner, score: chosen.score, price: chosen.price.toString() }, 'attempt routed');
        }
    }

    /** Records attempt n, takes the assignment for it and queues the work item (in that order: see the file header). */
    private async sendAttempt(job: Job<DispatchState, DispatchResult>, d: DispatchState, owner: string, price: bigint): Promise<void> {
        const n = d.attempts.length + 1;
        const id = attemptId(d.jobId, n);
        const now = Date.now();
        const rec: AttemptRecord = { attempt: n, attemptId: id, owner, routedAtMs: now };
        d.attempts.push(rec);
        d.note = undefined;
        await job.updateData(d);
        const untilDeadlineMs = d.deadline * 1000 - now;
        await this.o.redis.set(KEYS.assignment(d.jobId), id, 'PX', Math.max(1_000, untilDeadlineMs + 3_600_000));
        const item: WorkItem = {
            jobId: d.jobId,
            job: d.job,
            modelHash: d.modelHash,
            inputCommitment: d.inputCommitment,
            maxPrice: d.maxPrice,
            deadline: d.deadline,
            attempt: n,
            attemptId: id,
            price: price.toString(),
            routedBy: this.o.instanceId,
            routedAtMs: now,
        };
        // kept until well after the deadline: the dispatcher reads the outcome from the work job itself
        const keepSec = Math.max(3_600, Math.ceil(untilDeadlineMs / 1000) + 3_600);
        await this.o.queues.workQueue(owner).add('work', item, { jobId: id, attempts: 1, removeOnComplete: { age: keepSec }, removeOnFail: { age: keepSec } });
        this.o.directory.adjustLoad(owner, +1);
    }

    /** Waits for one attempt's outcome (see the file header). */
    private async awaitAttempt(d: DispatchState, rec: AttemptRecord): Promise<AttemptResult> {
        const queue = this.o.queues.workQueue(rec.owner);
        const giveUpAt = d.deadline * 1000 + this.o.deadlineGraceMs;
        for (;;) {
            if (this.closing) return { kind: 'handback' };
            // state first, then the job: its result fields are written together with the final state, so reading
            // them after seeing that state never catches a half-updated job
            const state = await queue.getJobState(rec.attemptId);
            if (state === 'unknown') return { kind: 'abandoned', why: 'the work item is gone from the provider queue' };
            if (state === 'completed' || state === 'failed') {
                const wj = await Job.fromId<WorkItem, WorkOutcome>(queue, rec.attemptId);
                if (!wj) return { kind: 'abandoned', why: 'the work item is gone from the provider queue' };
                if (state === 'completed') {
                    const out = wj.returnvalue as WorkOutcome | null;
                    if (out && out.status === 'committed' && typeof out.outputCommitment === 'string') return { kind: 'committed', outcome: out };
                    return { kind: 'failed', code: 'WORKER_ERROR', message: 'the work item completed without a WorkOutcome' };
                }
                const f = parseWorkFailure(wj.failedReason);
                return { kind: 'failed', code: f.code, message: f.message };
            }
            const health = await this.workerHealth(rec.owner);
            if (WAITING_STATES.has(state) && health !== 'healthy') {
                try {
                    const wj = await Job.fromId(queue, rec.attemptId);
                    if (!wj) continue;
                    await wj.remove();
                    return { kind: 'abandoned', why: `the worker is ${health} and had not started the work item` };
                } catch {
                    // taken by the worker meanwhile (locked): look again
                    continue;
                }
            }
            if (state === 'active' && health === 'stale') return { kind: 'abandoned', why: 'the worker stopped sending heartbeats while running the work item' };
            if (Date.now() > giveUpAt) return { kind: 'abandoned', why: 'the deadline passed while the work item was still running' };
            await this.o.waiters.wait(rec.attemptId, this.o.pollIntervalMs);
        }
    }

    /** From Redis directly (not the directory's 1 s copy): the decision to abandon should see the freshest beat. */
    private async workerHealth(owner: string): Promise<'healthy' | 'stale' | 'draining'> {
        const res = await this.o.redis.pipeline().zscore(KEYS.workers, owner).hget(KEYS.worker(owner), 'draining').exec();
        const score = res?.[0]?.[1] as string | null;
        const draining = res?.[1]?.[1] as string | null;
        if (score === null || score === undefined || Date.now() - Number(score) > this.o.heartbeatTtlMs) return 'stale';
        return draining === '1' ? 'draining' : 'healthy';
    }

    private async escrowStatus(d: DispatchState): Promise<number> {
        return Number(await this.o.chain.open(JobEscrow.fromAddress(Address.parse(d.job))).getStatus());
    }

    /** Moves the dispatch job to `delayed` until `at` (state saved first) and leaves the processor. */
    private async defer(job: Job<DispatchState, DispatchResult>, token: string | undefined, d: DispatchState, at: number, note: string): Promise<never> {
        d.note = note;
        await job.updateData(d);
        await job.moveToDelayed(at, token);
        throw new Deferred();
    }

    private async deadLetter(d: DispatchState, reason: string): Promise<DispatchResult> {
        await this.o.queues.deadLetter.add('dead', { job: d, reason, attempts: d.attempts }, { jobId: dispatchJobId(d.jobId) });
        this.log.warn({ jobId: d.jobId, job: d.job, attempts: d.attempts.length, reason }, 'job dead-lettered');
        return this.finish({ state: 'dead', reason });
    }

    private finish(r: DispatchResult): DispatchResult {
        this.opts.metrics?.dispatchFinished.inc({ state: r.state });
        return r;
    }

    /** A dispatch job BullMQ gave up on (unexpected errors on every retry) still ends in the dead-letter queue. */
    private async onFailed(job: Job<DispatchState, DispatchResult> | undefined, err: Error): Promise<void> {
        if (!job || err instanceof DelayedError || err.name === 'DelayedError') return;
        const max = job.opts.attempts ?? 1;
        if (job.attemptsMade < max) {
            this.log.warn({ jobId: job.data.jobId, attemptsMade: job.attemptsMade, err: err.message }, 'dispatch step failed; BullMQ retries it with backoff');
            return;
        }
        try {
            await this.deadLetter(job.data, `DISPATCH_ERROR: ${err.message}`);
        } catch (e) {
            this.log.error({ jobId: job.data.jobId, err: (e as Error).message }, 'could not dead-letter a failed dispatch job');
        }
    }
}
