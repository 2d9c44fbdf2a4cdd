/**
 * A ChainWatcher in its own process, for crash tests (SIGKILL) and bench/watcher.ts. Configured by environment:
 *   WATCHER_ENDPOINT, WATCHER_REDIS_PORT, WATCHER_REGISTRY (raw address), WATCHER_PREFIX (key prefix),
 *   WATCHER_LIST (Redis list the handler appends to), WATCHER_POLL_MS, WATCHER_PAGE_SIZE, WATCHER_BATCH_SIZE,
 *   WATCHER_HANDLER_DELAY_MS (a pause per event, to widen crash windows), WATCHER_REGISTRY_START (genesis|latest).
 * The handler appends one JSON line per event to the list inside the batch's MULTI:
 *   {"a": raw address, "lt": tx lt, "o": out index, "id": event id, "t": Date.now() at invocation}.
 * Prints {"ready":true} once started; SIGTERM stops it gracefully. With WATCHER_WAIT_FOR_GO=1 it loads, prints
 * {"loaded":true} and waits for a line "go" on stdin before starting (so a test can pay the start-up cost early).
 */
import { Address } from '@ton/core';
import Redis from 'ioredis';
import pino from 'pino';
import { ChainWatcher } from '../../orchestrator/watcher';
import { ChainClient } from '../../protocol/chain';

async function main(): Promise<void> {
    const env = process.env;
    const redis = new Redis(Number(env.WATCHER_REDIS_PORT), { lazyConnect: false });
    const list = env.WATCHER_LIST ?? 'delivered';
    const delay = Number(env.WATCHER_HANDLER_DELAY_MS ?? 0);
    const chain = new ChainClient({ endpoint: env.WATCHER_ENDPOINT!, retry: { attempts: 3, baseDelayMs: 20, maxDelayMs: 200 } });
    const watcher = new ChainWatcher({
        chain,
        redis,
        registry: Address.parseRaw(env.WATCHER_REGISTRY!),
        keyPrefix: env.WATCHER_PREFIX,
        pollIntervalMs: Number(env.WATCHER_POLL_MS ?? 500),
        pageSize: env.WATCHER_PAGE_SIZE ? Number(env.WATCHER_PAGE_SIZE) : undefined,
        batchSize: env.WATCHER_BATCH_SIZE ? Number(env.WATCHER_BATCH_SIZE) : undefined,
        registryStart: env.WATCHER_REGISTRY_START === 'latest' ? 'latest' : 'genesis',
        logger: pino({ level: env.WATCHER_LOG_LEVEL ?? 'warn' }, pino.destination(2)),
        handler: async (ev, ctx) => {
            const t = Date.now();
            if (delay > 0) await new Promise((r) => setTimeout(r, delay));
            ctx.multi.rpush(list, JSON.stringify({ a: ev.address.toRawString(), lt: ev.txLt.toString(), o: ev.outIndex, id: ev.id, t }));
        },
    });
    if (env.WATCHER_WAIT_FOR_GO === '1') {
        // what a service checks at start-up anyway: both backends answer (also loads the HTTP client)
        await chain.getMasterchainInfo();
        await redis.ping();
        process.stdout.write(JSON.stringify({ loaded: true }) + '\n');
        await new Promise<void>((resolve) => {
            let buf = '';
            process.stdin.on('data', (d: Buffer) => {
                buf += d.toString();
                if (buf.includes('go\n')) resolve();
            });
        });
    }
    await watcher.start();
    process.stdout.write(JSON.stringify({ ready: true }) + '\n');
    process.once('SIGTERM', () => {
        void watcher
            .stop()
            .then(() => redis.quit())
            .then(() => process.exit(0));
    });
}

main().catch((e) => {
    process.stderr.write(`watcher-child: ${(e as Error).stack ?? e}\n`);
    process.exit(1);
});
