/**
 * A private redis-server for tests and benchmarks: started as a child process on a free loopback port, without
 * persistence, stopped (and awaited) by `stop()`.
 *
 *   const server = await startRedis();
 *   const redis = new Redis(server.port);
 *   ...
 *   redis.disconnect(); await server.stop();
 */
import { ChildProcess, spawn } from 'child_process';
import { freePort } from './net';

export interface RedisServer {
    port: number;
    url: string;
    process: ChildProcess;
    stop(): Promise<void>;
}

const REDIS_BIN = process.env.REDIS_SERVER_BIN ?? '/usr/bin/redis-server';


function launch(port: number): Promise<RedisServer> {
    return new Promise((resolve, reject) => {
        const child = spawn(REDIS_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        let settled = false;
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        const timer = setTimeout(() => fail(new Error(`redis-server did not report ready within 10 s: ${output.slice(-500)}`)), 10_000);
        const fail = (e: Error) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            child.kill('SIGKILL');
            reject(e);
        };
        const onData = (d: Buffer) => {
            output += d.toString();
            if (!settled && /Ready to accept connections/i.test(output)) {
                settled = true;
                clearTimeout(timer);
                child.stdout!.removeListener('data', onData);
                child.stdout!.resume();
                child.stderr!.resume();
                resolve({
                    port,
                    url: `redis://127.0.0.1:${port}`,
                    process: child,
                    stop: async () => {
                        if (child.exitCode !== null || child.signalCode !== null) return;
                        child.kill('SIGTERM');
                        const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
                        await exited;
                        clearTimeout(t);
                    },
                });
            }
        };
        child.stdout!.on('data', onData);
        child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
        child.once('error', (e) => fail(e));
        child.once('exit', (code) => fail(new Error(`redis-server exited with code ${code}: ${output.slice(-500)}`)));
    });
}

/** Starts redis-server on a free port (retrying if the port was taken in between). */
export async function startRedis(): Promise<RedisServer> {
    let last: Error | undefined;
    for (let i = 0; i < 5; i++) {
        try {
            return await launch(await freePort());
        } catch (e) {
            last = e as Error;
        }
    }
    throw last;
}
