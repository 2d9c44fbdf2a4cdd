/**
 * Private Redis servers for tests and benchmarks, started as child processes on free loopback ports, without
 * persistence, stopped (and awaited) by `stop()`. The same launcher `cocoon up` uses (localnet/redis.ts).
 *
 *   const server = await startRedis();
 *   const redis = new Redis(server.port);
 *   ...
 *   await redis.quit(); await server.stop();
 *
 *   const cluster = await startRedisCluster();      // 3 masters, no replicas
 *   const redis = connectRedis(cluster.url);        // redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3
 *   ...
 *   await redis.quit(); await cluster.stop();
 *
 * The cluster needs redis-cli (`--cluster create`); Debian's redis-server package depends on redis-tools, which has it.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { PrivateRedis, findRedisServer, startPrivateRedis } from '../../localnet/redis';

export type RedisServer = PrivateRedis;

/** Starts redis-server on a free port (retrying if the port was taken in between). */
export function startRedis(): Promise<RedisServer> {
    return startPrivateRedis();
}

export interface RedisCluster {
    /** redis+cluster://127.0.0.1:p1,127.0.0.1:p2,… (protocol/redis.ts) */
    url: string;
    ports: number[];
    nodes: PrivateRedis[];
    /** stops every node and removes their cluster config files. Safe to call twice. */
    stop(): Promise<void>;
}

const run = promisify(execFile);

/** redis-cli next to redis-server, else from PATH. */
function findRedisCli(): string {
    const beside = path.join(path.dirname(findRedisServer()), 'redis-cli');
    if (fs.existsSync(beside)) return beside;
    for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
        const c = path.join(dir, 'redis-cli');
        if (fs.existsSync(c)) return c;
    }
    throw new Error('redis-cli not found: apt-get install -y redis-tools (redis-server depends on it)');
}

function canBind(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.createServer();
        s.once('error', () => resolve(false));
        s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
}

/** A port whose cluster bus port (port + 10 000) is free as well (redis-server < 7 has no --cluster-port). */
async function clusterPort(taken: Set<number>): Promise<number> {
    for (let i = 0; i < 200; i++) {
        const p = 20_000 + Math.floor(Math.random() * 35_000);
        if (taken.has(p) || taken.has(p + 10_000) || taken.has(p - 10_000)) continue;
        if ((await canBind(p)) && (await canBind(p + 10_000))) return p;
    }
    throw new Error('no free port pair (p, p + 10000) for a Redis Cluster node');
}

/**
 * A real Redis Cluster of `masters` nodes (default 3, the minimum redis-cli accepts) without replicas: each node a
 * redis-server with cluster mode on, joined with `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`.
 * Resolves once every node reports cluster_state:ok with all 16384 slots served.
 */
export async function startRedisCluster(opts: { masters?: number; readyTimeoutMs?: number } = {}): Promise<RedisCluster> {
    const masters = opts.masters ?? 3;
    const cli = findRedisCli();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-redis-cluster-'));
    const nodes: PrivateRedis[] = [];
    let stopping: Promise<void> | undefined;
    const stop = () =>
        (stopping ??= (async () => {
            await Promise.all(nodes.map((n) => n.stop()));
            fs.rmSync(dir, { recursive: true, force: true });
        })());
    try {
        const taken = new Set<number>();
        for (let i = 0; i < masters; i++) {
            let node: PrivateRedis | undefined;
            for (let tries = 0; !node; tries++) {
                const port = await clusterPort(taken);
                try {
                    node = await startPrivateRedis({
                        port,
                        dir,
                        args: ['--cluster-enabled', 'yes', '--cluster-config-file', `nodes-${port}.conf`, '--cluster-node-timeout', '5000'],
                    });
                } catch (e) {
                    if (tries >= 4 || !/address already in use/i.test((e as Error).message)) throw e;
                }
            }
            taken.add(node.port);
            nodes.push(node);
        }
        const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
        await run(cli, ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], { timeout: 30_000 });
        const until = Date.now() + (opts.readyTimeoutMs ?? 20_000);
        for (const n of nodes) {
            for (;;) {
                const { stdout } = await run(cli, ['-p', String(n.port), 'cluster', 'info'], { timeout: 5_000 });
                if (/cluster_state:ok/.test(stdout) && /cluster_slots_ok:16384/.test(stdout) && new RegExp(`cluster_known_nodes:${masters}\\b`).test(stdout)) break;
                if (Date.now() > until) throw new Error(`Redis Cluster node ${n.port} is not ready: ${stdout.replace(/\r?\n/g, ' ').slice(0, 300)}`);
                await new Promise((r) => setTimeout(r, 100));
            }
        }
        return { url: `redis+cluster://${addrs.join(',')}`, ports: nodes.map((n) => n.port), nodes, stop };
    } catch (e) {
        await stop();
        throw e;
    }
}
