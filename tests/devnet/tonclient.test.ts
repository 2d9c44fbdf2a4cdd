/**
 * The devnet through the real @ton/ton TonClient: wallet deployment and transfers, get methods, transaction paging.
 */
import { Address, Cell, Dictionary, beginCell, external, internal, storeMessage, toNano } from '@ton/core';
import { TonClient, parseFullConfig } from '@ton/ton';
import { internal as sandboxInternal } from '@ton/sandbox';
import { CONFIG_ADDRESS, Devnet, FAUCET_ADDRESS, startDevnet } from '../../devnet';
import { newWallet, randomWallet, rpc, waitFor } from './helpers';

let devnet: Devnet;
let client: TonClient;
let w: Awaited<ReturnType<typeof newWallet>>;

beforeAll(async () => {
    w = await newWallet();
    devnet = await startDevnet({ port: 0, fund: [{ address: w.wallet.address, amount: toNano('100') }] });
    client = new TonClient({ endpoint: devnet.endpoint });
});

afterAll(async () => {
    await devnet?.close();
});

async function seqnoAtLeast(n: number): Promise<number> {
    const opened = client.open(w.wallet);
    return waitFor(async () => {
        const s = await opened.getSeqno();
        return s >= n ? s : undefined;
    });
}

describe('accounts and wallets through TonClient', () => {
    test('a funded, never-used wallet address is uninitialized and holds the funded balance', async () => {
        const st = await client.getContractState(w.wallet.address);
        expect(st.state).toBe('uninitialized');
        expect(st.balance).toBe(toNano('100'));
        expect(st.code).toBeNull();
        // The --fund credit is a real (faucet) transaction, so the account has a last transaction.
        expect(st.lastTransaction).not.toBeNull();
        expect(await client.isContractDeployed(w.wallet.address)).toBe(false);
        expect(await client.open(w.wallet).getSeqno()).toBe(0);
    });

    test('the wallet deploys itself on its first external message and transfers to another address', async () => {
        const dest = new Address(0, Buffer.alloc(32, 0x42));
        const opened = client.open(w.wallet);
        await opened.sendTransfer({
            seqno: 0,
            secretKey: w.keyPair.secretKey,
            messages: [internal({ to: dest, value: toNano('1.5'), bounce: false })],
        });
        expect(await seqnoAtLeast(1)).toBe(1);
        const st = await client.getContractState(w.wallet.address);
        expect(st.state).toBe('active');
        expect(st.code?.equals(w.wallet.init.code.toBoc())).toBe(true);
        const destBalance = await waitFor(async () => {
            const b = await client.getBalance(dest);
            return b > 0n ? b : undefined;
        });
        expect(destBalance).toBeGreaterThan(toNano('1.49'));
        expect(destBalance).toBeLessThanOrEqual(toNano('1.5'));
        const walletBalance = await client.getBalance(w.wallet.address);
        expect(walletBalance).toBeLessThan(toNano('98.5'));
        expect(walletBalance).toBeGreaterThan(toNano('98.4'));

        const info = await rpc(devnet.endpoint, 'getWalletInformation', { address: w.wallet.address.toString() });
        expect(info.body.ok).toBe(true);
        expect(info.body.result).toMatchObject({
            wallet: true,
            wallet_type: 'wallet v4 r2',
            seqno: 1,
            wallet_id: 698983191,
            account_state: 'active',
            balance: walletBalance.toString(),
        });
        const other = await rpc(devnet.endpoint, 'getWalletInformation', { address: dest.toRawString() });
        expect(other.body.result).toMatchObject({ wallet: false, account_state: 'uninitialized' });
        expect((await rpc(devnet.endpoint, 'getAddressState', { address: dest.toString() })).body.result).toBe('uninitialized');
        expect((await rpc(devnet.endpoint, 'getAddressBalance', { address: dest.toString() })).body.result).toBe(destBalance.toString());
    });

    test('get methods: seqno and get_public_key on the wallet, int arguments, exit codes', async () => {
        await seqnoAtLeast(1);
        const pk = await client.runMethod(w.wallet.address, 'get_public_key');
        expect(pk.stack.readBigNumber()).toBe(BigInt('0x' + w.keyPair.publicKey.toString('hex')));
        const seqno = await client.runMethod(w.wallet.address, 'seqno');
        expect(seqno.stack.readNumber()).toBeGreaterThanOrEqual(1);
        expect(seqno.gas_used).toBeGreaterThan(0);

        // Arguments travel in TonClient's format (['num', '<decimal>']).
        const plugin = await client.runMethod(w.wallet.address, 'is_plugin_installed', [
            { type: 'int', value: 0n },
            { type: 'int', value: 12345n },
        ]);
        expect(plugin.stack.readNumber()).toBe(0);

        // Cells come back as ['cell', {bytes}] and parse as cells.
        const plugins = await rpc(devnet.endpoint, 'runGetMethod', { address: w.wallet.address.toString(), method: 'get_plugin_list', stack: [] });
        expect(plugins.body.result.exit_code).toBe(0);
        expect(plugins.body.result.stack).toEqual([['list', { '@type': 'tvm.list', elements: [] }]]);

        const missing = await client.runMethodWithError(w.wallet.address, 'no_such_method');
        expect(missing.exit_code).toBe(11);
        const uninit = await client.runMethodWithError(new Address(0, Buffer.alloc(32, 0x77)), 'seqno');
        expect(uninit.exit_code).toBe(-13);
        await expect(client.runMethod(new Address(0, Buffer.alloc(32, 0x77)), 'seqno')).rejects.toThrow(/exit_code: -13/);

        // Numeric method ids work too (crc16("seqno") | 0x10000 = 85143).
        const byId = await rpc(devnet.endpoint, 'runGetMethod', { address: w.wallet.address.toRawString(), method: 85143, stack: [] });
        expect(byId.body.result.exit_code).toBe(0);
        expect(byId.body.result.stack[0][0]).toBe('num');
        expect(byId.body.result.stack[0][1]).toMatch(/^0x[0-9a-f]+$/);
    });

    test('sendBocReturnHash returns the message hashes, and the transaction is found by them', async () => {
        const seqno = await seqnoAtLeast(1);
        const body = w.wallet.createTransfer({
            seqno,
            secretKey: w.keyPair.secretKey,
            messages: [internal({ to: w.wallet.address, value: toNano('0.01'), body: 'ping' })],
        });
        const msg = external({ to: w.wallet.address, body });
        const cell = beginCell().store(storeMessage(msg)).endCell();
        const r = await rpc(devnet.endpoint, 'sendBocReturnHash', { boc: cell.toBoc().toString('base64') });
        expect(r.status).toBe(200);
        expect(r.body.result['@type']).toBe('raw.extMessageInfo');
        expect(r.body.result.hash).toBe(cell.hash().toString('base64'));
        await seqnoAtLeast(seqno + 1);
        const txs = await rpc(devnet.endpoint, 'getTransactions', { address: w.wallet.address.toString(), limit: 3 });
        const ours = txs.body.result.find((t: any) => t.in_msg?.hash === r.body.result.hash);
        expect(ours).toBeDefined();
        expect(ours.in_msg.source).toBe('');
        // The self-transfer's comment is decoded as toncenter does (msg.dataText with base64 text).
        const self = txs.body.result.find((t: any) => t.in_msg?.source === w.wallet.address.toString());
        expect(self.in_msg.msg_data).toEqual({ '@type': 'msg.dataText', text: Buffer.from('ping').toString('base64') });
        expect(self.in_msg.message).toBe('ping');
        expect(ours.out_msgs[0].destination).toBe(w.wallet.address.toString());
    });

    test('concurrent sends from several wallets are all processed, none lost', async () => {
        const wallets = [1, 2, 3, 4, 5].map(() => randomWallet());
        await Promise.all(wallets.map((x) => devnet.fund(x.wallet.address, toNano('2'))));
        const dest = new Address(0, Buffer.alloc(32, 0x43));
        await Promise.all(
            wallets.map((x) =>
                client.open(x.wallet).sendTransfer({
                    seqno: 0,
                    secretKey: x.keyPair.secretKey,
                    messages: [internal({ to: dest, value: toNano('0.1'), bounce: false })],
                }),
            ),
        );
        await waitFor(async () => (await Promise.all(wallets.map((x) => client.open(x.wallet).getSeqno()))).every((s) => s === 1));
        await devnet.waitIdle();
        const destTxs = await client.getTransactions(dest, { limit: 20 });
        expect(destTxs).toHaveLength(5);
    });
});

describe('getTransactions paging', () => {
    const target = new Address(0, Buffer.alloc(32, 0x55));
    const N = 25;

    beforeAll(async () => {
        for (let i = 1; i <= N; i++) await devnet.fund(target, BigInt(i));
    });

    test('pages of 10 over 25 transactions, newest first, with lt/hash cursors (TonClient)', async () => {
        const all = await client.getTransactions(target, { limit: 100 });
        expect(all).toHaveLength(N);
        for (let i = 1; i < all.length; i++) expect(all[i - 1].lt).toBeGreaterThan(all[i].lt);
        // Each transaction links to the next older one.
        for (let i = 0; i + 1 < all.length; i++) {
            expect(all[i].prevTransactionLt).toBe(all[i + 1].lt);
            expect(all[i].prevTransactionHash).toBe(BigInt('0x' + all[i + 1].hash().toString('hex')));
        }
        // The newest is the last funding (value 25).
        const inValue = (t: (typeof all)[number]) => (t.inMessage?.info.type === 'internal' ? t.inMessage.info.value.coins : -1n);
        expect(inValue(all[0])).toBe(BigInt(N));
        expect(inValue(all[N - 1])).toBe(1n);

        // Stable across calls (the sandbox's own getTransactions reverses its list on every call).
        const again = await client.getTransactions(target, { limit: 100 });
        expect(again.map((t) => t.lt)).toEqual(all.map((t) => t.lt));

        const pages: bigint[][] = [];
        let cursor: { lt: string; hash: string } | undefined;
        for (;;) {
            // TonClient's default (non-inclusive) cursor: it asks for limit+1 and drops the cursor transaction.
            const page = await client.getTransactions(target, { limit: 10, ...(cursor ?? {}) });
            if (page.length === 0) break;
            pages.push(page.map((t) => t.lt));
            const last = page[page.length - 1];
            cursor = { lt: last.lt.toString(), hash: last.hash().toString('base64') };
        }
        expect(pages.map((p) => p.length)).toEqual([10, 10, 5]);
        expect(pages.flat()).toEqual(all.map((t) => t.lt));

        // Inclusive cursor starts at the named transaction.
        const incl = await client.getTransactions(target, { limit: 3, lt: all[10].lt.toString(), hash: all[10].hash().toString('base64'), inclusive: true });
        expect(incl.map((t) => t.lt)).toEqual(all.slice(10, 13).map((t) => t.lt));

        // to_lt is exclusive.
        const upTo = await client.getTransactions(target, { limit: 100, to_lt: all[4].lt.toString() });
        expect(upTo.map((t) => t.lt)).toEqual(all.slice(0, 4).map((t) => t.lt));

        // getTransaction(lt, hash) finds one transaction.
        const one = await client.getTransaction(target, all[7].lt.toString(), all[7].hash().toString('base64'));
        expect(one?.hash().equals(all[7].hash())).toBe(true);
    });

    test('raw API: hex and base64 cursors are equivalent; transaction_id matches the data', async () => {
        const first = await rpc(devnet.endpoint, 'getTransactions', { address: target.toRawString(), limit: 10 });
        expect(first.body.result).toHaveLength(10);
        const last = first.body.result[9];
        const hashB64: string = last.transaction_id.hash;
        const hex = Buffer.from(hashB64, 'base64').toString('hex');
        const a = await rpc(devnet.endpoint, 'getTransactions', { address: target.toString(), limit: 10, lt: last.transaction_id.lt, hash: hex });
        const b = await rpc(devnet.endpoint, 'getTransactions', { address: target.toString(), limit: 10, lt: Number(last.transaction_id.lt), hash: hashB64 });
        expect(a.body.result.map((t: any) => t.transaction_id)).toEqual(b.body.result.map((t: any) => t.transaction_id));
        expect(a.body.result[0].transaction_id).toEqual(last.transaction_id);
        for (const t of first.body.result) {
            const cell = Cell.fromBase64(t.data);
            expect(cell.hash().toString('base64')).toBe(t.transaction_id.hash);
            expect(t.in_msg.source).toBe(FAUCET_ADDRESS.toString());
            expect(t.address.account_address).toBe(target.toString());
        }
        const mc = await client.getMasterchainInfo();
        expect(mc.latestSeqno).toBeGreaterThan(N);
    });
});

describe('more of the API', () => {
    test('estimateFee for wallet messages (TonClient.estimateExternalMessageFee)', async () => {
        const seqno = await seqnoAtLeast(1);
        const body = w.wallet.createTransfer({ seqno, secretKey: w.keyPair.secretKey, messages: [internal({ to: w.wallet.address, value: toNano('0.01') })] });
        const fees = await client.estimateExternalMessageFee(w.wallet.address, { body, initCode: null, initData: null, ignoreSignature: true });
        expect(fees['@type']).toBe('query.fees');
        expect(fees.source_fees.gas_fee).toBeGreaterThan(0);
        expect(fees.source_fees.in_fwd_fee).toBeGreaterThan(0);
        expect(fees.source_fees.fwd_fee).toBeGreaterThan(0);
        // An undeployed wallet, with its StateInit and an unchecked signature.
        const fresh = randomWallet();
        await devnet.fund(fresh.wallet.address, toNano('1'));
        const freshBody = fresh.wallet.createTransfer({ seqno: 0, secretKey: Buffer.alloc(64), messages: [] });
        const f2 = await client.estimateExternalMessageFee(fresh.wallet.address, {
            body: freshBody,
            initCode: fresh.wallet.init.code,
            initData: fresh.wallet.init.data,
            ignoreSignature: true,
        });
        expect(f2.source_fees.gas_fee).toBeGreaterThan(0);
        // Estimating changes nothing.
        expect((await client.getContractState(fresh.wallet.address)).state).toBe('uninitialized');
    });

    test('tryLocateResultTx / tryLocateSourceTx connect both ends of a message', async () => {
        const [deploy] = (await client.getTransactions(w.wallet.address, { limit: 100 })).filter((t) => t.inMessage?.init);
        const out = deploy.outMessages.get(0)!;
        if (out.info.type !== 'internal') throw new Error('expected an internal out message');
        const result = await client.tryLocateResultTx(w.wallet.address, out.info.dest, out.info.createdLt.toString());
        expect(result.inMessage?.info.type === 'internal' && result.inMessage.info.createdLt).toBe(out.info.createdLt);
        const source = await client.tryLocateSourceTx(w.wallet.address, out.info.dest, out.info.createdLt.toString());
        expect(source.hash().equals(deploy.hash())).toBe(true);
        const missing = await rpc(devnet.endpoint, 'tryLocateResultTx', { source: w.wallet.address.toString(), destination: out.info.dest.toString(), created_lt: '1' });
        expect(missing.status).toBe(404);
    });

    test('config: getConfigParam, and the config contract Blueprint\'s provider.getConfig() reads', async () => {
        const p = await rpc(devnet.endpoint, 'getConfigParam', { config_id: 21 });
        expect(p.body.result['@type']).toBe('configInfo');
        expect(Cell.fromBase64(p.body.result.config.bytes).equals(devnet.chain.configParam(21)!)).toBe(true);
        const st = await client.getContractState(CONFIG_ADDRESS);
        expect(st.state).toBe('active');
        const dict = Cell.fromBoc(st.data!)[0].beginParse().loadRef().beginParse().loadDictDirect(Dictionary.Keys.Int(32), Dictionary.Values.Cell());
        const params = new Map<number, ReturnType<Cell['beginParse']>>();
        for (const [k, v] of dict) params.set(k, v.beginParse());
        const cfg = parseFullConfig(params);
        expect(cfg.gasPrices.workchain).toBeDefined();
        expect(cfg.msgPrices.workchain).toBeDefined();
    });

    test('in-process use of `blockchain` (a sandbox treasury) is indexed and visible through the API', async () => {
        const treasury = await devnet.blockchain.treasury('lead');
        const dest = new Address(0, Buffer.alloc(32, 0x61));
        await treasury.send({ to: dest, value: toNano('2'), bounce: false });
        const txs = await client.getTransactions(dest, { limit: 5 });
        expect(txs).toHaveLength(1);
        expect(txs[0].inMessage?.info.src?.toString()).toBe(treasury.address.toString());
        expect((await client.getTransactions(treasury.address, { limit: 5 })).length).toBeGreaterThanOrEqual(1);
        // devnet.sendMessage runs any message through the queue and returns its transactions.
        const entries = await devnet.sendMessage(sandboxInternal({ from: treasury.address, to: dest, value: toNano('1'), bounce: false }));
        expect(entries).toHaveLength(1);
        expect(entries[0].account).toBe(dest.toRawString());
        expect((await client.getTransactions(dest, { limit: 5 }))[0].hash().equals(entries[0].hash)).toBe(true);
    });

    test('address utilities: detectAddress, packAddress, unpackAddress', async () => {
        const a = w.wallet.address;
        const d = await rpc(devnet.endpoint, 'detectAddress', { address: a.toRawString() });
        expect(d.body.result).toMatchObject({ raw_form: a.toRawString(), given_type: 'raw_form', test_only: false });
        expect(d.body.result.bounceable.b64url).toBe(a.toString());
        expect(d.body.result.non_bounceable.b64url).toBe(a.toString({ bounceable: false }));
        expect((await rpc(devnet.endpoint, 'packAddress', { address: a.toRawString() })).body.result).toBe(a.toString());
        expect((await rpc(devnet.endpoint, 'unpackAddress', { address: a.toString({ testOnly: true }) })).body.result).toBe(a.toRawString());
    });
});
