import { NetworkProvider } from '@ton/blueprint';
import { changeAllowlist, parseHashOrFile, runScript } from './lib';

/**
 * Governance: revoke a model hash from the registry (governance owner only).
 *
 *   npx blueprint run revokeModel --testnet --tonconnect -- --model <hash>
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        {
            name: 'revokeModel',
            summary: 'revoke a model hash from the registry (governance owner only)',
            options: [{ name: 'model', help: 'model hash (64 hex characters) or the path of the .onnx file whose sha256 is the hash' }],
        },
        async (ctx) => {
            const { hash, file } = await ctx.args.required('model', parseHashOrFile);
            return changeAllowlist(ctx, 'model', false, hash, file);
        },
    );
}
