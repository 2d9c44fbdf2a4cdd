/**
 * `cocoon orchestrator` as a process: reads the network file, prints one ready line with its API URL, serves the
 * API, leads (alone), and on SIGTERM closes, releases the leader lease and exits 0. Bad input is refused with
 * messages that name the missing piece.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { orchestratorCommand } from '../../client/cli/commands/orchestrator';
import { formatHelp, parseArgs } from '../../client/cli/args';
import { writeNetworkFile } from '../../protocol/network-file';
import { KEYS } from '../../protocol/work';
import { waitFor } from '../../localnet/bootstrap';
import { startTestNetwork, TestNetwork } from './service-fixture';

const ROOT = path.join(__dirname, '..', '..');
// the command is registered in client/cli/registry.ts by the lead; run it through the same runtime as bin/cocoon.js
const RUNNER = `
require('ts-node').register({ transpileOnly: true, swc: true, project: ${JSON.stringify(path.join(ROOT, 'tsconfig.json'))} });
const { orchestratorCommand } = require(${JSON.stringify(path.join(ROOT, 'client/cli/commands/orchestrator'))});
const { parseArgs } = require(${JSON.stringify(path.join(ROOT, 'client/cli/args'))});
const { stdio } = require(${JSON.stringify(path.join(ROOT, 'client/cli/main'))});
orchestratorCommand.run(parseArgs(orchestratorCommand, process.argv.slice(1)), stdio(false)).then((code) => process.exit(code), (e) => { console.error(e.message); process.exit(2); });
`;

describe('cocoon orchestrator', () => {
    let t: TestNetwork;
    let dir: string;

    beforeAll(async () => {
        t = await startTestNetwork(['provider-1']);
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-orch-'));
    }, 60_000);

    afterAll(async () => {
        await t.close();
        fs.rmSync(dir, { recursive: true, force: true });
    });

    test('prints one ready line, serves the API, leads, and exits 0 on SIGTERM after releasing the lease', async () => {
        const file = path.join(dir, 'network.json');
        writeNetworkFile(file, t.net.networkFile({ redisUrl: t.redisServer.url }));
        const child = spawn(process.execPath, ['-e', RUNNER, '--', '--network', file, '--port', '0', '--operator-seed', t.net.operator.seed, '--instance-id', 'cli-1'], {
            cwd: ROOT,
            env: { ...process.env, COCOON_LOG_LEVEL: 'warn' },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
        try {
            await waitFor(async () => stdout.includes('\n') || child.exitCode !== null, 'the ready line', 30_000).catch((e) => {
                throw new Error(`${(e as Error).message}; stderr: ${stderr.slice(-2000)}`);
            });
            const lines = stdout.trim().split('\n');
            expect(lines).toHaveLength(1);
            const ready = JSON.parse(lines[0]);
            expect(ready).toEqual({ ready: true, api: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/), instance: 'cli-1' });
            expect((await fetch(`${ready.api}/healthz`)).status).toBe(200);
            await waitFor(async () => (await t.redis.get(KEYS.leader)) === 'cli-1', 'the process to lead', 10_000);
            // a fresh Redis knows no provider: the leader learns them from the chain history (Staked, EnclaveRegistered)
            let owners: string[] = [];
            await waitFor(async () => {
                const body = (await (await fetch(`${ready.api}/v1/providers?model=${t.model}`)).json()) as { providers: { owner: string }[] };
                owners = body.providers.map((p) => p.owner);
                return owners.length > 0;
            }, 'the provider to appear', 15_000);
            expect(owners).toEqual([t.owners[0]]);
            // the simulated TEE is called out at start
            expect(stderr).toContain('SIMULATED TEE');
            child.kill('SIGTERM');
            expect(await exited).toBe(0);
            expect(await t.redis.get(KEYS.leader)).toBeNull();
            expect(stdout.trim().split('\n')).toHaveLength(1);
        } finally {
            if (child.exitCode === null) child.kill('SIGKILL');
        }
    }, 60_000);

    test('refuses incomplete or bad configuration with a message naming what is missing', async () => {
        const io = { out: () => undefined, progress: () => undefined, error: () => undefined };
        const run = (argv: string[]) => orchestratorCommand.run(parseArgs(orchestratorCommand, argv, {}), io);
        await expect(run(['--registry', t.net.registry.toString()])).rejects.toThrow('no chain endpoint: pass --endpoint <url> or --network <file>');
        await expect(run(['--endpoint', 'http://127.0.0.1:1/jsonRPC'])).rejects.toThrow('no registry address: pass --registry <address> or --network <file>');
        await expect(run(['--endpoint', 'http://127.0.0.1:1/jsonRPC', '--registry', 'nope'])).rejects.toThrow('--registry "nope" is not a TON address');
        await expect(run(['--network', path.join(dir, 'missing.json')])).rejects.toThrow(/cannot read the network file/);
        await expect(run(['--endpoint', 'http://127.0.0.1:1/jsonRPC', '--registry', t.net.registry.toString(), '--operator-seed', 'abc'])).rejects.toThrow(
            '--operator-seed: a wallet seed must be 32 bytes in hex (64 digits)',
        );
        const chainArgs = ['--endpoint', 'http://127.0.0.1:1/jsonRPC', '--registry', t.net.registry.toString()];
        await expect(run([...chainArgs, '--redis', 'redis+cluster://127.0.0.1:7000/1'])).rejects.toThrow(
            '--redis: the Redis Cluster URL "redis+cluster://127.0.0.1:7000/1" names database "1": a cluster has only database 0, drop the /1',
        );
        await expect(run([...chainArgs, '--redis', 'tcp://127.0.0.1:6379'])).rejects.toThrow('--redis: the Redis URL must start with redis://, rediss://, redis+cluster:// or rediss+cluster://');
        const help = formatHelp(orchestratorCommand);
        expect(help).toContain('redis+cluster://host:port,host:port');
        expect(help).toContain('cocoon orchestrator --network .cocoon/network.json');
        expect(help).toContain('SIMULATED');
        expect(help).toContain('env REDIS_URL');
    });
});
