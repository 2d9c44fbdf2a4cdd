import { NetworkProvider } from '@ton/blueprint';
import { ACTION_VALUE, parseAddress, queryId, runScript } from './lib';

/**
 * Governance, step 1 of 2: nominate a new owner. The nominee becomes owner only when it runs acceptOwnership, so a
 * mistyped address cannot lock governance.
 *
 *   npx blueprint run transferOwnership --testnet --tonconnect -- --new-owner <address>
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        {
            name: 'transferOwnership',
            summary: 'nominate a new governance owner (it must then run acceptOwnership)',
            options: [{ name: 'new-owner', help: 'address of the nominated owner' }],
        },
        async (ctx) => {
            const newOwner = await ctx.args.required('new-owner', parseAddress);
            const registry = await ctx.registry();
            await ctx.requireOwner(registry);
            const g = await registry.getGovernance();
            if (g.owner.equals(newOwner)) throw new Error(`--new-owner: ${ctx.fmt(newOwner)} is already the owner`);
            if (g.pendingOwner && g.pendingOwner.equals(newOwner)) throw new Error(`--new-owner: ${ctx.fmt(newOwner)} is already the pending owner; it has to run acceptOwnership`);
            await ctx.requireBalance(ACTION_VALUE, 'transferOwnership');
            await registry.send(ctx.provider.sender(), { value: ACTION_VALUE }, { $$type: 'TransferOwnership', queryId: queryId(), newOwner });
            await ctx.waitFor(`${ctx.fmt(newOwner)} to become the pending owner`, async () => {
                const p = (await registry.getGovernance()).pendingOwner;
                return p !== null && p.equals(newOwner);
            });
            return ctx.done(`registry ${ctx.fmt(registry.address)}: pending owner ${ctx.fmt(newOwner)} (owner still ${ctx.fmt(g.owner)} until it runs acceptOwnership)`, {
                registry: registry.address,
                owner: g.owner,
                pendingOwner: newOwner,
            });
        },
    );
}
