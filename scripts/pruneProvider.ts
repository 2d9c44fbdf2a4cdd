import { NetworkProvider } from '@ton/blueprint';
import { ACTION_VALUE, hex256, parseAddress, parseChoice, parseHashOrFile, providerEnclave, queryId, runScript } from './lib';

const KIND = { measurement: 1n, model: 2n } as const;

/**
 * Anyone: make a provider apply a revocation it still advertises (its measurement, or one of its models, was
 * revoked in the registry), so that it cannot win new claims with it. Unused value comes back to the sender.
 *
 *   npx blueprint run pruneProvider --testnet --tonconnect -- --owner <provider owner> --kind model --hash <hash>
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        {
            name: 'pruneProvider',
            summary: 'apply a revoked measurement or model to a provider that still advertises it (permissionless)',
            options: [
                { name: 'owner', help: "the provider's owner address (the wallet that staked)" },
                { name: 'kind', help: 'measurement or model' },
                { name: 'hash', help: 'the revoked measurement or model hash (64 hex characters, or an .onnx path for a model)' },
            ],
        },
        async (ctx) => {
            const owner = await ctx.args.required('owner', parseAddress);
            const kind = await ctx.args.required('kind', (n, v) => parseChoice(n, v, ['measurement', 'model'] as const));
            const { hash } = await ctx.args.required('hash', parseHashOrFile);
            const registry = await ctx.registry();
            const label = `${kind} ${hex256(hash)}`;
            const stillAllowed = kind === 'measurement' ? await registry.getIsMeasurementAllowed(hash) : await registry.getIsModelAllowed(hash);
            if (stillAllowed) throw new Error(`${label} is still allowed in registry ${ctx.fmt(registry.address)}: only a revoked hash can be pruned`);
            const stake = await ctx.providerStake(registry, owner);
            if (!(await ctx.provider.isContractDeployed(stake.address))) {
                throw new Error(`${ctx.fmt(owner)} has no provider contract in registry ${ctx.fmt(registry.address)} (${ctx.fmt(stake.address)} is not deployed)`);
            }
            const advertises = async () => {
                if (kind === 'measurement') {
                    const e = await providerEnclave(stake);
                    return e !== null && e.measurement === hash;
                }
                return (await stake.getModels()).has(hash);
            };
            if (!(await advertises())) throw new Error(`provider ${ctx.fmt(stake.address)} does not advertise ${label}: nothing to prune`);
            await ctx.requireBalance(ACTION_VALUE, 'pruneProvider');
            await registry.send(ctx.provider.sender(), { value: ACTION_VALUE }, { $$type: 'PruneProvider', queryId: queryId(), owner, kind: KIND[kind], hash });
            await ctx.waitFor(`provider ${ctx.fmt(stake.address)} to drop ${label}`, async () => !(await advertises()));
            return ctx.done(
                `provider ${ctx.fmt(stake.address)} (owner ${ctx.fmt(owner)}): ${kind === 'measurement' ? 'enclave record removed for revoked' : 'stopped serving revoked'} ${label}`,
                { registry: registry.address, provider: stake.address, owner, kind, hash },
            );
        },
    );
}
