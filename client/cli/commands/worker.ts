import * as fs from 'fs';
import * as path from 'path';
import { Writable } from 'stream';
import { Address } from '@ton/core';
import pino from 'pino';
import { Command, CommandIO, ParsedArgs, UsageError } from '../command';
import { untilShutdownSignal } from '../signals';
import { ChainClient, WalletSender } from '../../../protocol/chain';
import { DEFAULT_NETWORK_FILE, NetworkFile, readNetworkFile, walletFromSeed } from '../../../protocol/network-file';
import { devVendorKeyPair, SIMULATED_WARNING, SimulatedTee, TDX_UNAVAILABLE_MESSAGE, TdxAttestationProvider } from '../../../protocol/attestation';
import { Enclave } from '../../../worker/enclave/enclave';
import { DEFAULT_WORKER_IMAGE, simulatedWorkerMeasurement, WORKER_ROOT } from '../../../worker/enclave/measurement';
import { InferenceEngine } from '../../../worker/inference/engine';
import { InferenceThreadMode, parseInferenceThreadMode } from '../../../worker/inference/placement';
import { CUDA_UNAVAILABLE_MESSAGE } from '../../../worker/inference/sessions';
import { checkRedisConnection, parsePriceSpec, resolvePrices, WorkerService } from '../../../worker/service';
import { apiBases } from '../../../worker/service/blobs';

/**
 * `cocoon worker`: one provider's worker process (worker/service). It registers this process's enclave on chain,
 * heartbeats into the orchestrators' Redis, and runs the jobs routed to the provider's queue. Prints ONE line on
 * stdout when ready — `{"ready":true,"owner":…,"queue":…,"measurement":…}` (`cocoon up` parses it) — and logs on
 * stderr. SIGTERM/SIGINT drain (running jobs finish, waiting ones are handed back) and exit 0.
 *
 * With `--tee simulated` (the only TEE on machines without TDX) there is NO hardware protection: the host can read
 * the enclave's keys and the jobs' plaintext, and anyone with the vendor seed can forge quotes.
 */
export const workerCommand: Command = {
    path: ['worker'],
    summary: 'Run a provider worker: register the enclave, heartbeat, run routed jobs (simulated TEE: no hardware protection)',
    usage: '[--network <file>] --wallet-seed <hex> [--api <url>[,<url>...]] [--redis <url>] [--tee simulated] [--price ocr=0.2 ...] [--capacity 2]',
    example: 'COCOON_WALLET_SEED=$(jq -r .devWallets[\\"provider-1\\"] .cocoon/network.json) cocoon worker --network .cocoon/network.json --price ocr=0.25 --capacity 2',
    options: [
        { name: 'network', type: 'string', description: `network file supplying endpoint, registry, api and redisUrl (default ${DEFAULT_NETWORK_FILE} when it exists and a flag is missing)`, env: 'COCOON_NETWORK' },
        { name: 'endpoint', type: 'string', description: 'TON HTTP API v2 JSON-RPC endpoint (overrides the network file)', env: 'COCOON_ENDPOINT' },
        { name: 'registry', type: 'string', description: 'registry address (overrides the network file)', env: 'COCOON_REGISTRY' },
        {
            name: 'api',
            type: 'list',
            description:
                'orchestrator HTTP API base URL(s) for input and result envelopes, in order of preference: comma-separated or repeated ' +
                '(env: comma-separated; config file: a list); on a connection error or 5xx the worker fails over to the next one (overrides the network file)',
            env: 'COCOON_API',
        },
        {
            name: 'redis',
            type: 'string',
            description: 'Redis URL shared with the orchestrators: redis://host:port, or redis+cluster://host:port,host:port for a Redis Cluster (overrides the network file)',
            env: 'REDIS_URL',
        },
        { name: 'wallet-seed', type: 'string', description: "32-byte hex seed of the provider owner's v4 wallet (stake, claims, receipts)", env: 'COCOON_WALLET_SEED' },
        { name: 'tee', type: 'string', description: "'simulated' (NO hardware protection; the only one without TDX) or 'tdx'", env: 'COCOON_TEE', default: 'simulated' },
        {
            name: 'sim-vendor-seed',
            type: 'string',
            description: 'INSECURE dev seed of the simulated TEE vendor key (anyone knowing it can forge quotes); must match the network',
            env: 'COCOON_SIM_VENDOR_SEED',
            default: 'cocoon-local',
        },
        { name: 'catalog', type: 'string', description: 'model catalog, relative to the repository root (part of the measurement as written)', env: 'COCOON_CATALOG', default: DEFAULT_WORKER_IMAGE.catalog },
        { name: 'execution-provider', type: 'string', description: "onnxruntime execution provider: 'cpu' or 'cuda' (part of the measurement)", env: 'COCOON_EXECUTION_PROVIDER', default: 'cpu' },
        {
            name: 'inference-thread',
            type: 'string',
            description: "where models run: 'auto' (those whose runs take ≥ 4 ms move to an inference thread, off the event loop), 'on' (all) or 'off' (none)",
            env: 'COCOON_INFERENCE_THREAD',
            default: 'auto',
        },
        { name: 'price', type: 'list', description: 'price per job <model>=<TON>, model = ocr|vad|tensor or a 64-hex hash (repeatable; defaults ocr 0.2, vad 0.1, tensor 0.05)', env: 'COCOON_PRICES' },
        { name: 'capacity', type: 'number', description: 'jobs run at once (2 lets one job be sealed and claimed while the next one runs its model)', env: 'COCOON_CAPACITY', default: 2 },
        { name: 'endpoint-name', type: 'string', description: 'public name of this worker in its enclave record and heartbeat (≤ 120 bytes; default worker://<host>)', env: 'COCOON_ENDPOINT_NAME' },
    ],
    async run(args: ParsedArgs, io: CommandIO): Promise<number> {
        if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
        const cfg = resolveConfig(args);
        const logger = makeLogger(args.json);

        // The TEE. The measurement is computed, never configured: it names this checkout and its static configuration.
        if (cfg.tee === 'tdx') {
            if (!new TdxAttestationProvider().available()) throw new UsageError(`--tee tdx: ${TDX_UNAVAILABLE_MESSAGE}`);
            io.error('cocoon worker: --tee tdx: TDX quotes are available, but this build derives worker measurements for the simulated TEE only; run with --tee simulated');
            return 2;
        }
        const measurement = simulatedWorkerMeasurement({ tee: cfg.tee, catalog: cfg.catalog, executionProvider: cfg.executionProvider });
        const vendor = devVendorKeyPair(cfg.vendorSeed);
        if (cfg.network?.tee.type === 'simulated' && cfg.network.tee.vendorPublicKey !== vendor.publicKeyHex) {
            throw new UsageError(
                `--sim-vendor-seed: its vendor key ${vendor.publicKeyHex} is not the network's (${cfg.network.tee.vendorPublicKey}): clients would reject this worker's quotes`,
            );
        }
        logger.warn({ tee: 'simulated', measurement }, `${SIMULATED_WARNING}: enclave keys and job plaintext are readable by this host; quotes are signed with an INSECURE dev vendor key`);
        const enclave = new Enclave({ attestation: new SimulatedTee({ vendorPrivateKey: vendor.privateKey, measurement }) });
        const { quote } = await enclave.attest();

        // The models: loaded and warmed before registering, so a broken catalog or a missing CUDA provider fails now.
        let engine: InferenceEngine;
        try {
            engine = await InferenceEngine.fromCatalogFile(path.resolve(WORKER_ROOT, cfg.catalog), { executionProvider: cfg.executionProvider, inferenceThread: cfg.inferenceThread });
        } catch (e) {
            throw new UsageError(`--catalog ${cfg.catalog}: ${(e as Error).message}`);
        }
        try {
            await engine.warmup();
        } catch (e) {
            await engine.close().catch(() => undefined);
            const code = (e as { code?: string }).code;
            if (code === 'EXECUTION_PROVIDER_UNAVAILABLE') throw new UsageError(`--execution-provider cuda: ${CUDA_UNAVAILABLE_MESSAGE}`);
            io.error(`cocoon worker: loading the models failed: ${(e as Error).message}`);
            return 1;
        }
        try {
            resolvePrices(engine.models(), cfg.prices);
        } catch (e) {
            await engine.close().catch(() => undefined);
            throw new UsageError(`--price: ${(e as Error).message}`);
        }

        const chain = new ChainClient({ endpoint: cfg.endpoint });
        const wallet: WalletSender = walletFromSeed(chain, cfg.walletSeed, { pollIntervalMs: 200 });
        const service = new WorkerService({
            redis: cfg.redis,
            chain,
            registry: cfg.registry,
            wallet,
            enclave,
            quote,
            engine,
            prices: cfg.prices,
            apiUrl: cfg.api,
            capacity: cfg.capacity,
            endpoint: cfg.endpointName,
            logger,
        });
        try {
            await service.start();
        } catch (e) {
            await engine.close().catch(() => undefined);
            io.error(`cocoon worker: cannot start: ${(e as Error).message}`);
            return 1;
        }
        const shutdown = untilShutdownSignal(); // listening before the ready line: see up.ts
        io.out(JSON.stringify({ ready: true, owner: service.owner, queue: service.queueName, measurement }));

        // a second signal while draining forces the exit (running jobs stay Open for another provider)
        const signal = await shutdown;
        logger.info({ signal }, 'draining');
        try {
            await service.stop({ drain: true });
        } catch (e) {
            io.error(`cocoon worker: error while draining: ${(e as Error).message}`);
            return 1;
        } finally {
            await engine.close().catch(() => undefined);
        }
        logger.info({}, 'stopped');
        logger.flush?.();
        return 0;
    },
};

interface WorkerCliConfig {
    network?: NetworkFile;
    endpoint: string;
    registry: Address;
    /** orchestrator API base URLs, in order of preference */
    api: string[];
    redis: string;
    walletSeed: string;
    tee: 'simulated' | 'tdx';
    vendorSeed: string;
    catalog: string;
    executionProvider: 'cpu' | 'cuda';
    inferenceThread: InferenceThreadMode;
    prices: Record<string, bigint>;
    capacity: number;
    endpointName?: string;
}

/** Flags / env / --config over the network file; every problem is a UsageError naming the field (exit 2). */
export function resolveConfig(args: ParsedArgs): WorkerCliConfig {
    const o = args.options;
    const str = (name: string) => (o[name] === undefined ? undefined : String(o[name]));
    let network: NetworkFile | undefined;
    // The default file is read only when flags leave a field open: a stale file from an earlier run must not
    // override (or contradict) a fully specified command line.
    const apiFlags = ((o.api as string[] | undefined) ?? []).flatMap((a) => a.split(',')).map((a) => a.trim()).filter(Boolean);
    const allGiven = ['endpoint', 'registry', 'redis'].every((n) => str(n)) && apiFlags.length > 0;
    const networkPath = str('network') || (!allGiven && fs.existsSync(DEFAULT_NETWORK_FILE) ? DEFAULT_NETWORK_FILE : undefined);
    if (networkPath) {
        try {
            network = readNetworkFile(networkPath);
        } catch (e) {
            throw new UsageError(`--network: ${(e as Error).message}`);
        }
    }
    const need = (name: string, fromNetwork: string | undefined, what: string): string => {
        const v = str(name) ?? fromNetwork;
        if (!v) throw new UsageError(`missing --${name}: ${what} (or pass --network <file>, e.g. the one \`cocoon up\` writes)`);
        return v;
    };

    const endpoint = need('endpoint', network?.endpoint, 'the TON HTTP API endpoint');
    if (!/^https?:\/\//.test(endpoint)) throw new UsageError(`--endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
    const registryText = need('registry', network?.registry, 'the registry address');
    let registry: Address;
    try {
        registry = Address.parse(registryText);
    } catch {
        throw new UsageError(`--registry is not a TON address: ${JSON.stringify(registryText)}`);
    }
    const apiList = apiFlags.length > 0 ? apiFlags : network?.api ? [network.api] : [];
    if (apiList.length === 0) throw new UsageError('missing --api: the orchestrator API URL(s), comma-separated (or pass --network <file>, e.g. the one `cocoon up` writes)');
    for (const u of apiList) if (!/^https?:\/\/[^/]/.test(u)) throw new UsageError(`--api must be http(s) URLs, got ${JSON.stringify(u)}`);
    const api = apiBases(apiList);
    const redis = need('redis', network?.redisUrl, 'the Redis URL the orchestrators use');
    try {
        checkRedisConnection(redis);
    } catch (e) {
        throw new UsageError(`--redis: ${(e as Error).message}`);
    }
    const walletSeed = str('wallet-seed');
    if (!walletSeed) throw new UsageError("missing --wallet-seed (or env COCOON_WALLET_SEED): the provider owner's 32-byte hex wallet seed");
    if (!/^(0x)?[0-9a-fA-F]{64}$/.test(walletSeed.trim())) throw new UsageError('--wallet-seed must be 32 bytes in hex (64 digits)');

    const tee = str('tee');
    if (tee !== 'simulated' && tee !== 'tdx') throw new UsageError(`--tee must be 'simulated' or 'tdx', got ${JSON.stringify(tee)}`);
    const executionProvider = str('execution-provider');
    if (executionProvider !== 'cpu' && executionProvider !== 'cuda') throw new UsageError(`--execution-provider must be 'cpu' or 'cuda', got ${JSON.stringify(executionProvider)}`);
    const catalog = str('catalog')!;
    if (!fs.existsSync(path.resolve(WORKER_ROOT, catalog))) throw new UsageError(`--catalog: no file ${catalog} under ${WORKER_ROOT}`);
    const vendorSeed = str('sim-vendor-seed')!;
    if (vendorSeed === '') throw new UsageError('--sim-vendor-seed must not be empty');

    const prices: Record<string, bigint> = {};
    for (const spec of (o.price as string[] | undefined) ?? []) {
        try {
            const [model, price] = parsePriceSpec(spec);
            prices[model] = price;
        } catch (e) {
            throw new UsageError(`--price: ${(e as Error).message}`);
        }
    }
    let inferenceThread: InferenceThreadMode;
    try {
        inferenceThread = parseInferenceThreadMode(str('inference-thread'), '--inference-thread');
    } catch (e) {
        throw new UsageError((e as Error).message);
    }
    const capacity = o.capacity as number;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 64) throw new UsageError(`--capacity must be an integer from 1 to 64, got ${capacity}`);
    const endpointName = str('endpoint-name');
    if (endpointName !== undefined && Buffer.byteLength(endpointName) > 120) throw new UsageError('--endpoint-name must be at most 120 bytes');

    return { network, endpoint, registry, api, redis, walletSeed, tee, vendorSeed, catalog, executionProvider, inferenceThread, prices, capacity, endpointName };
}

/** pino on stderr: JSON lines with --json, otherwise one readable line per record. */
function makeLogger(json: boolean): pino.Logger {
    const base = { name: 'cocoon-worker' };
    if (json) return pino({ base }, pino.destination({ fd: 2, sync: true }));
    const human = new Writable({
        write(chunk, _enc, cb) {
            for (const line of chunk.toString().split('\n').filter(Boolean)) {
                try {
                    const { level, time, msg, name: _n, pid: _p, hostname: _h, ...rest } = JSON.parse(line);
                    const lvl = pino.levels.labels[level] ?? String(level);
                    const extra = Object.keys(rest).length ? ' ' + JSON.stringify(rest) : '';
                    process.stderr.write(`${new Date(time).toISOString()} ${lvl.toUpperCase().padEnd(5)} ${msg}${extra}\n`);
                } catch {
                    process.stderr.write(line + '\n');
                }
            }
            cb();
        },
    });
    return pino({ base }, human);
}


