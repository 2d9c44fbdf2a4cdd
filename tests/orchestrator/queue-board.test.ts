/**
 * The operators' queue board (bull-board): shows the fixed queues and one work queue per known provider, picks up
 * providers as they appear, is read-only, and never shows more than the metadata the queues hold.
 */
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { displayNameOf, startQueueBoard, QueueBoard } from '../../orchestrator/dashboard/queueBoard';
import { DEAD_LETTER_QUEUE, DISPATCH_QUEUE, EXPIRY_QUEUE, KEYS, QUEUE_PREFIX, workQueueName } from '../../protocol/work';
import { startRedis, RedisServer } from '../helpers/redis';

const OWNER_A = '0:' + 'a'.repeat(64);
const OWNER_B = '0:' + 'b'.repeat(64);

let server: RedisServer;
let redis: Redis;
let board: QueueBoard;

beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.port);
    await redis.zadd(KEYS.workers, Date.now(), OWNER_A);
    board = await startQueueBoard({ redis: server.url, refreshMs: 100, apiUrl: 'http://127.0.0.1:9/' });
});

afterAll(async () => {
    await board?.close();
    await redis?.quit();
    await server?.stop();
});

async function api(path: string, init?: RequestInit): Promise<Response> {
    return fetch(board.url.replace(/\/queues$/, '') + path, { redirect: 'manual', ...init });
}

test('lists the fixed queues and the work queue of every provider, and picks up new providers', async () => {
    expect(board.queues()).toEqual([DISPATCH_QUEUE, DEAD_LETTER_QUEUE, EXPIRY_QUEUE, workQueueName(OWNER_A)]);
    await redis.sadd(KEYS.providers, OWNER_B);
    const until = Date.now() + 5000;
    while (!board.queues().includes(workQueueName(OWNER_B)) && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(board.queues()).toContain(workQueueName(OWNER_B));
    const res = await api(`/queues/api/queues?activeQueue=${encodeURIComponent(DISPATCH_QUEUE)}&status=waiting&page=1&jobsPerPage=10`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { queues: { name: string; displayName?: string; readOnlyMode: boolean }[] };
    expect(body.queues.map((q) => q.name).sort()).toEqual([DEAD_LETTER_QUEUE, DISPATCH_QUEUE, EXPIRY_QUEUE, workQueueName(OWNER_A), workQueueName(OWNER_B)].sort());
    // the names carry their Redis Cluster hash tags; the board shows them without the braces
    expect(body.queues.find((q) => q.name === DISPATCH_QUEUE)!.displayName).toBe('dispatch');
    expect(body.queues.find((q) => q.name === workQueueName(OWNER_A))!.displayName).toBe(`work ${OWNER_A}`);
    expect(displayNameOf(DEAD_LETTER_QUEUE)).toBe('dead-letter');
    expect(body.queues.every((q) => q.readOnlyMode)).toBe(true);
});

test('shows the jobs of a queue, and refuses changes (read-only)', async () => {
    const q = new Queue(DISPATCH_QUEUE, { connection: { port: server.port }, prefix: QUEUE_PREFIX });
    await q.add('route', { jobId: '7', modelHash: 'ab'.repeat(32) }, { jobId: 'job-7' });
    const res = await api(`/queues/api/queues?activeQueue=${encodeURIComponent(DISPATCH_QUEUE)}&status=waiting&page=1&jobsPerPage=10`);
    const body = (await res.json()) as { queues: { name: string; jobs: { id: string }[]; counts: Record<string, number> }[] };
    const dispatch = body.queues.find((x) => x.name === DISPATCH_QUEUE)!;
    expect(dispatch.counts.waiting).toBe(1);
    expect(dispatch.jobs.map((j) => j.id)).toEqual(['job-7']);
    const clean = await api(`/queues/api/queues/${encodeURIComponent(DISPATCH_QUEUE)}/empty`, { method: 'PUT' });
    expect(clean.status).toBeGreaterThanOrEqual(400);
    expect(await q.getWaitingCount()).toBe(1);
    await q.close();
});

test('the root redirects to the orchestrator status page', async () => {
    const res = await api('/');
    expect(res.status).toBe(302);
    expect(res.headers.get('location')).toBe('http://127.0.0.1:9/dashboard');
});
