import { Command, CommandIO, ParsedArgs, UsageError } from '../command';
import { untilShutdownSignal } from '../signals';
import { FundEntry, parseFundSpec, startDevnet } from '../../../devnet';

/**
 * `cocoon devnet`: a local TON chain (the sandbox's TVM emulator) behind toncenter's v2 HTTP API. Prints one JSON
 * line `{"event":"ready","endpoint":"http://127.0.0.1:<port>/jsonRPC"}` on stdout once it serves; diagnostics go
 * to stderr. SIGINT/SIGTERM stop it cleanly (queued messages finish, the state is saved).
 */
export const devnet: Command = {
    path: ['devnet'],
    summary: 'Run a local TON chain behind the toncenter v2 HTTP API (for tests, demos and Blueprint scripts)',
    usage: '--port <port> [--state <dir>] [--fund <address>=<TON> ...] [--host 127.0.0.1]',
    example: 'cocoon devnet --port 8081 --state .devnet --fund 0:2cf55953e92efbeadab7ba725c3f93a0b23f842cbba72d7b8e6f510a70e422e3=1000',
    options: [
        { name: 'port', type: 'number', description: 'TCP port to serve on (0 picks a free one)', env: 'COCOON_DEVNET_PORT', default: 8081 },
        { name: 'host', type: 'string', description: 'interface to bind', env: 'COCOON_DEVNET_HOST', default: '127.0.0.1' },
        {
            name: 'state',
            type: 'string',
            description: 'directory to keep the chain in; a restart continues from it (saved every few seconds and on exit)',
            env: 'COCOON_DEVNET_STATE',
        },
        {
            name: 'fund',
            type: 'list',
            description: 'credit <address>=<TON> at start (raw or user-friendly address; repeatable); additive on restarts',
            env: 'COCOON_DEVNET_FUND',
        },
        { name: 'api-key', type: 'string', description: 'require this API key (X-API-Key header or api_key parameter)', env: 'COCOON_DEVNET_API_KEY' },
        { name: 'save-interval', type: 'number', description: 'seconds between periodic state saves when something changed', default: 2 },
        { name: 'verbose', type: 'boolean', description: 'log dropped messages and other diagnostics to stderr' },
    ],
    async run(args: ParsedArgs, io: CommandIO): Promise<number> {
        if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
        const port = args.options.port as number;
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${port}`);
        const saveInterval = args.options['save-interval'] as number;
        if (!(saveInterval > 0)) throw new UsageError(`--save-interval must be a positive number of seconds, got ${saveInterval}`);
        const fund: FundEntry[] = [];
        for (const spec of (args.options.fund as string[] | undefined) ?? []) {
            try {
                fund.push(parseFundSpec(spec));
            } catch (e) {
                throw new UsageError((e as Error).message);
            }
        }
        const verbose = args.options.verbose === true;

        let node;
        try {
            node = await startDevnet({
                port,
                host: args.options.host as string,
                stateDir: args.options.state as string | undefined,
                fund,
                apiKey: args.options['api-key'] as string | undefined,
                saveIntervalMs: Math.round(saveInterval * 1000),
                log: (line) => {
                    if (verbose || !/dropped|emulation stopped/.test(line)) io.error(line);
                },
            });
        } catch (e) {
            const err = e as NodeJS.ErrnoException;
            const why = err.code === 'EADDRINUSE' ? `port ${port} is already in use` : err.message;
            io.error(`cocoon devnet: cannot start: ${why}`);
            return 1;
        }
        const devnet = node;
        const shutdown = untilShutdownSignal(); // listening before the ready line: see up.ts
        io.out(JSON.stringify({ event: 'ready', endpoint: devnet.endpoint }));
        io.progress(
            `devnet serving ${devnet.endpoint}` +
                (args.options.state ? ` (state in ${args.options.state})` : ' (in memory: pass --state <dir> to keep it)') +
                `; ${fund.length} address(es) funded. Ctrl-C to stop.`,
        );

        const signal = await shutdown;
        io.progress(`devnet: ${signal} received, shutting down`);
        try {
            await devnet.close();
        } catch (e) {
            io.error(`cocoon devnet: error while shutting down: ${(e as Error).message}`);
            return 1;
        }
        io.progress('devnet: stopped');
        return 0;
    },
};
