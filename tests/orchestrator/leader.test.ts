/**
 * LeaderLock on a real redis-server: one leader among several instances, renewal past the ttl, takeover within the
 * ttl after a crash (renewal stopped without release), immediate takeover after a clean stop, and stepping down at
 * once when the lease is lost.
 */
import Redis from 'ioredis';
import pino from 'pino';
import { LeaderLock } from '../../orchestrator/leader';
import { KEYS } from '../../protocol/work';
import { startRedis, RedisServer } from '../helpers/redis';

const TTL = 600;
const logger = pino({ level: 'silent' });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, timeoutMs: number): Promise<number> {
    const t0 = Date.now();
    while (!check()) {
        if (Date.now() - t0 > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
        await sleep(10);
    }
    return Date.now() - t0;
}

describe('LeaderLock', () => {
    let server: RedisServer;
    let redis: Redis;
    const locks: LeaderLock[] = [];

    const make = (id: string, changes?: boolean[]) => {
        const l = new LeaderLock({ redis, instanceId: id, ttlMs: TTL, logger, onChange: (leading) => void changes?.push(leading) });
        locks.push(l);
        return l;
    };

    beforeAll(async () => {
        server = await startRedis();
        redis = new Redis(server.url);
    });
    afterEach(async () => {
        for (const l of locks.splice(0)) await l.stop();
        await redis.del(KEYS.leader);
    });
    afterAll(async () => {
        await redis.quit();
        await server.stop();
    });

    test('exactly one of three instances leads, and keeps leading past the ttl by renewing', async () => {
        const a = make('a');
        const b = make('b');
        const c = make('c');
        await Promise.all([a.start(), b.start(), c.start()]);
        expect([a, b, c].filter((l) => l.leading)).toHaveLength(1);
        const leader = [a, b, c].find((l) => l.leading)!;
        expect(await redis.get(KEYS.leader)).toBe(leader.instanceId);
        await sleep(TTL * 3);
        expect([a, b, c].filter((l) => l.leading)).toEqual([leader]);
        expect(await redis.get(KEYS.leader)).toBe(leader.instanceId);
        const pttl = await redis.pttl(KEYS.leader);
        expect(pttl).toBeGreaterThan(0);
        expect(pttl).toBeLessThanOrEqual(TTL);
    });

    test('a leader that stops renewing without releasing (crash) is replaced within the ttl', async () => {
        const changesA: boolean[] = [];
        const changesB: boolean[] = [];
        const a = make('a', changesA);
        await a.start();
        const b = make('b', changesB);
        await b.start();
        expect(a.leading).toBe(true);
        expect(b.leading).toBe(false);
        a.abandon();
        const crashedAt = Date.now();
        const took = await until(() => b.leading, TTL * 2);
        // the lease had up to ttl left; b checks every ttl/3
        expect(Date.now() - crashedAt).toBeLessThanOrEqual(TTL + TTL / 3 + 150);
        expect(took).toBeGreaterThan(0);
        expect(await redis.get(KEYS.leader)).toBe('b');
        expect(changesB).toEqual([true]);
        expect(changesA).toEqual([true]); // the crashed instance was never told anything
    });

    test('a clean stop releases the lease, so another instance leads at its next check', async () => {
        const a = make('a');
        await a.start();
        const b = make('b');
        await b.start();
        await a.stop();
        expect(a.leading).toBe(false);
        expect(await redis.get(KEYS.leader)).not.toBe('a');
        const took = await until(() => b.leading, TTL);
        expect(took).toBeLessThanOrEqual(TTL / 3 + 150);
    });

    test('a leader whose lease was taken over stops leading at its next renewal and never deletes the new lease', async () => {
        const changes: boolean[] = [];
        const a = make('a', changes);
        await a.start();
        expect(a.leading).toBe(true);
        await redis.set(KEYS.leader, 'intruder', 'PX', 60_000);
        await until(() => !a.leading, TTL);
        expect(changes).toEqual([true, false]);
        await a.stop();
        expect(await redis.get(KEYS.leader)).toBe('intruder');
    });
});
