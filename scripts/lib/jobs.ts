import { Address } from '@ton/core';
import { JobStatus } from '../../wrappers';
import { JobView, ScriptContext } from './context';
import { ACTION_VALUE, queryId } from './fees';
import { parseJobRef } from './validate';

export const JOB_OPTION = { name: 'job', help: 'the job id (0, 1, …) in the registry, or the address of its contract' };

type JobMessage = 'CancelJob' | 'AcceptResult' | 'ExpireJob' | 'Settle';

/** Throws unless the sender is the job's client. */
export function requireClient(ctx: ScriptContext, job: JobView, action: string): Address {
    const me = ctx.sender();
    if (!job.terms.client.equals(me)) {
        throw new Error(`only the client ${ctx.fmt(job.terms.client)} of job ${job.id} can ${action} it, not ${ctx.fmt(me)}`);
    }
    return me;
}

/** Error text for a job that is already settled, cancelled or expired. */
export function finishedError(job: JobView): Error | undefined {
    return job.status >= JobStatus.Settled ? new Error(`job ${job.id} is already ${job.statusName}: nothing left to do`) : undefined;
}

export async function loadJob(ctx: ScriptContext): Promise<JobView> {
    const ref = await ctx.args.required('job', parseJobRef);
    return ctx.job(ref);
}

/** Sends a job message and waits until the job's status becomes `target`. */
export async function sendJobAction(ctx: ScriptContext, job: JobView, message: JobMessage, target: number, what: string): Promise<JobView> {
    await ctx.requireBalance(ACTION_VALUE, what);
    await job.contract.send(ctx.provider.sender(), { value: ACTION_VALUE }, { $$type: message, queryId: queryId() });
    await ctx.waitFor(`job ${job.id} to become ${target === JobStatus.Settled ? 'Settled' : target === JobStatus.Cancelled ? 'Cancelled' : 'Expired'}`, async () =>
        Number(await job.contract.getStatus()) === target,
    );
    return ctx.job({ address: job.address });
}
