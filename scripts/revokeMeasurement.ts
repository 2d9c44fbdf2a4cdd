import { NetworkProvider } from '@ton/blueprint';
import { changeAllowlist, parseHash256, runScript } from './lib';

/**
 * Governance: revoke a TEE image measurement from the registry (governance owner only).
 *
 *   npx blueprint run revokeMeasurement --testnet --tonconnect -- --measurement <hash>
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        {
            name: 'revokeMeasurement',
            summary: 'revoke a TEE image measurement from the registry (governance owner only)',
            options: [{ name: 'measurement', help: 'TEE image measurement (64 hex characters)' }],
        },
        async (ctx) => {
            const { hash, file } = await ctx.args.required('measurement', (n, v) => ({ hash: parseHash256(n, v), file: undefined }));
            return changeAllowlist(ctx, 'measurement', false, hash, file);
        },
    );
}
