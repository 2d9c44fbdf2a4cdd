/**
 * A private redis-server for a local network, the tests and the benchmarks: a child process on loopback, without
 * persistence (no RDB snapshots, no AOF), stopped and awaited by `stop()`.
 *
 *   const redis = await startPrivateRedis();      // { url: 'redis://127.0.0.1:<port>', port, stop }
 *   ...
 *   await redis.stop();
 *
 * The binary is $REDIS_SERVER_BIN, else `redis-server` from PATH (or /usr/bin, /usr/local/bin).
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { freePort } from './ports';

export interface PrivateRedis {
    url: string;
    port: number;
    process: ChildProcess;
    /** SIGTERM, SIGKILL after 5 s; resolves once the process exited. Safe to call twice. */
    stop(): Promise<void>;
}

export interface PrivateRedisOptions {
    /** TCP port on 127.0.0.1; default a free one (retried if another process takes it first). */
    port?: number;
    /** working directory of redis-server (nothing is persisted there); default the current directory */
    dir?: string;
    /** how long to wait for "Ready to accept connections" (default 10 s) */
    readyTimeoutMs?: number;
    /** more redis-server arguments, e.g. `--cluster-enabled yes` (tests/helpers/redis.ts starts a cluster with them) */
    args?: string[];
}

export const REDIS_NOT_FOUND = 'redis-server not found: apt-get install -y redis-server, or set REDIS_URL';

/** The redis-server binary to run, or throws the install hint. */
export function findRedisServer(env: NodeJS.ProcessEnv = process.env): string {
    const explicit = env.REDIS_SERVER_BIN;
    if (explicit) {
        if (isExecutable(explicit)) return explicit;
        throw new Error(`${REDIS_NOT_FOUND} (REDIS_SERVER_BIN=${explicit} is not an executable file)`);
    }
    const dirs = [...(env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin'];
    for (const dir of dirs) {
        const candidate = path.join(dir, 'redis-server');
        if (isExecutable(candidate)) return candidate;
    }
    throw new Error(REDIS_NOT_FOUND);
}

function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/** Starts redis-server; with no port given, picks a free one and retries a few times if it was taken meanwhile. */
export async function startPrivateRedis(opts: PrivateRedisOptions = {}): Promise<PrivateRedis> {
    const bin = findRedisServer();
    if (opts.port !== undefined) return launch(bin, opts.port, opts);
    let last: Error | undefined;
    for (let i = 0; i < 5; i++) {
        try {
            return await launch(bin, await freePort(), opts);
        } catch (e) {
            last = e as Error;
            if (!/address already in use/i.test(last.message)) throw last;
        }
    }
    throw last;
}

function launch(bin: string, port: number, opts: PrivateRedisOptions): Promise<PrivateRedis> {
    return new Promise((resolve, reject) => {
        const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
        if (opts.dir) args.push('--dir', path.resolve(opts.dir));
        if (opts.args) args.push(...opts.args);
        const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
        let output = '';
        let settled = false;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        const timeoutMs = opts.readyTimeoutMs ?? 10_000;
        const timer = setTimeout(() => fail(new Error(`redis-server did not report ready within ${timeoutMs / 1000} s: ${output.slice(-500)}`)), timeoutMs);
        const fail = (e: Error) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            child.kill('SIGKILL');
            reject(e);
        };
        const onData = (d: Buffer) => {
            output += d.toString();
            if (settled || !/Ready to accept connections/i.test(output)) return;
            settled = true;
            clearTimeout(timer);
            // keep draining the pipes so a chatty server never blocks on a full pipe
            child.stdout!.removeListener('data', onData);
            child.stdout!.resume();
            child.stderr!.resume();
            resolve({
                port,
                url: `redis://127.0.0.1:${port}`,
                process: child,
                stop: async () => {
                    if (child.exitCode === null && child.signalCode === null) {
                        child.kill('SIGTERM');
                        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
                        await exited;
                        clearTimeout(t);
                    }
                },
            });
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
        child.once('error', (e) => fail(new Error(`cannot start ${bin}: ${e.message}`)));
        child.once('exit', (code, signal) => fail(new Error(`redis-server exited (${signal ?? `code ${code}`}) before it was ready: ${output.slice(-500).trim()}`)));
    });
}
