/**
 * A worker process killed (SIGKILL) in the middle of a job, on a real local network: devnet chain, private
 * redis-server, `cocoon orchestrator` and two `cocoon worker` processes (SIMULATED TEE: no hardware protection).
 *
 * The job names both providers as candidates and is an OCR image of many text lines, so that its enclave stage
 * (which runs BEFORE the worker claims on chain) lasts seconds: measured 2.8 s for 10 lines at 28 pt on this 2-core
 * machine, ~280 ms a line. The test watches both providers' work queues every 20 ms, and SIGKILLs the worker whose
 * queue got the active job 600 ms later — inside the enclave stage, before any claim.
 *
 * What must follow (protocol/work.ts, docs/operations.md): the dispatcher sees the worker's heartbeats stop (TTL
 * 10 s), abandons that attempt and routes the job to the other candidate; the survivor runs, claims, commits; the
 * client verifies the result and accepts. On chain the job was claimed exactly once, by the survivor; the killed
 * provider's stake has nothing locked or in flight; the orchestrator's record shows 2 attempts (the first
 * abandoned); and the client paid one price plus one job's fees — the same as a job that never crashed.
 */
import { Address, fromNano, toNano } from '@ton/core';
import { JobResult } from '../../client/sdk';
import { charAccuracy, renderTextImage, requireImageMagick } from '../helpers/media';
import { isAlive } from '../helpers/cli';
import { E2eNetwork, escrowEvents, firstActiveProvider, jobStatus, JobStatusBody, killHard, leftoverProcesses, sleep, startE2eNetwork, waitUntil } from '../helpers/e2e';

const LINES = Array.from({ length: 10 }, (_, i) => `Line ${i + 1} of the crash test document`);
/** after the work item became active: past the escrow read and the envelope fetch, well inside the enclave run */
const KILL_AFTER_ACTIVE_MS = 600;

jest.setTimeout(150_000);

describe('a worker killed mid-job', () => {
    let e: E2eNetwork | undefined;
    const pids: number[] = [];

    beforeAll(async () => {
        requireImageMagick();
        const t0 = Date.now();
        e = await startE2eNetwork({ workers: 2 });
        pids.push(e.net.orchestrator.pid, ...e.net.workers.map((w) => w.pid));
        process.stderr.write(`worker-crash: network up in ${Date.now() - t0} ms\n`);
    }, 150_000);

    afterAll(async () => {
        await e?.stop();
        // nothing this test started may outlive it
        expect(leftoverProcesses(pids)).toEqual([]);
    }, 60_000);

    it('is abandoned and the job completes once on the other candidate, at the price of one job', async () => {
        const net = e!;
        const dumpOnFailure = async <T>(what: string, p: Promise<T>): Promise<T> => {
            try {
                return await p;
            } catch (err) {
                throw new Error(`${what}: ${(err as Error).message}\n--- last network log lines ---\n${net.logs.tail(50)}`);
            }
        };
        const client = net.client();
        const owners = net.net.providers.map((p) => Address.parse(p.owner));
        const input = renderTextImage(LINES.join('\n'), { pointSize: 28 });
        const t0 = Date.now();

        // ---------------------------------------------------------------- the same job without a crash, first
        // Same input, same two candidates, so the same messages and fees as the crash job below: the crash must not
        // cost the client anything more. The client wallet's first transfer also deploys the wallet (≈ 0.003 TON more
        // in import fees), which must fall on neither job: a small transfer (to the treasury) deploys it beforehand.
        await net.clientWallet.transfer([{ to: net.net.bootstrap.treasury.address, value: toNano('0.001'), bounce: false }]);
        const baselineBefore = await net.clientWallet.getBalance();
        const baseline = await client.submit({ model: 'ocr', input, candidates: owners });
        const baselineResult = await dumpOnFailure('waiting for the baseline job', baseline.result({ timeoutMs: 60_000 }));
        await baseline.accept({ timeoutMs: 60_000 });
        baseline.close();
        const baselinePaid = baselineBefore - (await net.clientWallet.getBalance());
        const baselineFees = baselinePaid - baselineResult.price;
        const baselineStatus = await jobStatus(net.net.api, baseline.address);
        expect(baselineStatus?.dispatch.attempts).toHaveLength(1);
        const tBaseline = Date.now();

        // ---------------------------------------------------------------- the crash job
        const tCrash = Date.now();
        const balanceBefore = await net.clientWallet.getBalance();
        const active = firstActiveProvider(net.net.redisUrl, owners.map((o) => o.toRawString()), { timeoutMs: 60_000, intervalMs: 20 });
        active.catch(() => undefined); // awaited below; keep an early rejection from being unhandled
        const handle = await client.submit({ model: 'ocr', input, candidates: owners });
        const taken = await dumpOnFailure('waiting for a worker to take the job', active);
        const tActive = Date.now();
        expect(taken.job).toBe(handle.address.toRawString()); // this job's work item, not a leftover of the baseline
        const victimRaw = taken.owner;
        const victimIndex = owners.findIndex((o) => o.toRawString() === victimRaw);
        const victim = owners[victimIndex];
        const survivor = owners[1 - victimIndex];
        const victimProcess = net.net.workers[victimIndex];
        await sleep(KILL_AFTER_ACTIVE_MS);
        await killHard(victimProcess);
        expect(isAlive(victimProcess.pid)).toBe(false);
        // killed before it claimed: the escrow is still Open (the worker claims only after its enclave run), and the
        // victim's last words are that it started the item — its enclave never finished the job
        const atKill = await handle.status();
        expect(atKill.state).toBe('Open');
        const victimLines = () => net.logs.all().filter((l) => l.startsWith(`[worker ${net.nameOf(victim)}]`));
        const startedLine = (l: string) => l.includes('work item started') && l.includes(`"attemptId":"job-${handle.jobId}-a1"`);
        // (its last output may still be in the pipe for a moment after the exit)
        await waitUntil(`${net.nameOf(victim)}'s "work item started" log line`, async () => victimLines().some(startedLine), { timeoutMs: 5_000, intervalMs: 50 });
        const lines = victimLines();
        const startedAt = lines.findIndex(startedLine);
        expect(lines.slice(startedAt + 1).filter((l) => /confidential job done|job claimed|job committed/.test(l))).toEqual([]);
        process.stderr.write(`worker-crash: ${net.nameOf(victim)} took the job ${tActive - tCrash} ms after submit began; SIGKILLed ${KILL_AFTER_ACTIVE_MS} ms later\n`);

        const result: JobResult = await dumpOnFailure('waiting for the result on the surviving provider', handle.result({ timeoutMs: 90_000 }));
        const tResult = Date.now();
        expect(result.provider.equals(survivor)).toBe(true);
        const text = (result.output as { text: string }).text;
        expect(charAccuracy(LINES.join(' '), text.replace(/\s+/g, ' ').trim())).toBeGreaterThanOrEqual(0.9);

        const settled = await handle.accept({ timeoutMs: 60_000 });
        expect(settled.state).toBe('Settled');
        expect(settled.claim?.provider.equals(survivor)).toBe(true);
        expect(settled.claim?.price).toBe(result.price);
        handle.close();

        // claimed and committed exactly once (the worker's claim carries the receipt), settled once: the escrow's
        // own event log
        const events = await escrowEvents(net.chain, handle.address);
        expect(events).toEqual(['JobClaimedAndCommitted', 'JobSettled']);

        // the killed provider never took the stake lock; the survivor's lock is released by the settlement
        const victimStake = await net.stakeOf(victim);
        expect({ locked: victimStake.locked, inFlight: victimStake.inFlight }).toEqual({ locked: 0n, inFlight: 0n });
        await waitUntil('the survivor’s lock to be released after settlement', async () => {
            const s = await net.stakeOf(survivor);
            return s.locked === 0n && s.inFlight === 0n;
        }, { timeoutMs: 20_000 });

        // the orchestrator's record: attempt 1 on the killed worker abandoned, attempt 2 on the survivor committed
        let status: JobStatusBody | null = null;
        await waitUntil('the orchestrator to record the committed attempt', async () => {
            status = await jobStatus(net.net.api, handle.address);
            return status?.dispatch.state === 'committed';
        }, { timeoutMs: 20_000, describe: () => JSON.stringify(status) });
        const attempts = status!.dispatch.attempts;
        expect(attempts).toHaveLength(2);
        expect(attempts[0]).toMatchObject({ attempt: 1, owner: victim.toRawString(), outcome: 'abandoned' });
        expect(attempts[0].error).toMatch(/^ABANDONED: the worker stopped sending heartbeats while running the work item/);
        expect(attempts[1]).toMatchObject({ attempt: 2, owner: survivor.toRawString(), outcome: 'committed' });
        expect(status!.status).toBe('Settled');

        const paid = balanceBefore - (await net.clientWallet.getBalance());
        const fees = paid - result.price;

        process.stderr.write(
            `worker-crash: crash job paid ${fromNano(paid)} TON (price ${fromNano(result.price)} + fees ${fromNano(fees)}), ` +
                `baseline fees ${fromNano(baselineFees)} (${tBaseline - t0} ms); crash → result ${tResult - tActive} ms; total ${Date.now() - t0} ms\n`,
        );
        expect(result.price).toBe(baselineResult.price);
        expect(fees).toBeGreaterThan(0n);
        // one job's fees, not two: the same as the job that never crashed, to storage-fee rounding (a second OpenJob
        // or claim would cost ≥ 0.03 TON more, a second price ≥ 0.2 TON)
        const diff = fees > baselineFees ? fees - baselineFees : baselineFees - fees;
        expect(diff).toBeLessThan(100_000n); // 0.0001 TON
    });
});
