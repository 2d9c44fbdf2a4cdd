/**
 * The leader's expirer on the devnet (block time follows the wall clock): a job nobody can take before its short
 * deadline is dead-lettered by dispatch, then expired on chain by the operator wallet once the deadline passed, and
 * the client gets its payment back.
 */
import { toNano } from '@ton/core';
import { Job } from 'bullmq';
import pino from 'pino';
import { OrchestratorService } from '../../orchestrator/service';
import { waitFor } from '../../localnet/bootstrap';
import { dispatchJobId } from '../../protocol/work';
import { JobEscrow, JobStatus, tactConstant } from '../../wrappers';
import { openJob, startTestNetwork, TestNetwork } from './service-fixture';

const logger = pino({ level: 'silent' });

describe('orchestrator expirer', () => {
    let t: TestNetwork;
    let svc: OrchestratorService;

    beforeAll(async () => {
        t = await startTestNetwork(['provider-1']);
        svc = new OrchestratorService({
            chain: t.chain,
            registry: t.net.registry,
            redisUrl: t.redisServer.url,
            instanceId: 'expirer-test',
            operator: t.net.operator.wallet,
            api: { port: 0 },
            leaderTtlMs: 1_000,
            watcher: { pollIntervalMs: 100 },
            intake: { expiryGraceMs: 300 },
            dispatcher: { retryBaseMs: 200 },
            logger,
        });
        await svc.start();
        await waitFor(async () => svc.leading, 'the service to lead', 5_000);
        // the leader learns the provider from the chain history; only then is "too little time" the routing verdict
        await waitFor(async () => svc.directory.get(t.owners[0])?.active === true, 'the provider in the directory', 15_000);
    }, 60_000);

    afterAll(async () => {
        await svc.close();
        await t.close();
    });

    test('a job past its deadline is expired on chain from the operator wallet and the client is refunded', async () => {
        const client = t.net.client.wallet;
        const operator = t.net.operator.wallet;
        const maxPrice = toNano('0.5');
        const clientBefore = await client.getBalance();
        const operatorBefore = await operator.getBalance();
        const j = await openJob(t, { deadlineInSec: 3, maxPrice });
        const clientAfterOpen = await client.getBalance();
        expect(clientBefore - clientAfterOpen).toBeGreaterThanOrEqual(maxPrice);

        // too little time left for anyone: dispatch gives up with the routing reason
        await waitFor(async () => (await (await Job.fromId(svc.queues.dispatch, dispatchJobId(j.jobId)))?.getState()) === 'completed', 'dispatch to stop', 10_000);
        const dispatch = await Job.fromId(svc.queues.dispatch, dispatchJobId(j.jobId));
        expect(dispatch!.returnvalue).toEqual({ state: 'dead', reason: 'NO_ELIGIBLE_PROVIDER: DEADLINE_TOO_CLOSE=1' });

        const escrow = t.chain.open(JobEscrow.fromAddress(j.address));
        expect(Number(await escrow.getStatus())).toBe(JobStatus.Open);
        await waitFor(async () => Number(await escrow.getStatus()) === JobStatus.Expired, 'the escrow to expire', 20_000);
        await t.devnet.waitIdle();

        const expiry = await Job.fromId(svc.queues.expiry, `expire-${j.jobId}`);
        await waitFor(async () => (await expiry!.getState()) === 'completed', 'the expiry job to complete', 5_000);
        expect((await Job.fromId(svc.queues.expiry, `expire-${j.jobId}`))!.returnvalue).toEqual({ action: 'expired', status: 'Expired' });

        const clientAfter = await client.getBalance();
        // the whole escrow balance (the price and what is left of the fee reserve) came back
        expect(clientAfter - clientAfterOpen).toBeGreaterThanOrEqual(maxPrice);
        expect(clientBefore - clientAfter).toBeLessThan(tactConstant('OpenJobFee') + toNano('0.05'));
        expect(clientBefore - clientAfter).toBeGreaterThan(0n);
        // the operator paid only gas (the unused value came back)
        const operatorSpent = operatorBefore - (await operator.getBalance());
        expect(operatorSpent).toBeGreaterThan(0n);
        expect(operatorSpent).toBeLessThan(toNano('0.05'));

        const res = await fetch(`${svc.url}/v1/jobs/${j.raw}`);
        expect(res.status).toBe(200);
        const body = (await res.json()) as { status: { status: string; dispatch: { state: string; reason: string } } };
        expect(body.status.status).toBe('Expired');
        expect(body.status.dispatch).toMatchObject({ state: 'dead', reason: 'NO_ELIGIBLE_PROVIDER: DEADLINE_TOO_CLOSE=1' });
    }, 40_000);
});
