import { NetworkProvider } from '@ton/blueprint';
import { fromNano } from '@ton/core';
import { ACTION_VALUE, ownProvider, queryId, runScript } from './lib';

/**
 * Provider: send the contract's earnings (job pay and unused gas allowances: everything above stake plus the
 * storage reserve) to the owner.
 *
 *   npx blueprint run withdrawEarnings --testnet --tonconnect
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        { name: 'withdrawEarnings', summary: "send the provider contract's earnings to the owner", options: [] },
        async (ctx) => {
            const { stake, state } = await ownProvider(ctx);
            const at = ctx.fmt(stake.address);
            if (state.earnings === 0n) throw new Error(`provider ${at} has no earnings to withdraw`);
            await ctx.requireBalance(ACTION_VALUE, 'withdrawEarnings');
            await stake.send(ctx.provider.sender(), { value: ACTION_VALUE }, { $$type: 'WithdrawEarnings', queryId: queryId() });
            const after = await ctx.waitFor(`the earnings of ${at} to be paid out`, async () => {
                const s = await stake.getState();
                return s.earnings < state.earnings ? s : undefined;
            });
            return ctx.done(`provider ${at}: withdrew about ${fromNano(state.earnings)} TON of earnings to ${ctx.fmt(ctx.sender())} (earnings now ${fromNano(after.earnings)} TON)`, {
                provider: stake.address,
                withdrawn: state.earnings,
                earnings: after.earnings,
            });
        },
    );
}
