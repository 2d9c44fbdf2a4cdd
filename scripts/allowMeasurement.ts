import { NetworkProvider } from '@ton/blueprint';
import { changeAllowlist, parseHash256, runScript } from './lib';

/**
 * Governance: allow a TEE image measurement in the registry (governance owner only).
 *
 *   npx blueprint run allowMeasurement --testnet --tonconnect -- --measurement <hash>
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        {
            name: 'allowMeasurement',
            summary: 'allow a TEE image measurement in the registry (governance owner only)',
            options: [{ name: 'measurement', help: 'TEE image measurement (64 hex characters)' }],
        },
        async (ctx) => {
            const { hash, file } = await ctx.args.required('measurement', (n, v) => ({ hash: parseHash256(n, v), file: undefined }));
            return changeAllowlist(ctx, 'measurement', true, hash, file);
        },
    );
}
