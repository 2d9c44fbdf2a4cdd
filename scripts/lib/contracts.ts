import { Address, beginCell, Dictionary, OpenedContract } from '@ton/core';
import { EnclaveRecord, loadRegistration, NetworkParams, ProviderStake, Registry, storeGovernance } from '../../wrappers';

/**
 * The contracts' initial states, in one place: these mirror the `initOf` expressions in contracts/registry.tact
 * (and createNetwork in tests/contracts/fixtures.ts), so a change of contract parameters is fixed here once.
 */

/** A new registry: no jobs, parameters version 1, empty allowlists, `owner` as governance owner. */
export function registryInit(networkId: number, params: NetworkParams, treasury: Address, owner: Address): Promise<Registry> {
    const governance = beginCell().store(storeGovernance({ $$type: 'Governance', owner, pendingOwner: null })).endCell();
    return Registry.fromInit(
        BigInt(networkId),
        0n,
        params,
        1n,
        treasury,
        0n,
        0n,
        Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Uint(8)),
        governance,
    );
}

/** The ProviderStake of `owner` under `registry`, as the registry derives it (every other field empty). */
export function providerStakeInit(registry: Address, owner: Address): Promise<ProviderStake> {
    return ProviderStake.fromInit(registry, owner, 0n, 0n, 0n, 0n, 0n, Dictionary.empty(), null);
}

/**
 * The enclave a provider may claim jobs with (null before approval and after a revoked measurement was applied),
 * decoded from the `state` getter. The `enclave` getter returns an optional struct as a nested tuple, which
 * Blueprint's v2 TonClient cannot read (it fails with "Not a number"), so scripts never call it.
 */
export async function providerEnclave(stake: OpenedContract<ProviderStake>): Promise<EnclaveRecord | null> {
    const { registration } = await stake.getState();
    if (!registration) return null;
    const r = loadRegistration(registration.beginParse());
    return r.active ? r.record : null;
}
