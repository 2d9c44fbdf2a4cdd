/**
 * Bad inputs against the whole local network (localnet/up.ts: devnet in this process, private redis-server, real
 * `cocoon orchestrator` and two `cocoon worker` child processes with a SIMULATED TEE — no hardware protection).
 * Each case ends in a clear error with an exact code, and no value is lost: every case runs from its own fresh
 * wallet, whose balance may drop only by the network fees of the messages actually sent; the escrow (or the bounce)
 * returns everything else.
 */
import { randomBytes } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Address, beginCell, Dictionary, toNano } from '@ton/core';
import Redis from 'ioredis';
import { ChainClient, WalletSender } from '../../protocol/chain';
import { MAX_PAYLOAD_BYTES, generateX25519KeyPair, sealInput } from '../../protocol/envelope';
import { walletFromSeed } from '../../protocol/network-file';
import { encodeTensorRequest } from '../../protocol/tensor-binary';
import { AttemptRecord } from '../../protocol/work';
import { CocoonClient, CocoonError, JobHandle, ProgressEvent } from '../../client/sdk';
import { findOpenedJob, OpenedJob } from '../../client/sdk/chainJob';
import { waitFor } from '../../localnet/bootstrap';
import { LocalNetwork, startLocalNetwork } from '../../localnet/up';
import { BlobStore } from '../../orchestrator/blobs';
import { SHIPPED_MODEL_HASHES } from '../../worker/inference';
import { ExitCode, JobEscrow, JobStatus, Opcodes, openJobMessage, providerStakeInit, Registry, storeOpenJob, tactConstant } from '../../wrappers';

const OPEN_JOB_FEE = tactConstant('OpenJobFee');
/** What a client may lose on a job that was opened and then refunded: the open fee's gas share and message fees. */
const OPENED_JOB_FEES = OPEN_JOB_FEE + toNano('0.02');
const MAX_PRICE = toNano('1');
const EXPIRING_DEADLINE_S = 45;

function tensorInput(v: number): Buffer {
    return encodeTensorRequest({ x: { dtype: 'float32', shape: [1, 64], data: new Float32Array(64).fill(v) } });
}

async function expectCocoonError(p: Promise<unknown>, code: string, message?: RegExp): Promise<CocoonError> {
    const e = await p.then(
        () => {
            throw new Error(`expected a CocoonError ${code}, but it succeeded`);
        },
        (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(CocoonError);
    expect((e as CocoonError).code).toBe(code);
    if (message) expect((e as CocoonError).message).toMatch(message);
    return e as CocoonError;
}

describe('bad inputs on a local Cocoon network: exact errors, no value lost', () => {
    let tmp: string;
    let net: LocalNetwork;
    let chain: ChainClient;
    let redis: Redis;
    let blobs: BlobStore;

    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-e2e-bad-'));
        net = await startLocalNetwork({ workers: 2, networkFile: path.join(tmp, 'network.json') });
        chain = new ChainClient({ endpoint: net.network.endpoint });
        redis = new Redis(net.redisUrl);
        blobs = new BlobStore(redis);
    }, 120_000);

    afterAll(async () => {
        await redis?.quit();
        await net?.stop();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }, 60_000);

    /** A new wallet funded from the devnet's faucet, and an SDK client paying from it. */
    async function freshClient(ton = '5'): Promise<{ wallet: WalletSender; client: CocoonClient }> {
        const wallet = walletFromSeed(chain, randomBytes(32).toString('hex'), { pollIntervalMs: 50 });
        await net.devnet.fund(wallet.address, toNano(ton));
        return { wallet, client: new CocoonClient({ network: net.network, wallet, chain }) };
    }

    const blobCount = async () => (await redis.keys('cocoon:blob:*')).length;
    const registry = () => chain.open(Registry.fromAddress(net.bootstrap.registry));
    const owner = (i: number) => net.bootstrap.providers[i].address;

    /** Everything a refused submit must leave untouched: the wallet balance, the blob store, the registry's job count. */
    async function expectNothingSpent(wallet: WalletSender, submit: () => Promise<unknown>, code: string, message?: RegExp): Promise<CocoonError> {
        const [balance, blobsBefore, jobs] = await Promise.all([wallet.getBalance(), blobCount(), registry().getJobCount()]);
        const e = await expectCocoonError(submit(), code, message);
        await net.devnet.waitIdle();
        expect(await wallet.getBalance()).toBe(balance);
        expect(await blobCount()).toBe(blobsBefore);
        expect(await registry().getJobCount()).toBe(jobs);
        return e;
    }

    /** Sends an OpenJob by hand (no SDK checks) and returns what findOpenedJob makes of the registry's transaction. */
    async function sendRawOpenJob(wallet: WalletSender, o: { value: bigint; modelHash: string; candidates: Address[] }): Promise<OpenedJob> {
        const candidates = Dictionary.empty(Dictionary.Keys.Address(), Dictionary.Values.Bool());
        for (const c of o.candidates) candidates.set(c, true);
        const body = beginCell()
            .store(
                storeOpenJob(
                    openJobMessage({
                        maxPrice: MAX_PRICE,
                        deadline: BigInt(Math.floor(Date.now() / 1000) + 300),
                        modelHash: BigInt('0x' + o.modelHash),
                        inputCommitment: BigInt('0x' + randomBytes(32).toString('hex')),
                        resultKey: BigInt('0x' + generateX25519KeyPair().publicKey.toString('hex')),
                        candidates,
                        network: await chain.open(Registry.fromAddress(net.bootstrap.registry)).getJobNetwork(),
                    }),
                ),
            )
            .endCell();
        const sent = await wallet.transfer([{ to: net.bootstrap.registry, value: o.value, body, bounce: true }]);
        return findOpenedJob(chain, net.bootstrap.registry, sent.transaction, body);
    }

    /** A raw OpenJob the registry must refuse: returns its verdict (findOpenedJob's error) once the value bounced. */
    async function rawOpenJob(wallet: WalletSender, o: { value: bigint; modelHash: string; candidates: Address[] }): Promise<CocoonError> {
        const e = await sendRawOpenJob(wallet, o).then(
            () => new Error('the registry opened the job'),
            (err: unknown) => err,
        );
        expect(e).toBeInstanceOf(CocoonError);
        await net.devnet.waitIdle(); // the bounce back to the wallet
        return e as CocoonError;
    }

    /** Polls the orchestrator's view of a job until `done` holds. */
    async function waitDispatch(client: CocoonClient, job: Address, done: (d: { state: string; attempts: AttemptRecord[]; reason?: string }) => boolean, timeoutMs: number) {
        const until = Date.now() + timeoutMs;
        let last: unknown;
        for (;;) {
            const d = (await client.api.dispatchStatus(job.toRawString())) as { state: string; attempts: AttemptRecord[]; reason?: string } | null;
            last = d;
            if (d && done(d)) return d;
            if (Date.now() > until) throw new Error(`dispatch did not reach the expected state within ${timeoutMs} ms: ${JSON.stringify(last)}`);
            await new Promise((r) => setTimeout(r, 250));
        }
    }

    // The expiry case takes the deadline plus the expirer's delay: it is opened first and checked last, while the
    // other cases run. The router wants 30 s left, so the job is routable for its first 15 s (a margin for a loaded
    // machine, where the dispatcher's next look can come seconds late).
    let expiring: { handle: JobHandle; wallet: WalletSender; client: CocoonClient; before: bigint } | undefined;

    it('expired deadline (1/2): a 45 s job whose only candidate’s worker is stopped opens and holds the price', async () => {
        await net.workers[1].stop();
        const { wallet, client } = await freshClient();
        // a cleanly stopped worker leaves routing at once (not when its last heartbeat goes stale, 10 s later)
        const stoppedAt = Date.now();
        const tensorHash = SHIPPED_MODEL_HASHES.tensor;
        for (;;) {
            const listed = (await client.api.providers(tensorHash)).find((p) => p.owner === owner(1).toRawString());
            expect(listed?.quote).toBeTruthy(); // still listed with its quote: clients can verify it, routers skip it
            if (listed?.healthy === false) break;
            expect(Date.now() - stoppedAt).toBeLessThan(3_000);
            await new Promise((r) => setTimeout(r, 100));
        }
        const before = await wallet.getBalance();
        const handle = await client.submit({ model: 'tensor', input: tensorInput(4), maxPrice: MAX_PRICE, candidates: [owner(1)], deadlineSeconds: EXPIRING_DEADLINE_S });
        expiring = { handle, wallet, client, before };
        expect((await handle.status()).state).toBe('Open');
        expect(before - (await wallet.getBalance())).toBeGreaterThan(MAX_PRICE); // the price is in the escrow now
    }, 30_000);

    it('oversized input: INPUT_TOO_LARGE before anything is uploaded or paid', async () => {
        const { wallet, client } = await freshClient();
        await expectNothingSpent(wallet, () => client.submit({ model: 'ocr', input: Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x41) }), 'INPUT_TOO_LARGE', new RegExp(`${MAX_PAYLOAD_BYTES + 1} bytes`));
    }, 30_000);

    it('unknown model: UNKNOWN_MODEL for a name, NO_PROVIDERS for a hash nobody serves; nothing paid', async () => {
        const { wallet, client } = await freshClient();
        await expectNothingSpent(wallet, () => client.submit({ model: 'whisper-large', input: tensorInput(1) }), 'UNKNOWN_MODEL');
        await expectNothingSpent(wallet, () => client.submit({ model: randomBytes(32).toString('hex'), input: tensorInput(1) }), 'NO_PROVIDERS');
    }, 30_000);

    it('deadline ≤ 0 or beyond the registry maximum: refused by the SDK, nothing paid', async () => {
        const { wallet, client } = await freshClient();
        await expectNothingSpent(wallet, () => client.submit({ model: 'tensor', input: tensorInput(1), deadlineSeconds: 0 }), 'BAD_ARGUMENT', /deadlineSeconds/);
        await expectNothingSpent(wallet, () => client.submit({ model: 'tensor', input: tensorInput(1), deadlineSeconds: -30 }), 'BAD_ARGUMENT', /deadlineSeconds/);
        await expectNothingSpent(wallet, () => client.submit({ model: 'tensor', input: tensorInput(1), deadlineSeconds: 3601 }), 'BAD_DEADLINE', /3600/);
    }, 30_000);

    it('unknown provider as the candidate (no stake contract): PROVIDER_NOT_ATTESTED, nothing paid', async () => {
        const { wallet, client } = await freshClient();
        const stranger = new Address(0, randomBytes(32));
        expect(await chain.isDeployed(await registry().getProviderAddress(stranger))).toBe(false);
        const e = await expectNothingSpent(wallet, () => client.submit({ model: 'tensor', input: tensorInput(1), candidates: [stranger] }), 'PROVIDER_NOT_ATTESTED', /the orchestrator does not list it/);
        expect(e.message).toContain(stranger.toString());
    }, 30_000);

    it('insufficient escrow: a raw OpenJob below maxPrice + OpenJobFee bounces with ErrInsufficientValue; the value comes back', async () => {
        const { wallet } = await freshClient();
        const jobs = await registry().getJobCount();
        const before = await wallet.getBalance();
        const e = await rawOpenJob(wallet, { value: MAX_PRICE + OPEN_JOB_FEE - 1n, modelHash: SHIPPED_MODEL_HASHES.tensor, candidates: [owner(0)] });
        expect(e.code).toBe('OPEN_FAILED');
        expect(e.message).toContain(`ErrInsufficientValue (${ExitCode.ErrInsufficientValue})`);
        expect(await registry().getJobCount()).toBe(jobs);
        const lost = before - (await wallet.getBalance());
        expect(lost).toBeGreaterThan(0n); // the wallet's and the registry's gas, and the bounce
        expect(lost).toBeLessThan(toNano('0.02'));
    }, 30_000);

    it('corrupted input blob: no provider claims, the orchestrator records INPUT_MISSING per attempt; cancel refunds all but fees', async () => {
        const { wallet, client } = await freshClient();
        const before = await wallet.getBalance();
        // Right after the upload, before OpenJob goes out, replace the stored envelope with another envelope (same
        // magic, sealed to another key): the bytes no longer hash to the commitment the escrow will hold.
        let corrupted: Promise<unknown> | undefined;
        let commitment = '';
        const onProgress = (p: ProgressEvent) => {
            if (p.stage === 'uploading') commitment = String(p.detail?.inputCommitment);
            if (p.stage === 'opening') {
                corrupted = (async () => {
                    const other = sealInput({ networkId: net.network.networkId, modelHash: Buffer.from(SHIPPED_MODEL_HASHES.tensor, 'hex'), clientResultPublicKey: generateX25519KeyPair().publicKey, recipients: [randomBytes(32)], payload: tensorInput(2) });
                    await redis.set(blobs.key(commitment), other.envelope, 'KEEPTTL');
                })();
            }
        };
        const handle = await client.submit({ model: 'tensor', input: tensorInput(3), maxPrice: MAX_PRICE, candidates: [owner(0)], onProgress });
        await corrupted;
        expect(commitment).toBe(handle.inputCommitment);
        await expect(blobs.get(commitment)).rejects.toMatchObject({ code: 'CORRUPTED' });

        // the candidate's worker fetches it, finds it corrupted and refuses before claiming; nobody else may run it
        const d = await waitDispatch(client, handle.address, (x) => x.attempts.some((a) => a.outcome === 'failed'), 45_000);
        expect(d.attempts).toHaveLength(1);
        expect(d.attempts[0]).toMatchObject({ owner: owner(0).toRawString(), outcome: 'failed' });
        expect(d.attempts[0].error).toBe(`INPUT_MISSING: the stored input envelope ${commitment} is corrupted (it does not hash to its key)`);
        expect(['routing', 'dead']).toContain(d.state);
        const s = await handle.status();
        expect(s.state).toBe('Open');
        expect(s.claim).toBeUndefined();

        const cancelled = await handle.cancel();
        expect(cancelled.state).toBe('Cancelled');
        handle.close();
        await net.devnet.waitIdle();
        const lost = before - (await wallet.getBalance());
        expect(lost).toBeGreaterThan(0n);
        expect(lost).toBeLessThan(OPENED_JOB_FEES);
    }, 60_000);

    it('revoked model: governance revokes VAD and the orchestrator prunes its provider; the SDK refuses a job naming it; a raw job opens, nobody runs it, and cancelling refunds it', async () => {
        const gov = net.bootstrap.governance;
        const vad = BigInt('0x' + SHIPPED_MODEL_HASHES.vad);
        await registry().send(gov.wallet, { value: toNano('0.05') }, { $$type: 'RevokeModel', queryId: 0n, modelHash: vad });
        await net.devnet.waitIdle();
        expect(await registry().getIsModelAllowed(vad)).toBe(false);
        // the orchestrator's pruner makes every provider still offering VAD drop it (PruneProvider)
        const stake0 = chain.open(await providerStakeInit(net.bootstrap.registry, owner(0)));
        await waitFor(async () => !(await stake0.getModels()).has(vad), "provider 0's stake to drop the revoked model", 20_000);

        const { wallet, client } = await freshClient();
        await expectNothingSpent(wallet, () => client.submit({ model: 'vad', input: Buffer.from('RIFF'), candidates: [owner(0)] }), 'PROVIDER_NOT_ATTESTED', /the orchestrator does not list it for this model|the registry does not allow this model/);

        // The registry does not consult the allowlist at open (providers' offers do, at claim): a client that skips
        // the SDK's checks opens the job, which the orchestrator will not route, and gets it back by cancelling.
        const before = await wallet.getBalance();
        const opened = await sendRawOpenJob(wallet, { value: MAX_PRICE + OPEN_JOB_FEE, modelHash: SHIPPED_MODEL_HASHES.vad, candidates: [owner(0)] });
        const d = await waitDispatch(client, opened.address, (x) => /^NO_ELIGIBLE_PROVIDER: .*MODEL_NOT_ALLOWED/.test(x.reason ?? ''), 20_000);
        expect(d.attempts).toEqual([]);
        const escrow = chain.open(JobEscrow.fromAddress(opened.address));
        expect(Number(await escrow.getStatus())).toBe(JobStatus.Open);
        await escrow.send(wallet, { value: toNano('0.05'), bounce: true }, { $$type: 'CancelJob', queryId: 0n });
        await net.devnet.waitIdle();
        expect(Number(await escrow.getStatus())).toBe(JobStatus.Cancelled);
        const lost = before - (await wallet.getBalance());
        expect(lost).toBeGreaterThan(0n);
        expect(lost).toBeLessThan(OPENED_JOB_FEES);
    }, 60_000);

    it('expired deadline (2/2): nobody runs it, the orchestrator dead-letters it and expires it on chain after the deadline; full refund', async () => {
        expect(expiring).toBeDefined();
        const { handle, wallet, client, before } = expiring!;
        // the worker is gone: routing finds no eligible provider until too little time is left, and gives up
        const d = await waitDispatch(client, handle.address, (x) => x.state === 'dead', EXPIRING_DEADLINE_S * 1000);
        expect(d.attempts).toEqual([]);
        // the deadline was routable, the provider was not (a last look after the deadline got too close adds "then
        // DEADLINE_TOO_CLOSE" after the provider's reason)
        expect(d.reason).toMatch(/^NO_ELIGIBLE_PROVIDER: NOT_A_CANDIDATE=1, STALE_HEARTBEAT=1(; then DEADLINE_TOO_CLOSE=\d+)?$/);
        await expectCocoonError(handle.waitFor('committed', { timeoutMs: 10_000 }), 'DEAD_LETTER');
        expect((await handle.status()).state).toBe('Open');

        const expired = await handle.waitFor('expired', { timeoutMs: 60_000 });
        expect(expired.state).toBe('Expired');
        expect(expired.claim).toBeUndefined();
        expect(Date.now() / 1000).toBeGreaterThan(handle.deadline);
        handle.close();
        // ExpireJob came from the orchestrator's operator wallet (its expirer), not from the client
        const expiredBy: Address[] = [];
        for await (const t of chain.transactions(handle.address)) {
            const m = t.tx.inMessage;
            if (m?.info.type !== 'internal') continue;
            const body = m.body.beginParse();
            if (body.remainingBits >= 32 && body.preloadUint(32) === Opcodes.ExpireJob) expiredBy.push(m.info.src);
        }
        expect(expiredBy.map((a) => a.toRawString())).toEqual([net.bootstrap.operator.address.toRawString()]);
        await net.devnet.waitIdle();
        const lost = before - (await wallet.getBalance());
        expect(lost).toBeGreaterThan(0n);
        expect(lost).toBeLessThan(OPENED_JOB_FEES);
    }, 90_000);
});
