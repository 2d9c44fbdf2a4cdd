/**
 * Bad requests get toncenter's error shape ({ok:false, error, code} with a 4xx/5xx status and a clear message);
 * none of them disturbs the server.
 */
import { Address, beginCell, external, internal, storeMessage, toNano } from '@ton/core';
import { TonClient } from '@ton/ton';
import { Devnet, startDevnet } from '../../devnet';
import { randomWallet, rawPost, rpc } from './helpers';

let devnet: Devnet;
const w = randomWallet();

beforeAll(async () => {
    devnet = await startDevnet({ port: 0, fund: [{ address: w.wallet.address, amount: toNano('10') }] });
});

afterAll(async () => {
    await devnet?.close();
});

function expectError(r: { status: number; body: any }, status: number, message: RegExp) {
    expect(r.status).toBe(status);
    expect(r.body.ok).toBe(false);
    expect(r.body.code).toBe(status);
    expect(r.body.error).toMatch(message);
    expect(r.body.result).toBeUndefined();
}

function extBoc(opts: { seqno: number; secretKey?: Buffer; init?: boolean }): string {
    const body = w.wallet.createTransfer({
        seqno: opts.seqno,
        secretKey: opts.secretKey ?? w.keyPair.secretKey,
        messages: [internal({ to: new Address(0, Buffer.alloc(32, 1)), value: toNano('0.1') })],
    });
    const msg = external({ to: w.wallet.address, init: opts.init ? w.wallet.init : undefined, body });
    return beginCell().store(storeMessage(msg)).endCell().toBoc().toString('base64');
}

test('unknown method → 422 "Unknown method", with the JSON-RPC id echoed', async () => {
    const r = await rpc(devnet.endpoint, 'getEverything', {}, 'abc');
    expectError(r, 422, /Unknown method: "getEverything"/);
    expect(r.body.id).toBe('abc');
    expect(r.body.jsonrpc).toBe('2.0');
});

test('malformed address → 416 "Incorrect address"', async () => {
    for (const address of ['not-an-address', '0:1234', 'EQ' + 'A'.repeat(10), '']) {
        expectError(await rpc(devnet.endpoint, 'getAddressInformation', { address }), address === '' ? 416 : 416, /Incorrect address in "address"/);
    }
    expectError(await rpc(devnet.endpoint, 'getAddressBalance', { address: 42 }), 416, /Incorrect address.*expected a string/);
});

test('missing parameters → 422 naming the parameter', async () => {
    expectError(await rpc(devnet.endpoint, 'getAddressBalance', {}), 422, /Missing required parameter "address"/);
    expectError(await rpc(devnet.endpoint, 'sendBoc', {}), 422, /Missing required parameter "boc"/);
    expectError(await rpc(devnet.endpoint, 'runGetMethod', { address: w.wallet.address.toString() }), 422, /Missing required parameter "method"/);
    expectError(await rpc(devnet.endpoint, 'estimateFee', { address: w.wallet.address.toString() }), 422, /Missing required parameter "body"/);
});

test('malformed BoC → 500 "failed to parse external message" (as the lite server answers)', async () => {
    expectError(await rpc(devnet.endpoint, 'sendBoc', { boc: 'this is not base64!' }), 500, /failed to parse external message: "boc" is not valid base64/);
    expectError(await rpc(devnet.endpoint, 'sendBoc', { boc: Buffer.from('hello world').toString('base64') }), 500, /not a valid bag of cells/);
    // A valid BoC that is an internal message, not an external one.
    const intMsg = beginCell()
        .store(storeMessage({ info: { type: 'internal', ihrDisabled: true, bounce: false, bounced: false, src: w.wallet.address, dest: w.wallet.address, value: { coins: 1n }, ihrFee: 0n, forwardFee: 0n, createdLt: 0n, createdAt: 0 }, body: beginCell().endCell() }))
        .endCell();
    expectError(await rpc(devnet.endpoint, 'sendBoc', { boc: intMsg.toBoc().toString('base64') }), 500, /expected an inbound external message, got an internal message/);
    // A cell that is not a message at all.
    expectError(await rpc(devnet.endpoint, 'sendBoc', { boc: beginCell().storeUint(7, 3).endCell().toBoc().toString('base64') }), 500, /failed to parse external message/);
    // Malformed cells elsewhere are validation errors.
    expectError(
        await rpc(devnet.endpoint, 'runGetMethod', { address: w.wallet.address.toString(), method: 'seqno', stack: [['tvm.Cell', '%%%']] }),
        422,
        /stack\[0\]: "bytes" is not valid base64/,
    );
});

test('an external message the contract does not accept → 500 with the exit code; nothing is queued', async () => {
    // Bad signature on the deploying message: the wallet code throws 35 before accept_message.
    const bad = await rpc(devnet.endpoint, 'sendBoc', { boc: extBoc({ seqno: 0, secretKey: randomWallet().keyPair.secretKey, init: true }) });
    expectError(bad, 500, /cannot apply external message to current state : External message was not accepted[\s\S]*exitcode=35/);
    expect(devnet.chain.pending).toBe(0);
    // The right message deploys; replaying it is refused (seqno 33).
    const good = extBoc({ seqno: 0, init: true });
    expect((await rpc(devnet.endpoint, 'sendBoc', { boc: good })).body).toEqual({ ok: true, result: { '@type': 'ok' }, id: '1', jsonrpc: '2.0' });
    await devnet.waitIdle();
    expectError(await rpc(devnet.endpoint, 'sendBoc', { boc: good }), 500, /exitcode=33/);
    // A message to an account with neither code nor balance cannot even pay for itself.
    const stranger = randomWallet();
    const msg = external({ to: stranger.wallet.address, init: stranger.wallet.init, body: beginCell().endCell() });
    expectError(await rpc(devnet.endpoint, 'sendBoc', { boc: beginCell().store(storeMessage(msg)).endCell().toBoc().toString('base64') }), 500, /not accepted/);
});

test('invalid parameters → 422', async () => {
    const address = w.wallet.address.toString();
    expectError(await rpc(devnet.endpoint, 'getTransactions', { address, limit: 0 }), 422, /"limit" must be >= 1/);
    expectError(await rpc(devnet.endpoint, 'getTransactions', { address, limit: 'ten' }), 422, /"limit" must be an integer/);
    expectError(await rpc(devnet.endpoint, 'getTransactions', { address, lt: '5', hash: 'xyz' }), 422, /"hash" must be a 32-byte hash/);
    expectError(await rpc(devnet.endpoint, 'runGetMethod', { address, method: '', stack: [] }), 422, /"method" must be/);
    expectError(await rpc(devnet.endpoint, 'runGetMethod', { address, method: 'seqno', stack: [['float', 1.5]] }), 422, /unsupported stack entry type "float"/);
    expectError(await rpc(devnet.endpoint, 'runGetMethod', { address, method: 'seqno', stack: 'nope' }), 422, /"stack" must be an array/);
    expectError(await rpc(devnet.endpoint, 'getConfigParam', {}), 422, /Missing required parameter "config_id"/);
});

test('an unknown transaction cursor → 500 "cannot locate transaction"', async () => {
    const r = await rpc(devnet.endpoint, 'getTransactions', { address: w.wallet.address.toString(), lt: '123', hash: 'ab'.repeat(32) });
    expectError(r, 500, /cannot locate transaction lt=123/);
});

test('malformed requests at the HTTP level', async () => {
    expectError(await rawPost(devnet.endpoint, '{not json'), 422, /not valid JSON/);
    expectError(await rawPost(devnet.endpoint, '[1,2]'), 422, /JSON-RPC object/);
    expectError(await rawPost(devnet.endpoint, JSON.stringify({ method: 'getAddressBalance', params: [1] })), 422, /"params" must be an object/);
    expectError(await rawPost(devnet.endpoint, '', 'GET'), 405, /use POST/);
    expectError(await rawPost(devnet.endpoint.replace('/jsonRPC', '/nothing'), '{}'), 404, /Not Found/);
});

test('REST-style GET/POST endpoints answer like toncenter ({ok, result})', async () => {
    const base = devnet.endpoint.replace(/jsonRPC$/, '');
    const a = encodeURIComponent(w.wallet.address.toString());
    const r1 = await rawPost(`${base}getAddressBalance?address=${a}`, '', 'GET');
    expect(r1.status).toBe(200);
    expect(r1.body).toEqual({ ok: true, result: expect.stringMatching(/^\d+$/) });
    const r2 = await rawPost(`${base}api/v2/getTransactions?address=${a}&limit=1`, '', 'GET');
    expect(r2.body.result).toHaveLength(1);
    const r3 = await rawPost(`${base}getAddressState`, JSON.stringify({ address: w.wallet.address.toRawString() }));
    expect(r3.body).toEqual({ ok: true, result: 'active' });
    expectError(await rawPost(`${base}getAddressState?address=bad`, '', 'GET'), 416, /Incorrect address/);
});

test('TonClient surfaces API errors as exceptions; the server keeps serving', async () => {
    const client = new TonClient({ endpoint: devnet.endpoint });
    await expect(client.getBalance(new Address(0, Buffer.alloc(32, 9)))).resolves.toBe(0n);
    const badCursor = client.getTransactions(w.wallet.address, { limit: 1, lt: '1', hash: Buffer.alloc(32).toString('base64') });
    await expect(badCursor).rejects.toThrow(/status code 500/);
    const info = await client.getMasterchainInfo();
    expect(info.latestSeqno).toBeGreaterThan(0);
});

test('an API key, when configured, is required', async () => {
    const locked = await startDevnet({ port: 0, apiKey: 'sesame' });
    try {
        expectError(await rpc(locked.endpoint, 'getMasterchainInfo'), 401, /API key required/);
        const res = await fetch(locked.endpoint, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', 'X-API-Key': 'sesame' },
            body: JSON.stringify({ id: 1, jsonrpc: '2.0', method: 'getMasterchainInfo', params: {} }),
        });
        expect(res.status).toBe(200);
        const client = new TonClient({ endpoint: locked.endpoint, apiKey: 'sesame' });
        expect((await client.getMasterchainInfo()).workchain).toBe(-1);
        const wrong = new TonClient({ endpoint: locked.endpoint, apiKey: 'nope' });
        await expect(wrong.getMasterchainInfo()).rejects.toThrow(/401/);
    } finally {
        await locked.close();
    }
});
