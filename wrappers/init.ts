import { Address, beginCell, Cell, Dictionary, toNano } from '@ton/core';
import { EnclaveRecord, loadRegistration, NetworkParams, Registry, storeJobNetworkTerms, storeRegistryConfig } from '../build/Registry/tact_Registry';
import { ProviderStake } from '../build/Registry/tact_ProviderStake';
import { jobEscrowCode, libraryCellOf } from './library';

/**
 * The contracts' initial states, in one place. They mirror the `initOf` expressions in contracts/registry.tact,
 * so a change of contract parameters is fixed here once for scripts, tests, the demo and the off-chain code.
 */

/** Parameters a new network starts with unless told otherwise (scripts/deployRegistry.ts, tests, demo). */
export const DEFAULT_PARAMS: NetworkParams = {
    $$type: 'NetworkParams',
    minProviderStake: toNano('10'),
    unstakeCooldown: 7n * 86400n,
    protocolFeeBps: 250n,
    disputeWindow: 3600n,
    slashBps: 5000n,
    maxJobDuration: 86400n,
    lockRatioBps: 20000n,
};

/**
 * A new registry: no jobs, parameters version 1, empty allowlists, `owner` as governance owner. The registry keeps
 * its cold state in a RegistryConfig ref and, for OpenJob, the network half of every job's terms pre-serialized
 * (contracts/registry.tact): both are built here exactly as SetParams/SetTreasury rebuild them on-chain.
 */
export async function registryInit(
    networkId: number,
    params: NetworkParams,
    treasury: Address,
    owner: Address,
    opts: { jobCode?: 'inline' | 'library' } = {},
): Promise<Registry> {
    // 'library': jobs are deployed with a library cell for JobEscrow's code, which must be published in the
    // masterchain (wrappers/library.ts) before the first job opens
    const escrowCode = await jobEscrowCode();
    const jobCode = opts.jobCode === 'library' ? libraryCellOf(escrowCode) : escrowCode;
    const config = beginCell()
        .store(
            storeRegistryConfig({
                $$type: 'RegistryConfig',
                jobCode,
                networkId: BigInt(networkId),
                params,
                paramsVersion: 1n,
                treasury,
                measurementCount: 0n,
                modelCount: 0n,
                governance: { $$type: 'Governance', owner, pendingOwner: null },
            }),
        )
        .endCell();
    const jobNetwork = await jobNetworkCell(networkId, params, treasury);
    return Registry.fromInit(
        0n,
        params.maxJobDuration,
        Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.Uint(8)),
        config,
        BigInt('0x' + jobNetwork.hash().toString('hex')),
    );
}

/**
 * The network half of every job's terms, as the registry derives it from its config (its `jobNetwork` getter):
 * each client's JobSpec carries exactly this cell.
 */
export async function jobNetworkCell(networkId: number, params: NetworkParams, treasury: Address): Promise<Cell> {
    const providerCode = (await providerStakeInit(treasury, treasury)).init!.code;
    return beginCell()
        .store(
            storeJobNetworkTerms({
                $$type: 'JobNetworkTerms',
                networkId: BigInt(networkId),
                protocolFeeBps: params.protocolFeeBps,
                disputeWindow: params.disputeWindow,
                slashBps: params.slashBps,
                lockRatioBps: params.lockRatioBps,
                treasury,
                providerCodeHash: BigInt('0x' + providerCode.hash().toString('hex')),
                providerCodeDepth: BigInt(providerCode.depth()),
            }),
        )
        .endCell();
}

/** The ProviderStake of `owner` under `registry`, as the registry derives it (every other field empty). */
export function providerStakeInit(registry: Address, owner: Address): Promise<ProviderStake> {
    return ProviderStake.fromInit(registry, owner, 0n, 0n, 0n, 0n, 0n, Dictionary.empty(), null);
}

/**
 * The enclave a provider may claim jobs with (null before approval and after a revoked measurement was applied),
 * decoded from the `state` getter. The `enclave` getter returns an optional struct as a nested tuple, which
 * Blueprint's v2 TonClient cannot read (it fails with "Not a number"), so off-chain code uses this instead.
 */
export async function providerEnclave(stake: { getState(): Promise<{ registration: Cell | null }> }): Promise<EnclaveRecord | null> {
    const { registration } = await stake.getState();
    if (!registration) return null;
    const r = loadRegistration(registration.beginParse());
    return r.active ? r.record : null;
}
