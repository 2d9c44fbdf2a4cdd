import { NetworkProvider } from '@ton/blueprint';
import { fromNano } from '@ton/core';
import { JobStatus } from '../wrappers';
import { finishedError, JOB_OPTION, loadJob, runScript, sendJobAction, when } from './lib';

/**
 * Anyone (typically the provider): settle a committed job once its dispute window has closed.
 *
 *   npx blueprint run settleJob --testnet --tonconnect -- --job 12
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        { name: 'settleJob', summary: 'settle a committed job after its dispute window (anyone)', options: [JOB_OPTION] },
        async (ctx) => {
            const job = await loadJob(ctx);
            const finished = finishedError(job);
            if (finished) throw finished;
            if (job.status !== JobStatus.Committed) {
                throw new Error(`job ${job.id} is ${job.statusName}: only a Committed job (one with a receipt) can be settled`);
            }
            const opensAt = Number(job.state.committedAt) + Number(job.terms.network.disputeWindow);
            const now = ctx.now();
            if (now < opensAt) {
                throw new Error(`the dispute window of job ${job.id} is open until ${when(opensAt, now)}: settle after it, or the client accepts earlier (acceptResult)`);
            }
            const after = await sendJobAction(ctx, job, 'Settle', JobStatus.Settled, 'settleJob');
            const claim = job.claim!;
            return ctx.done(`job ${job.id} (${ctx.fmt(job.address)}) ${job.statusName} → ${after.statusName}: provider ${ctx.fmt(claim.provider)} paid for price ${fromNano(claim.price)} TON (minus the protocol fee)`, {
                jobId: job.id,
                job: job.address,
                status: after.status,
                price: claim.price,
            });
        },
    );
}
