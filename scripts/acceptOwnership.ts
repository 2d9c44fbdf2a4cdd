import { NetworkProvider } from '@ton/blueprint';
import { ACTION_VALUE, queryId, runScript } from './lib';

/**
 * Governance, step 2 of 2: the nominated owner (the sender) takes over.
 *
 *   npx blueprint run acceptOwnership --testnet --tonconnect
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        { name: 'acceptOwnership', summary: 'become the governance owner after transferOwnership nominated the sender', options: [] },
        async (ctx) => {
            const registry = await ctx.registry();
            const me = ctx.sender();
            const g = await registry.getGovernance();
            if (g.owner.equals(me)) throw new Error(`the wallet ${ctx.fmt(me)} is already the governance owner of registry ${ctx.fmt(registry.address)}`);
            if (!g.pendingOwner) throw new Error(`registry ${ctx.fmt(registry.address)} has no pending owner: the owner has to run transferOwnership first`);
            if (!g.pendingOwner.equals(me)) {
                throw new Error(`the wallet ${ctx.fmt(me)} is not the pending owner of registry ${ctx.fmt(registry.address)} (the pending owner is ${ctx.fmt(g.pendingOwner)})`);
            }
            await ctx.requireBalance(ACTION_VALUE, 'acceptOwnership');
            await registry.send(ctx.provider.sender(), { value: ACTION_VALUE }, { $$type: 'AcceptOwnership', queryId: queryId() });
            await ctx.waitFor(`${ctx.fmt(me)} to become the owner`, async () => (await registry.getGovernance()).owner.equals(me));
            return ctx.done(`registry ${ctx.fmt(registry.address)}: owner ${ctx.fmt(g.owner)} → ${ctx.fmt(me)}`, {
                registry: registry.address,
                previousOwner: g.owner,
                owner: me,
            });
        },
    );
}
