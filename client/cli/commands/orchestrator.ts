import { Address } from '@ton/core';
import pino from 'pino';
import { Command, CommandIO, ParsedArgs, UsageError } from '../command';
import { untilShutdownSignal } from '../signals';
import { ChainClient } from '../../../protocol/chain';
import { NetworkFile, readNetworkFile, walletFromSeed } from '../../../protocol/network-file';
import { OrchestratorService } from '../../../orchestrator/service';
import { isClusterUrl, parseRedisUrl } from '../../../protocol/redis';

/**
 * `cocoon orchestrator`: runs one orchestrator (API, directory sync, dispatch; the leader also watches the chain
 * and expires jobs). Several may run against one Redis. Prints ONE line on stdout once the API listens:
 * `{"ready":true,"api":"http://127.0.0.1:PORT","instance":"…"}`; structured logs (pino) go to stderr.
 * SIGTERM / SIGINT: stops dispatching (jobs in progress are handed to another instance), releases the leader lease,
 * closes, exits 0.
 */
export const orchestratorCommand: Command = {
    path: ['orchestrator'],
    summary:
        'Run an orchestrator: HTTP API for envelopes, providers and job status; routes on-chain jobs to workers over Redis (BullMQ). ' +
        'Run several against one Redis: one leads (chain watcher, expiry), all dispatch. On a local network the TEE is SIMULATED: no hardware protection.',
    usage: '[--network <file>] [--endpoint <url> --registry <address>] [--redis <url>] [--port 8080] [--operator-seed <hex>]',
    example: 'cocoon orchestrator --network .cocoon/network.json --port 8080 --operator-seed $COCOON_OPERATOR_SEED',
    options: [
        { name: 'network', type: 'string', description: 'network file (endpoint, registry, redisUrl); flags override its fields', env: 'COCOON_NETWORK' },
        { name: 'endpoint', type: 'string', description: 'TON HTTP API v2 JSON-RPC endpoint', env: 'COCOON_ENDPOINT' },
        { name: 'api-key', type: 'string', description: 'API key for the TON HTTP API', env: 'COCOON_API_KEY' },
        { name: 'registry', type: 'string', description: 'Registry contract address', env: 'COCOON_REGISTRY' },
        {
            name: 'redis',
            type: 'string',
            description: 'Redis URL shared by orchestrators and workers: redis://host:port[/db], or redis+cluster://host:port,host:port for a Redis Cluster',
            env: 'REDIS_URL',
        },
        { name: 'host', type: 'string', description: 'interface the API listens on', env: 'COCOON_API_HOST', default: '127.0.0.1' },
        { name: 'port', type: 'number', description: 'API port (0 picks a free one)', env: 'COCOON_API_PORT', default: 8080 },
        { name: 'operator-seed', type: 'string', description: '32-byte hex seed of the wallet that pays for ExpireJob/Settle (leader only)', env: 'COCOON_OPERATOR_SEED' },
        { name: 'instance-id', type: 'string', description: 'unique name of this instance (default host-pid-random)', env: 'COCOON_INSTANCE_ID' },
        {
            name: 'queue-prefix',
            type: 'string',
            description: 'BullMQ key prefix, the same for every orchestrator and worker (queue names carry their own Redis Cluster hash tags)',
            env: 'COCOON_QUEUE_PREFIX',
            default: 'cocoon',
        },
        { name: 'max-attempts', type: 'number', description: 'providers tried per job before it is dead-lettered', default: 3 },
        { name: 'log-level', type: 'string', description: 'pino level for stderr logs (fatal, error, warn, info, debug)', env: 'COCOON_LOG_LEVEL', default: 'info' },
    ],
    async run(args: ParsedArgs, io: CommandIO): Promise<number> {
        if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
        const o = args.options;
        let net: NetworkFile | undefined;
        if (o.network) {
            try {
                net = readNetworkFile(o.network as string);
            } catch (e) {
                throw new UsageError((e as Error).message);
            }
        }
        const endpoint = (o.endpoint as string | undefined) ?? net?.endpoint;
        const registryText = (o.registry as string | undefined) ?? net?.registry;
        const redisUrl = (o.redis as string | undefined) ?? net?.redisUrl ?? 'redis://127.0.0.1:6379';
        try {
            parseRedisUrl(redisUrl);
        } catch (e) {
            throw new UsageError(`--redis: ${(e as Error).message}`);
        }
        const queuePrefix = o['queue-prefix'] as string;
        if (queuePrefix === '') throw new UsageError('--queue-prefix must not be empty');
        if (!endpoint) throw new UsageError('no chain endpoint: pass --endpoint <url> or --network <file>');
        if (!registryText) throw new UsageError('no registry address: pass --registry <address> or --network <file>');
        let registry: Address;
        try {
            registry = Address.parse(registryText);
        } catch {
            throw new UsageError(`--registry ${JSON.stringify(registryText)} is not a TON address`);
        }
        const port = o.port as number;
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, got ${port}`);
        const maxAttempts = o['max-attempts'] as number;
        if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new UsageError(`--max-attempts must be a whole number >= 1, got ${maxAttempts}`);
        const level = o['log-level'] as string;
        if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(level)) throw new UsageError(`--log-level ${level} is not a pino level`);

        const logger = pino({ name: 'cocoon-orchestrator', level }, pino.destination(2));
        if (isClusterUrl(redisUrl)) logger.info('Redis Cluster mode: queues, the watcher and heartbeats each stay in one hash slot (docs/operations.md)');
        const chain = new ChainClient({ endpoint, apiKey: o['api-key'] as string | undefined });
        let operator;
        if (o['operator-seed']) {
            try {
                operator = walletFromSeed(chain, o['operator-seed'] as string);
            } catch (e) {
                throw new UsageError(`--operator-seed: ${(e as Error).message}`);
            }
        }
        const svc = new OrchestratorService({
            chain,
            registry,
            redisUrl,
            instanceId: o['instance-id'] as string | undefined,
            operator,
            queuePrefix,
            api: { port, host: o.host as string },
            dispatcher: { maxAttempts },
            simulatedTee: net?.tee.type === 'simulated',
            logger,
        });
        try {
            await svc.start();
        } catch (e) {
            const err = e as NodeJS.ErrnoException;
            io.error(`cocoon orchestrator: cannot start: ${err.code === 'EADDRINUSE' ? `port ${port} is already in use` : err.message}`);
            await svc.close().catch(() => undefined);
            return 1;
        }
        const shutdown = untilShutdownSignal(); // listening before the ready line: see up.ts
        io.out(JSON.stringify({ ready: true, api: svc.url, instance: svc.instanceId }));

        const signal = await shutdown;
        logger.info({ signal }, 'shutting down');
        try {
            await svc.close();
        } catch (e) {
            io.error(`cocoon orchestrator: error while shutting down: ${(e as Error).message}`);
            return 1;
        }
        logger.flush?.();
        return 0;
    },
};
