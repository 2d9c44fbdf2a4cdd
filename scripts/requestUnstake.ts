import { NetworkProvider } from '@ton/blueprint';
import { fromNano } from '@ton/core';
import { ACTION_VALUE, ownProvider, parseTon, queryId, runScript, when } from './lib';

/**
 * Provider: ask to take stake out. The amount stops being lockable at once and can be withdrawn with
 * withdrawStake after the network's unstake cooldown (which restarts with every request).
 *
 *   npx blueprint run requestUnstake --testnet --tonconnect -- --amount 5     (or --all)
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        {
            name: 'requestUnstake',
            summary: 'request to withdraw stake; starts the unstake cooldown',
            options: [
                { name: 'amount', help: 'TON to unstake, e.g. 5' },
                { name: 'all', help: 'unstake everything not already pending', flag: true },
            ],
        },
        async (ctx) => {
            const all = ctx.args.flag('all');
            if (all && ctx.args.has('amount')) throw new Error('--amount and --all: give one of them, not both');
            const requested = all ? undefined : await ctx.args.required('amount', parseTon);
            const { stake, state } = await ownProvider(ctx);
            const available = state.stake - state.pendingUnstake;
            if (available <= 0n) throw new Error(`provider ${ctx.fmt(stake.address)} has nothing left to unstake: stake ${fromNano(state.stake)} TON, already pending ${fromNano(state.pendingUnstake)} TON`);
            const amount = requested ?? available;
            if (amount > available) {
                throw new Error(
                    `--amount: at most ${fromNano(available)} TON can be unstaked from ${ctx.fmt(stake.address)} (stake ${fromNano(state.stake)} TON, already pending ${fromNano(state.pendingUnstake)} TON), got ${fromNano(amount)}`,
                );
            }
            await ctx.requireBalance(ACTION_VALUE, 'requestUnstake');
            await stake.send(ctx.provider.sender(), { value: ACTION_VALUE }, { $$type: 'RequestUnstake', queryId: queryId(), amount });
            const after = await ctx.waitFor(`the pending unstake of ${ctx.fmt(stake.address)} to grow`, async () => {
                const s = await stake.getState();
                return s.pendingUnstake !== state.pendingUnstake ? s : undefined;
            });
            const ready = Number(after.unstakeReadyAt);
            return ctx.done(
                `provider ${ctx.fmt(stake.address)}: pending unstake ${fromNano(state.pendingUnstake)} → ${fromNano(after.pendingUnstake)} TON of ${fromNano(after.stake)} TON staked, withdrawable from ${when(ready, ctx.now())}`,
                { provider: stake.address, amount, pendingUnstake: after.pendingUnstake, unstakeReadyAt: ready },
            );
        },
    );
}
