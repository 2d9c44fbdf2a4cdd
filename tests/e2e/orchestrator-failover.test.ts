/**
 * The leading orchestrator SIGKILLed and restarted under a stream of jobs, on a real local network: devnet chain,
 * private redis-server, two `cocoon worker` processes (SIMULATED TEE: no hardware protection) and two
 * `cocoon orchestrator` processes on the same Redis and chain (the one localnet/up.ts starts, and a second one).
 *
 * The test finds the leader (KEYS.leader holds its instance id; every ready line prints its instance), gives the
 * client the OTHER orchestrator's API (as a load balancer would once the leader is gone), and submits 6 small
 * tensor jobs (the shipped MLP, binary tensor form) ~0.7 s apart; right after the 2nd submit it SIGKILLs the leader
 * and restarts it (same flags, same port) 8 s later. The workers were given the first orchestrator's API for blobs
 * (localnet/up.ts), so when that one leads, the jobs the new leader dispatches meanwhile (the lease moves 4–8 s
 * after the kill) reach workers whose blob API is down until the restart: they must wait for it, not fail the job
 * on every provider (worker/service/blobs.ts retries for 30 s).
 *
 * What must follow (docs/operations.md, "Leader election and failover"): the lease expires (6 s), another instance
 * leads and resumes the chain watcher from the stored cursor, so no JobOpened is missed or doubled; dispatch jobs
 * the dead instance held are taken over once their BullMQ lock expires (30 s lock, 30 s stalled check: up to a
 * minute) and re-attach to their recorded attempt instead of routing again. So: every job is Settled after accept,
 * claimed exactly once on chain, its dispatch record has exactly one committed attempt (the claimer's), there are
 * no dead letters, the leadership moved, and the watcher cursor reached the registry's last transaction.
 */
import { Address } from '@ton/core';
import { JobHandle, JobResult } from '../../client/sdk';
import { decodeCursor, WatcherKeys } from '../../orchestrator/watcher/keys';
import { decodeTensorResponse, encodeTensorRequest } from '../../protocol/tensor-binary';
import { KEYS } from '../../protocol/work';
import { ManagedChild } from '../../localnet/processes';
import { loadCatalog, sessionOptionsFor, SHIPPED_MODEL_HASHES } from '../../worker/inference';
import * as ort from '../../worker/inference/ort';
import { MLP_FILE } from '../../worker/models/make-mlp';
import { freePort } from '../helpers/net';
import { E2eNetwork, escrowEvents, jobStatus, JobStatusBody, killHard, leftoverProcesses, queueCounts, sleep, startE2eNetwork, waitUntil } from '../helpers/e2e';

const JOBS = 6;
const SPACING_MS = 700;
const KILL_AFTER_SUBMIT = 2;
/** past the lease handover (≤ 8 s), so that jobs are dispatched while the killed API is still down */
const RESTART_AFTER_MS = 8_000;
const ROWS = 2;

jest.setTimeout(240_000);

/** A distinct deterministic input per job, so each result can be checked against its own reference. */
function inputOf(job: number): Float32Array {
    const x = new Float32Array(ROWS * 64);
    let s = 7919 * (job + 1);
    for (let i = 0; i < x.length; i++) {
        s = (s * 1103515245 + 12345) >>> 0;
        x[i] = (s / 0x100000000 - 0.5) * 4;
    }
    return x;
}

describe('the leading orchestrator killed and restarted under a stream of jobs', () => {
    let e: E2eNetwork | undefined;
    let second: ManagedChild | undefined;
    let direct: ort.InferenceSession | undefined;
    const pids: number[] = [];
    /** closed in afterAll too: a failed test must not leave their escrow pollers running */
    const handles: JobHandle[] = [];

    beforeAll(async () => {
        const t0 = Date.now();
        e = await startE2eNetwork({ workers: 2 });
        pids.push(e.net.orchestrator.pid, ...e.net.workers.map((w) => w.pid));
        second = await e.startOrchestrator('orchestrator-2', await freePort());
        pids.push(second.pid);
        const catalog = await loadCatalog();
        direct = await ort.InferenceSession.create(MLP_FILE, sessionOptionsFor(catalog.byHash.get(SHIPPED_MODEL_HASHES.tensor)!));
        process.stderr.write(`orchestrator-failover: network + 2nd orchestrator up in ${Date.now() - t0} ms\n`);
    }, 180_000);

    afterAll(async () => {
        for (const h of handles) h.close();
        await direct?.release();
        await e?.stop();
        expect(leftoverProcesses(pids)).toEqual([]);
    }, 60_000);

    it('moves the leadership, misses no job, and settles every job once', async () => {
        const net = e!;
        const fail = (what: string, err: unknown) => new Error(`${what}: ${(err as Error).message}\n--- last network log lines ---\n${net.logs.tail(80)}`);
        const first = net.net.orchestrator;
        const both = [first, second!];
        const owners = net.net.providers.map((p) => Address.parse(p.owner));
        const tensor = net.net.network.models.tensor;

        // ---------------------------------------------------------------- who leads
        const leaderId = await waitUntil('one of the two orchestrators to hold the leader lease', async () => {
            const id = await net.redis.get(KEYS.leader);
            return both.some((o) => o.ready.instance === id) ? (id as string) : undefined;
        }, { timeoutMs: 20_000 });
        const leader = both.find((o) => o.ready.instance === leaderId)!;
        const follower = both.find((o) => o !== leader)!;
        const followerApi = String(follower.ready.api);
        const leaderPort = Number(new URL(String(leader.ready.api)).port);
        // the client needs the follower's directory to list both workers (it syncs from the chain and heartbeats)
        await waitUntil(`${follower.name} to list both workers as healthy`, async () => {
            const res = await fetch(`${followerApi}/v1/providers?model=${tensor}`);
            const body = (await res.json()) as { providers: { owner: string; healthy: boolean }[] };
            return owners.every((o) => body.providers.some((p) => p.owner === o.toRawString() && p.healthy));
        }, { timeoutMs: 30_000 });
        const client = net.client(followerApi);
        const cursorKey = new WatcherKeys().cursor(net.net.bootstrap.registry);
        const cursorBefore = decodeCursor(await net.redis.get(cursorKey));
        expect(cursorBefore).not.toBeNull();

        // ---------------------------------------------------------------- the stream, with the kill in it
        const t0 = Date.now();
        const outcomes: Promise<{ result: JobResult; state: string }>[] = [];
        let restarted: Promise<ManagedChild> | undefined;
        let tKill = 0;
        for (let i = 0; i < JOBS; i++) {
            const input = encodeTensorRequest({ x: { dtype: 'float32', shape: [ROWS, 64], data: inputOf(i) } });
            let h: JobHandle;
            try {
                h = await client.submit({ model: 'tensor', input, candidates: owners });
            } catch (err) {
                throw fail(`submitting job ${i + 1}`, err);
            }
            handles.push(h);
            const settled = (async () => {
                const result = await h.result({ timeoutMs: 150_000 });
                const s = await h.accept({ timeoutMs: 60_000 });
                return { result, state: s.state };
            })();
            settled.catch(() => undefined); // awaited below
            outcomes.push(settled);
            if (i + 1 === KILL_AFTER_SUBMIT) {
                await killHard(leader);
                tKill = Date.now();
                process.stderr.write(`orchestrator-failover: SIGKILLed the leader ${leader.name} (${leaderId}) ${tKill - t0} ms into the stream\n`);
                // same flags and port: the workers were given the first orchestrator's API
                restarted = sleep(RESTART_AFTER_MS).then(() => net.startOrchestrator(`${leader.name} (restarted)`, leaderPort));
                restarted.catch(() => undefined);
            }
            if (i + 1 < JOBS) await sleep(SPACING_MS);
        }
        let again: ManagedChild;
        try {
            again = await restarted!;
        } catch (err) {
            throw fail('restarting the killed orchestrator', err);
        }
        pids.push(again.pid);
        process.stderr.write(`orchestrator-failover: restarted as ${String(again.ready.instance)} ${Date.now() - tKill} ms after the kill\n`);

        // ---------------------------------------------------------------- every job settled, each with its own result
        const done: { result: JobResult; state: string }[] = [];
        for (const [i, o] of outcomes.entries()) {
            try {
                done.push(await o);
            } catch (err) {
                throw fail(`job ${i + 1} (${handles[i].address.toRawString()}) did not settle`, err);
            }
        }
        const tSettled = Date.now();
        for (const [i, d] of done.entries()) {
            expect(d.state).toBe('Settled');
            const y = decodeTensorResponse(d.result.bytes).y;
            const ref = (await direct!.run({ x: new ort.Tensor('float32', inputOf(i), [ROWS, 64]) })).y;
            expect(y.shape).toEqual([ROWS, 16]);
            expect(Buffer.from((y.data as Float32Array).buffer, (y.data as Float32Array).byteOffset, (y.data as Float32Array).byteLength)).toEqual(
                Buffer.from((ref.data as Float32Array).buffer, (ref.data as Float32Array).byteOffset, (ref.data as Float32Array).byteLength),
            );
        }

        // ---------------------------------------------------------------- claimed once each, on chain
        const claimers: string[] = [];
        for (const h of handles) {
            const events = await escrowEvents(net.chain, h.address);
            expect({ job: h.address.toRawString(), claims: events.filter((n) => n === 'JobClaimed' || n === 'JobClaimedAndCommitted').length, settles: events.filter((n) => n === 'JobSettled').length }).toEqual({
                job: h.address.toRawString(),
                claims: 1,
                settles: 1,
            });
            const s = await h.status();
            claimers.push(s.claim!.provider.toRawString());
            h.close();
        }

        // ---------------------------------------------------------------- no job missed by the watcher
        for (const h of handles) expect(await net.redis.get(KEYS.jobByAddress(h.address.toRawString()))).toBe(String(h.jobId));
        const newest = (await net.chain.getTransactions(net.net.bootstrap.registry, { limit: 1 }))[0];
        let cursorNow = '';
        await waitUntil('the watcher cursor to reach the registry’s newest transaction', async () => {
            cursorNow = (await net.redis.get(cursorKey)) ?? '';
            return decodeCursor(cursorNow)!.lt >= newest.lt;
        }, { timeoutMs: 20_000, describe: () => `cursor ${cursorNow}, newest lt ${newest.lt}` });
        expect(decodeCursor(cursorNow)!.lt).toBeGreaterThan(cursorBefore!.lt);

        // ---------------------------------------------------------------- the leadership moved
        const leaderNow = await waitUntil('a live orchestrator to lead', async () => {
            const id = await net.redis.get(KEYS.leader);
            return id === follower.ready.instance || id === again.ready.instance ? id : undefined;
        }, { timeoutMs: 20_000 });
        expect(leaderNow).not.toBe(leaderId);

        // ---------------------------------------------------------------- dispatch records: one committed attempt each
        // A dispatch job the killed instance was running keeps its BullMQ lock for 30 s and is then taken over at the
        // next stalled check (every 30 s): its record can lag the chain by up to a minute.
        const records: (JobStatusBody | null)[] = handles.map(() => null);
        try {
            await waitUntil('every dispatch record to be committed', async () => {
                for (const [i, h] of handles.entries()) if (records[i]?.dispatch.state !== 'committed') records[i] = await jobStatus(followerApi, h.address);
                return records.every((r) => r?.dispatch.state === 'committed');
            }, { timeoutMs: 90_000, intervalMs: 1_000, describe: () => JSON.stringify(records.map((r) => r && { state: r.dispatch.state, reason: r.dispatch.reason, attempts: r.dispatch.attempts.map((a) => a.outcome ?? 'pending') })) });
        } catch (err) {
            throw fail('dispatch records', err);
        }
        const tRecords = Date.now();
        for (const [i, r] of records.entries()) {
            const committed = r!.dispatch.attempts.filter((a) => a.outcome === 'committed');
            expect(committed).toHaveLength(1);
            expect(committed[0].owner).toBe(claimers[i]);
            expect(r!.status).toBe('Settled');
        }
        const queues = await queueCounts(followerApi);
        expect(Object.values(queues['dead-letter']).reduce((a, b) => a + b, 0)).toBe(0);

        const attempts = records.map((r) => r!.dispatch.attempts.map((a) => a.outcome).join('+'));
        process.stderr.write(
            `orchestrator-failover: ${JOBS} jobs settled ${tSettled - t0} ms after the first submit; dispatch records complete ${tRecords - tKill} ms after the kill; ` +
                `attempts ${attempts.join(', ')}; leader ${leaderId} → ${leaderNow}\n`,
        );
    });
});
