import * as path from 'path';
import { Command, CommandIO, ParsedArgs, UsageError } from '../command';
import { untilShutdownSignal } from '../signals';
import { DEFAULT_NETWORK_FILE } from '../../../protocol/network-file';
import { SIMULATED_WARNING } from '../../../protocol/attestation';
import { labelledLog } from '../../../localnet/processes';
import { LocalNetwork, redactUrl, startLocalNetwork } from '../../../localnet/up';
import { parseRedisUrl } from '../../../protocol/redis';
import { QueueBoard, startQueueBoard } from '../../../orchestrator/dashboard/queueBoard';

/**
 * `cocoon up`: a complete local Cocoon network (localnet/up.ts) that runs until Ctrl-C. Progress goes to stderr;
 * the summary (or, with --json, one line `{"ready":true,...}`) to stdout once every process is ready.
 */
export const up: Command = {
    path: ['up'],
    summary: 'Start a local network: devnet chain, Redis, registry, staked providers, orchestrator and workers (SIMULATED TEE)',
    usage: '[--workers N] [--capacity N] [--dashboard] [--redis-url <url>] [--api-port <port>] [--chain-port <port>] [--network-file <file>] [--json]',
    example: 'cocoon up --workers 2 --dashboard',
    options: [
        { name: 'workers', type: 'number', description: 'providers to stake, each with one worker process (1 to 16)', env: 'COCOON_WORKERS', default: 2 },
        { name: 'capacity', type: 'number', description: 'jobs each worker runs at once', env: 'COCOON_CAPACITY', default: 2 },
        { name: 'dashboard', type: 'boolean', description: "serve the queue board (bull-board, read-only) and link the orchestrator's status page (<api>/dashboard)" },
        { name: 'dashboard-port', type: 'number', description: 'queue board port (0 picks a free one)', env: 'COCOON_DASHBOARD_PORT', default: 0 },
        { name: 'redis-url', type: 'string', description: 'use this Redis instead of starting a private redis-server', env: 'REDIS_URL' },
        { name: 'api-port', type: 'number', description: 'orchestrator API port (0 picks a free one)', env: 'COCOON_API_PORT', default: 0 },
        { name: 'chain-port', type: 'number', description: 'devnet (TON HTTP API) port (0 picks a free one)', env: 'COCOON_DEVNET_PORT', default: 0 },
        { name: 'network-file', type: 'string', description: 'where to write the network file clients read', env: 'COCOON_NETWORK', default: DEFAULT_NETWORK_FILE },
        { name: 'logs', type: 'boolean', description: "forward the orchestrator's and workers' logs to stderr, each line prefixed with [name]" },
    ],
    async run(args: ParsedArgs, io: CommandIO): Promise<number> {
        if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
        const workers = args.options.workers as number;
        if (!Number.isInteger(workers) || workers < 1 || workers > 16) throw new UsageError(`--workers must be an integer from 1 to 16, got ${workers}`);
        const capacity = args.options.capacity as number;
        if (!Number.isInteger(capacity) || capacity < 1 || capacity > 64) throw new UsageError(`--capacity must be an integer from 1 to 64, got ${capacity}`);
        const apiPort = portOption(args, 'api-port');
        const chainPort = portOption(args, 'chain-port');
        const redisUrl = args.options['redis-url'] as string | undefined;
        if (redisUrl !== undefined) {
            try {
                parseRedisUrl(redisUrl); // redis://, rediss:// or redis+cluster://: the message says which form is wrong
            } catch (e) {
                throw new UsageError(`--redis-url: ${(e as Error).message}`);
            }
        }
        const networkFile = args.options['network-file'] as string;

        io.progress(`cocoon up: ${SIMULATED_WARNING} — for development only; the network file holds dev wallet seeds`);
        const started = Date.now();
        let local: LocalNetwork;
        try {
            local = await startLocalNetwork({
                workers,
                workerCapacity: capacity,
                redisUrl,
                apiPort,
                chainPort,
                networkFile,
                log: (line) => io.progress(`  … ${line}`),
                onChildLog: args.options.logs ? labelledLog((line) => io.error(line)) : undefined,
            });
        } catch (e) {
            io.error(`cocoon up: could not start the local network: ${(e as Error).message}`);
            return 1;
        }

        const dashboard = args.options.dashboard ? `${local.api}/dashboard` : undefined;
        let board: QueueBoard | undefined;
        if (args.options.dashboard) {
            try {
                board = await startQueueBoard({ redis: local.redisUrl, port: portOption(args, 'dashboard-port'), apiUrl: local.api });
            } catch (e) {
                io.error(`cocoon up: could not start the queue board: ${(e as Error).message}`);
                await local.stop();
                return 1;
            }
        }
        // listen for Ctrl-C before saying we are ready: a script that stops us right after the ready line must get
        // the clean shutdown below, not the default kill
        const shutdown = untilShutdownSignal();
        const displayFile = path.relative(process.cwd(), local.networkFile) || local.networkFile;
        const networkFlag = path.resolve(local.networkFile) === path.resolve(DEFAULT_NETWORK_FILE) ? '' : ` --network ${displayFile}`;
        const tryLine = `npx cocoon job run --model ocr --input demo/assets/ocr-confidential.png${networkFlag}`;
        if (args.json) {
            io.out(JSON.stringify({
                ready: true,
                endpoint: local.network.endpoint,
                registry: local.network.registry,
                api: local.api,
                ...(dashboard ? { dashboard, queues: board!.url } : {}),
                redisUrl: redactUrl(local.redisUrl),
                networkFile: local.networkFile,
                tee: 'simulated',
                warning: SIMULATED_WARNING,
                providers: local.providers.map((p) => ({ name: p.name, owner: p.owner, stakeContract: p.stakeContract, queue: p.ready.queue, pid: p.pid })),
                pids: local.network.pids,
                startupMs: Date.now() - started,
            }));
        } else {
            io.out([
                `Cocoon local network is up (${((Date.now() - started) / 1000).toFixed(1)} s) — ${SIMULATED_WARNING}`,
                `  chain         ${local.network.endpoint}`,
                `  registry      ${local.network.registry}`,
                `  API           ${local.api}`,
                ...(dashboard ? [`  dashboard     ${dashboard} (providers and jobs)`, `  queues        ${board!.url} (bull-board, read-only)`] : []),
                `  redis         ${redactUrl(local.redisUrl)}`,
                ...local.providers.map((p) => `  ${p.name.padEnd(13)} ${p.owner} (worker pid ${p.pid})`),
                `  network file  ${displayFile}`,
                '',
                `try: ${tryLine}`,
                'Ctrl-C stops everything.',
            ].join('\n'));
        }

        let stopping = false;
        // a child dying on its own leaves the network broken: say so, keep the rest up until the user stops it
        for (const child of [local.orchestrator, ...local.workers]) {
            child.exited.then((info) => {
                if (!stopping) io.error(`cocoon up: ${child.name} exited unexpectedly (${info.signal ?? `code ${info.code}`}); last stderr: ${child.stderrTail().slice(-3).join(' | ')}`);
            });
        }
        // a second Ctrl-C while stopping gives up waiting (children still get SIGTERM from the exit hook)
        const signal = await shutdown;
        stopping = true;
        io.progress(`cocoon up: ${signal} received, stopping`);
        try {
            await board?.close();
            await local.stop();
        } catch (e) {
            io.error(`cocoon up: error while stopping: ${(e as Error).message}`);
            return 1;
        }
        io.progress('cocoon up: stopped');
        return 0;
    },
};

function portOption(args: ParsedArgs, name: string): number {
    const port = args.options[name] as number;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--${name} must be an integer from 0 to 65535, got ${port}`);
    return port;
}
