/**
 * `cocoon up --workers 2 --json` as a child process: the ready line, both workers' heartbeats in Redis, the
 * network file, and SIGINT stopping every process it started (workers, orchestrator, redis) with exit code 0.
 * Needs the `cocoon orchestrator` and `cocoon worker` commands.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Redis from 'ioredis';
import { readNetworkFile } from '../../protocol/network-file';
import { decodeHeartbeat, KEYS, ownerKeyOf } from '../../protocol/work';

const ROOT = path.join(__dirname, '..', '..');

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

describe('cocoon up', () => {
    let tmp: string;

    beforeAll(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-up-'));
    });
    afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it('starts a network with two workers that heartbeat, writes the network file, and stops everything on SIGINT', async () => {
        // the real binary, with up/orchestrator/worker added to its registry if the lead has not registered them yet;
        // `cocoon up` starts its children through the same runner (COCOON_LOCALNET_BIN)
        const runner = path.join(tmp, 'cocoon-runner.js');
        fs.writeFileSync(
            runner,
            `const path = require('path'); const ROOT = ${JSON.stringify(ROOT)};
require(path.join(ROOT, 'node_modules', 'ts-node')).register({ transpileOnly: true, swc: true, project: path.join(ROOT, 'tsconfig.json') });
const reg = require(path.join(ROOT, 'client/cli/registry'));
for (const file of ['up', 'orchestrator', 'worker']) {
    for (const c of Object.values(require(path.join(ROOT, 'client/cli/commands', file)))) {
        if (c && Array.isArray(c.path) && !reg.commands.some((x) => x.path.join(' ') === c.path.join(' '))) reg.commands.push(c);
    }
}
require(path.join(ROOT, 'client/cli/main')).main(process.argv.slice(2)).then((c) => { process.exitCode = c; }, (e) => { console.error('cocoon: ' + e.message); process.exitCode = 1; });
`,
        );
        const networkFile = path.join(tmp, 'network.json');
        const env = { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COCOON_') && k !== 'REDIS_URL')), COCOON_LOCALNET_BIN: runner };
        const child = spawn(process.execPath, [runner, 'up', '--workers', '2', '--json', '--network-file', networkFile], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
        const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
        let stderr = '';
        child.stderr.on('data', (d) => (stderr += d));
        let redis: Redis | undefined;
        try {
            const ready = await new Promise<any>((resolve, reject) => {
                let buf = '';
                const timer = setTimeout(() => reject(new Error(`no ready line within 150 s; stderr:\n${stderr.slice(-3000)}`)), 150_000);
                child.stdout.on('data', (d) => {
                    buf += d;
                    for (const line of buf.split('\n')) {
                        try {
                            const v = JSON.parse(line);
                            if (v.ready === true) {
                                clearTimeout(timer);
                                resolve(v);
                            }
                        } catch {
                            // not the ready line yet
                        }
                    }
                });
                exited.then((e) => reject(new Error(`cocoon up exited (${e.signal ?? e.code}) before ready; stderr:\n${stderr.slice(-3000)}`)));
            });
            expect(ready.providers).toHaveLength(2);
            expect(ready.warning).toBe('simulated TEE: no hardware protection');

            const net = readNetworkFile(networkFile);
            expect(net.api).toBe(ready.api);
            expect(net.registry).toBe(ready.registry);
            expect(net.tee.type).toBe('simulated');
            expect(Object.keys(net.devWallets ?? {})).toEqual(expect.arrayContaining(['provider-1', 'provider-2', 'client', 'governance']));
            const pids = Object.values(net.pids ?? {}).filter((pid) => pid !== child.pid);
            expect(pids.length).toBe(4); // orchestrator, redis, 2 workers
            for (const pid of pids) expect(alive(pid)).toBe(true);

            redis = new Redis(net.redisUrl!);
            const owners: string[] = ready.providers.map((p: { owner: string }) => ownerKeyOf(p.owner));
            const until = Date.now() + 20_000;
            for (;;) {
                const scores = await Promise.all(owners.map((o) => redis!.zscore(KEYS.workers, o)));
                if (scores.every((s) => s !== null && Date.now() - Number(s) < 15_000)) break;
                if (Date.now() > until) throw new Error(`no heartbeat from every worker: ${JSON.stringify(scores)}`);
                await new Promise((r) => setTimeout(r, 250));
            }
            for (const o of owners) {
                const hb = decodeHeartbeat(await redis.hgetall(KEYS.worker(o)));
                expect(hb?.owner && ownerKeyOf(hb.owner)).toBe(o);
                expect(hb?.teeType).toBe('simulated');
            }
            await redis.quit();
            redis = undefined;

            child.kill('SIGINT');
            const exit = await exited;
            expect(exit).toEqual({ code: 0, signal: null });
            for (const pid of pids) expect(alive(pid)).toBe(false);
            expect(fs.existsSync(networkFile)).toBe(false);
        } finally {
            if (redis) await redis.quit().catch(() => undefined);
            if (child.exitCode === null && child.signalCode === null) {
                child.kill('SIGTERM');
                await exited;
            }
        }
    }, 240_000);
});
