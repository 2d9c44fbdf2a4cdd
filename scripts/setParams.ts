import { NetworkProvider } from '@ton/blueprint';
import { ACTION_VALUE, describeParams, PARAM_OPTIONS, paramsFromArgs, queryId, runScript, sameParams } from './lib';

/**
 * Governance: change network parameters. Parameters not given keep their current on-chain values; live jobs keep
 * the terms they were opened with.
 *
 *   npx blueprint run setParams --testnet --tonconnect -- --fee-bps 300 --dispute-window 2h
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        {
            name: 'setParams',
            summary: 'change network parameters (governance owner only); unspecified ones keep their current values',
            // the env fallback of the parameter options is for deployRegistry only: a stray COCOON_FEE_BPS must not
            // silently change a live network
            options: PARAM_OPTIONS.map((o) => ({ ...o, env: false, help: o.help.replace(/ \(default[^)]*\)$/, '') })),
        },
        async (ctx) => {
            const registry = await ctx.registry();
            const current = await registry.getParams();
            const { params, changed } = paramsFromArgs(ctx.args, current);
            if (changed.length === 0) {
                throw new Error(`nothing to change: pass at least one of ${PARAM_OPTIONS.map((o) => '--' + o.name).join(', ')}`);
            }
            if (sameParams(params, current)) throw new Error(`the registry's parameters already have these values: ${describeParams(current)}`);
            await ctx.requireOwner(registry);
            await ctx.requireBalance(ACTION_VALUE, 'setParams');
            const versionBefore = await registry.getParamsVersion();
            await registry.send(ctx.provider.sender(), { value: ACTION_VALUE }, { $$type: 'SetParams', queryId: queryId(), params });
            const version = await ctx.waitFor('the registry to apply the new parameters', async () => {
                const v = await registry.getParamsVersion();
                return v > versionBefore ? v : undefined;
            });
            const now = await registry.getParams();
            return ctx.done(`registry ${ctx.fmt(registry.address)}: parameters version ${versionBefore} → ${version} (${changed.map((c) => '--' + c).join(', ')}); ${describeParams(now)}`, {
                registry: registry.address,
                version,
                params: now,
                changed,
            });
        },
    );
}
