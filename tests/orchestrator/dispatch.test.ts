/**
 * The orchestrator service end to end on the devnet and a real redis-server: jobs opened on chain are taken in by
 * the leader's watcher, routed to a provider's work queue under the assignment key, and re-routed, dead-lettered
 * or finished according to what the (in-test) workers answer. Each test restricts its job to some providers with
 * candidates, and runs its own stand-in workers for them.
 */
import { Job } from 'bullmq';
import pino from 'pino';
import { ChainWatcher } from '../../orchestrator/watcher';
import { OrchestratorService } from '../../orchestrator/service';
import type { DispatchResult, DispatchState } from '../../orchestrator/dispatch';
import { waitFor } from '../../localnet/bootstrap';
import { AttemptRecord, KEYS, attemptId, dispatchJobId } from '../../protocol/work';
import { JobEscrow, providerStakeInit } from '../../wrappers';
import { toNano } from '@ton/core';
import { FakeWorker, OpenedTestJob, openJob, startTestNetwork, TestNetwork, waitJobState } from './service-fixture';

const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }, pino.destination(2));
const HB_TTL = 1_500;

describe('orchestrator dispatch', () => {
    let t: TestNetwork;
    let svc: OrchestratorService;
    let A: string, B: string, C: string;
    const stakeOf = new Map<string, string>();
    const workers: FakeWorker[] = [];

    const makeService = (instanceId: string) =>
        new OrchestratorService({
            chain: t.chain,
            registry: t.net.registry,
            redisUrl: t.redisServer.url,
            instanceId,
            api: { port: 0 },
            leaderTtlMs: 1_000,
            watcher: { pollIntervalMs: 100 },
            sync: { refreshIntervalMs: 2_000, heartbeatIntervalMs: 100, heartbeatTtlMs: HB_TTL },
            dispatcher: { retryBaseMs: 200, pollIntervalMs: 200, heartbeatTtlMs: HB_TTL, lockDurationMs: 5_000 },
            logger,
        });

    const worker = (owner: string, behave?: FakeWorker['behave']) => {
        const w = new FakeWorker(t.redisServer.url, owner, stakeOf.get(owner)!, behave);
        workers.push(w);
        return w;
    };

    const dispatchJob = (svcx: OrchestratorService, jobId: string) => Job.fromId<DispatchState, DispatchResult>(svcx.queues.dispatch, dispatchJobId(jobId));

    /** Waits for the dispatch job to complete; returns its result and attempts. */
    const finished = async (j: OpenedTestJob, s = svc, timeoutMs = 30_000) => {
        const job = await waitJobState(s.queues.dispatch, () => dispatchJob(s, j.jobId), 'completed', timeoutMs).catch(async (e) => {
            const d = (await dispatchJob(s, j.jobId))?.data;
            throw new Error(`${(e as Error).message}; note ${d?.note}; attempts ${JSON.stringify(d?.attempts)}`);
        });
        return { result: job.returnvalue as DispatchResult, attempts: (job.data as DispatchState).attempts };
    };

    const waitingWorkItem = async (owner: string, id: string) => waitJobState(svc.queues.workQueue(owner), () => Job.fromId(svc.queues.workQueue(owner), id), 'waiting', 15_000);

    beforeAll(async () => {
        t = await startTestNetwork(['provider-A', 'provider-B', 'provider-C']);
        [A, B, C] = t.owners;
        for (let i = 0; i < 3; i++) stakeOf.set(t.owners[i], (await providerStakeInit(t.net.registry, t.net.providers[i].address)).address.toRawString());
        svc = makeService('o1');
        await svc.start();
        await waitFor(async () => svc.leading, 'o1 to lead', 5_000);
    }, 60_000);

    afterEach(async () => {
        for (const w of workers.splice(0)) await w.close();
    });

    afterAll(async () => {
        await svc.close();
        await t.close();
    });

    test('intake: JobOpened → exactly one dispatch job even when the handler runs twice; job address indexed; routed to the candidate under the assignment key', async () => {
        const a = worker(A);
        await a.startBeating();
        // a second watcher (own cursors) feeds the same events through the same intake handler
        let secondSaw = 0;
        const j = await openJob(t, { candidates: [A] });
        const second = new ChainWatcher({
            chain: t.chain,
            redis: t.redis,
            registry: t.net.registry,
            keyPrefix: 'test:second-watcher:',
            pollIntervalMs: 100,
            logger,
            handler: async (ev, ctx) => {
                if (ev.name === 'JobOpened' && ev.data.jobId.toString() === j.jobId) secondSaw++;
                await svc.intake(ev, ctx);
            },
        });
        await second.start();
        try {
            await waitFor(async () => secondSaw === 1, 'the second watcher to hand JobOpened to the intake', 15_000);
            const id = attemptId(j.jobId, 1);
            const item = await waitingWorkItem(A, id);
            expect(item.data).toMatchObject({ jobId: j.jobId, job: j.raw, attempt: 1, attemptId: id, modelHash: t.model, routedBy: 'o1', price: '200000000' });
            expect(await t.redis.get(KEYS.assignment(j.jobId))).toBe(id);
            expect(await t.redis.get(KEYS.jobByAddress(j.raw))).toBe(j.jobId);
            const all = (await svc.queues.dispatch.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed'])).filter((x) => x.data.jobId === j.jobId);
            expect(all).toHaveLength(1);
            const expiry = await Job.fromId(svc.queues.expiry, `expire-${j.jobId}`);
            expect(await expiry!.getState()).toBe('delayed');
            expect(expiry!.data).toMatchObject({ jobId: j.jobId, job: j.raw });

            // the job status while it runs, then once the worker committed
            const status = async () => (await (await fetch(`${svc.url}/v1/jobs/${encodeURIComponent(j.address.toString())}`)).json()) as { status: { status: string; jobId: string; dispatch: { state: string; attempts: AttemptRecord[] } } };
            expect((await status()).status).toMatchObject({ jobId: j.jobId, status: 'Open', dispatch: { state: 'running' } });
            a.consume();
            const { result, attempts } = await finished(j);
            expect(result).toMatchObject({ state: 'committed', attemptId: id, owner: A });
            expect(attempts).toEqual([expect.objectContaining({ attempt: 1, owner: A, outcome: 'committed' })]);
            expect(a.seen.map((s) => s.attemptId)).toEqual([id]);
            expect((await status()).status.dispatch.state).toBe('committed');
            expect(svc.directory.get(A)!.successCount).toBeGreaterThanOrEqual(1);
        } finally {
            await second.stop();
        }
        expect((await svc.queues.dispatch.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed'])).filter((x) => x.data.jobId === j.jobId)).toHaveLength(1);
    });

    test.each(['CLAIM_LOST', 'WORKER_ERROR'])('%s on the first attempt → re-routed to the other candidate, excluding the first', async (code) => {
        const firstFails: FakeWorker['behave'] = (item) => (item.attempt === 1 ? { fail: `${code}: simulated` } : { complete: true });
        const a = worker(A, firstFails);
        const b = worker(B, firstFails);
        // B reports 3 of 4 slots busy: A scores far higher, so only the exclusion can send attempt 2 to B
        b.load = 3;
        for (const w of [a, b]) {
            await w.startBeating();
            w.consume();
        }
        await waitFor(async () => svc.directory.get(B)!.load === 3 && svc.sync.health(A) === 'healthy', 'the heartbeats in the directory', 5_000);
        const j = await openJob(t, { candidates: [A, B] });
        const { result, attempts } = await finished(j);
        expect(attempts).toHaveLength(2);
        expect(attempts[0]).toMatchObject({ attempt: 1, owner: A, outcome: 'failed', error: `${code}: simulated` });
        expect(attempts[1]).toMatchObject({ attempt: 2, owner: B, outcome: 'committed' });
        expect(result).toMatchObject({ state: 'committed', owner: B, attemptId: attemptId(j.jobId, 2) });
        expect(await t.redis.get(KEYS.assignment(j.jobId))).toBe(attemptId(j.jobId, 2));
        expect(await (await Job.fromId(svc.queues.workQueue(B), attemptId(j.jobId, 2)))!.getState()).toBe('completed');
        expect(a.seen.map((s) => s.attempt)).toEqual([1]);
    });

    test('the only candidate at capacity → the job waits for a free slot with short retries (not the no-provider backoff), then runs there', async () => {
        const a = worker(A);
        a.load = 4; // = its capacity
        await a.startBeating();
        a.consume();
        const j = await openJob(t, { candidates: [A] });
        // busy rounds look again after 100, 200, 400, 800, 1000, 1000 … ms
        await waitFor(async () => ((await dispatchJob(svc, j.jobId))?.data.busyRounds ?? 0) >= 4, 'four busy rounds', 15_000);
        const d = (await dispatchJob(svc, j.jobId))!.data;
        // at most the very first round, before A's heartbeat reached the directory, counted as "no provider"
        expect(d.noProviderRounds ?? 0).toBeLessThanOrEqual(1);
        expect(d.attempts).toHaveLength(0);
        expect(d.note).toMatch(/^AT_CAPACITY: waiting for a free slot \(.*AT_CAPACITY=1.*; next look in (800|1000) ms\)$/);
        a.load = 0;
        await a.heartbeat();
        const { result, attempts } = await finished(j);
        expect(result).toMatchObject({ state: 'committed', owner: A });
        expect(attempts).toHaveLength(1);
        expect((await dispatchJob(svc, j.jobId))!.data.busyRounds).toBeUndefined();
    });

    test('a job cancelled while it waits for a busy provider finishes as ESCROW_NOT_OPEN (the escrow is read every 10th busy round)', async () => {
        const a = worker(A);
        a.load = 4;
        await a.startBeating();
        a.consume();
        const j = await openJob(t, { candidates: [A] });
        await waitFor(async () => ((await dispatchJob(svc, j.jobId))?.data.busyRounds ?? 0) >= 1, 'a busy round', 15_000);
        await t.chain.open(JobEscrow.fromAddress(j.address)).send(t.net.client.wallet, { value: toNano('0.05') }, { $$type: 'CancelJob', queryId: 0n });
        await t.devnet.waitIdle();
        const { result, attempts } = await finished(j);
        expect(result).toEqual({ state: 'finished', reason: 'ESCROW_NOT_OPEN: the escrow is Cancelled' });
        expect(attempts).toHaveLength(0);
        expect(a.seen).toHaveLength(0);
    });

    test('INPUT_REJECTED → dead-lettered at once with the reason, no second provider tried', async () => {
        const ws = [worker(A, () => ({ fail: 'INPUT_REJECTED: the envelope commitment does not match' })), worker(B, () => ({ fail: 'INPUT_REJECTED: the envelope commitment does not match' }))];
        for (const w of ws) {
            await w.startBeating();
            w.consume();
        }
        const j = await openJob(t, { candidates: [A, B] });
        const { result, attempts } = await finished(j);
        expect(result).toEqual({ state: 'dead', reason: 'INPUT_REJECTED: the envelope commitment does not match' });
        expect(attempts).toHaveLength(1);
        const dead = await Job.fromId(svc.queues.deadLetter, dispatchJobId(j.jobId));
        expect(dead!.data.reason).toBe('INPUT_REJECTED: the envelope commitment does not match');
        expect(dead!.data.job.jobId).toBe(j.jobId);
        expect(dead!.data.attempts).toHaveLength(1);
        expect(ws[0].seen.length + ws[1].seen.length).toBe(1);
    });

    test('every provider failing → dead-lettered after the bound (3 attempts, 3 distinct providers)', async () => {
        for (const o of [A, B, C]) {
            const w = worker(o, () => ({ fail: 'WORKER_ERROR: chain unreachable' }));
            await w.startBeating();
            w.consume();
        }
        const j = await openJob(t, { candidates: [A, B, C] });
        const { result, attempts } = await finished(j);
        expect(result.state).toBe('dead');
        expect(result.reason).toBe('EXHAUSTED: 3 attempt(s) failed; last WORKER_ERROR: chain unreachable');
        expect(attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'failed']);
        expect(new Set(attempts.map((a) => a.owner))).toEqual(new Set([A, B, C]));
        const dead = await Job.fromId(svc.queues.deadLetter, dispatchJobId(j.jobId));
        expect(dead!.data.reason).toBe(result.reason);
        expect(dead!.data.attempts).toHaveLength(3);
    });

    test('the only candidate fails transiently (WORKER_ERROR) → retried on it after the backoff, committed', async () => {
        const a = worker(A, (item) => (item.attempt === 1 ? { fail: 'WORKER_ERROR: the chain API timed out' } : { complete: true }));
        await a.startBeating();
        a.consume();
        const j = await openJob(t, { candidates: [A] });
        const { result, attempts } = await finished(j);
        expect(attempts).toHaveLength(2);
        expect(attempts[0]).toMatchObject({ attempt: 1, owner: A, outcome: 'failed', error: 'WORKER_ERROR: the chain API timed out' });
        expect(attempts[1]).toMatchObject({ attempt: 2, owner: A, outcome: 'committed' });
        // the retry waited for the backoff (retryBaseMs 200 · 2^0)
        expect(attempts[1].routedAtMs - attempts[0].routedAtMs).toBeGreaterThanOrEqual(200);
        expect(result).toMatchObject({ state: 'committed', owner: A, attemptId: attemptId(j.jobId, 2) });
        expect(await t.redis.get(KEYS.assignment(j.jobId))).toBe(attemptId(j.jobId, 2));
        expect(a.seen.map((s) => s.attempt)).toEqual([1, 2]);
        expect(await Job.fromId(svc.queues.deadLetter, dispatchJobId(j.jobId))).toBeUndefined();
    });

    test('both candidates fail transiently once → the third attempt goes back to one of them and commits', async () => {
        const failsFirstTime: FakeWorker['behave'] = (item) => (item.attempt <= 2 ? { fail: 'CLAIM_LOST: the claim did not land' } : { complete: true });
        const ws = [worker(A, failsFirstTime), worker(B, failsFirstTime)];
        for (const w of ws) {
            await w.startBeating();
            w.consume();
        }
        const j = await openJob(t, { candidates: [A, B] });
        const { result, attempts } = await finished(j);
        expect(attempts.map((a) => a.outcome)).toEqual(['failed', 'failed', 'committed']);
        // the second attempt avoided the provider that had just failed; the third had no untried one left
        expect(new Set([attempts[0].owner, attempts[1].owner])).toEqual(new Set([A, B]));
        expect([A, B]).toContain(attempts[2].owner);
        expect(result).toMatchObject({ state: 'committed', attemptId: attemptId(j.jobId, 3), owner: attempts[2].owner });
    });

    test('the only candidate goes stale while its item waits, then comes back → abandoned, then retried on it', async () => {
        const a = worker(A);
        await a.startBeating();
        const j = await openJob(t, { candidates: [A] });
        const id1 = attemptId(j.jobId, 1);
        await waitingWorkItem(A, id1);
        a.stopBeating();
        await waitFor(async () => (await Job.fromId(svc.queues.workQueue(A), id1)) === undefined, 'the stale worker\'s waiting item to be removed', 15_000);
        await a.startBeating();
        a.consume();
        const { result, attempts } = await finished(j);
        expect(attempts).toHaveLength(2);
        expect(attempts[0]).toMatchObject({ owner: A, outcome: 'abandoned' });
        expect(attempts[0].error).toMatch(/^ABANDONED: the worker is stale/);
        expect(attempts[1]).toMatchObject({ owner: A, outcome: 'committed' });
        expect(result).toMatchObject({ state: 'committed', attemptId: attemptId(j.jobId, 2) });
        expect(a.seen.map((s) => s.attemptId)).toEqual([attemptId(j.jobId, 2)]);
    });

    test('NOT_A_RECIPIENT on the only candidate → not retried there; dead-lettered at once with the failure', async () => {
        const a = worker(A, () => ({ fail: 'NOT_A_RECIPIENT: the envelope is not sealed to this enclave' }));
        await a.startBeating();
        a.consume();
        const j = await openJob(t, { candidates: [A] });
        const { result, attempts } = await finished(j);
        const reason = 'NO_ELIGIBLE_PROVIDER: every candidate failed this job for good; last NOT_A_RECIPIENT: the envelope is not sealed to this enclave';
        expect(result).toEqual({ state: 'dead', reason });
        expect(attempts).toHaveLength(1);
        expect(a.seen).toHaveLength(1);
        expect((await Job.fromId(svc.queues.deadLetter, dispatchJobId(j.jobId)))!.data.reason).toBe(reason);
    });

    test('a non-retryable failure (JOB_NOT_OPEN) on the only candidate still dead-letters with its code, no retry', async () => {
        const a = worker(A, () => ({ fail: 'JOB_NOT_OPEN: the escrow is Claimed' }));
        await a.startBeating();
        a.consume();
        const j = await openJob(t, { candidates: [A] });
        const { result, attempts } = await finished(j);
        expect(result).toEqual({ state: 'dead', reason: 'JOB_NOT_OPEN: the escrow is Claimed' });
        expect(attempts).toHaveLength(1);
        expect(a.seen).toHaveLength(1);
    });

    test('the routed worker goes stale while its work item waits → removed, abandoned, re-routed to the other candidate', async () => {
        const a = worker(A);
        const b = worker(B);
        await a.startBeating();
        await b.startBeating();
        const j = await openJob(t, { candidates: [A, B] });
        // nobody consumes yet: find which provider attempt 1 went to
        const id1 = attemptId(j.jobId, 1);
        let first = '';
        await waitFor(async () => {
            for (const o of [A, B]) if (await Job.fromId(svc.queues.workQueue(o), id1)) first = o;
            return first !== '';
        }, 'attempt 1 to be queued', 15_000);
        const [dead, alive] = first === A ? [a, b] : [b, a];
        dead.stopBeating();
        alive.consume();
        const { result, attempts } = await finished(j);
        expect(attempts).toHaveLength(2);
        expect(attempts[0]).toMatchObject({ owner: dead.owner, outcome: 'abandoned' });
        expect(attempts[0].error).toMatch(/^ABANDONED: the worker is stale/);
        expect(attempts[1]).toMatchObject({ owner: alive.owner, outcome: 'committed' });
        expect(result.state).toBe('committed');
        expect(await Job.fromId(svc.queues.workQueue(dead.owner), id1)).toBeUndefined();
        expect(dead.seen).toHaveLength(0);
    });

    test('queues and dashboard endpoints answer', async () => {
        const q = (await (await fetch(`${svc.url}/v1/queues`)).json()) as Record<string, any>;
        expect(q['dead-letter'].waiting).toBeGreaterThanOrEqual(2);
        expect(q.dispatch.completed).toBeGreaterThanOrEqual(5);
        expect(Object.keys(q.work.byProvider)).toEqual(expect.arrayContaining([A, B, C]));
        const html = await (await fetch(`${svc.url}/dashboard`)).text();
        expect(html).toContain('<h2>Providers (3)</h2>');
        expect(html).toContain('EXHAUSTED');
        const metrics = await (await fetch(`${svc.url}/metrics`)).text();
        expect(metrics).toMatch(/cocoon_orchestrator_leader 1/);
        expect(metrics).toMatch(/cocoon_dispatch_finished_total\{state="dead"\} [2-9]/);
        expect(metrics).toMatch(/cocoon_api_requests_total/);
        expect(metrics).toMatch(/cocoon_watcher_events_total\{name="JobOpened"\}/);
    });

    test('a graceful stop hands the running job back; the next instance re-attaches to the pending attempt instead of routing again', async () => {
        const a = worker(A);
        await a.startBeating();
        const j = await openJob(t, { candidates: [A] });
        const id1 = attemptId(j.jobId, 1);
        await waitingWorkItem(A, id1);
        await svc.close(); // must not wait for the attempt: the job is handed back

        svc = makeService('o2');
        await svc.start();
        const job = await dispatchJob(svc, j.jobId);
        expect(['delayed', 'waiting', 'active']).toContain(await job!.getState());
        await waitFor(async () => svc.leading, 'o2 to lead', 5_000);
        a.consume();
        const { result, attempts } = await finished(j);
        expect(result).toMatchObject({ state: 'committed', attemptId: id1, owner: A });
        expect(attempts).toHaveLength(1);
        expect(a.seen).toHaveLength(1);
        expect(a.seen[0]).toMatchObject({ attemptId: id1, routedBy: 'o1' });
        expect(await Job.fromId(svc.queues.workQueue(A), attemptId(j.jobId, 2))).toBeUndefined();
    });
});
