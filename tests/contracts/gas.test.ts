import { toNano } from '@ton/core';
import { GasBudget, JobStatus } from '../../wrappers';
import { createNetwork } from './fixtures';
import { runLifecycle } from './lifecycle';

// Every hot-path message is held to a named budget in contracts/constants.tact: a change that makes one of
// them more expensive fails here, and the budget has to be raised deliberately (and the README's table redone).
describe('gas budgets', () => {
    it('each message of the worker\'s lifecycle (claim with the receipt) stays within its budget', async () => {
        const net = await createNetwork();
        const provider = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c');
        const { job, messages, total } = await runLifecycle(net, provider, client, 'claimCommit');
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Settled));
        expectWithin(messages, {
            OpenJob: 'GasOpenJob',
            InitJob: 'GasInitJob',
            ClaimJob: 'GasClaimJob',
            OfferClaimWithReceipt: 'GasOfferClaimWithReceipt',
            AcceptResult: 'GasSettle',
            JobFinished: 'GasJobFinished',
        });
        expect(total.gas).toBeLessThanOrEqual(GasBudget.GasLifecycle);
    });

    it('each message of the two-step lifecycle (claim, then SubmitReceipt) stays within its budget', async () => {
        const net = await createNetwork();
        const provider = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c');
        const { job, messages, total } = await runLifecycle(net, provider, client, 'twoStep');
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Settled));
        expectWithin(messages, {
            OpenJob: 'GasOpenJob',
            InitJob: 'GasInitJob',
            ClaimJob: 'GasClaimJob',
            OfferClaim: 'GasOfferClaim',
            SubmitReceipt: 'GasSubmitReceipt',
            AcceptResult: 'GasSettle',
            JobFinished: 'GasJobFinished',
        });
        expect(total.gas).toBeLessThanOrEqual(GasBudget.GasLifecycleTwoStep);
    });
});

function expectWithin(messages: Record<string, number>, budgets: Record<string, string>) {
    expect(Object.keys(messages).sort()).toEqual(Object.keys(budgets).sort());
    for (const [message, budgetName] of Object.entries(budgets)) {
        const used = messages[message];
        const budget = GasBudget[budgetName];
        expect(budget).toBeGreaterThan(0);
        if (used > budget) throw new Error(`${message} used ${used} gas, over its budget ${budgetName} = ${budget}`);
    }
}
