/**
 * The operators' queue dashboard: bull-board over every Cocoon queue (dispatch, dead-letter, expiry and one work
 * queue per provider), served by its own small Express app so the public API stays framework-free.
 *
 * Read-only on purpose: the dispatcher owns every state transition (a "retry" clicked on a work item would run a
 * job outside its assignment, and the fencing would refuse it anyway). Job data shown here is metadata only —
 * ids, addresses, hashes, prices, timings, failure codes — never plaintext, which never enters Redis.
 *
 * Work queues appear as providers heartbeat: the board re-reads the provider set every `refreshMs`.
 */
import * as http from 'http';
import type { AddressInfo } from 'net';
import express from 'express';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Queue } from 'bullmq';
import IORedis, { RedisOptions } from 'ioredis';
import { DEAD_LETTER_QUEUE, DISPATCH_QUEUE, EXPIRY_QUEUE, KEYS, QUEUE_PREFIX, hashTagOf, ownerOfWorkQueue, workQueueName } from '../../protocol/work';
import { connectRedis, RedisClient } from '../../protocol/redis';

export interface QueueBoardOptions {
    /** Redis URL (redis+cluster://… for a Redis Cluster) or ioredis options of the network's Redis */
    redis: string | RedisOptions;
    host?: string;
    /** 0 picks a free port */
    port?: number;
    /** where the board lives under the server (default /queues) */
    basePath?: string;
    /** the orchestrator API, whose /dashboard status page `/` redirects to */
    apiUrl?: string;
    /** how often the list of provider work queues is refreshed (ms, default 5000) */
    refreshMs?: number;
}

export interface QueueBoard {
    url: string;
    /** queue names currently shown */
    queues(): string[];
    close(): Promise<void>;
}

const FIXED_QUEUES = [DISPATCH_QUEUE, DEAD_LETTER_QUEUE, EXPIRY_QUEUE];

export async function startQueueBoard(options: QueueBoardOptions): Promise<QueueBoard> {
    const basePath = options.basePath ?? '/queues';
    // one connection for the board's reads and its BullMQ queues
    const redis: RedisClient =
        typeof options.redis === 'string' ? connectRedis(options.redis, { redisOptions: { maxRetriesPerRequest: null } }) : new IORedis({ ...options.redis, maxRetriesPerRequest: null });
    const queues = new Map<string, Queue>();
    const adapterOf = (name: string): BullMQAdapter => {
        let q = queues.get(name);
        if (!q) {
            q = new Queue(name, { connection: redis, prefix: QUEUE_PREFIX });
            queues.set(name, q);
        }
        return new BullMQAdapter(q, { readOnlyMode: true, allowRetries: false, description: describe(name), displayName: displayNameOf(name) });
    };

    const serverAdapter = new ExpressAdapter();
    serverAdapter.setBasePath(basePath);
    const board = createBullBoard({ queues: FIXED_QUEUES.map(adapterOf), serverAdapter, options: { uiConfig: { boardTitle: 'Cocoon queues' } } });

    let shown = [...FIXED_QUEUES];
    const refresh = async () => {
        const owners = new Set([...(await redis.zrange(KEYS.workers, 0, -1)), ...(await redis.smembers(KEYS.providers))]);
        const names = [...FIXED_QUEUES, ...[...owners].sort().map((o) => workQueueName(o))];
        if (names.join() === shown.join()) return;
        board.replaceQueues(names.map(adapterOf));
        for (const [name, q] of queues) {
            if (!names.includes(name)) {
                queues.delete(name);
                await q.close();
            }
        }
        shown = names;
    };
    await refresh();
    const timer = setInterval(() => void refresh().catch(() => undefined), options.refreshMs ?? 5000);
    timer.unref();

    const app = express();
    app.disable('x-powered-by');
    app.use(basePath, serverAdapter.getRouter());
    app.get('/', (_req, res) => {
        res.redirect(options.apiUrl ? `${options.apiUrl.replace(/\/$/, '')}/dashboard` : basePath);
    });
    const server = http.createServer(app);
    await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    let closing: Promise<void> | undefined;
    return {
        url: `http://${host}:${addr.port}${basePath}`,
        queues: () => [...shown],
        close: () =>
            (closing ??= (async () => {
                clearInterval(timer);
                server.closeAllConnections();
                await new Promise<void>((r) => server.close(() => r()));
                for (const q of queues.values()) await q.close();
                await redis.quit().catch(() => undefined);
            })()),
    };
}

/** Queue names carry their Redis Cluster hash tag (`{dispatch}`); the board shows them without the braces. */
export function displayNameOf(name: string): string {
    const owner = ownerOfWorkQueue(name);
    return owner ? `work ${owner}` : hashTagOf(name);
}

function describe(name: string): string {
    if (name === DISPATCH_QUEUE) return 'one job per on-chain job: routing, re-routing, dead-lettering';
    if (name === DEAD_LETTER_QUEUE) return 'jobs no provider could complete, with the reason (clients cancel them for a refund)';
    if (name === EXPIRY_QUEUE) return 'deadline timers: the leader expires unfinished escrows on chain';
    return 'work items routed to this provider (owner in the queue name)';
}
