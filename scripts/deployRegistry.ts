import { NetworkProvider } from '@ton/blueprint';
import { Address, fromNano, toNano } from '@ton/core';
import { NETWORK_IDS } from '../protocol/network';
import { codeLibrarianInit, JobCodeKind, jobEscrowCode, tactConstant } from '../wrappers';
import {
    DEFAULT_PARAMS,
    DEPLOY_REGISTRY_VALUE,
    describeParams,
    displayPath,
    PARAM_OPTIONS,
    paramsFromArgs,
    paramsToJson,
    parseAddress,
    parseNetworkId,
    parseTon,
    readDeployment,
    registryInit,
    runScript,
    writeDeployment,
} from './lib';

/**
 * Deploys the network's Registry with the sender as governance owner and writes deployments/<network>.json, which
 * the other scripts read when --registry is not given.
 *
 *   npx blueprint run deployRegistry --testnet --tonconnect -- --treasury <address> [--job-code library] [--fee-bps 250 …]
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        {
            name: 'deployRegistry',
            summary: 'deploy the Registry (the sender becomes its governance owner) and record it in deployments/<network>.json',
            options: [
                { name: 'network-id', help: 'network id bound into receipts: mainnet, testnet, devnet or an int32 (default: from --network)', env: true },
                { name: 'treasury', help: 'address that receives protocol fees (default: the sender; required on mainnet)', env: true },
                { name: 'owner', help: 'governance owner (default: the sender)' },
                { name: 'value', help: 'TON sent with the deployment (default 0.2)' },
                { name: 'job-code', help: "how jobs are deployed: 'inline' (each deployment carries the job code; default) or 'library' (a library cell: publish the code first with publishJobCodeLibrary)" },
                ...PARAM_OPTIONS,
            ],
            without: ['registry'],
        },
        async (ctx) => {
            const args = ctx.args;
            const knownId = (NETWORK_IDS as Record<string, number>)[ctx.network];
            let networkId: number;
            if (args.has('network-id')) networkId = await args.required('network-id', parseNetworkId);
            else if (knownId !== undefined) networkId = knownId;
            else networkId = await args.required('network-id', parseNetworkId);
            if (ctx.chain === 'mainnet' && networkId !== NETWORK_IDS.mainnet) {
                throw new Error(`--network-id: a registry on mainnet must use the mainnet network id ${NETWORK_IDS.mainnet}, got ${networkId}`);
            }
            if (ctx.chain === 'testnet' && networkId === NETWORK_IDS.mainnet) {
                throw new Error(`--network-id: the mainnet network id ${NETWORK_IDS.mainnet} is not for a registry on testnet`);
            }
            const me = ctx.sender();
            let treasury: Address;
            if (args.has('treasury') || ctx.chain === 'mainnet') treasury = await args.required('treasury', parseAddress);
            else treasury = me;
            const owner = args.optional('owner', parseAddress, me);
            const minValue = tactConstant('RegistryStorageReserve') + toNano('0.01');
            const value = args.optional('value', (n, v) => parseTon(n, v), DEPLOY_REGISTRY_VALUE);
            if (value < minValue) throw new Error(`--value: at least ${fromNano(minValue)} TON (the registry keeps ${fromNano(tactConstant('RegistryStorageReserve'))} TON for storage), got ${fromNano(value)}`);
            const { params } = paramsFromArgs(args, DEFAULT_PARAMS);
            const jobCode = args.optional('job-code', (n, v) => {
                if (v !== 'inline' && v !== 'library') throw new Error(`--${n}: 'inline' or 'library', got ${JSON.stringify(v)}`);
                return v;
            }, 'inline' as 'inline' | 'library');
            if (jobCode === 'library') {
                // the registry would refuse every job while the library is missing: check the sender's librarian holds it
                const librarian = ctx.provider.open(await codeLibrarianInit(me, await jobEscrowCode()));
                if (!(await ctx.provider.isContractDeployed(librarian.address))) {
                    throw new Error(`--job-code library: no JobEscrow library librarian at ${ctx.fmt(librarian.address)}; publish the code first: npx blueprint run publishJobCodeLibrary`);
                }
            }

            const registry = ctx.provider.open(await registryInit(networkId, params, treasury, owner, { jobCode }));

            const existing = readDeployment(ctx.network, ctx.deploymentsDir);
            const alreadyDeployed = await ctx.provider.isContractDeployed(registry.address);
            if (existing && !Address.parse(existing.registry).equals(registry.address) && !alreadyDeployed) {
                ctx.ui.write(`note: replacing ${existing.registry} in the deployment file for ${ctx.network} with the new registry`);
            }
            if (!alreadyDeployed) {
                await ctx.requireBalance(value, 'deploying the registry');
                await registry.send(ctx.provider.sender(), { value }, null);
                await ctx.waitForDeploy(registry.address);
            }
            // read back what the chain holds, so the deployment file never records something that is not there
            const [onChainId, onChainParams, gov, onChainTreasury, codeKind] = await ctx.waitFor('the registry to answer its getters', async () => [
                Number(await registry.getNetworkId()),
                await registry.getParams(),
                await registry.getGovernance(),
                await registry.getTreasury(),
                Number(await registry.getJobCodeKind()),
            ] as const);
            const onChainJobCode = codeKind === JobCodeKind.library ? 'library' : 'inline';
            const file = writeDeployment(
                {
                    network: ctx.network,
                    networkId: onChainId,
                    chain: ctx.chain,
                    registry: ctx.fmt(registry.address),
                    owner: ctx.fmt(gov.owner),
                    treasury: ctx.fmt(onChainTreasury),
                    params: paramsToJson(onChainParams),
                    jobCode: onChainJobCode,
                    deployedAt: new Date().toISOString(),
                },
                ctx.deploymentsDir,
            );
            const state = await ctx.provider.getContractState(registry.address);
            return ctx.done(
                `registry ${ctx.fmt(registry.address)} ${alreadyDeployed ? 'was already deployed' : 'deployed'} on ${ctx.chain} (network id ${onChainId}, owner ${ctx.fmt(gov.owner)}, treasury ${ctx.fmt(onChainTreasury)}, balance ${fromNano(state.balance)} TON; job code ${onChainJobCode}; ${describeParams(onChainParams)}); written to ${displayPath(file)}`,
                { registry: registry.address, networkId: onChainId, owner: gov.owner, treasury: onChainTreasury, params: onChainParams, jobCode: onChainJobCode, file, alreadyDeployed },
            );
        },
    );
}
