/**
 * `cocoon worker` as a real process: configuration errors exit 2 naming the field; with a network file it
 * registers, prints ONE ready line on stdout, heartbeats, and on SIGTERM drains, leaves the live set and exits 0.
 * (The command is not in client/cli/registry.ts yet, so the child runs it through parseArgs + run like main does.)
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Redis from 'ioredis';
import pino from 'pino';
import { startDevnet, Devnet } from '../../devnet';
import { decodeHeartbeat, KEYS, workQueueName } from '../../protocol/work';
import { TDX_UNAVAILABLE_MESSAGE } from '../../protocol/attestation';
import { writeNetworkFile } from '../../protocol/network-file';
import { bootstrapNetwork, BootstrappedNetwork } from '../../localnet/bootstrap';
import { BlobStore } from '../../orchestrator/blobs';
import { ApiServer, createApiServer } from '../../orchestrator/api';
import { RedisServer, startRedis } from '../helpers/redis';
import { resolveConfig, workerCommand } from '../../client/cli/commands/worker';
import { parseArgs } from '../../client/cli/args';

jest.setTimeout(60_000);

const REPO = path.join(__dirname, '..', '..');
const CHILD = `
require(${JSON.stringify(require.resolve('ts-node'))}).register({ transpileOnly: true, swc: true, project: ${JSON.stringify(path.join(REPO, 'tsconfig.json'))} });
const { workerCommand } = require(${JSON.stringify(path.join(REPO, 'client/cli/commands/worker'))});
const { parseArgs } = require(${JSON.stringify(path.join(REPO, 'client/cli/args'))});
const { stdio } = require(${JSON.stringify(path.join(REPO, 'client/cli/main'))});
const argv = process.argv.slice(1);
const io = stdio(argv.includes('--json'));
(async () => workerCommand.run(parseArgs(workerCommand, argv), io))().then(
    (code) => { process.exitCode = code; },
    (e) => { io.error('cocoon worker: ' + e.message); process.exitCode = e.name === 'UsageError' ? 2 : 1; },
);
`;

interface Run {
    child: ChildProcess;
    stdout: () => string;
    stderr: () => string;
    exit: Promise<number | null>;
}

function runWorker(args: string[], env: Record<string, string> = {}, cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-worker-'))): Run {
    const child = spawn(process.execPath, ['-e', CHILD, '--', ...args], { cwd, env: { ...process.env, COCOON_NETWORK: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    return { child, stdout: () => out, stderr: () => err, exit };
}

describe('configuration errors exit 2 and name the field', () => {
    const base = ['--endpoint', 'http://127.0.0.1:1/jsonRPC', '--registry', '0:' + '1'.repeat(64), '--api', 'http://127.0.0.1:1', '--redis', 'redis://127.0.0.1:1'];

    it('missing wallet seed', async () => {
        const r = runWorker(base, { COCOON_WALLET_SEED: '' });
        expect(await r.exit).toBe(2);
        expect(r.stderr()).toContain('--wallet-seed');
        expect(r.stdout()).toBe('');
    });

    it('a malformed price', async () => {
        const r = runWorker([...base, '--price', 'ocr=lots'], { COCOON_WALLET_SEED: 'ab'.repeat(32) });
        expect(await r.exit).toBe(2);
        expect(r.stderr()).toContain('--price: price "ocr=lots" must look like <model>=<TON>');
    });

    it('--tee tdx without TDX hardware', async () => {
        const r = runWorker([...base, '--tee', 'tdx'], { COCOON_WALLET_SEED: 'ab'.repeat(32) });
        expect(await r.exit).toBe(2);
        expect(r.stderr()).toContain(TDX_UNAVAILABLE_MESSAGE);
    });

    it('--execution-provider cuda where the CUDA provider is not installed', async () => {
        const r = runWorker([...base, '--execution-provider', 'cuda'], { COCOON_WALLET_SEED: 'ab'.repeat(32) });
        expect(await r.exit).toBe(2);
        expect(r.stderr()).toContain('--execution-provider cuda: CUDA execution provider is not installed');
    });

    it('a malformed Redis Cluster URL', async () => {
        const args = [...base.slice(0, -1), 'redis+cluster://127.0.0.1:7000,127.0.0.1'];
        const r = runWorker(args, { COCOON_WALLET_SEED: 'ab'.repeat(32) });
        expect(await r.exit).toBe(2);
        expect(r.stderr()).toContain('--redis: the Redis Cluster URL "redis+cluster://127.0.0.1:7000,127.0.0.1": seed node "127.0.0.1" must be host:port (port 1-65535)');
    });

    it('--api as a list: comma-separated, repeated, from the environment; a bad entry is named', () => {
        const env = { COCOON_WALLET_SEED: 'ab'.repeat(32), COCOON_NETWORK: '' };
        const rest = ['--endpoint', 'http://127.0.0.1:1/jsonRPC', '--registry', '0:' + '1'.repeat(64), '--redis', 'redis+cluster://127.0.0.1:7000,127.0.0.1:7001'];
        const cfg = (argv: string[], e: NodeJS.ProcessEnv = env) => resolveConfig(parseArgs(workerCommand, [...rest, ...argv], e));
        expect(cfg(['--api', 'http://o1:8080/,http://o2:8080']).api).toEqual(['http://o1:8080', 'http://o2:8080']);
        expect(cfg(['--api', 'http://o1:8080', '--api', 'http://o2:8080']).api).toEqual(['http://o1:8080', 'http://o2:8080']);
        expect(cfg([], { ...env, COCOON_API: 'http://o1:8080,http://o2:8080' }).api).toEqual(['http://o1:8080', 'http://o2:8080']);
        expect(cfg(['--api', 'http://o1:8080']).redis).toBe('redis+cluster://127.0.0.1:7000,127.0.0.1:7001');
        expect(() => cfg(['--api', 'http://o1:8080,o2:8080'])).toThrow('--api must be http(s) URLs, got "o2:8080"');
    });

    it('--inference-thread: auto by default, on/off from the flag or COCOON_INFERENCE_THREAD, anything else named', () => {
        const env = { COCOON_WALLET_SEED: 'ab'.repeat(32), COCOON_NETWORK: '' };
        const rest = ['--endpoint', 'http://127.0.0.1:1/jsonRPC', '--registry', '0:' + '1'.repeat(64), '--redis', 'redis://127.0.0.1:1', '--api', 'http://o1:8080'];
        const cfg = (argv: string[], e: NodeJS.ProcessEnv = env) => resolveConfig(parseArgs(workerCommand, [...rest, ...argv], e));
        expect(cfg([]).inferenceThread).toBe('auto');
        expect(cfg(['--inference-thread', 'off']).inferenceThread).toBe('off');
        expect(cfg([], { ...env, COCOON_INFERENCE_THREAD: 'on' }).inferenceThread).toBe('on');
        expect(() => cfg(['--inference-thread', 'yes'])).toThrow('--inference-thread must be one of auto, on, off, got "yes"');
    });

    it('an unknown execution provider', async () => {
        const r = runWorker([...base, '--execution-provider', 'tpu'], { COCOON_WALLET_SEED: 'ab'.repeat(32) });
        expect(await r.exit).toBe(2);
        expect(r.stderr()).toContain(`--execution-provider must be 'cpu' or 'cuda', got "tpu"`);
    });
});

describe('with a network file', () => {
    let devnet: Devnet;
    let redisServer: RedisServer;
    let redis: Redis;
    let blobRedis: Redis;
    let api: ApiServer;
    let net: BootstrappedNetwork;
    let networkFile: string;

    beforeAll(async () => {
        [devnet, redisServer] = await Promise.all([startDevnet({ port: 0 }), startRedis()]);
        redis = new Redis(redisServer.port);
        blobRedis = new Redis(redisServer.port);
        api = createApiServer({ blobs: new BlobStore(blobRedis), logger: pino({ level: 'silent' }) });
        const { url } = await api.listen(0, '127.0.0.1');
        net = await bootstrapNetwork({ chain: devnet, providers: ['provider-1'], api: url, redisUrl: redisServer.url });
        networkFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-net-')), 'network.json');
        writeNetworkFile(networkFile, net.networkFile());
    }, 60_000);

    afterAll(async () => {
        await api?.close();
        await redis?.quit();
        await blobRedis?.quit();
        await redisServer?.stop();
        await devnet?.close();
    });

    it('registers, prints one ready line, heartbeats; SIGTERM drains and exits 0', async () => {
        const owner = net.providers[0].address.toRawString();
        const r = runWorker(['--network', networkFile, '--price', 'tensor=0.07', '--capacity', '2', '--json'], { COCOON_WALLET_SEED: net.providers[0].seed });
        const until = Date.now() + 45_000;
        while (!r.stdout().includes('\n') && r.child.exitCode === null && Date.now() < until) await new Promise((res) => setTimeout(res, 50));
        const lines = r.stdout().split('\n').filter(Boolean);
        if (lines.length === 0) throw new Error(`no ready line; stderr: ${r.stderr().slice(-2000)}`);
        expect(lines).toHaveLength(1);
        expect(JSON.parse(lines[0])).toEqual({ ready: true, owner, queue: workQueueName(owner), measurement: net.measurement });
        // logs are JSON on stderr and say that the TEE is simulated
        expect(r.stderr()).toContain('simulated TEE: no hardware protection');

        const hb = decodeHeartbeat(await redis.hgetall(KEYS.worker(owner)));
        expect(hb).toMatchObject({ owner, capacity: 2, draining: false, teeType: 'simulated' });
        expect(hb!.models[net.models.tensor]).toBe('70000000');
        expect(await redis.zscore(KEYS.workers, owner)).not.toBeNull();

        r.child.kill('SIGTERM');
        expect(await r.exit).toBe(0);
        expect(await redis.zscore(KEYS.workers, owner)).toBeNull();
        expect(decodeHeartbeat(await redis.hgetall(KEYS.worker(owner)))!.draining).toBe(true);
        expect(r.stdout().split('\n').filter(Boolean)).toHaveLength(1);
    });
});
