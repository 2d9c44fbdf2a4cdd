import { NetworkProvider } from '@ton/blueprint';
import { changeAllowlist, parseHashOrFile, runScript } from './lib';

/**
 * Governance: allow a model hash in the registry (governance owner only).
 *
 *   npx blueprint run allowModel --testnet --tonconnect -- --model <hash>
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        {
            name: 'allowModel',
            summary: 'allow a model hash in the registry (governance owner only)',
            options: [{ name: 'model', help: 'model hash (64 hex characters) or the path of the .onnx file whose sha256 is the hash' }],
        },
        async (ctx) => {
            const { hash, file } = await ctx.args.required('model', parseHashOrFile);
            return changeAllowlist(ctx, 'model', true, hash, file);
        },
    );
}
