/**
 * A private redis-server for tests and benchmarks: started as a child process on a free loopback port, without
 * persistence, stopped (and awaited) by `stop()`. The same launcher `cocoon up` uses (localnet/redis.ts).
 *
 *   const server = await startRedis();
 *   const redis = new Redis(server.port);
 *   ...
 *   await redis.quit(); await server.stop();
 */
import { PrivateRedis, startPrivateRedis } from '../../localnet/redis';

export type RedisServer = PrivateRedis;

/** Starts redis-server on a free port (retrying if the port was taken in between). */
export function startRedis(): Promise<RedisServer> {
    return startPrivateRedis();
}
