import { NetworkProvider } from '@ton/blueprint';
import { fromNano, toNano } from '@ton/core';
import { codeLibrarianInit, jobEscrowCode } from '../wrappers';
import { parseTon, runScript } from './lib';

/** What a new librarian gets by default: masterchain storage for the JobEscrow code for a long while. */
const DEFAULT_LIBRARIAN_VALUE = toNano('10');
const MIN_LIBRARIAN_VALUE = toNano('1');

/**
 * Publishes the JobEscrow code as a public masterchain library through a CodeLibrarian owned by the sender, so that
 * a registry deployed with `deployRegistry --job-code library` deploys every job with a 264-bit library cell
 * instead of the code. Run it again to publish again or to top the librarian up (`--value`).
 *
 *   npx blueprint run publishJobCodeLibrary --testnet --tonconnect -- --value 10
 *
 * The librarian pays masterchain storage from its balance for as long as the library must live: if it runs dry the
 * library disappears, the registry refuses new jobs (ErrJobCodeUnavailable) and existing jobs stop running until
 * the code is published again (docs/operations.md).
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    return runScript(
        provider,
        argv,
        {
            name: 'publishJobCodeLibrary',
            summary: 'publish the JobEscrow code as a masterchain library (a CodeLibrarian owned by the sender)',
            options: [{ name: 'value', help: `TON sent to the librarian: its masterchain storage (default ${fromNano(DEFAULT_LIBRARIAN_VALUE)})` }],
            without: ['registry'],
        },
        async (ctx) => {
            const value = ctx.args.optional('value', (n, v) => parseTon(n, v), DEFAULT_LIBRARIAN_VALUE);
            if (value < MIN_LIBRARIAN_VALUE) throw new Error(`--value: at least ${fromNano(MIN_LIBRARIAN_VALUE)} TON (masterchain storage is paid from it), got ${fromNano(value)}`);
            const code = await jobEscrowCode();
            const librarian = ctx.provider.open(await codeLibrarianInit(ctx.sender(), code));
            const existed = await ctx.provider.isContractDeployed(librarian.address);
            await ctx.requireBalance(value, 'funding the librarian');
            await librarian.send(ctx.provider.sender(), { value }, { $$type: 'PublishLibrary', queryId: 0n });
            await ctx.waitForDeploy(librarian.address);
            const hash = await ctx.waitFor('the librarian to answer its getter', () => librarian.getCodeHash());
            if (hash !== BigInt('0x' + code.hash().toString('hex'))) throw new Error(`the librarian at ${ctx.fmt(librarian.address)} holds code ${hash.toString(16)}, not JobEscrow's`);
            const state = await ctx.provider.getContractState(librarian.address);
            return ctx.done(
                `JobEscrow code ${code.hash().toString('hex')} ${existed ? 'published again' : 'published'} by librarian ${ctx.fmt(librarian.address)} (masterchain, balance ${fromNano(state.balance)} TON); deploy a registry with --job-code library`,
                { librarian: librarian.address, codeHash: code.hash().toString('hex'), balance: state.balance, existed },
            );
        },
    );
}
