/**
 * `cocoon up --workers 2 --dashboard --json` as a child process: the ready line, both workers' heartbeats in Redis,
 * the network file, the queue board and status page, and SIGINT stopping every process it started (workers,
 * orchestrator, redis) with exit code 0.
 */
import { isAlive, runCocoon } from '../helpers/cli';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Redis from 'ioredis';
import { readNetworkFile } from '../../protocol/network-file';
import { DEAD_LETTER_QUEUE, decodeHeartbeat, DISPATCH_QUEUE, KEYS, ownerKeyOf } from '../../protocol/work';

const ROOT = path.join(__dirname, '..', '..');


/** Spawns `cocoon up <args>`; `ready` resolves with the parsed ready line (or rejects when the process exits first). */
function startUp(args: string[]) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COCOON_') && k !== 'REDIS_URL'));
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'cocoon.js'), 'up', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const ready = new Promise<any>((resolve, reject) => {
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
    return { child, exited, ready };
}

describe('cocoon up', () => {
    let tmp: string;

    beforeAll(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-up-'));
    });
    afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it('starts a network with two workers that heartbeat, writes the network file, and stops everything on SIGINT', async () => {
        const networkFile = path.join(tmp, 'network.json');
        const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COCOON_') && k !== 'REDIS_URL'));
        const { child, exited, ready: readyLine } = startUp(['--workers', '2', '--dashboard', '--json', '--network-file', networkFile]);
        let redis: Redis | undefined;
        try {
            const ready = await readyLine;
            expect(ready.providers).toHaveLength(2);
            expect(ready.warning).toBe('simulated TEE: no hardware protection');

            const net = readNetworkFile(networkFile);
            expect(net.api).toBe(ready.api);
            expect(net.registry).toBe(ready.registry);
            expect(net.tee.type).toBe('simulated');
            expect(Object.keys(net.devWallets ?? {})).toEqual(expect.arrayContaining(['provider-1', 'provider-2', 'client', 'governance']));
            const pids = Object.values(net.pids ?? {}).filter((pid) => pid !== child.pid);
            expect(pids.length).toBe(4); // orchestrator, redis, 2 workers
            for (const pid of pids) expect(isAlive(pid)).toBe(true);

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

            // the dashboard: the orchestrator's status page lists both providers; the queue board shows their queues
            const page = await (await fetch(ready.dashboard)).text();
            for (const p of ready.providers) expect(page).toContain(ownerKeyOf(p.owner).slice(2, 14));
            const board = (await (await fetch(`${ready.queues}/api/queues?activeQueue=${encodeURIComponent(DISPATCH_QUEUE)}&status=waiting&page=1&jobsPerPage=10`)).json()) as { queues: { name: string }[] };
            expect(board.queues.map((q) => q.name)).toEqual(expect.arrayContaining([DISPATCH_QUEUE, DEAD_LETTER_QUEUE, ...ready.providers.map((p: { queue: string }) => p.queue)]));

            child.kill('SIGINT');
            const exit = await exited;
            expect(exit).toEqual({ code: 0, signal: null });
            for (const pid of pids) expect(isAlive(pid)).toBe(false);
            expect(fs.existsSync(networkFile)).toBe(false);
        } finally {
            if (redis) await redis.quit().catch(() => undefined);
            if (child.exitCode === null && child.signalCode === null) {
                child.kill('SIGTERM');
                await exited;
            }
        }
    }, 240_000);

    it('refuses a --redis-url it cannot use before starting anything, naming the forms it takes', async () => {
        for (const [url, why] of [
            ['ftp://127.0.0.1:6379', /not a URL|redis\+cluster:\/\//],
            ['redis://10.0.0.1:6379,10.0.0.2:6379', /several hosts: a Redis Cluster is redis\+cluster:\/\//],
            ['redis+cluster://10.0.0.1:7000/3', /only database 0/],
        ] as const) {
            const r = await runCocoon(['up', '--redis-url', url, '--network-file', path.join(tmp, 'never.json')]);
            expect(r.code).toBe(2);
            expect(r.stderr).toMatch(/--redis-url/);
            expect(r.stderr).toMatch(why);
        }
        expect(fs.existsSync(path.join(tmp, 'never.json'))).toBe(false);
    });

    it('a SIGINT sent the moment the ready line appears still stops everything cleanly', async () => {
        const networkFile = path.join(tmp, 'network-quick.json');
        const { child, exited, ready } = startUp(['--workers', '1', '--json', '--network-file', networkFile]);
        try {
            const line = await ready;
            child.kill('SIGINT');
            expect(await exited).toEqual({ code: 0, signal: null });
            const pids = Object.values(line.pids as Record<string, number>).filter((pid) => pid !== child.pid);
            expect(pids.length).toBe(3); // orchestrator, redis, 1 worker
            for (const pid of pids) expect(isAlive(pid)).toBe(false);
            expect(fs.existsSync(networkFile)).toBe(false);
        } finally {
            if (child.exitCode === null && child.signalCode === null) {
                child.kill('SIGTERM');
                await exited;
            }
        }
    }, 240_000);
});
