import { toNano } from '@ton/core';
import { GasBudget, JobStatus } from '../../wrappers';
import { createNetwork } from './fixtures';
import { runLifecycle } from './lifecycle';

// Every hot-path message is held to a named budget in contracts/constants.tact: a change that makes one of
// them more expensive fails here, and the budget has to be raised deliberately (and the README's table redone).
describe('gas budgets', () => {
    it('each message of a job lifecycle stays within its budget', async () => {
        const net = await createNetwork();
        const provider = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c');
        const { job, messages, total } = await runLifecycle(net, provider, client);
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Settled));
        const budgets: Record<keyof typeof messages, string> = {
            OpenJob: 'GasOpenJob',
            InitJob: 'GasInitJob',
            ClaimJob: 'GasClaimJob',
            OfferClaim: 'GasOfferClaim',
            SubmitReceipt: 'GasSubmitReceipt',
            AcceptResult: 'GasSettle',
            JobFinished: 'GasJobFinished',
        };
        for (const [message, budgetName] of Object.entries(budgets)) {
            const used = messages[message as keyof typeof messages];
            const budget = GasBudget[budgetName];
            expect(budget).toBeGreaterThan(0);
            if (used > budget) throw new Error(`${message} used ${used} gas, over its budget ${budgetName} = ${budget}`);
        }
        expect(total.gas).toBeLessThanOrEqual(GasBudget.GasLifecycle);
    });
});
