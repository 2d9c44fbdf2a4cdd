/**
 * `cocoon provider stake|register|unstake|withdraw` against an in-process devnet with a bootstrapped network.
 * Most calls go through the Command objects with a captured CommandIO (fast); a few spawn the real binary to
 * check exit codes and output end to end.
 */
import { runCocoon, runCommand as run } from '../helpers/cli';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { Address, toNano } from '@ton/core';
import { startDevnet, Devnet } from '../../devnet';
import { bootstrapNetwork, BootstrappedNetwork } from '../../localnet/bootstrap';
import { ChainClient } from '../../protocol/chain';
import { walletFromSeed, writeNetworkFile } from '../../protocol/network-file';
import { devVendorKeyPair, SimulatedTee } from '../../protocol/attestation';
import { Enclave } from '../../worker/enclave/enclave';
import { providerRegister, providerStake, providerUnstake, providerWithdraw } from '../../client/cli/commands/provider';
import { providerEnclave, providerStakeInit } from '../../wrappers';




function spawnCocoon(_tmp: string, args: string[]) {
    return runCocoon(args, { timeoutMs: 60_000 });
}

describe('cocoon provider commands', () => {
    let devnet: Devnet;
    let net: BootstrappedNetwork;
    let tmp: string;
    let networkFile: string;
    let chain: ChainClient;
    const newcomer = randomBytes(32).toString('hex');
    const pauper = randomBytes(32).toString('hex');

    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-provider-'));
        devnet = await startDevnet({ port: 0 });
        // a 4 s cooldown so that the test sees it running and then over
        net = await bootstrapNetwork({ chain: devnet, providers: ['provider-1'], params: { unstakeCooldown: 4n } });
        networkFile = path.join(tmp, 'network.json');
        writeNetworkFile(networkFile, net.networkFile({}));
        chain = new ChainClient({ endpoint: devnet.endpoint });
        await devnet.fund(walletFromSeed(chain, newcomer).address, toNano('30'));
        await devnet.fund(walletFromSeed(chain, pauper).address, toNano('1'));
    }, 60_000);

    afterAll(async () => {
        await devnet?.close();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('stakes from a new wallet (deploying its contract) through the real binary, and rejects bad input and poor wallets', async () => {
        const common = ['--network', networkFile, '--json'];
        const [staked, badAmount, noSeed] = await Promise.all([
            spawnCocoon(tmp, ['provider', 'stake', ...common, '--wallet-seed', newcomer, '--amount', '5']),
            spawnCocoon(tmp, ['provider', 'stake', ...common, '--wallet-seed', newcomer, '--amount', '1.2.3']),
            spawnCocoon(tmp, ['provider', 'stake', '--network', networkFile, '--amount', '5']),
        ]);
        expect(staked.code).toBe(0);
        const s = JSON.parse(staked.stdout);
        expect(s).toMatchObject({ ok: true, deployed: true, stakeBefore: '0', stake: toNano('5').toString(), belowMinimum: true, minProviderStake: toNano('10').toString() });
        const owner = walletFromSeed(chain, newcomer).address;
        const contract = chain.open(await providerStakeInit(net.registry, owner));
        expect(Address.parse(s.contract).equals(contract.address)).toBe(true);
        expect((await contract.getState()).stake).toBe(toNano('5'));

        expect(badAmount.code).toBe(2);
        expect(badAmount.stderr).toMatch(/--amount: expected an amount in TON like 1\.5/);
        expect(noSeed.code).toBe(2);
        expect(noSeed.stderr).toMatch(/missing --wallet-seed/);

        // 1 TON cannot back a 5 TON stake: refused before anything is sent (the wallet is never deployed)
        const poor = await run(providerStake, ['--network', networkFile, '--wallet-seed', pauper, '--amount', '5', '--json']);
        expect(poor.code).toBe(1);
        expect(poor.json).toMatchObject({ ok: false, error: 'INSUFFICIENT_BALANCE' });
        expect(poor.err.join('\n')).toMatch(/holds 1 TON; staking 5 TON needs 5\.05 TON/);
        expect(await chain.isDeployed(walletFromSeed(chain, pauper).address)).toBe(false);
    }, 60_000);

    it('registers an enclave whose quote binds its keys and measurement, and refuses mismatched or unallowed ones', async () => {
        const p = net.providers[0];
        const vendor = devVendorKeyPair(net.vendorSeed); // simulated TEE: no hardware protection
        const measurement = Buffer.from(net.measurement, 'hex');
        const enclave = new Enclave({ attestation: new SimulatedTee({ vendorPrivateKey: vendor.privateKey, measurement }), measurement });
        const { quote } = await enclave.attest();
        const quoteFile = path.join(tmp, 'quote.bin');
        fs.writeFileSync(quoteFile, quote);
        const keys = ['--receipt-key', enclave.ed25519PublicKey.toString('hex'), '--encryption-key', enclave.x25519PublicKey.toString('hex')];
        const common = ['--network', networkFile, '--wallet-seed', p.seed, '--quote-file', quoteFile, '--endpoint-name', 'gpu-1', '--price', 'ocr=0.2', '--price', 'vad=0.1', '--json'];

        const wrongKey = await run(providerRegister, [...common, '--receipt-key', randomBytes(32).toString('hex'), '--encryption-key', enclave.x25519PublicKey.toString('hex'), '--measurement', net.measurement]);
        expect(wrongKey.code).toBe(1);
        expect(wrongKey.json.error).toBe('QUOTE_INVALID');
        expect(wrongKey.json.message).toMatch(/report data .* does not match/);

        const other = Buffer.from(randomBytes(32));
        const otherEnclave = new Enclave({ attestation: new SimulatedTee({ vendorPrivateKey: vendor.privateKey, measurement: other }), measurement: other });
        const otherQuote = path.join(tmp, 'other-quote.bin');
        fs.writeFileSync(otherQuote, (await otherEnclave.attest()).quote);
        const unallowed = await run(providerRegister, [
            ...common, '--quote-file', otherQuote, '--measurement', other.toString('hex'),
            '--receipt-key', otherEnclave.ed25519PublicKey.toString('hex'), '--encryption-key', otherEnclave.x25519PublicKey.toString('hex'),
        ]);
        expect(unallowed.code).toBe(1);
        expect(unallowed.json.error).toBe('MEASUREMENT_NOT_ALLOWED');

        const badPrice = await run(providerRegister, [...common, ...keys, '--measurement', net.measurement, '--price', 'nosuchmodel=1']);
        expect(badPrice.code).toBe(2);
        expect(badPrice.err.join('\n')).toMatch(/--price: expected a 256-bit hash as 64 hex characters .* or the path of an existing file/);

        const ok = await run(providerRegister, [...common, ...keys, '--measurement', net.measurement]);
        expect(ok.code).toBe(0);
        expect(ok.json.enclave).toMatchObject({ measurement: net.measurement, endpoint: 'gpu-1', receiptKey: enclave.ed25519PublicKey.toString('hex') });
        expect(ok.json.models).toEqual(
            expect.arrayContaining([
                { model: net.models.ocr, price: toNano('0.2').toString() },
                { model: net.models.vad, price: toNano('0.1').toString() },
            ]),
        );
        const onChain = await providerEnclave(chain.open(await providerStakeInit(net.registry, p.address)));
        expect(onChain?.endpoint).toBe('gpu-1');
        expect(onChain?.encryptionKey.toString(16).padStart(64, '0')).toBe(enclave.x25519PublicKey.toString('hex'));
    }, 60_000);

    it('unstakes, refuses to withdraw during the cooldown without sending anything, then withdraws', async () => {
        // provider-1 is registered (previous test): its registration carries the network's 4 s cooldown
        const seed = net.providers[0].seed;
        const common = ['--endpoint', devnet.endpoint, '--registry', net.registry.toString(), '--wallet-seed', seed, '--json'];
        const wallet = walletFromSeed(chain, seed);

        const nothing = await run(providerWithdraw, common);
        expect(nothing.code).toBe(1);
        expect(nothing.json.error).toBe('NOTHING_TO_WITHDRAW');

        const tooMuch = await run(providerUnstake, [...common, '--amount', '51']);
        expect(tooMuch.code).toBe(1);
        expect(tooMuch.json.error).toBe('AMOUNT_TOO_LARGE');
        const both = await run(providerUnstake, [...common, '--amount', '1', '--all']);
        expect(both.code).toBe(2);
        expect(both.err.join('\n')).toMatch(/--amount and --all: give one of them/);

        const unstaked = await run(providerUnstake, [...common, '--amount', '2']);
        expect(unstaked.code).toBe(0);
        expect(unstaked.json).toMatchObject({ ok: true, amount: toNano('2').toString(), pendingUnstake: toNano('2').toString(), stake: toNano('50').toString() });
        const readyAt: number = unstaked.json.unstakeReadyAt;
        expect(readyAt).toBeGreaterThan(Date.now() / 1000);

        const seqno = await wallet.getSeqno();
        const early = await run(providerWithdraw, common);
        expect(early.code).toBe(1);
        expect(early.json.error).toBe('COOLDOWN_ACTIVE');
        expect(early.json.message).toContain(`ends at ${new Date(readyAt * 1000).toISOString()}`);
        expect(await wallet.getSeqno()).toBe(seqno); // nothing was sent

        await new Promise((r) => setTimeout(r, Math.max(0, readyAt * 1000 - Date.now()) + 1200));
        const withdrawn = await run(providerWithdraw, common);
        expect(withdrawn.code).toBe(0);
        expect(withdrawn.json).toMatchObject({ ok: true, withdrawn: toNano('2').toString(), pendingUnstake: '0', stake: toNano('48').toString() });
        expect(BigInt(withdrawn.json.walletBalance) - BigInt(withdrawn.json.walletBalanceBefore)).toBeGreaterThan(toNano('1.9'));
    }, 60_000);
});
