import { Address, OpenedContract } from '@ton/core';
import { ProviderStake, ProviderState, Registry } from '../../wrappers';
import { ScriptContext } from './context';

/** The sender's provider contract and its state; throws when it was never deployed (no stake yet). */
export async function ownProvider(ctx: ScriptContext): Promise<{
    registry: OpenedContract<Registry>;
    owner: Address;
    stake: OpenedContract<ProviderStake>;
    state: ProviderState;
}> {
    const registry = await ctx.registry();
    const owner = ctx.sender();
    const stake = await ctx.providerStake(registry, owner);
    if (!(await ctx.provider.isContractDeployed(stake.address))) {
        throw new Error(`the wallet ${ctx.fmt(owner)} has no provider contract in registry ${ctx.fmt(registry.address)} (${ctx.fmt(stake.address)} is not deployed): run stakeProvider first`);
    }
    return { registry, owner, stake, state: await stake.getState() };
}
