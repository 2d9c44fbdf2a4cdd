import { NetworkProvider } from '@ton/blueprint';
import { fromNano } from '@ton/core';
import { ACTION_VALUE, ownProvider, queryId, runScript, when } from './lib';

/**
 * Provider: withdraw the pending unstake once the cooldown is over and no in-flight job holds it locked. The TON
 * goes to the owner (the sender).
 *
 *   npx blueprint run withdrawStake --testnet --tonconnect
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        { name: 'withdrawStake', summary: 'withdraw the pending unstake after the cooldown', options: [] },
        async (ctx) => {
            const { stake, state } = await ownProvider(ctx);
            const at = ctx.fmt(stake.address);
            if (state.pendingUnstake === 0n) throw new Error(`nothing to withdraw: provider ${at} has no pending unstake (run requestUnstake first)`);
            const now = ctx.now();
            const ready = Number(state.unstakeReadyAt);
            if (now < ready) {
                throw new Error(`the unstake cooldown of provider ${at} is still running: ${fromNano(state.pendingUnstake)} TON can be withdrawn from ${when(ready, now)}`);
            }
            if (state.stake - state.locked < state.pendingUnstake) {
                throw new Error(
                    `provider ${at} has ${fromNano(state.locked)} TON locked by ${state.inFlight} in-flight job${state.inFlight === 1n ? '' : 's'}: withdrawing ${fromNano(state.pendingUnstake)} TON needs stake minus locked (${fromNano(state.stake - state.locked)} TON) to cover it; wait for the jobs to finish`,
                );
            }
            await ctx.requireBalance(ACTION_VALUE, 'withdrawStake');
            await stake.send(ctx.provider.sender(), { value: ACTION_VALUE }, { $$type: 'WithdrawStake', queryId: queryId() });
            const after = await ctx.waitFor(`the pending unstake of ${at} to be paid out`, async () => {
                const s = await stake.getState();
                return s.pendingUnstake === 0n ? s : undefined;
            });
            return ctx.done(`provider ${at}: withdrew ${fromNano(state.pendingUnstake)} TON to ${ctx.fmt(ctx.sender())}; stake ${fromNano(state.stake)} → ${fromNano(after.stake)} TON`, {
                provider: stake.address,
                withdrawn: state.pendingUnstake,
                stake: after.stake,
            });
        },
    );
}
