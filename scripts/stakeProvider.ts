import { NetworkProvider } from '@ton/blueprint';
import { fromNano } from '@ton/core';
import { parseTon, queryId, runScript, STAKE_FEE, STAKE_MARGIN } from './lib';

/**
 * Provider: add stake. The first stake deploys the provider's contract (its address derives from the registry and
 * the sender) with its StateInit; value above amount + fee comes back.
 *
 *   npx blueprint run stakeProvider --testnet --tonconnect -- --amount 10
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        {
            name: 'stakeProvider',
            summary: "stake TON in the sender's provider contract (deploys it on the first stake)",
            options: [{ name: 'amount', help: 'TON to add to the stake, e.g. 10' }],
        },
        async (ctx) => {
            const amount = await ctx.args.required('amount', parseTon);
            const registry = await ctx.registry();
            const me = ctx.sender();
            const stake = await ctx.providerStake(registry, me);
            const deployed = await ctx.provider.isContractDeployed(stake.address);
            const before = deployed ? (await stake.getState()).stake : 0n;
            const value = amount + STAKE_FEE + STAKE_MARGIN;
            await ctx.requireBalance(value, `staking ${fromNano(amount)} TON`);
            await stake.send(ctx.provider.sender(), { value }, { $$type: 'Stake', queryId: queryId(), amount });
            if (!deployed) await ctx.waitForDeploy(stake.address);
            const after = await ctx.waitFor(`the stake of ${ctx.fmt(stake.address)} to grow by ${fromNano(amount)} TON`, async () => {
                const s = await stake.getState();
                return s.stake !== before ? s : undefined;
            });
            const { minProviderStake } = await registry.getParams();
            const note =
                after.stake - after.pendingUnstake < minProviderStake
                    ? `; below the network's minimum of ${fromNano(minProviderStake)} TON, so it cannot claim jobs yet`
                    : '';
            return ctx.done(
                `provider ${ctx.fmt(stake.address)} (owner ${ctx.fmt(me)}) ${deployed ? '' : 'deployed, '}stake ${fromNano(before)} → ${fromNano(after.stake)} TON${note}`,
                { registry: registry.address, provider: stake.address, owner: me, deployed: !deployed, stakeBefore: before, stake: after.stake },
            );
        },
    );
}
