import { NetworkProvider } from '@ton/blueprint';
import { fromNano } from '@ton/core';
import { JobStatus } from '../wrappers';
import { finishedError, JOB_OPTION, loadJob, runScript, sendJobAction, when } from './lib';

/**
 * Anyone: expire a job whose deadline passed without a receipt. The client gets its payment back, plus the slashed
 * part of the claiming provider's lock.
 *
 *   npx blueprint run expireJob --testnet --tonconnect -- --job 12
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        { name: 'expireJob', summary: 'expire a job whose deadline passed without a receipt (anyone)', options: [JOB_OPTION] },
        async (ctx) => {
            const job = await loadJob(ctx);
            const finished = finishedError(job);
            if (finished) throw finished;
            if (job.status === JobStatus.Committed) {
                throw new Error(`job ${job.id} is Committed: its receipt arrived in time, so it cannot expire; settle it instead (settleJob, or acceptResult by the client)`);
            }
            if (job.status !== JobStatus.Open && job.status !== JobStatus.Claimed) {
                throw new Error(`job ${job.id} is ${job.statusName}: only an Open or Claimed job can expire`);
            }
            const deadline = Number(job.terms.deadline);
            const now = ctx.now();
            if (now <= deadline) throw new Error(`the deadline of job ${job.id} has not passed: it can be expired after ${when(deadline, now)}`);
            const after = await sendJobAction(ctx, job, 'ExpireJob', JobStatus.Expired, 'expireJob');
            const slash = job.claim ? (job.claim.lock * job.terms.network.slashBps) / 10000n : 0n;
            return ctx.done(
                `job ${job.id} (${ctx.fmt(job.address)}) ${job.statusName} → ${after.statusName}: payment refunded to ${ctx.fmt(job.terms.client)}${job.claim ? `, ${fromNano(slash)} TON slashed from provider ${ctx.fmt(job.claim.provider)}` : ''}`,
                { jobId: job.id, job: job.address, status: after.status, slash },
            );
        },
    );
}
