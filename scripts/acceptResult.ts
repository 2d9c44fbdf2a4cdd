import { NetworkProvider } from '@ton/blueprint';
import { fromNano } from '@ton/core';
import { JobStatus } from '../wrappers';
import { finishedError, JOB_OPTION, loadJob, requireClient, runScript, sendJobAction } from './lib';

/**
 * Client: accept a committed result before the dispute window ends; the provider is paid and the rest refunded.
 * Check the result against the on-chain output commitment first (the client SDK does).
 *
 *   npx blueprint run acceptResult --testnet --tonconnect -- --job 12
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        { name: 'acceptResult', summary: 'accept a committed result early and settle the job (client only)', options: [JOB_OPTION] },
        async (ctx) => {
            const job = await loadJob(ctx);
            const finished = finishedError(job);
            if (finished) throw finished;
            if (job.status !== JobStatus.Committed) {
                throw new Error(`job ${job.id} is ${job.statusName}: only a Committed job (one with a receipt) can be accepted`);
            }
            requireClient(ctx, job, 'accept');
            const after = await sendJobAction(ctx, job, 'AcceptResult', JobStatus.Settled, 'acceptResult');
            const claim = job.claim!;
            return ctx.done(
                `job ${job.id} (${ctx.fmt(job.address)}) ${job.statusName} → ${after.statusName}: provider ${ctx.fmt(claim.provider)} paid for price ${fromNano(claim.price)} TON (minus the protocol fee), output commitment 0x${job.state.outputCommitment.toString(16).padStart(64, '0')}`,
                { jobId: job.id, job: job.address, status: after.status, price: claim.price, outputCommitment: job.state.outputCommitment },
            );
        },
    );
}
