import { Blockchain } from '@ton/sandbox';
import { toNano } from '@ton/core';
import { dividedPricesConfig } from '../../bench/priceConfig';
import { GasBudget, JobStatus } from '../../wrappers';
import { createNetwork } from './fixtures';
import { CommitPath, runLifecycle } from './lifecycle';

// Every hot-path message is held to a named budget in contracts/constants.tact: a change that makes one of
// them more expensive fails here, and the budget has to be raised deliberately (and the README's table redone).
describe('gas budgets', () => {
    const paths: [CommitPath, string, Record<string, string>, string][] = [
        [
            'claimCommit',
            "the worker's lifecycle (claim with the receipt)",
            { OpenJob: 'GasOpenJob', InitJob: 'GasInitJob', ClaimJob: 'GasClaimJob', OfferClaimWithReceipt: 'GasOfferClaimWithReceipt', AcceptResult: 'GasSettle' },
            'GasLifecycle',
        ],
        [
            'twoStep',
            'the two-step lifecycle (claim, then SubmitReceipt)',
            { OpenJob: 'GasOpenJob', InitJob: 'GasInitJob', ClaimJob: 'GasClaimJob', OfferClaim: 'GasOfferClaim', SubmitReceipt: 'GasSubmitReceipt', AcceptResult: 'GasSettle', JobFinished: 'GasJobFinished' },
            'GasLifecycleTwoStep',
        ],
    ];
    it.each(paths)('each message of %s: %s stays within its budget', async (path, _what, budgets, lifecycleBudget) => {
        const net = await createNetwork();
        const provider = await net.createProvider('alice', { stake: toNano('100') });
        const client = await net.createClient('c');
        const { job, messages, total } = await runLifecycle(net, provider, client, path);
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Settled));
        expectWithin(messages, budgets);
        expect(total.gas).toBeLessThanOrEqual(GasBudget[lifecycleBudget]);
    });

    // bench:gas also prices the lifecycle on a network charging a sixth of the sandbox's gas and forwarding prices
    it('prices divided by 6 leave the gas unchanged and divide the fees by 6 (within rounding)', async () => {
        const run = async (net: Awaited<ReturnType<typeof createNetwork>>) =>
            runLifecycle(net, await net.createProvider('alice', { stake: toNano('100') }), await net.createClient('c'));
        const base = await run(await createNetwork());
        const cheap = await run(await createNetwork({ config: dividedPricesConfig((await Blockchain.create()).config, 6n) }));
        expect(cheap.messages).toEqual(base.messages);
        const ratio = Number(base.total.feesNanoTon) / Number(cheap.total.feesNanoTon);
        expect(ratio).toBeGreaterThan(5.9);
        expect(ratio).toBeLessThan(6.1);
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
