/**
 * protocol/chain: ChainClient reads (with retries), transaction paging, ContractProvider; WalletSender sends
 * (V4 / V5R1, seqno serialization, inclusion by normalized hash) and its behaviour under faults: lost answers,
 * failed submissions, swallowed messages, expiry and seqno conflicts. All against an in-process devnet.
 */
import { Address, beginCell, external, internal, SendMode, storeMessage, toNano } from '@ton/core';
import { WalletContractV4, WalletContractV5R1 } from '@ton/ton';
import { Devnet, startDevnet } from '../../devnet';
import {
    ChainApiError,
    ChainClient,
    ChainNetworkError,
    GetMethodError,
    InclusionTimeoutError,
    SendRejectedError,
    SeqnoConflictError,
    WalletSender,
    MAX_BATCH_MESSAGES,
    normalizedMessageHash,
    sentMessage,
    chainPushFromEnv,
    seqnoFromWalletData,
} from '../../protocol/chain';
import { FaultProxy } from './faultproxy';
import { freePort, newWallet, randomWallet, rpc, waitFor } from './helpers';

const FAST_RETRY = { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 };
const POLL = { pollIntervalMs: 40 };

let devnet: Devnet;
let client: ChainClient;
const proxies: FaultProxy[] = [];

beforeAll(async () => {
    devnet = await startDevnet({ port: 0 });
    client = new ChainClient({ endpoint: devnet.endpoint, retry: FAST_RETRY });
});

afterAll(async () => {
    for (const p of proxies) await p.close();
    await devnet?.close();
});

async function proxy(): Promise<FaultProxy> {
    const p = await new FaultProxy(devnet.endpoint).start();
    proxies.push(p);
    return p;
}

async function fundedSender(c: ChainClient = client, amount = toNano('10'), extra: Partial<ConstructorParameters<typeof WalletSender>[1]> = {}) {
    const { keyPair } = randomWallet();
    const sender = new WalletSender(c, { version: 'v4', keyPair, ...POLL, ...extra });
    await devnet.fund(sender.address, amount);
    return sender;
}

describe('ChainClient reads', () => {
    test('account state, balance and get methods; GetMethodError for an account without code', async () => {
        const w = randomWallet();
        await devnet.fund(w.wallet.address, toNano('5'));
        const acc = await client.getAccount(w.wallet.address);
        expect(acc.status).toBe('uninit');
        expect(acc.balance).toBe(toNano('5'));
        expect(acc.lastTransaction?.lt).toBeGreaterThan(0n);
        expect(await client.getBalance(w.wallet.address)).toBe(toNano('5'));
        expect(await client.isDeployed(w.wallet.address)).toBe(false);
        await expect(client.runGetMethod(w.wallet.address, 'seqno')).rejects.toThrow(GetMethodError);
        await expect(client.runGetMethod(w.wallet.address, 'seqno')).rejects.toThrow(/exit code -13 \(account not deployed\)/);
        expect((await client.runGetMethodRaw(w.wallet.address, 'seqno')).exitCode).toBe(-13);
        const never = await client.getAccount(new Address(0, Buffer.alloc(32, 0xee)));
        expect(never).toMatchObject({ status: 'uninit', balance: 0n, lastTransaction: null, code: null });
        expect((await client.getMasterchainInfo()).seqno).toBeGreaterThan(1);
    });

    test('transactions() pages through the whole history newest-first without gaps or duplicates', async () => {
        const target = new Address(0, Buffer.alloc(32, 0xa7));
        for (let i = 1; i <= 23; i++) await devnet.fund(target, BigInt(i));
        const seen: bigint[] = [];
        for await (const t of client.transactions(target, { pageSize: 5 })) seen.push(t.lt);
        expect(seen).toHaveLength(23);
        const page = await client.getTransactions(target, { limit: 100 });
        expect(seen).toEqual(page.map((t) => t.lt));
        for (const t of page) expect(t.tx.hash().equals(t.hash)).toBe(true);
        // toLt bounds the walk (exclusive).
        const recent: bigint[] = [];
        for await (const t of client.transactions(target, { pageSize: 4, toLt: page[9].lt })) recent.push(t.lt);
        expect(recent).toEqual(page.slice(0, 9).map((t) => t.lt));
        // A cursor page includes the named transaction.
        const from = await client.getTransactions(target, { limit: 2, lt: page[3].lt, hash: page[3].hash });
        expect(from.map((t) => t.lt)).toEqual([page[3].lt, page[4].lt]);
    });
});

describe('WalletSender', () => {
    test('V4 from a mnemonic: the first transfer deploys the wallet; the result carries its transaction', async () => {
        const { mnemonic, wallet } = await newWallet();
        await devnet.fund(wallet.address, toNano('10'));
        const sender = await WalletSender.fromMnemonic(client, mnemonic.join(' '), { version: 'v4', ...POLL });
        expect(sender.address.equals(wallet.address)).toBe(true);
        expect(await sender.getSeqno()).toBe(0);
        const dest = new Address(0, Buffer.alloc(32, 0xb1));

        const first = await sender.transfer([{ to: dest, value: '0.5', bounce: false }]);
        expect(first.seqno).toBe(0);
        const inMsg = first.transaction.tx.inMessage!;
        expect(inMsg.info.type).toBe('external-in');
        expect(normalizedMessageHash(inMsg).equals(first.normalizedHash)).toBe(true);
        expect(inMsg.init).toBeTruthy(); // the deploying message carried the StateInit
        expect(await sender.getSeqno()).toBe(1);
        expect(await client.isDeployed(sender.address)).toBe(true);
        expect(await client.getBalance(dest)).toBeGreaterThan(toNano('0.49'));

        const second = await sender.transfer([internal({ to: dest, value: toNano('0.25'), bounce: false })]);
        expect(second.seqno).toBe(1);
        expect(second.transaction.tx.inMessage!.init).toBeFalsy();
        expect(second.transaction.lt).toBeGreaterThan(first.transaction.lt);
        expect(await sender.getSeqno()).toBe(2);

        // Wrappers read through the client as a ContractProvider.
        const opened = client.open(WalletContractV4.create({ workchain: 0, publicKey: sender.publicKey }));
        expect(await opened.getSeqno()).toBe(2);
        expect(await opened.getBalance()).toBe(await sender.getBalance());
    });

    test('V5R1 wallet deploys and sends', async () => {
        const { keyPair } = randomWallet();
        const sender = new WalletSender(client, { version: 'v5r1', keyPair, networkGlobalId: -3, ...POLL });
        const expected = WalletContractV5R1.create({
            publicKey: keyPair.publicKey,
            walletId: { networkGlobalId: -3, context: { workchain: 0, subwalletNumber: 0, walletVersion: 'v5r1' } },
        });
        expect(sender.address.equals(expected.address)).toBe(true);
        await devnet.fund(sender.address, toNano('3'));
        const dest = new Address(0, Buffer.alloc(32, 0xb2));
        const r = await sender.transfer([{ to: dest, value: toNano('1'), bounce: false }]);
        expect(r.seqno).toBe(0);
        expect(await sender.getSeqno()).toBe(1);
        const info = await rpc(devnet.endpoint, 'getWalletInformation', { address: sender.address.toString() });
        expect(info.body.result).toMatchObject({ wallet: true, wallet_type: 'wallet v5 r1', seqno: 1 });
        expect(await client.getBalance(dest)).toBeGreaterThan(toNano('0.99'));
    });

    test('concurrent transfers from one wallet are serialized across sender instances: consecutive seqnos, all land', async () => {
        const { keyPair } = randomWallet();
        const sender = new WalletSender(client, { version: 'v4', keyPair, ...POLL });
        const twin = new WalletSender(client, { version: 'v4', keyPair, ...POLL });
        await devnet.fund(sender.address, toNano('10'));
        const dest = new Address(0, Buffer.alloc(32, 0xb3));
        const results = await Promise.all([
            sender.transfer([{ to: dest, value: '0.1', bounce: false }]),
            sender.transfer([{ to: dest, value: '0.1', bounce: false }]),
            twin.transfer([{ to: dest, value: '0.1', bounce: false }]),
            sender.transfer([{ to: dest, value: '0.1', bounce: false }]),
            twin.transfer([{ to: dest, value: '0.1', bounce: false }]),
        ]);
        expect(results.map((r) => r.seqno).sort()).toEqual([0, 1, 2, 3, 4]);
        expect(new Set(results.map((r) => r.transaction.hash.toString('hex'))).size).toBe(5);
        expect(await sender.getSeqno()).toBe(5);
        expect((await client.getTransactions(dest, { limit: 10 })).length).toBe(5);
    });

    test('submit() returns at acceptance; `included` resolves later; the next transfer waits for it', async () => {
        const sender = await fundedSender();
        const sub = await sender.submit([{ to: sender.address, value: '0.01' }]);
        const next = sender.transfer([{ to: sender.address, value: '0.01' }]);
        const tx = await sub.included;
        expect(tx.tx.inMessage && normalizedMessageHash(tx.tx.inMessage).equals(sub.normalizedHash)).toBe(true);
        expect((await next).seqno).toBe(sub.seqno + 1);
    });

    test('as a @ton/core Sender: provider.internal(sender, …) sends and waits', async () => {
        const sender = await fundedSender();
        const dest = new Address(0, Buffer.alloc(32, 0xb4));
        await client.provider(dest).internal(sender, { value: toNano('0.2'), bounce: false, body: 'hello' });
        expect(sender.lastTransfer?.seqno).toBe(0);
        const [t] = await client.getTransactions(dest, { limit: 1 });
        const body = t.tx.inMessage!.body.beginParse();
        expect(body.loadUint(32)).toBe(0);
        expect(body.loadStringTail()).toBe('hello');
    });

    test('an unfunded wallet is rejected at once with SendRejectedError', async () => {
        const { keyPair } = randomWallet();
        const sender = new WalletSender(client, { version: 'v4', keyPair, ...POLL });
        await expect(sender.transfer([{ to: sender.address, value: '0.01' }])).rejects.toThrow(SendRejectedError);
        await expect(sender.transfer([{ to: sender.address, value: '0.01' }])).rejects.toThrow(/rejected: .*External message was not accepted/);
    });
});

describe('WalletSender batching (batch: true)', () => {
    const bodyOf = (i: number) => beginCell().storeUint(0, 32).storeStringTail(`batched ${i}`).endCell();

    test('transfers queued behind an unconfirmed one share the next transaction, 4 per V4 transaction; each finds its own message', async () => {
        const sender = await fundedSender(client, toNano('10'), { batch: true });
        const dest = new Address(0, Buffer.alloc(32, 0xc1));
        // all 9 are asked for in one tick: the first transaction takes 4, the next 4 queue behind it, then 1
        const results = await Promise.all(Array.from({ length: 9 }, (_, i) => sender.transfer([{ to: dest, value: toNano('0.1') + BigInt(i), bounce: false, body: bodyOf(i) }])));
        expect(await sender.getSeqno()).toBe(3);
        expect(results.map((r) => r.seqno)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 2]);
        expect(new Set(results.map((r) => r.transaction.hash.toString('hex'))).size).toBe(3);
        results.forEach((r, i) => {
            const m = sentMessage(r.transaction, dest, bodyOf(i));
            expect(m?.info.type === 'internal' && m.info.value.coins).toBe(toNano('0.1') + BigInt(i));
        });
        expect(sentMessage(results[0].transaction, dest, bodyOf(4))).toBeUndefined(); // not in another's transaction
        const received = await client.getTransactions(dest, { limit: 20 });
        expect(received.map((t) => t.tx.inMessage!.body.beginParse().skip(32).loadStringTail()).sort()).toEqual(Array.from({ length: 9 }, (_, i) => `batched ${i}`).sort());
    });

    test('V5R1 carries more than 4 per transaction: 10 concurrent transfers leave in one', async () => {
        const { keyPair } = randomWallet();
        const sender = new WalletSender(client, { version: 'v5r1', keyPair, ...POLL, batch: true });
        await devnet.fund(sender.address, toNano('10'));
        const dest = new Address(0, Buffer.alloc(32, 0xc3));
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => sender.transfer([{ to: dest, value: toNano('0.1'), bounce: false, body: bodyOf(i) }])));
        expect(new Set(results.map((r) => r.seqno))).toEqual(new Set([0]));
        expect(results[0].transaction.tx.outMessagesCount).toBe(10);
        results.forEach((r, i) => expect(sentMessage(r.transaction, dest, bodyOf(i))).toBeDefined());
        expect(await sender.getSeqno()).toBe(1);
        expect(MAX_BATCH_MESSAGES.v5r1).toBeGreaterThanOrEqual(10);
    });

    test('transfers with different send modes never share a transaction', async () => {
        const sender = await fundedSender(client, toNano('10'), { batch: true });
        const dest = new Address(0, Buffer.alloc(32, 0xc2));
        const [first, a, b, c] = await Promise.all([
            sender.transfer([{ to: dest, value: '0.1', bounce: false }]),
            sender.transfer([{ to: dest, value: '0.1', bounce: false }]),
            sender.transfer([{ to: dest, value: '0.1', bounce: false }], { sendMode: SendMode.PAY_GAS_SEPARATELY }),
            sender.transfer([{ to: dest, value: '0.1', bounce: false }]),
        ]);
        // in order: [first, a] share; b (another mode) goes alone; c cannot join b and leaves after it
        expect([first.seqno, a.seqno, b.seqno, c.seqno]).toEqual([0, 0, 1, 2]);
        expect(await sender.getSeqno()).toBe(3);
    });

    test('a message the wallet cannot pay is skipped (IGNORE_ERRORS): sentMessage finds the others, not it', async () => {
        const sender = await fundedSender(client, toNano('1'), { batch: true });
        const dest = new Address(0, Buffer.alloc(32, 0xc4));
        const [ok, tooBig] = await Promise.all([
            sender.transfer([{ to: dest, value: toNano('0.1'), bounce: false, body: bodyOf(1) }]),
            sender.transfer([{ to: dest, value: toNano('5'), bounce: false, body: bodyOf(2) }]),
        ]);
        expect(ok.transaction.hash.equals(tooBig.transaction.hash)).toBe(true); // one transaction
        expect(sentMessage(ok.transaction, dest, bodyOf(1))).toBeDefined();
        expect(sentMessage(tooBig.transaction, dest, bodyOf(2))).toBeUndefined();
        expect(await client.getBalance(sender.address)).toBeGreaterThan(toNano('0.8'));
    });

    test('more messages than one transaction carries → RangeError naming the limit; nothing is sent', async () => {
        const sender = await fundedSender(client, toNano('10'), { batch: true });
        const five = Array.from({ length: 5 }, () => ({ to: sender.address, value: '0.01' }));
        await expect(sender.transfer(five)).rejects.toThrow('a v4 wallet sends at most 4 messages per transaction, got 5');
        expect(await sender.getSeqno()).toBe(0);
        expect(MAX_BATCH_MESSAGES.v4).toBe(4);
    });

    test('a batch that cannot be sent rejects every caller in it with the error', async () => {
        const { keyPair } = randomWallet();
        const sender = new WalletSender(client, { version: 'v4', keyPair, ...POLL, batch: true }); // never funded
        const all = await Promise.allSettled([0, 1, 2].map(() => sender.transfer([{ to: sender.address, value: '0.01' }])));
        for (const r of all) {
            expect(r.status).toBe('rejected');
            expect((r as PromiseRejectedResult).reason).toBeInstanceOf(SendRejectedError);
        }
    });
});

describe('seqno from the wallet data', () => {
    test.each(['v4', 'v5r1'] as const)('%s: seqnoFromWalletData equals the seqno get method after each transfer', async (version) => {
        const { keyPair } = randomWallet();
        const sender = new WalletSender(client, { version, keyPair, ...POLL });
        await devnet.fund(sender.address, toNano('5'));
        for (let i = 0; i < 3; i++) {
            await sender.transfer([{ to: sender.address, value: '0.01' }]);
            const acc = await client.getAccount(sender.address);
            const fromGetter = (await client.runGetMethod(sender.address, 'seqno')).reader.readNumber();
            expect(fromGetter).toBe(i + 1);
            expect(seqnoFromWalletData(version, acc.data!)).toBe(fromGetter);
            expect(await sender.getSeqno()).toBe(fromGetter);
        }
    });
});

describe('push waits (devnetWaitTransaction)', () => {
    test('answers the moment a watched account has a transaction, long before the timeout', async () => {
        const a = randomWallet().wallet.address;
        const b = randomWallet().wallet.address;
        await devnet.fund(a, toNano('1'));
        const base = (await client.getAccount(a)).lastTransaction!.lt;
        const started = Date.now();
        const waiting = client.waitForTransactions([a, b], base, 8_000);
        await new Promise((r) => setTimeout(r, 150));
        await devnet.fund(b, toNano('1'));
        const r = await waiting;
        expect(Date.now() - started).toBeLessThan(4_000);
        expect(r.pushed).toBe(true);
        expect(r.moved).toBe(true);
        expect(r.changed.map((c) => c.address.toRawString())).toEqual([b.toRawString()]);
        expect(r.lt).toBe((await client.getAccount(b)).lastTransaction!.lt);
    });

    test('a transaction already past after_lt answers at once; an unrelated account does not wake the wait', async () => {
        const a = randomWallet().wallet.address;
        await devnet.fund(a, toNano('1'));
        const lt = (await client.getAccount(a)).lastTransaction!.lt;
        const now = await client.waitForTransactions([a], lt - 1n, 5_000);
        expect(now.moved).toBe(true);
        expect(now.changed.map((c) => [c.address.toRawString(), c.lt])).toEqual([[a.toRawString(), lt]]);
        const waiting = client.waitForTransactions([a], lt, 400);
        await devnet.fund(randomWallet().wallet.address, toNano('1'));
        const r = await waiting;
        expect(r).toEqual({ moved: false, changed: [], lt, pushed: true });
    });

    test('without addresses any account wakes it; bad parameters are refused with 416/422', async () => {
        const newest = (await client.waitForTransactions([], 0n, 1_000)).lt!;
        const waiting = client.waitForTransactions([], newest, 5_000);
        await devnet.fund(randomWallet().wallet.address, toNano('1'));
        const r = await waiting;
        expect(r.moved).toBe(true);
        expect(r.changed).toEqual([]); // nothing was named
        expect(r.lt).toBeGreaterThan(newest);
        expect((await rpc(devnet.endpoint, 'devnetWaitTransaction', { addresses: 'x' })).status).toBe(422);
        expect((await rpc(devnet.endpoint, 'devnetWaitTransaction', { addresses: ['nope'] })).status).toBe(416);
        expect((await rpc(devnet.endpoint, 'devnetWaitTransaction', { timeout_ms: 30_001 })).status).toBe(422);
    });

    test('an endpoint without the method (toncenter): the first wait marks it, every wait is then a plain sleep', async () => {
        const calls: string[] = [];
        const fakeFetch = async (_url: string, init: { body: string }) => {
            const method = JSON.parse(init.body).method as string;
            calls.push(method);
            const body = method === 'devnetWaitTransaction' ? { ok: false, error: 'Not Found', code: 404 } : { ok: true, result: {} };
            return { status: method === 'devnetWaitTransaction' ? 404 : 200, headers: { get: () => null }, text: async () => JSON.stringify(body) };
        };
        const toncenterLike = new ChainClient({ endpoint: 'http://127.0.0.1:1/jsonRPC', fetch: fakeFetch });
        const a = randomWallet().wallet.address;
        for (const ms of [60, 60]) {
            const started = Date.now();
            const r = await toncenterLike.waitForTransactions([a], 0n, ms);
            expect(r).toEqual({ moved: false, changed: [], pushed: false });
            expect(Date.now() - started).toBeGreaterThanOrEqual(ms - 5);
        }
        expect(calls).toEqual(['devnetWaitTransaction']);
    });

    test('push off (option or COCOON_CHAIN_PUSH=off): waits are sleeps and the devnet is never asked; a bad value is refused', async () => {
        const calls: string[] = [];
        const counting = async (url: string, init: { method: string; headers: Record<string, string>; body: string; signal: AbortSignal }) => {
            calls.push(JSON.parse(init.body).method);
            return fetch(url, init);
        };
        const a = randomWallet().wallet.address;
        await devnet.fund(a, toNano('1'));
        for (const polling of [new ChainClient({ endpoint: devnet.endpoint, fetch: counting, push: false }), new ChainClient({ endpoint: devnet.endpoint, fetch: counting, push: chainPushFromEnv({ COCOON_CHAIN_PUSH: 'off' }) })]) {
            const started = Date.now();
            expect(await polling.waitForTransactions([a], 0n, 80)).toEqual({ moved: false, changed: [], pushed: false });
            expect(Date.now() - started).toBeGreaterThanOrEqual(75);
        }
        expect(calls).toEqual([]);
        expect(chainPushFromEnv({})).toBe(true);
        expect(chainPushFromEnv({ COCOON_CHAIN_PUSH: 'on' })).toBe(true);
        expect(() => chainPushFromEnv({ COCOON_CHAIN_PUSH: 'yes' })).toThrow('COCOON_CHAIN_PUSH must be "on" or "off", got "yes"');
    });
});

describe('retries and idempotent sends', () => {
    test('reads retry on 429, 5xx and dropped connections, then succeed', async () => {
        const p = await proxy();
        const faults = [
            { kind: 'status' as const, status: 429, headers: { 'Retry-After': '0' } },
            { kind: 'status' as const, status: 503 },
            { kind: 'destroy' as const },
        ];
        p.decide = (_r, i) => faults[i] ?? { kind: 'forward' };
        const retries: number[] = [];
        const c = new ChainClient({ endpoint: p.endpoint, retry: FAST_RETRY, onRetry: (i) => retries.push(i.attempt) });
        expect(await c.getBalance(new Address(0, Buffer.alloc(32)))).toBe(0n);
        expect(p.seen).toHaveLength(4);
        expect(retries).toEqual([1, 2, 3]);
    });

    test('reads give up after the configured attempts; 4xx answers are not retried', async () => {
        const p = await proxy();
        p.decide = () => ({ kind: 'status', status: 502 });
        const c = new ChainClient({ endpoint: p.endpoint, retry: FAST_RETRY });
        const err = await c.getMasterchainInfo().catch((e) => e);
        expect(err).toBeInstanceOf(ChainApiError);
        expect(err.status).toBe(502);
        expect(err.message).toMatch(/getMasterchainInfo failed at .*HTTP 502: injected 502/);
        expect(p.seen).toHaveLength(FAST_RETRY.attempts);

        const q = await proxy();
        q.decide = () => ({ kind: 'status', status: 416, body: { ok: false, error: 'Incorrect address', code: 416 } });
        const c2 = new ChainClient({ endpoint: q.endpoint, retry: FAST_RETRY });
        await expect(c2.getBalance(new Address(0, Buffer.alloc(32)))).rejects.toThrow(/HTTP 416: Incorrect address/);
        expect(q.seen).toHaveLength(1);
    });

    test('an unreachable endpoint → ChainNetworkError after the retries', async () => {
        const port = await freePort();
        const c = new ChainClient({ endpoint: `http://127.0.0.1:${port}`, retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
        expect(c.endpoint).toBe(`http://127.0.0.1:${port}/jsonRPC`);
        const err = await c.getMasterchainInfo().catch((e) => e);
        expect(err).toBeInstanceOf(ChainNetworkError);
        expect(err.message).toMatch(/ECONNREFUSED/);
    });

    test('sendBoc itself is never retried by the transport', async () => {
        const p = await proxy();
        p.decide = () => ({ kind: 'status', status: 503 });
        const c = new ChainClient({ endpoint: p.endpoint, retry: FAST_RETRY });
        const msg = external({ to: new Address(0, Buffer.alloc(32, 1)), body: beginCell().endCell() });
        await expect(c.sendBoc(beginCell().store(storeMessage(msg)).endCell())).rejects.toThrow(ChainApiError);
        expect(p.count('sendBoc')).toBe(1);
    });

    test('a lost sendBoc answer: the message landed, so it is not resent and the transfer succeeds', async () => {
        const p = await proxy();
        p.decide = (r) => (r.method === 'sendBoc' ? { kind: 'forward-then-status', status: 502 } : { kind: 'forward' });
        const sender = await fundedSender(new ChainClient({ endpoint: p.endpoint, retry: FAST_RETRY }));
        const r = await sender.transfer([{ to: sender.address, value: '0.01' }]);
        expect(r.seqno).toBe(0);
        expect(p.count('sendBoc')).toBe(1);
        expect(p.count('sendBoc', p.forwarded)).toBe(1);
        expect(await sender.getSeqno()).toBe(1);
    });

    test('a submission that failed before reaching the chain is resent (the same BoC) and lands once', async () => {
        const p = await proxy();
        let failed = false;
        p.decide = (r) => {
            if (r.method === 'sendBoc' && !failed) {
                failed = true;
                return { kind: 'status', status: 503 };
            }
            return { kind: 'forward' };
        };
        const sender = await fundedSender(new ChainClient({ endpoint: p.endpoint, retry: FAST_RETRY }));
        const r = await sender.transfer([{ to: sender.address, value: '0.01' }]);
        const sends = p.seen.filter((x) => x.method === 'sendBoc');
        expect(sends).toHaveLength(2);
        expect(sends[0].params.boc).toBe(sends[1].params.boc);
        expect(p.count('sendBoc', p.forwarded)).toBe(1);
        expect(r.transaction.tx.inMessage && normalizedMessageHash(r.transaction.tx.inMessage).equals(r.normalizedHash)).toBe(true);
        expect(await sender.getSeqno()).toBe(1);
    });

    test('a message that never arrives → InclusionTimeoutError (still valid, so "may still land")', async () => {
        const p = await proxy();
        p.decide = (r) => (r.method === 'sendBoc' ? { kind: 'swallow' } : { kind: 'forward' });
        const sender = await fundedSender(new ChainClient({ endpoint: p.endpoint, retry: FAST_RETRY }), toNano('1'), { waitTimeoutMs: 500 });
        const err = await sender.transfer([{ to: sender.address, value: '0.01' }]).catch((e) => e);
        expect(err).toBeInstanceOf(InclusionTimeoutError);
        expect(err.expired).toBe(false);
        expect(err.message).toMatch(/seqno 0 .* not included after \d+ ms; it may still land/);
    });

    test('past valid_until → InclusionTimeoutError with expired = true', async () => {
        const p = await proxy();
        p.decide = (r) => (r.method === 'sendBoc' ? { kind: 'swallow' } : { kind: 'forward' });
        const sender = await fundedSender(new ChainClient({ endpoint: p.endpoint, retry: FAST_RETRY }), toNano('1'), { messageTtlSeconds: 1, pollIntervalMs: 200 });
        const err = await sender.transfer([{ to: sender.address, value: '0.01' }]).catch((e) => e);
        expect(err).toBeInstanceOf(InclusionTimeoutError);
        expect(err.expired).toBe(true);
        expect(err.message).toMatch(/can no longer land/);
    });

    test('another sender used our seqno → SeqnoConflictError', async () => {
        const p = await proxy();
        const { keyPair } = randomWallet();
        const wallet = WalletContractV4.create({ workchain: 0, publicKey: keyPair.publicKey });
        await devnet.fund(wallet.address, toNano('2'));
        p.decide = (r) => {
            if (r.method !== 'sendBoc') return { kind: 'forward' };
            // Our message vanishes, and a different message with the same seqno reaches the chain directly.
            const body = wallet.createTransfer({ seqno: 0, secretKey: keyPair.secretKey, messages: [internal({ to: wallet.address, value: toNano('0.02') })] });
            const other = beginCell().store(storeMessage(external({ to: wallet.address, init: wallet.init, body }))).endCell();
            void rpc(devnet.endpoint, 'sendBoc', { boc: other.toBoc().toString('base64') });
            return { kind: 'swallow' };
        };
        const sender = new WalletSender(new ChainClient({ endpoint: p.endpoint, retry: FAST_RETRY }), { version: 'v4', keyPair, ...POLL });
        const err = await sender.transfer([{ to: wallet.address, value: '0.01' }]).catch((e) => e);
        expect(err).toBeInstanceOf(SeqnoConflictError);
        expect(err.message).toMatch(/seqno 0 was consumed by another message/);
        await waitFor(async () => (await client.runGetMethod(wallet.address, 'seqno')).reader.readNumber() === 1);
    });
});
