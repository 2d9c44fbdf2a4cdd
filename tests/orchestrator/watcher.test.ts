/**
 * orchestrator/watcher: the ChainWatcher against a real devnet (in process) and a private redis-server.
 *  - the event table against contracts/messages.tact, strict decoding;
 *  - Registry get methods through ChainClient.open over the devnet;
 *  - 2,000 events through graceful stops, in-process crashes and a SIGKILLed watcher process: every event once,
 *    in lt order per address;
 *  - duplicate suppression by the processed set and WATCH fencing between two watchers;
 *  - unknown tags / malformed bodies / foreign events logged (tag + tx hash only) and skipped;
 *  - discovery of provider contracts and following of job contracts until they finish;
 *  - an API outage (backoff with jitter, resume) and a failing handler;
 *  - graceful stop waits for the batch in flight.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Address, Cell, Dictionary, beginCell, toNano } from '@ton/core';
import Redis from 'ioredis';
import pino from 'pino';
import { Registry as MetricsRegistry } from 'prom-client';
import { Devnet, startDevnet } from '../../devnet';
import { ChainWatcher, ChainWatcherOptions, EVENT_DEFS, HandlerContext, WatcherChain, decodeEvent, watcherBackoff } from '../../orchestrator/watcher';
import type { ChainEvent } from '../../orchestrator/watcher';
import { bodySlice, singleCellSlice } from '../../orchestrator/watcher/boc';
import { decodeCursor, encodeCursor } from '../../orchestrator/watcher/keys';
import { ChainClient } from '../../protocol/chain';
import { JobTerms, Registry, loadModelAllowed, storeJobNetworkTerms, storeJobOpened, storeJobSpec, storeOpenJob } from '../../wrappers';
import { FaultProxy } from '../devnet/faultproxy';
import { RedisServer, startRedis } from '../helpers/redis';
import { DevnetNetwork, MEASUREMENT, MODEL, NETWORK_ID, deployNetwork, emittedEvents, fakeAddress, hash256, params } from './devnet-network';
import { deployEmitter, modelAllowedBody } from './emitter';

const REPO = path.join(__dirname, '..', '..');

let server: RedisServer;
let redis: Redis;
let devnet: Devnet;
let chain: ChainClient;
let net: DevnetNetwork;
const watchers: ChainWatcher[] = [];
const children: ChildProcess[] = [];
const proxies: FaultProxy[] = [];

const quiet = pino({ level: process.env.WATCHER_TEST_LOG ?? 'silent' }, pino.destination({ dest: 2, sync: true }));

beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.port);
    devnet = await startDevnet({ port: 0 });
    chain = new ChainClient({ endpoint: devnet.endpoint, retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 50 } });
    net = await deployNetwork(devnet, 'shared');
}, 60_000);

afterAll(async () => {
    for (const w of watchers) await w.abort();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const p of proxies) await p.close();
    redis?.disconnect();
    await devnet?.close();
    await server?.stop();
}, 30_000);

function track(w: ChainWatcher): ChainWatcher {
    watchers.push(w);
    return w;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor<T>(fn: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 30_000, what = 'condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) return v as T;
        if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
        await sleep(20);
    }
}

interface Delivered {
    a: string;
    lt: string;
    o: number;
    id: string;
    t: number;
}

/** The handler's effect: one list entry per event, queued on the batch's MULTI (the child process does the same). */
function record(list: string, ev: ChainEvent, ctx: HandlerContext): void {
    ctx.multi.rpush(list, JSON.stringify({ a: ev.address.toRawString(), lt: ev.txLt.toString(), o: ev.outIndex, id: ev.id, t: Date.now() }));
}

async function delivered(list: string): Promise<Delivered[]> {
    return (await redis.lrange(list, 0, -1)).map((s) => JSON.parse(s) as Delivered);
}

function captureLogger(level = 'info') {
    const lines: Record<string, any>[] = [];
    const raw: string[] = [];
    const logger = pino({ level }, { write: (s: string) => (raw.push(s), lines.push(JSON.parse(s))) });
    return { logger, lines, raw };
}

/** Asserts `got` holds exactly the events the chain emitted at these addresses: once each, in (lt, out index) order. */
async function expectExactlyOnceInOrder(list: string, addresses: Address[]): Promise<number> {
    const got = await delivered(list);
    const ids = got.map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    let total = 0;
    for (const a of addresses) {
        const want = emittedEvents(devnet, a).map((e) => e.id);
        const mine = got.filter((d) => d.a === a.toRawString());
        expect(mine.map((d) => d.id)).toEqual(want);
        for (let i = 1; i < mine.length; i++) {
            const [p, c] = [mine[i - 1], mine[i]];
            expect(BigInt(c.lt) > BigInt(p.lt) || (c.lt === p.lt && c.o > p.o)).toBe(true);
        }
        total += want.length;
    }
    expect(got.length).toBe(total);
    return total;
}

describe('events and cursors', () => {
    test('the event table is exactly the events section of contracts/messages.tact; decoding is strict', () => {
        const tact = fs.readFileSync(path.join(REPO, 'contracts', 'messages.tact'), 'utf8');
        const section = tact.slice(tact.indexOf('// ======================= events'));
        const declared = [...section.matchAll(/message\((0x[0-9a-f]+)\) (\w+)/g)].map((m) => [Number(m[1]), m[2]]);
        expect(declared.length).toBe(26);
        expect(EVENT_DEFS.map((d) => [d.tag, d.name])).toEqual(declared);
        for (const d of EVENT_DEFS) {
            const family = { 0xe0: 'registry', 0xe1: 'provider', 0xe2: 'job' }[(d.tag >> 8) & 0xff];
            expect(d.family).toBe(family);
        }

        const ok = decodeEvent(modelAllowedBody(42n, 7), 'registry');
        expect(ok).toEqual({ ok: true, name: 'ModelAllowed', tag: 0x7c0ce006, data: { $$type: 'ModelAllowed', modelHash: 42n, count: 7n } });
        const terms: JobTerms = {
            $$type: 'JobTerms',
            client: fakeAddress('c'),
            modelHash: 1n,
            inputCommitment: 2n,
            resultKey: 3n,
            maxPrice: 5n,
            deadline: 100n,
            candidates: Dictionary.empty(Dictionary.Keys.Address(), Dictionary.Values.Bool()).set(fakeAddress('cand'), true),
            network: { $$type: 'JobNetworkTerms', networkId: NETWORK_ID, protocolFeeBps: 250n, disputeWindow: 60n, slashBps: 5000n, lockRatioBps: 20000n, treasury: fakeAddress('t'), providerCodeHash: 4n, providerCodeDepth: 5n },
        };
        // on chain: { jobId, client }; the terms are the spec of the OpenJob the registry transaction processed
        const networkCell = beginCell().store(storeJobNetworkTerms(terms.network)).endCell();
        const { $$type: _t, client, network: _n, ...fields } = terms;
        const specCell = beginCell().store(storeJobSpec({ $$type: 'JobSpec', ...fields, network: networkCell })).endCell();
        const openJob = (spec: Cell) => beginCell().store(storeOpenJob({ $$type: 'OpenJob', queryId: 0n, spec })).endCell();
        const opened = beginCell().store(storeJobOpened({ $$type: 'JobOpened', jobId: 9n, client })).endCell();
        expect(opened.refs).toHaveLength(0);
        // the terms come out whole, and the routing fields at the top
        const decoded = decodeEvent(opened, 'registry', openJob(specCell));
        expect(decoded.ok && decoded.name === 'JobOpened' && decoded.data).toMatchObject({ jobId: 9n, maxPrice: 5n, deadline: 100n, modelHash: 1n, inputCommitment: 2n, resultKey: 3n, terms: { $$type: 'JobTerms', maxPrice: 5n, deadline: 100n, network: { networkId: NETWORK_ID, protocolFeeBps: 250n, disputeWindow: 60n, providerCodeHash: 4n, providerCodeDepth: 5n } } });
        const data = decoded.ok ? (decoded.data as { client: Address; terms: JobTerms }) : null;
        expect(data!.client.equals(client) && data!.terms.client.equals(client) && data!.terms.network.treasury.equals(terms.network.treasury)).toBe(true);
        // without the inbound OpenJob, or with another message in its place, there are no terms: malformed
        expect(decodeEvent(opened, 'registry')).toEqual({ ok: false, reason: 'malformed', tag: 0x7c0ce009 });
        expect(decodeEvent(opened, 'registry', modelAllowedBody(1n, 1))).toEqual({ ok: false, reason: 'malformed', tag: 0x7c0ce009 });
        // a spec or network cell with anything after its fields is malformed
        const longSpec = beginCell().storeSlice(specCell.beginParse()).storeUint(1, 1).endCell();
        expect(decodeEvent(opened, 'registry', openJob(longSpec))).toMatchObject({ ok: false, reason: 'malformed' });
        const longNetwork = beginCell().storeSlice(networkCell.beginParse()).storeUint(1, 1).endCell();
        const specWithLongNetwork = beginCell().store(storeJobSpec({ $$type: 'JobSpec', ...fields, network: longNetwork })).endCell();
        expect(decodeEvent(opened, 'registry', openJob(specWithLongNetwork))).toMatchObject({ ok: false, reason: 'malformed' });
        const j = decodeEvent(opened, 'registry', openJob(specCell));
        expect(j.ok && j.name === 'JobOpened' && (j.data as any).jobId === 9n && (j.data as any).candidates.size === 1).toBe(true);
        expect(decodeEvent(opened, 'job', openJob(specCell))).toEqual({ ok: false, reason: 'unexpected-source', tag: 0x7c0ce009 });
        expect(decodeEvent(opened, 'other', openJob(specCell)).ok).toBe(true);
        expect(decodeEvent(beginCell().storeUint(0xdeadbeef, 32).endCell(), 'other')).toEqual({ ok: false, reason: 'unknown-tag', tag: 0xdeadbeef });
        expect(decodeEvent(beginCell().storeUint(0x7c0ce006, 32).storeUint(1, 100).endCell(), 'registry')).toEqual({ ok: false, reason: 'malformed', tag: 0x7c0ce006 });
        const trailing = beginCell().storeSlice(modelAllowedBody(1n, 1).beginParse()).storeUint(1, 1).endCell();
        expect(decodeEvent(trailing, 'registry')).toMatchObject({ ok: false, reason: 'malformed' });
        expect(decodeEvent(beginCell().storeUint(7, 8).endCell(), 'registry')).toEqual({ ok: false, reason: 'malformed', tag: null });
        // the generated loader is what decodes
        expect(loadModelAllowed(modelAllowedBody(3n, 4).beginParse()).modelHash).toBe(3n);
    });

    test('event bodies are read from BoC bytes exactly as @ton/core reads them', () => {
        const cells = [
            modelAllowedBody(hash256('x'), 65535),
            beginCell().endCell(),
            beginCell().storeUint(1, 1).endCell(),
            beginCell().storeUint(0x7c0ce006, 32).storeUint(12345, 100).endCell(),
            beginCell().storeUint(0xff, 8).storeUint(0, 7).endCell(),
            beginCell().storeBuffer(Buffer.alloc(127, 0xa5)).storeUint(5, 7).endCell(), // 1023 bits
            beginCell().storeUint(0x7c0ce102, 32).storeAddress(fakeAddress('owner')).storeUint(3, 256).endCell(),
        ];
        for (const c of cells) {
            for (const opts of [{}, { idx: true, crc32: false }, { idx: false, crc32: false }, { idx: true, crc32: true }]) {
                const boc = c.toBoc(opts);
                const fast = singleCellSlice(boc);
                expect(fast).not.toBeNull();
                expect(fast!.remainingBits).toBe(c.bits.length);
                expect(fast!.remainingRefs).toBe(0);
                expect(fast!.asCell().equals(c)).toBe(true);
                expect(bodySlice(boc.toString('base64')).asCell().equals(c)).toBe(true);
            }
        }
        // references (JobOpened with candidates) take the general path, with the same result
        const withRef = beginCell().storeUint(1, 32).storeRef(beginCell().storeUint(2, 8)).endCell();
        expect(singleCellSlice(withRef.toBoc())).toBeNull();
        expect(bodySlice(withRef.toBoc().toString('base64')).asCell().equals(withRef)).toBe(true);
        expect(singleCellSlice(Buffer.from('not a boc'))).toBeNull();
        const good = modelAllowedBody(1n, 1).toBoc();
        expect(singleCellSlice(good.subarray(0, good.length - 1))).toBeNull(); // truncated
    });

    test('cursor encoding round-trips; backoff is capped exponential with jitter', () => {
        const c = { lt: 123456789012345n, hash: Buffer.alloc(32, 0xab) };
        expect(decodeCursor(encodeCursor(c))).toEqual(c);
        expect(decodeCursor(null)).toBeNull();
        expect(() => decodeCursor('12:zz')).toThrow(/malformed watcher cursor/);
        expect(watcherBackoff(100, 1000, 1, () => 0)).toBe(50);
        expect(watcherBackoff(100, 1000, 1, () => 1)).toBe(100);
        expect(watcherBackoff(100, 1000, 3, () => 1)).toBe(400);
        expect(watcherBackoff(100, 1000, 30, () => 1)).toBe(1000);
        expect(watcherBackoff(100, 1000, 30, () => 0.5)).toBe(750);
    });
});

describe('chain access', () => {
    test('Registry get methods over the devnet through ChainClient.open', async () => {
        await net.allowMeasurement(MEASUREMENT);
        await net.allowModel(MODEL);
        const reg = chain.open(Registry.fromAddress(net.registry.address));
        expect(await reg.getNetworkId()).toBe(NETWORK_ID);
        expect(await reg.getParamsVersion()).toBe(1n);
        const p = await reg.getParams();
        expect(p).toMatchObject({ minProviderStake: params.minProviderStake, protocolFeeBps: params.protocolFeeBps, lockRatioBps: params.lockRatioBps });
        expect(await reg.getIsModelAllowed(MODEL)).toBe(true);
        expect(await reg.getIsModelAllowed(hash256('not allowed'))).toBe(false);
        expect(await reg.getIsMeasurementAllowed(MEASUREMENT)).toBe(true);
        expect(await reg.getAllowlistCounts()).toMatchObject({ measurements: 1n, models: 1n });
        expect((await reg.getTreasury()).equals(net.treasury)).toBe(true);
        expect((await reg.getGovernance()).owner.equals(net.governance)).toBe(true);
        const provider = await net.provider('getter');
        expect((await reg.getProviderAddress(provider.owner)).equals(provider.contract.address)).toBe(true);
        expect(await reg.getProviderCodeHash()).toBe(BigInt('0x' + provider.contract.init!.code.hash().toString('hex')));
        expect(await reg.getJobCount()).toBe(0n);
        await net.openJob(fakeAddress('getter-client'), 0n);
        expect(await reg.getJobCount()).toBe(1n);
        const job = await reg.getJobAddress(0n);
        expect(await chain.isDeployed(job)).toBe(true);
        expect(await reg.getJobCodeHash()).toBe(BigInt('0x' + (await chain.getAccount(job)).code!.hash().toString('hex')));
    });
});

describe('ChainWatcher', () => {
    test('2,000 events through graceful stops, crashes and a SIGKILLed watcher process: each exactly once, in lt order', async () => {
        const main = await deployNetwork(devnet, 'main');
        const emitters = [await deployEmitter(devnet, 11), await deployEmitter(devnet, 12)];
        const prefix = 'main:';
        const list = 'main:delivered';
        const invocations = new Map<string, number>();
        let calls = 0;
        const make = (o: Partial<ChainWatcherOptions> = {}, onCall?: () => void) =>
            track(
                new ChainWatcher({
                    chain,
                    redis,
                    registry: main.registry.address,
                    keyPrefix: prefix,
                    pollIntervalMs: 50,
                    logger: quiet,
                    handler: async (ev, ctx) => {
                        calls++;
                        invocations.set(ev.id, (invocations.get(ev.id) ?? 0) + 1);
                        record(list, ev, ctx);
                        onCall?.();
                    },
                    ...o,
                }),
            );
        const llen = () => redis.llen(list);

        // A watcher process for step 4, loading meanwhile.
        const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', path.join(__dirname, 'watcher-child.ts')], {
            cwd: REPO,
            env: {
                ...process.env,
                WATCHER_ENDPOINT: devnet.endpoint,
                WATCHER_REDIS_PORT: String(server.port),
                WATCHER_REGISTRY: main.registry.address.toRawString(),
                WATCHER_PREFIX: prefix,
                WATCHER_LIST: list,
                WATCHER_POLL_MS: '50',
                WATCHER_BATCH_SIZE: '25',
                WATCHER_HANDLER_DELAY_MS: '1',
                WATCHER_WAIT_FOR_GO: '1',
            },
            stdio: ['pipe', 'pipe', 'pipe'],
        });
        children.push(child);
        let childErr = '';
        let childOut = '';
        child.stderr!.on('data', (d) => (childErr += d.toString()));
        child.stdout!.on('data', (d) => (childOut += d.toString()));
        const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, signal) => r(signal)));
        const nextLine = (key: string) =>
            waitFor(() => childOut.includes(`"${key}":true`) || child.exitCode !== null || child.signalCode !== null, 90_000, `child ${key}`).then(() =>
                childOut.includes(`"${key}":true`),
            );

        // Each burst: 24 registry governance messages (one event each) and 8 emitter transactions (226 events).
        let gi = 0;
        let start = 0n;
        const burst = async () => {
            const sends: Promise<unknown>[] = [];
            for (let k = 0; k < 24; k++) sends.push(main.governanceEvent(gi++));
            for (const n of [50, 50, 17, 3]) (sends.push(emitters[0].generate(n, start)), (start += 1000n));
            for (const n of [40, 40, 20, 6]) (sends.push(emitters[1].generate(n, start)), (start += 1000n));
            await Promise.all(sends);
        };

        // 1. small pages and batches; graceful stop while events flow
        let w = make({ pageSize: 7, batchSize: 5 });
        await w.start();
        for (const e of emitters) await w.follow(e.address, 'other');
        await burst();
        await waitFor(async () => (await llen()) >= 40, 30_000, '40 events');
        await w.stop();
        const afterStop = await llen();
        expect(afterStop).toBe(calls); // a graceful stop commits everything it handed out

        // 2. watcher down
        await burst();

        // 3. crash from inside the handler at its 37th call: the batch in flight is never committed
        let aborting: Promise<void> | undefined;
        const before3 = calls;
        const w3: ChainWatcher = make({ batchSize: 50 }, () => {
            if (calls - before3 === 37) aborting = w3.abort();
        });
        await w3.start();
        await burst();
        await waitFor(() => aborting !== undefined, 30_000, 'crash at call 37');
        await aborting;
        expect(await llen()).toBeLessThan(calls);

        // 4. a watcher in its own process (started early: loading TypeScript is slow), SIGKILLed mid-stream
        child.stdin!.write('go\n');
        expect(await nextLine('ready')).toBe(true);
        expect(childErr).toBe('');
        const before4 = await llen();
        await burst();
        await waitFor(async () => (await llen()) >= before4 + 60, 30_000, 'child progress');
        child.kill('SIGKILL');
        expect(await exited).toBe('SIGKILL');

        // 5. abort from outside while a burst is being produced
        w = make();
        await w.start();
        const b5 = burst();
        await sleep(150);
        await w.abort();
        await b5;

        // 6. watcher down again
        await burst();

        // 7. graceful stop as soon as the first event is handled
        const before7 = calls;
        const llen7 = await llen();
        w = make({ batchSize: 20 });
        await w.start();
        await waitFor(() => calls > before7, 30_000, 'first call');
        await w.stop();
        expect(await llen()).toBe(llen7 + (calls - before7)); // every event handed out was committed
        await burst();

        // 8. crash inside the handler again, during the last burst
        aborting = undefined;
        const before8 = calls;
        const w8: ChainWatcher = make({ batchSize: 30 }, () => {
            if (calls - before8 === 45) aborting = w8.abort();
        });
        await w8.start();
        await burst();
        await waitFor(() => aborting !== undefined, 30_000, 'crash at call 45');
        await aborting;

        // final run: everything is delivered, then nothing more
        w = make();
        await w.start();
        await waitFor(async () => (await llen()) >= 2000, 60_000, 'all 2,000 events');
        await sleep(300);
        await w.stop();

        const total = await expectExactlyOnceInOrder(list, [main.registry.address, ...emitters.map((e) => e.address)]);
        expect(total).toBe(2000);
        // crashes really made the watcher hand out uncommitted work again
        expect([...invocations.values()].filter((n) => n > 1).length).toBeGreaterThan(0);
        // cursors are at the newest transaction of every followed address
        for (const a of [main.registry.address, ...emitters.map((e) => e.address)]) {
            const last = devnet.chain.index.all(a.toRawString()).at(-1)!;
            expect(await redis.get(`${prefix}cursor:${a.toRawString()}`)).toBe(`${last.lt}:${last.hash.toString('hex')}`);
        }
    }, 110_000);

    test('a replay from a lost cursor is suppressed by the processed set; two watchers at once never commit a batch twice', async () => {
        const local = await deployNetwork(devnet, 'dedupe');
        const em = await deployEmitter(devnet, 21);
        for (const n of [30, 30, 30]) await em.generate(n, BigInt(n));
        for (let i = 0; i < 6; i++) await local.governanceEvent(i);
        const prefix = 'dedupe:';
        const list = 'dedupe:list';
        const make = () =>
            track(
                new ChainWatcher({
                    chain,
                    redis,
                    registry: local.registry.address,
                    keyPrefix: prefix,
                    pollIntervalMs: 20,
                    batchSize: 10,
                    logger: quiet,
                    handler: async (ev, ctx) => {
                        await sleep(2);
                        record(list, ev, ctx);
                    },
                }),
            );
        const a = make();
        const b = make();
        await a.follow(em.address, 'other');
        await Promise.all([a.start(), b.start()]);
        await waitFor(async () => (await redis.llen(list)) >= 96, 30_000, '96 events');
        await sleep(200);
        await Promise.all([a.stop(), b.stop()]);
        expect(await expectExactlyOnceInOrder(list, [local.registry.address, em.address])).toBe(96);
        expect(a.stats().conflicts + b.stats().conflicts).toBeGreaterThan(0);
        expect(a.stats().events + b.stats().events).toBe(96);

        // The cursor is lost (deleted by hand): the next watcher reads the whole history again, hands nothing out.
        await redis.del(`${prefix}cursor:${em.address.toRawString()}`);
        const c = make();
        await c.start();
        await waitFor(() => c.stats().duplicates >= 90, 30_000, 'replay');
        await c.stop();
        expect(c.stats()).toMatchObject({ duplicates: 90, events: 0, handlerCalls: 0 });
        expect(await redis.llen(list)).toBe(96);
    }, 60_000);

    test('pushed by the devnet, a new event arrives long before the next poll; a chain that cannot push waits for it', async () => {
        const em = await deployEmitter(devnet, 61);
        const slow = 20_000; // the poll interval: only the push can bring the event sooner
        const run = async (c: WatcherChain, prefix: string) => {
            const got: ChainEvent[] = [];
            const w = track(new ChainWatcher({ chain: c, redis, registry: net.registry.address, keyPrefix: prefix, pollIntervalMs: slow, logger: quiet, handler: (ev) => void got.push(ev) }));
            await w.start();
            await w.follow(em.address, 'other'); // followed from the next poll, which starts at once
            await sleep(500); // that poll is done: the watcher now waits for news
            const before = got.length;
            const sent = Date.now();
            await em.echo([modelAllowedBody(BigInt(prefix.length) + 77n, 7)]);
            let seen = Infinity;
            while (Date.now() - sent < 3_000 && seen === Infinity) {
                if (got.length > before) seen = Date.now() - sent;
                else await sleep(20);
            }
            await w.stop();
            return seen;
        };
        expect(await run(chain, 'push:')).toBeLessThan(3_000);
        const noPush: WatcherChain = { call: chain.call.bind(chain), open: chain.open.bind(chain) }; // toncenter-like: no waitForTransactions
        expect(await run(noPush, 'nopush:')).toBe(Infinity);
    }, 60_000);

    test('unknown tags, malformed bodies and events from the wrong kind of contract are logged (tag + tx hash) and skipped', async () => {
        const em = await deployEmitter(devnet, 31);
        const foreign = await deployEmitter(devnet, 32);
        const cap = captureLogger();
        const got: ChainEvent[] = [];
        const metrics = new MetricsRegistry();
        const w = track(
            new ChainWatcher({ chain, redis, registry: net.registry.address, keyPrefix: 'skip:', pollIntervalMs: 30, logger: cap.logger, metrics, handler: (ev) => void got.push(ev) }),
        );
        await w.start();
        await w.follow(em.address, 'other');
        await w.follow(foreign.address, 'job');
        const SECRET = hash256('payload that must never reach a log');
        const secretHex = SECRET.toString(16);
        const unknown = beginCell().storeUint(0xdeadbeef, 32).storeUint(SECRET, 256).endCell();
        const truncated = beginCell().storeUint(0x7c0ce006, 32).storeUint(SECRET >> 156n, 100).endCell();
        const trailing = beginCell().storeUint(0x7c0ce006, 32).storeUint(SECRET, 256).storeUint(1, 16).storeUint(SECRET & 0xffn, 8).endCell();
        const t1 = await em.echo([unknown, truncated, trailing, modelAllowedBody(1n, 1)]);
        const t2 = await em.echo([beginCell().storeUint(5, 8).endCell(), modelAllowedBody(2n, 2)]);
        const t3 = await foreign.echo([modelAllowedBody(SECRET, 3)]);
        const mineCount = () => got.filter((e) => e.address.equals(em.address)).length;
        await waitFor(() => w.stats().skipped['unexpected-source'] === 1 && w.stats().skipped.malformed === 3 && mineCount() >= 2, 30_000, 'skips');
        await em.echo([modelAllowedBody(4n, 4)]); // the watcher is still going
        await waitFor(() => got.some((e) => e.name === 'ModelAllowed' && e.data.modelHash === 4n), 30_000, 'event after the bad ones');
        await w.stop();

        const mine = got.filter((e) => e.address.equals(em.address));
        expect(mine.map((e) => (e.name === 'ModelAllowed' ? e.data.modelHash : -1n))).toEqual([1n, 2n, 4n]);
        expect(mine.map((e) => e.outIndex)).toEqual([3, 1, 0]);
        expect(got.filter((e) => e.address.equals(foreign.address))).toEqual([]);
        expect(w.stats().skipped).toEqual({ 'unknown-tag': 1, malformed: 3, 'unexpected-source': 1 });
        const exposed = await metrics.metrics();
        expect(exposed).toContain('cocoon_watcher_events_skipped_total{reason="malformed"} 3');
        expect(exposed).toContain('cocoon_watcher_events_skipped_total{reason="unknown-tag"} 1');
        expect(exposed).toMatch(/cocoon_watcher_events_total\{name="ModelAllowed"\} \d+/);
        expect(exposed).toContain('cocoon_watcher_followed_addresses 3');

        const skips = cap.lines.filter((l) => l.msg === 'event skipped');
        const hashOf = (txs: { account: string; hash: Buffer }[], a: Address) => txs.find((t) => t.account === a.toRawString())!.hash.toString('hex');
        expect(skips.map((l) => [l.reason, l.tag, l.txHash, l.outIndex]).sort()).toEqual([
            ['unknown-tag', '0xdeadbeef', hashOf(t1, em.address), 0],
            ['malformed', '0x7c0ce006', hashOf(t1, em.address), 1],
            ['malformed', '0x7c0ce006', hashOf(t1, em.address), 2],
            ['malformed', null, hashOf(t2, em.address), 0],
            ['unexpected-source', '0x7c0ce006', hashOf(t3, foreign.address), 0],
        ].sort());
        for (const l of skips) expect(l.level).toBe(40); // warn
        const all = cap.raw.join('');
        expect(all).not.toContain(secretHex);
        expect(all).not.toContain(SECRET.toString());
        expect(all).not.toContain(unknown.toBoc().toString('base64'));
    }, 60_000);

    test('discovers provider contracts from the registry and follows the job contracts the handler asks for until they finish', async () => {
        const d = await deployNetwork(devnet, 'discovery');
        await d.allowMeasurement(MEASUREMENT);
        await d.allowModel(MODEL);
        const p1 = await d.provider('p1');
        await d.stake(p1, toNano('20'));
        await d.registerEnclave(p1, 'p1'); // the registry's CheckEnclave transaction names p1's contract
        const p2 = await d.provider('p2');
        await d.stake(p2, toNano('20'));
        await d.slash(p2.owner, toNano('1')); // ProviderSlashRequested names p2's owner only
        const client = fakeAddress('discovery-client');
        await d.openJob(client, 0n);

        const got: ChainEvent[] = [];
        const w = track(
            new ChainWatcher({
                chain,
                redis,
                registry: d.registry.address,
                keyPrefix: 'discovery:',
                pollIntervalMs: 30,
                logger: quiet,
                handler: async (ev, ctx) => {
                    got.push(ev);
                    if (ev.name === 'JobOpened') ctx.follow(await ctx.jobAddress(ev.data.jobId), 'job');
                },
            }),
        );
        await w.start();
        const names = (a: Address) => got.filter((e) => e.address.equals(a)).map((e) => e.name);
        await waitFor(() => names(p1.contract.address).length === 2 && names(p2.contract.address).length === 2, 30_000, 'provider events');
        expect(names(d.registry.address)).toEqual(['MeasurementAllowed', 'ModelAllowed', 'ProviderSlashRequested', 'JobOpened']);
        expect(names(p1.contract.address)).toEqual(['Staked', 'EnclaveRegistered']);
        expect(names(p2.contract.address)).toEqual(['Staked', 'StakeSlashed']);
        const reg = got.find((e) => e.name === 'EnclaveRegistered')!;
        expect(reg.kind).toBe('provider');
        expect(reg.name === 'EnclaveRegistered' && reg.data.owner.equals(p1.owner) && reg.data.measurement === MEASUREMENT).toBe(true);

        const job = await chain.open(Registry.fromAddress(d.registry.address)).getJobAddress(0n);
        await waitFor(() => w.following().some((f) => f.address.equals(job) && f.kind === 'job'), 30_000, 'job followed');
        expect(await redis.hget('discovery:follow', job.toRawString())).toBe('job');
        expect(await redis.hget('discovery:follow', p1.contract.address.toRawString())).toBe('provider');
        await d.cancelJob(client, job);
        await waitFor(() => names(job).length === 1, 30_000, 'JobCancelled');
        expect(names(job)).toEqual(['JobCancelled']);
        // a finished job is no longer followed; its cursor is kept for a while
        await waitFor(() => !w.following().some((f) => f.address.equals(job)), 10_000, 'job unfollowed');
        expect(await redis.hget('discovery:follow', job.toRawString())).toBeNull();
        expect(await redis.ttl(`discovery:cursor:${job.toRawString()}`)).toBeGreaterThan(0);
        await w.stop();

        // a restart resumes the same followed set from Redis
        const again = track(new ChainWatcher({ chain, redis, registry: d.registry.address, keyPrefix: 'discovery:', logger: quiet, handler: () => undefined }));
        await again.start();
        expect(again.following().map((f) => [f.address.toRawString(), f.kind]).sort()).toEqual(
            [
                [d.registry.address.toRawString(), 'registry'],
                [p1.contract.address.toRawString(), 'provider'],
                [p2.contract.address.toRawString(), 'provider'],
            ].sort(),
        );
        await again.stop();
    }, 60_000);

    test('an API outage backs off with jitter and resumes; a failing handler gets its batch again', async () => {
        const proxy = await new FaultProxy(devnet.endpoint).start();
        proxies.push(proxy);
        let outage = false;
        proxy.decide = (req) => (outage && req.method === 'getTransactions' ? { kind: 'status', status: 503 } : { kind: 'forward' });
        const flaky = new ChainClient({ endpoint: proxy.endpoint, retry: { attempts: 1 } });
        const local = await deployNetwork(devnet, 'outage');
        const em = await deployEmitter(devnet, 41);
        const cap = captureLogger();
        const list = 'outage:list';
        let exploded = false;
        const calls = new Map<string, number>();
        const w = track(
            new ChainWatcher({
                chain: flaky,
                redis,
                registry: local.registry.address,
                keyPrefix: 'outage:',
                pollIntervalMs: 30,
                backoff: { baseMs: 40, maxMs: 320 },
                logger: cap.logger,
                handler: (ev, ctx) => {
                    calls.set(ev.id, (calls.get(ev.id) ?? 0) + 1);
                    if (ev.address.equals(em.address) && ev.outIndex === 4 && !exploded) {
                        exploded = true;
                        throw new Error('handler exploded');
                    }
                    record(list, ev, ctx);
                },
            }),
        );
        await w.start();
        await w.follow(em.address, 'other');
        await em.generate(10, 0n);
        await waitFor(async () => (await redis.llen(list)) >= 10, 30_000, 'first 10');
        expect(exploded).toBe(true);
        expect([...calls.values()].filter((n) => n === 2).length).toBe(5); // the batch's first five, handed out again

        outage = true;
        await sleep(100); // let a request already past the proxy finish
        const seenBefore = proxy.count('getTransactions');
        await em.generate(10, 100n);
        await local.governanceEvent(0);
        await sleep(1500);
        const during = proxy.count('getTransactions') - seenBefore;
        expect(await redis.llen(list)).toBe(10);
        outage = false;
        await waitFor(async () => (await redis.llen(list)) >= 21, 30_000, 'after the outage');
        await w.stop();

        await expectExactlyOnceInOrder(list, [local.registry.address, em.address]);
        const backoffs = cap.lines.filter((l) => l.msg === 'chain read failed; backing off');
        expect(backoffs.length).toBeGreaterThanOrEqual(4);
        for (const l of backoffs) {
            const capMs = Math.min(320, 40 * 2 ** (l.failures - 1));
            expect(l.delayMs).toBeGreaterThanOrEqual(capMs / 2);
            expect(l.delayMs).toBeLessThanOrEqual(capMs);
            expect(l.err).toMatch(/HTTP 503/);
        }
        expect(Math.max(...backoffs.map((l) => l.failures))).toBeGreaterThanOrEqual(3);
        expect(new Set(backoffs.map((l) => l.delayMs)).size).toBeGreaterThan(2); // jitter
        // without backoff two addresses polled every 30 ms would have made ~100 calls in 1.5 s
        expect(during).toBeLessThan(30);
        const handlerFailures = cap.lines.filter((l) => l.msg === 'handler failed; batch will be retried');
        expect(handlerFailures.map((l) => l.err)).toEqual(['Error: handler exploded']);
    }, 60_000);

    test('an API that returns short pages cannot make it skip history; registryStart latest skips the past', async () => {
        const local = await deployNetwork(devnet, 'short-pages');
        await Promise.all(Array.from({ length: 12 }, (_, i) => local.governanceEvent(i)));
        let calls = 0;
        const shortPages: WatcherChain = {
            call: (async (method: string, params?: Record<string, unknown>) => {
                const r = await chain.call<unknown[]>(method, params);
                if (method !== 'getTransactions') return r;
                calls++;
                return r.slice(0, 3); // at most 3 rows, whatever the limit
            }) as WatcherChain['call'],
            open: (c) => chain.open(c),
        };
        const cap = captureLogger();
        const w = track(
            new ChainWatcher({ chain: shortPages, redis, registry: local.registry.address, keyPrefix: 'short:', pageSize: 5, pollIntervalMs: 30, logger: cap.logger, handler: (ev, ctx) => record('short:list', ev, ctx) }),
        );
        await w.start();
        await waitFor(async () => (await redis.llen('short:list')) >= 12, 30_000, '12 events');
        await w.stop();
        expect(await expectExactlyOnceInOrder('short:list', [local.registry.address])).toBe(12);
        expect(calls).toBeGreaterThan(5);
        expect(cap.lines.filter((l) => l.level >= 50)).toEqual([]);

        const got: ChainEvent[] = [];
        const latest = track(
            new ChainWatcher({ chain, redis, registry: local.registry.address, keyPrefix: 'latest:', registryStart: 'latest', pollIntervalMs: 30, logger: quiet, handler: (ev) => void got.push(ev) }),
        );
        await latest.start();
        await local.governanceEvent(12);
        await local.governanceEvent(13);
        await waitFor(() => got.length >= 2, 30_000, 'new events');
        await sleep(100);
        await latest.stop();
        expect(got.map((e) => e.name)).toEqual(['ModelAllowed', 'ModelRevoked']);
        expect(got.map((e) => e.name === 'ModelAllowed' || e.name === 'ModelRevoked' ? e.data.modelHash : 0n)).toEqual([hash256('model:rotating:6'), hash256('model:rotating:6')]);
    }, 30_000);

    test('graceful stop waits for the batch in flight and commits it', async () => {
        const local = await deployNetwork(devnet, 'graceful');
        const em = await deployEmitter(devnet, 51);
        await em.generate(40, 0n);
        const list = 'graceful:list';
        let calls = 0;
        let stopping: Promise<void> | undefined;
        let stoppedAt = -1;
        const w: ChainWatcher = track(
            new ChainWatcher({
                chain,
                redis,
                registry: local.registry.address,
                keyPrefix: 'graceful:',
                pollIntervalMs: 30,
                batchSize: 100,
                logger: quiet,
                handler: async (ev, ctx) => {
                    calls++;
                    record(list, ev, ctx);
                    await sleep(3);
                    if (calls === 3) stopping = w.stop().then(() => void (stoppedAt = calls));
                },
            }),
        );
        await w.follow(em.address, 'other');
        await w.start();
        await waitFor(() => stopping !== undefined, 30_000, 'stop requested');
        await stopping;
        expect(stoppedAt).toBe(40); // stop() resolved only after the whole batch was handled ...
        expect(await redis.llen(list)).toBe(40); // ... and committed
        expect(w.running).toBe(false);
        await em.generate(5, 100n);
        await sleep(200);
        expect(calls).toBe(40);
        expect(await redis.get(`graceful:cursor:${em.address.toRawString()}`)).toMatch(/^\d+:[0-9a-f]{64}$/);
    }, 30_000);
});
