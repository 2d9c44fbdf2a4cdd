/**
 * Persistence: the chain written to --state survives a restart (accounts, balances, the transaction index, lt and
 * block seqno continue); periodic saves are atomic; a directory serves one devnet at a time.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Address, internal, toNano } from '@ton/core';
import { TonClient } from '@ton/ton';
import { Devnet, StateError, startDevnet } from '../../devnet';
import { randomWallet, rpc, waitFor } from './helpers';

const tmpDirs: string[] = [];
const open: Devnet[] = [];

function tmpDir(): string {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-devnet-state-'));
    tmpDirs.push(d);
    return path.join(d, 'chain');
}

async function start(stateDir: string, extra: Partial<Parameters<typeof startDevnet>[0]> = {}): Promise<Devnet> {
    const d = await startDevnet({ port: 0, stateDir, ...extra });
    open.push(d);
    return d;
}

afterAll(async () => {
    for (const d of open) await d.close();
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

async function txIds(endpoint: string, address: Address) {
    const r = await rpc(endpoint, 'getTransactions', { address: address.toString(), limit: 100 });
    return r.body.result.map((t: any) => t.transaction_id) as { lt: string; hash: string }[];
}

test('the whole chain survives a restart and continues', async () => {
    const dir = tmpDir();
    const w = randomWallet();
    const dest = new Address(0, Buffer.alloc(32, 0xd1));
    const first = await start(dir, { fund: [{ address: w.wallet.address, amount: toNano('50') }] });
    let client = new TonClient({ endpoint: first.endpoint });
    await client.open(w.wallet).sendTransfer({
        seqno: 0,
        secretKey: w.keyPair.secretKey,
        messages: [internal({ to: dest, value: toNano('3'), bounce: false })],
    });
    await waitFor(async () => (await client.open(w.wallet).getSeqno()) === 1);
    await first.waitIdle();
    const before = {
        wallet: await client.getContractState(w.wallet.address),
        dest: await client.getBalance(dest),
        walletTxs: await txIds(first.endpoint, w.wallet.address),
        destTxs: await txIds(first.endpoint, dest),
        seqno: (await client.getMasterchainInfo()).latestSeqno,
    };
    expect(before.walletTxs).toHaveLength(2); // faucet credit + the deploying transfer
    await first.close();

    expect(fs.existsSync(path.join(dir, 'chain.json'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'transactions.jsonl'))).toBe(true);
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]);

    const second = await start(dir);
    client = new TonClient({ endpoint: second.endpoint });
    const wallet = await client.getContractState(w.wallet.address);
    expect(wallet.state).toBe('active');
    expect(wallet.balance).toBe(before.wallet.balance);
    expect(wallet.lastTransaction).toEqual(before.wallet.lastTransaction);
    expect(wallet.data?.equals(before.wallet.data!)).toBe(true);
    expect(await client.getBalance(dest)).toBe(before.dest);
    expect(await txIds(second.endpoint, w.wallet.address)).toEqual(before.walletTxs);
    expect(await txIds(second.endpoint, dest)).toEqual(before.destTxs);
    expect((await client.getMasterchainInfo()).latestSeqno).toBe(before.seqno);
    expect(await client.open(w.wallet).getSeqno()).toBe(1);

    // The chain continues: next seqno, higher lt, and paging links back into the restored history.
    await client.open(w.wallet).sendTransfer({
        seqno: 1,
        secretKey: w.keyPair.secretKey,
        messages: [internal({ to: dest, value: toNano('1'), bounce: false })],
    });
    await waitFor(async () => (await client.open(w.wallet).getSeqno()) === 2);
    const after = await client.getTransactions(w.wallet.address, { limit: 10 });
    expect(after).toHaveLength(3);
    expect(after[0].lt).toBeGreaterThan(BigInt(before.walletTxs[0].lt));
    expect(after[0].prevTransactionLt).toBe(BigInt(before.walletTxs[0].lt));
    expect((await client.getMasterchainInfo()).latestSeqno).toBeGreaterThan(before.seqno);
    await second.close();
});

test('periodic saves happen while running, atomically; a crash loses at most the unsaved tail', async () => {
    const dir = tmpDir();
    const target = new Address(0, Buffer.alloc(32, 0xd2));
    const d = await start(dir, { saveIntervalMs: 200 });
    const stateFile = path.join(dir, 'chain.json');
    const countOnDisk = () => JSON.parse(fs.readFileSync(stateFile, 'utf8')).txLog.count as number;
    expect(countOnDisk()).toBe(0);
    await d.fund(target, toNano('1'));
    await d.fund(target, toNano('2'));
    await waitFor(async () => countOnDisk() === 2, 5_000, 50);
    const accountsSaved = JSON.parse(fs.readFileSync(stateFile, 'utf8')).accounts.length;
    expect(accountsSaved).toBe(1);

    // A crash = whatever is on disk at some moment while running. Copy it (LOCK included: a stale lock is taken over).
    const crashed = tmpDir();
    fs.cpSync(dir, crashed, { recursive: true });
    // The log was appended but the state never renamed: extra log lines are cut off on load...
    fs.appendFileSync(path.join(crashed, 'transactions.jsonl'), '{"a":"0:00","lt":"1","h":"00","u":0,"b":""}\n');
    // ...and a leftover temp file from an interrupted write does not matter either.
    fs.writeFileSync(path.join(crashed, 'chain.json.tmp-999'), '{ half');
    const restarted = await startDevnet({ port: 0, stateDir: crashed });
    try {
        const r = await rpc(restarted.endpoint, 'getTransactions', { address: target.toString(), limit: 10 });
        expect(r.body.result).toHaveLength(2);
        const balance = BigInt((await rpc(restarted.endpoint, 'getAddressBalance', { address: target.toString() })).body.result);
        expect(balance).toBeGreaterThan(toNano('2.99')); // 3 TON minus a little storage fee
        expect(balance).toBeLessThanOrEqual(toNano('3'));
        expect(fs.readFileSync(path.join(crashed, 'transactions.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    } finally {
        await restarted.close();
    }
});

test('a state directory serves one devnet at a time; corrupt state is reported clearly', async () => {
    const dir = tmpDir();
    const d = await start(dir);
    await expect(startDevnet({ port: 0, stateDir: dir })).rejects.toThrow(StateError);
    await expect(startDevnet({ port: 0, stateDir: dir })).rejects.toThrow(/in use by another devnet \(pid \d+\)/);
    await d.close();

    fs.writeFileSync(path.join(dir, 'chain.json'), '{"format":"something else"}');
    await expect(startDevnet({ port: 0, stateDir: dir })).rejects.toThrow(/not a devnet state/);
    fs.writeFileSync(path.join(dir, 'chain.json'), '{ truncated');
    await expect(startDevnet({ port: 0, stateDir: dir })).rejects.toThrow(/not valid JSON/);
    expect(fs.existsSync(path.join(dir, 'LOCK'))).toBe(false);
});
