/**
 * The devnet caches get-method results by (account's last transaction, method, stack, unix second). A cache must
 * never answer from an older state: a transaction in the same second changes the answer at once.
 */
import { toNano } from '@ton/core';
import { Devnet, startDevnet } from '../../devnet';
import { ChainClient, WalletSender } from '../../protocol/chain';
import { FastGetMethods } from '../../devnet/getMethods';
import { randomWallet } from './helpers';

let devnet: Devnet;
let client: ChainClient;

beforeAll(async () => {
    devnet = await startDevnet({ port: 0 });
    client = new ChainClient({ endpoint: devnet.endpoint });
});

afterAll(async () => {
    await devnet?.close();
});

test('repeated questions are answered from the cache; a new transaction is seen at once', async () => {
    const sender = new WalletSender(client, { version: 'v4', keyPair: randomWallet().keyPair, pollIntervalMs: 20 });
    await devnet.fund(sender.address, toNano('5'));
    await sender.send({ to: sender.address, value: toNano('0.01') }); // deploys the wallet: seqno 1
    const seqno = async () => (await client.runGetMethod(sender.address, 'seqno')).reader.readNumber();
    const started = Math.floor(Date.now() / 1000);
    // the emulator (through the devnet's get-method path, getMethods.ts) runs once per distinct state and second
    const get = jest.spyOn(FastGetMethods.prototype, 'run');
    // a getter nobody asked before: the first read runs the emulator, the repeats within the second do not
    const publicKey = async () => (await client.runGetMethod(sender.address, 'get_public_key')).reader.readBigNumber();
    const first = await publicKey();
    for (let i = 0; i < 4; i++) expect(await publicKey()).toBe(first);
    const seconds = Math.floor(Date.now() / 1000) - started + 1;
    expect(get.mock.calls.length).toBeGreaterThanOrEqual(1);
    expect(get.mock.calls.length).toBeLessThanOrEqual(seconds);
    expect(await seqno()).toBe(1);
    // a transaction: the very next read sees it, even within the same second
    await sender.send({ to: sender.address, value: toNano('0.01') });
    expect(await seqno()).toBe(2);
    get.mockRestore();
});
