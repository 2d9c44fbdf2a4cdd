import { Address, fromNano, OpenedContract, toNano } from '@ton/core';
import { Command, OptionSpec, ParsedArgs, UsageError } from '../command';
import { NETWORK_IDS } from '../../../protocol/network';
import { NetworkParams, Registry, registryInit, tactConstant, DEFAULT_PARAMS } from '../../../wrappers';
import { Args } from '../../../scripts/lib/args';
import { ACTION_VALUE, DEPLOY_REGISTRY_VALUE, queryId } from '../../../scripts/lib/fees';
import { describeParams, PARAM_OPTIONS, paramsFromArgs, paramsToJson, sameParams } from '../../../scripts/lib/params';
import { hex256, parseAddress, parseHash256, parseHashOrFile, parseNetworkId, parseTon, parseDeploymentName } from '../../../scripts/lib/validate';
import { writeDeployment } from '../../../scripts/lib/deployments';
import { CheckFailed, checkedRun, connectWallet, noPositionals, parse, printResult, WalletContext, walletOptions } from './provider';

/**
 * `cocoon registry deploy|allow-measurement|allow-model|revoke-measurement|revoke-model|set-params|
 * transfer-ownership|accept-ownership`: governance of a registry, signed by the governance wallet (--wallet-seed).
 * Inputs are validated with the bounds the registry enforces (contracts/constants.tact via wrappers/constants.ts,
 * the same parsers as the Blueprint scripts), and the sender is checked to be the owner before anything is sent.
 */

const ton = (n: bigint) => `${fromNano(n)} TON`;

/** Throws NOT_OWNER unless the signing wallet is the registry's governance owner. */
async function requireOwner(ctx: WalletContext): Promise<{ registry: OpenedContract<Registry>; owner: Address }> {
    const registry = ctx.registry!;
    const g = await registry.getGovernance();
    if (!g.owner.equals(ctx.me)) {
        throw new CheckFailed(
            'NOT_OWNER',
            `the wallet ${ctx.me.toString()} is not the governance owner of registry ${registry.address.toString()} (the owner is ${g.owner.toString()}): sign with the owner's --wallet-seed`,
        );
    }
    return { registry, owner: g.owner };
}

// ---------------------------------------------------------------- deploy

/** The parameter options as CLI options (strings: durations like 7d and TON amounts pass through scripts/lib). */
const paramOptions = (withDefaults: boolean): OptionSpec[] =>
    PARAM_OPTIONS.map((o) => ({ name: o.name, type: 'string', description: withDefaults ? o.help : o.help.replace(/ \(default[^)]*\)$/, '') }));

/** Parses the parameter options given on the command line over `base`, with the registry's bounds. */
function paramsFromOptions(args: ParsedArgs, base: NetworkParams): { params: NetworkParams; changed: string[] } {
    const argv: string[] = [];
    for (const o of PARAM_OPTIONS) {
        const v = args.options[o.name];
        if (v !== undefined) argv.push(`--${o.name}`, String(v));
    }
    // env {}: the scripts' COCOON_<PARAM> fallback must not change a network behind the user's back
    return parse(() => paramsFromArgs(Args.parse({ name: 'cocoon', summary: '', options: PARAM_OPTIONS }, argv, { interactive: false, env: {} }), base));
}

export const registryDeploy: Command = {
    path: ['registry', 'deploy'],
    summary: 'Deploy a Registry with the signing wallet (or --owner) as governance owner; prints its address',
    usage: '--wallet-seed <hex> [--endpoint <url> | --network <file>] [--network-id devnet] [--treasury <address>] [--owner <address>] [--fee-bps 250 …] [--deployment <name>] [--json]',
    example: 'cocoon registry deploy --endpoint http://127.0.0.1:8081/jsonRPC --wallet-seed $COCOON_WALLET_SEED --network-id devnet --cooldown 1d --deployment devnet',
    options: [
        { name: 'network-id', type: 'string', description: 'network id bound into receipts: mainnet, testnet, devnet or an int32 (default: the network file\'s, else devnet)' },
        { name: 'treasury', type: 'string', description: 'address that receives protocol fees (default: the signing wallet)' },
        { name: 'owner', type: 'string', description: 'governance owner (default: the signing wallet)' },
        { name: 'value', type: 'string', description: 'TON sent with the deployment; the registry keeps its storage reserve', default: fromNano(DEPLOY_REGISTRY_VALUE) },
        { name: 'deployment', type: 'string', description: 'also write deployments/<name>.json, which the Blueprint scripts read (e.g. devnet, testnet)' },
        { name: 'deployments-dir', type: 'string', description: 'folder of the deployment files', default: 'deployments' },
        ...paramOptions(true),
        ...walletOptions.filter((o) => o.name !== 'registry'),
    ],
    run: checkedRun(['registry', 'deploy'], async (args, io) => {
        noPositionals(args);
        const ctx = await connectWallet(args, { withoutRegistry: true });
        const idText = (args.options['network-id'] as string | undefined) ?? (ctx.network ? String(ctx.network.networkId) : 'devnet');
        const networkId = parse(() => parseNetworkId('network-id', idText));
        const treasury = args.options.treasury !== undefined ? parse(() => parseAddress('treasury', String(args.options.treasury))) : ctx.me;
        const owner = args.options.owner !== undefined ? parse(() => parseAddress('owner', String(args.options.owner))) : ctx.me;
        const value = parse(() => parseTon('value', String(args.options.value)));
        const minValue = tactConstant('RegistryStorageReserve') + toNano('0.01');
        if (value < minValue) throw new UsageError(`--value: at least ${ton(minValue)} (the registry keeps ${ton(tactConstant('RegistryStorageReserve'))} for storage), got ${ton(value)}`);
        const deployment = args.options.deployment !== undefined ? parse(() => parseDeploymentName('deployment', String(args.options.deployment))) : undefined;
        const { params } = paramsFromOptions(args, DEFAULT_PARAMS);

        const state = await registryInit(networkId, params, treasury, owner);
        const registry = ctx.chain.open(state);
        const alreadyDeployed = await ctx.chain.isDeployed(registry.address);
        if (alreadyDeployed) {
            io.progress(`registry ${registry.address.toString()} is already deployed with exactly these settings: nothing sent`);
        } else {
            await ctx.requireBalance(value, 'deploying the registry');
            io.progress(`deploying registry ${registry.address.toString()} (network id ${networkId})`);
            await ctx.wallet.send({ to: registry.address, value, init: state.init!, bounce: false });
            await ctx.waitFor(`registry ${registry.address.toString()} to be deployed`, async () => ctx.chain.isDeployed(registry.address));
        }
        // read back what the chain holds, so nothing is printed or written that is not there
        const [onChainId, onChainParams, gov, onChainTreasury] = await ctx.waitFor('the registry to answer its getters', async () =>
            [Number(await registry.getNetworkId()), await registry.getParams(), await registry.getGovernance(), await registry.getTreasury()] as const,
        );
        let file: string | undefined;
        if (deployment) {
            file = writeDeployment(
                {
                    network: deployment,
                    networkId: onChainId,
                    chain: ctx.endpoint,
                    registry: registry.address.toString(),
                    owner: gov.owner.toString(),
                    treasury: onChainTreasury.toString(),
                    params: paramsToJson(onChainParams),
                    deployedAt: new Date().toISOString(),
                },
                String(args.options['deployments-dir']),
            );
        }
        printResult(io, args.json, {
            registry: registry.address.toString(),
            alreadyDeployed,
            networkId: onChainId,
            owner: gov.owner.toString(),
            treasury: onChainTreasury.toString(),
            params: paramsToJson(onChainParams),
            ...(file ? { deploymentFile: file } : {}),
        }, [
            `registry        ${registry.address.toString()}${alreadyDeployed ? ' (already deployed)' : ' deployed'}`,
            `network id      ${onChainId}${onChainId === NETWORK_IDS.mainnet ? ' (mainnet)' : ''}`,
            `owner           ${gov.owner.toString()}`,
            `treasury        ${onChainTreasury.toString()}`,
            `parameters      ${describeParams(onChainParams)}`,
            ...(file ? [`written to      ${file}`] : []),
            `next            cocoon registry allow-measurement / allow-model --registry ${registry.address.toString()} …`,
        ]);
        return 0;
    }),
};

// ---------------------------------------------------------------- allowlists

type Kind = 'measurement' | 'model';

function allowlistCommand(kind: Kind, allow: boolean): Command {
    const verb = allow ? 'allow' : 'revoke';
    const path = ['registry', `${verb}-${kind}`];
    const valueHelp = kind === 'measurement' ? 'TEE image measurement (64 hex)' : 'model hash (64 hex), an .onnx file (its sha256) or a model name from the network file';
    return {
        path,
        summary: allow
            ? `Allow a ${kind === 'measurement' ? 'TEE image measurement' : 'model'} in the registry (governance owner only)`
            : `Revoke a ${kind === 'measurement' ? 'TEE image measurement' : 'model'}: providers using it stop being eligible (governance owner only)`,
        usage: `--${kind} <${kind === 'measurement' ? 'hex' : 'hex|file|name'}> --wallet-seed <hex> [--network <file> | --endpoint <url> --registry <address>] [--json]`,
        example: `cocoon registry ${verb}-${kind} --network .cocoon/network.json --wallet-seed $COCOON_WALLET_SEED --${kind} ${kind === 'measurement' ? '5d1e…' : 'demo/models/extra.onnx'}`,
        options: [{ name: kind, type: 'string', description: valueHelp, required: true }, ...walletOptions],
        run: checkedRun(path, async (args, io) => {
            noPositionals(args);
            const raw = String(args.options[kind]);
            const ctx = await connectWallet(args);
            const named = kind === 'model' ? ctx.network?.models[raw.trim()] : undefined;
            const hash = named ? BigInt('0x' + named) : kind === 'measurement' ? parse(() => parseHash256(kind, raw)) : parse(() => parseHashOrFile(kind, raw).hash);
            const { registry } = await requireOwner(ctx);
            const label = `${kind} ${hex256(hash)}`;
            const isAllowed = () => (kind === 'measurement' ? registry.getIsMeasurementAllowed(hash) : registry.getIsModelAllowed(hash));
            const before = await isAllowed();
            if (allow && before) throw new CheckFailed('ALREADY_ALLOWED', `${label} is already allowed in registry ${registry.address.toString()}`);
            if (!allow && !before) throw new CheckFailed('NOT_ALLOWED', `${label} is not allowed in registry ${registry.address.toString()}: nothing to revoke`);
            const count = async () => {
                const c = await registry.getAllowlistCounts();
                return kind === 'measurement' ? c.measurements : c.models;
            };
            if (allow) {
                const max = tactConstant(kind === 'measurement' ? 'MaxMeasurements' : 'MaxModels');
                const n = await count();
                if (n >= max) throw new CheckFailed('ALLOWLIST_FULL', `the ${kind} allowlist of registry ${registry.address.toString()} is full (${n} of ${max}): revoke one first`);
            }
            await ctx.requireBalance(ACTION_VALUE, `${verb === 'allow' ? 'allowing' : 'revoking'} a ${kind}`);
            const q = queryId();
            io.progress(`sending ${allow ? 'Allow' : 'Revoke'}${kind === 'measurement' ? 'Measurement' : 'Model'} for ${label}`);
            if (kind === 'measurement') {
                await registry.send(ctx.wallet, { value: ACTION_VALUE }, allow ? { $$type: 'AllowMeasurement', queryId: q, measurement: hash } : { $$type: 'RevokeMeasurement', queryId: q, measurement: hash });
            } else {
                await registry.send(ctx.wallet, { value: ACTION_VALUE }, allow ? { $$type: 'AllowModel', queryId: q, modelHash: hash } : { $$type: 'RevokeModel', queryId: q, modelHash: hash });
            }
            await ctx.waitFor(`the registry to ${verb} ${label}`, async () => (await isAllowed()) === allow);
            const n = await count();
            printResult(io, args.json, { registry: registry.address.toString(), kind, hash: hex256(hash).slice(2), allowed: allow, count: Number(n) }, [
                `registry ${registry.address.toString()}: ${label} ${allow ? 'allowed' : 'revoked'} (${n} ${kind}s allowed)`,
            ]);
            return 0;
        }),
    };
}

export const registryAllowMeasurement = allowlistCommand('measurement', true);
export const registryAllowModel = allowlistCommand('model', true);
export const registryRevokeMeasurement = allowlistCommand('measurement', false);
export const registryRevokeModel = allowlistCommand('model', false);

// ---------------------------------------------------------------- parameters

export const registrySetParams: Command = {
    path: ['registry', 'set-params'],
    summary: 'Change network parameters (governance owner only); the others keep their values, live jobs keep their terms',
    usage: '[--min-stake <TON>] [--cooldown <duration>] [--fee-bps <n>] [--dispute-window <duration>] [--slash-bps <n>] [--max-job-duration <duration>] [--lock-ratio-bps <n>] --wallet-seed <hex> [--json]',
    example: 'cocoon registry set-params --network .cocoon/network.json --wallet-seed $COCOON_WALLET_SEED --fee-bps 300 --dispute-window 2h',
    options: [...paramOptions(false), ...walletOptions],
    run: checkedRun(['registry', 'set-params'], async (args, io) => {
        noPositionals(args);
        const ctx = await connectWallet(args);
        const registry = ctx.registry!;
        const current = await registry.getParams();
        const { params, changed } = paramsFromOptions(args, current);
        if (changed.length === 0) throw new UsageError(`nothing to change: pass at least one of ${PARAM_OPTIONS.map((o) => '--' + o.name).join(', ')}`);
        if (sameParams(params, current)) throw new CheckFailed('UNCHANGED', `the registry's parameters already have these values: ${describeParams(current)}`);
        await requireOwner(ctx);
        await ctx.requireBalance(ACTION_VALUE, 'changing parameters');
        const versionBefore = await registry.getParamsVersion();
        io.progress(`sending SetParams (${changed.map((c) => '--' + c).join(', ')})`);
        await registry.send(ctx.wallet, { value: ACTION_VALUE }, { $$type: 'SetParams', queryId: queryId(), params });
        const version = await ctx.waitFor('the registry to apply the new parameters', async () => {
            const v = await registry.getParamsVersion();
            return v > versionBefore ? v : undefined;
        });
        const now = await registry.getParams();
        printResult(io, args.json, { registry: registry.address.toString(), versionBefore: Number(versionBefore), version: Number(version), changed, params: paramsToJson(now) }, [
            `registry ${registry.address.toString()}: parameters version ${versionBefore} → ${version}`,
            `parameters      ${describeParams(now)}`,
        ]);
        return 0;
    }),
};

// ---------------------------------------------------------------- ownership

export const registryTransferOwnership: Command = {
    path: ['registry', 'transfer-ownership'],
    summary: 'Nominate a new governance owner (step 1 of 2: the nominee then runs accept-ownership)',
    usage: '--new-owner <address> --wallet-seed <hex> [--network <file> | --endpoint <url> --registry <address>] [--json]',
    example: 'cocoon registry transfer-ownership --network .cocoon/network.json --wallet-seed $COCOON_WALLET_SEED --new-owner EQD…',
    options: [{ name: 'new-owner', type: 'string', description: 'address of the nominated owner', required: true }, ...walletOptions],
    run: checkedRun(['registry', 'transfer-ownership'], async (args, io) => {
        noPositionals(args);
        const newOwner = parse(() => parseAddress('new-owner', String(args.options['new-owner'])));
        const ctx = await connectWallet(args);
        const { registry } = await requireOwner(ctx);
        const g = await registry.getGovernance();
        if (g.owner.equals(newOwner)) throw new CheckFailed('ALREADY_OWNER', `${newOwner.toString()} is already the owner`);
        if (g.pendingOwner?.equals(newOwner)) throw new CheckFailed('ALREADY_PENDING', `${newOwner.toString()} is already the pending owner: it has to run cocoon registry accept-ownership`);
        await ctx.requireBalance(ACTION_VALUE, 'nominating an owner');
        io.progress(`sending TransferOwnership to ${newOwner.toString()}`);
        await registry.send(ctx.wallet, { value: ACTION_VALUE }, { $$type: 'TransferOwnership', queryId: queryId(), newOwner });
        await ctx.waitFor(`${newOwner.toString()} to become the pending owner`, async () => (await registry.getGovernance()).pendingOwner?.equals(newOwner) ?? false);
        printResult(io, args.json, { registry: registry.address.toString(), owner: g.owner.toString(), pendingOwner: newOwner.toString() }, [
            `registry ${registry.address.toString()}: pending owner ${newOwner.toString()}`,
            `owner           still ${g.owner.toString()} until the nominee runs cocoon registry accept-ownership`,
        ]);
        return 0;
    }),
};

export const registryAcceptOwnership: Command = {
    path: ['registry', 'accept-ownership'],
    summary: 'Become the governance owner after transfer-ownership nominated your wallet (step 2 of 2)',
    usage: '--wallet-seed <hex> [--network <file> | --endpoint <url> --registry <address>] [--json]',
    example: 'cocoon registry accept-ownership --network .cocoon/network.json --wallet-seed $NEW_OWNER_SEED',
    options: walletOptions,
    run: checkedRun(['registry', 'accept-ownership'], async (args, io) => {
        noPositionals(args);
        const ctx = await connectWallet(args);
        const registry = ctx.registry!;
        const g = await registry.getGovernance();
        if (g.owner.equals(ctx.me)) throw new CheckFailed('ALREADY_OWNER', `the wallet ${ctx.me.toString()} is already the governance owner of registry ${registry.address.toString()}`);
        if (!g.pendingOwner) throw new CheckFailed('NO_PENDING_OWNER', `registry ${registry.address.toString()} has no pending owner: the owner runs cocoon registry transfer-ownership first`);
        if (!g.pendingOwner.equals(ctx.me)) {
            throw new CheckFailed('NOT_PENDING_OWNER', `the wallet ${ctx.me.toString()} is not the pending owner of registry ${registry.address.toString()} (the pending owner is ${g.pendingOwner.toString()})`);
        }
        await ctx.requireBalance(ACTION_VALUE, 'accepting ownership');
        io.progress('sending AcceptOwnership');
        await registry.send(ctx.wallet, { value: ACTION_VALUE }, { $$type: 'AcceptOwnership', queryId: queryId() });
        await ctx.waitFor(`${ctx.me.toString()} to become the owner`, async () => (await registry.getGovernance()).owner.equals(ctx.me));
        printResult(io, args.json, { registry: registry.address.toString(), previousOwner: g.owner.toString(), owner: ctx.me.toString() }, [
            `registry ${registry.address.toString()}: owner ${g.owner.toString()} → ${ctx.me.toString()}`,
        ]);
        return 0;
    }),
};
