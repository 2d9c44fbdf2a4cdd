import { NetworkProvider } from '@ton/blueprint';
import { fromNano } from '@ton/core';
import { JobStatus } from '../wrappers';
import { finishedError, JOB_OPTION, loadJob, requireClient, runScript, sendJobAction, when } from './lib';

/**
 * Client: cancel a job nobody has claimed yet; the whole payment comes back.
 *
 *   npx blueprint run cancelJob --testnet --tonconnect -- --job 12
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        { name: 'cancelJob', summary: 'cancel an unclaimed job and get the payment back (client only)', options: [JOB_OPTION] },
        async (ctx) => {
            const job = await loadJob(ctx);
            const finished = finishedError(job);
            if (finished) throw finished;
            if (job.status === JobStatus.Claimed) {
                throw new Error(
                    `job ${job.id} is Claimed by ${ctx.fmt(job.claim!.provider)}: only an Open job can be cancelled; if no receipt arrives it can be expired after its deadline ${when(Number(job.terms.deadline), ctx.now())} (expireJob)`,
                );
            }
            if (job.status !== JobStatus.Open) throw new Error(`job ${job.id} is ${job.statusName}: only an Open job can be cancelled`);
            const me = requireClient(ctx, job, 'cancel');
            const balance = (await ctx.provider.getContractState(job.address)).balance;
            const after = await sendJobAction(ctx, job, 'CancelJob', JobStatus.Cancelled, 'cancelJob');
            return ctx.done(`job ${job.id} (${ctx.fmt(job.address)}) ${job.statusName} → ${after.statusName}; its ${fromNano(balance)} TON refunded to ${ctx.fmt(me)}`, {
                jobId: job.id,
                job: job.address,
                status: after.status,
                refunded: balance,
            });
        },
    );
}
