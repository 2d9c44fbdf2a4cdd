/**
 * `cocoon registry deploy|allow-*|revoke-*|set-params|transfer-ownership|accept-ownership` against an in-process
 * devnet: a registry deployed by the command itself, then governed by its owner (and refused for anyone else).
 */
import { runCocoon, runCommand as run } from '../helpers/cli';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash, randomBytes } from 'crypto';
import { Address, toNano } from '@ton/core';
import { startDevnet, Devnet } from '../../devnet';
import { ChainClient } from '../../protocol/chain';
import { walletFromSeed } from '../../protocol/network-file';
import { NETWORK_IDS } from '../../protocol/network';
import {
    registryAcceptOwnership,
    registryAllowMeasurement,
    registryAllowModel,
    registryDeploy,
    registryRevokeMeasurement,
    registryRevokeModel,
    registrySetParams,
    registryTransferOwnership,
} from '../../client/cli/commands/governance';
import { Registry } from '../../wrappers';

const ROOT = path.join(__dirname, '..', '..');


function spawnCocoon(tmp: string, args: string[]) {
    return runCocoon(args, { cwd: tmp, timeoutMs: 60_000 });
}

describe('cocoon registry governance commands', () => {
    let devnet: Devnet;
    let tmp: string;
    let chain: ChainClient;
    const owner = randomBytes(32).toString('hex');
    const nominee = randomBytes(32).toString('hex');
    const stranger = randomBytes(32).toString('hex');
    let registry: string;
    const measurement = createHash('sha256').update('governance-test measurement').digest('hex');

    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-governance-'));
        devnet = await startDevnet({ port: 0 });
        chain = new ChainClient({ endpoint: devnet.endpoint });
        for (const seed of [owner, nominee, stranger]) await devnet.fund(walletFromSeed(chain, seed).address, toNano('10'));
    }, 60_000);

    afterAll(async () => {
        await devnet?.close();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('deploys a registry through the real binary, writes the deployment file, and validates parameter bounds', async () => {
        const args = ['registry', 'deploy', '--endpoint', devnet.endpoint, '--wallet-seed', owner, '--network-id', 'devnet', '--fee-bps', '300', '--cooldown', '2h', '--deployment', 'local', '--json'];
        const [deployed, badFee] = await Promise.all([
            spawnCocoon(tmp, args),
            spawnCocoon(tmp, ['registry', 'deploy', '--endpoint', devnet.endpoint, '--wallet-seed', owner, '--fee-bps', '1001']),
        ]);
        expect(deployed.code).toBe(0);
        const d = JSON.parse(deployed.stdout);
        expect(d).toMatchObject({ ok: true, alreadyDeployed: false, networkId: NETWORK_IDS.devnet });
        registry = d.registry;
        const onChain = chain.open(Registry.fromAddress(Address.parse(registry)));
        expect((await onChain.getGovernance()).owner.equals(walletFromSeed(chain, owner).address)).toBe(true);
        const params = await onChain.getParams();
        expect(params.protocolFeeBps).toBe(300n);
        expect(params.unstakeCooldown).toBe(7200n);
        const file = JSON.parse(fs.readFileSync(path.join(tmp, 'deployments', 'local.json'), 'utf8'));
        expect(file.registry).toBe(registry);
        expect(file.params.protocolFeeBps).toBe('300');

        expect(badFee.code).toBe(2);
        expect(badFee.stderr).toMatch(/--fee-bps: expected basis points from 0 to 1000/);

        // the same settings give the same address: nothing is sent twice
        const again = await run(registryDeploy, args.slice(2));
        expect(again.code).toBe(0);
        expect(again.json).toMatchObject({ registry, alreadyDeployed: true });
    }, 60_000);

    it('lets the owner allow and revoke measurements and models, and refuses strangers and no-op changes', async () => {
        const as = (seed: string) => ['--endpoint', devnet.endpoint, '--registry', registry, '--wallet-seed', seed, '--json'];

        const badHex = await run(registryAllowMeasurement, [...as(owner), '--measurement', 'abc']);
        expect(badHex.code).toBe(2);
        expect(badHex.err.join('\n')).toMatch(/--measurement: expected a 256-bit hash as 64 hex characters \(0x prefix optional\), got 3 hex characters/);

        const strangerSeqno = await walletFromSeed(chain, stranger).getSeqno();
        const notOwner = await run(registryAllowMeasurement, [...as(stranger), '--measurement', measurement]);
        expect(notOwner.code).toBe(1);
        expect(notOwner.json).toMatchObject({ ok: false, error: 'NOT_OWNER' });
        expect(await walletFromSeed(chain, stranger).getSeqno()).toBe(strangerSeqno);

        const allowed = await run(registryAllowMeasurement, [...as(owner), '--measurement', measurement]);
        expect(allowed.code).toBe(0);
        expect(allowed.json).toMatchObject({ allowed: true, count: 1, hash: measurement });
        const twice = await run(registryAllowMeasurement, [...as(owner), '--measurement', measurement]);
        expect(twice.json.error).toBe('ALREADY_ALLOWED');

        // a model given as an .onnx file is allowed by its sha256
        const onnx = path.join(ROOT, 'worker', 'models', 'mlp-64x16.onnx');
        const modelHash = createHash('sha256').update(fs.readFileSync(onnx)).digest('hex');
        const model = await run(registryAllowModel, [...as(owner), '--model', onnx]);
        expect(model.code).toBe(0);
        expect(model.json).toMatchObject({ kind: 'model', hash: modelHash, allowed: true, count: 1 });
        const onChain = chain.open(Registry.fromAddress(Address.parse(registry)));
        expect(await onChain.getIsModelAllowed(BigInt('0x' + modelHash))).toBe(true);

        const revoked = await run(registryRevokeModel, [...as(owner), '--model', modelHash]);
        expect(revoked.json).toMatchObject({ allowed: false, count: 0 });
        const revokeAgain = await run(registryRevokeModel, [...as(owner), '--model', modelHash]);
        expect(revokeAgain.json.error).toBe('NOT_ALLOWED');
        const revokeMeasurement = await run(registryRevokeMeasurement, [...as(owner), '--measurement', measurement]);
        expect(revokeMeasurement.json).toMatchObject({ allowed: false, count: 0 });
        expect(await onChain.getIsMeasurementAllowed(BigInt('0x' + measurement))).toBe(false);
    }, 60_000);

    it('changes parameters within bounds, and hands ownership over in two steps', async () => {
        const as = (seed: string) => ['--endpoint', devnet.endpoint, '--registry', registry, '--wallet-seed', seed, '--json'];
        const nothing = await run(registrySetParams, as(owner));
        expect(nothing.code).toBe(2);
        expect(nothing.err.join('\n')).toMatch(/nothing to change: pass at least one of --min-stake/);
        const same = await run(registrySetParams, [...as(owner), '--fee-bps', '300']);
        expect(same.json.error).toBe('UNCHANGED');
        const lockTooLow = await run(registrySetParams, [...as(owner), '--lock-ratio-bps', '9999']);
        expect(lockTooLow.code).toBe(2);
        expect(lockTooLow.err.join('\n')).toMatch(/--lock-ratio-bps: expected basis points from 10000 to 100000/);
        const changed = await run(registrySetParams, [...as(owner), '--dispute-window', '2h', '--min-stake', '20']);
        expect(changed.code).toBe(0);
        expect(changed.json).toMatchObject({ versionBefore: 1, version: 2, changed: ['min-stake', 'dispute-window'] });
        expect(changed.json.params).toMatchObject({ disputeWindow: '7200', minProviderStake: toNano('20').toString(), protocolFeeBps: '300' });

        const nomineeAddress = walletFromSeed(chain, nominee).address;
        const early = await run(registryAcceptOwnership, as(nominee));
        expect(early.json.error).toBe('NO_PENDING_OWNER');
        const transfer = await run(registryTransferOwnership, [...as(owner), '--new-owner', nomineeAddress.toString()]);
        expect(transfer.code).toBe(0);
        expect(Address.parse(transfer.json.pendingOwner).equals(nomineeAddress)).toBe(true);
        const wrong = await run(registryAcceptOwnership, as(stranger));
        expect(wrong.json.error).toBe('NOT_PENDING_OWNER');
        const accepted = await run(registryAcceptOwnership, as(nominee));
        expect(accepted.code).toBe(0);
        expect(Address.parse(accepted.json.owner).equals(nomineeAddress)).toBe(true);
        // the former owner is now refused before anything is sent
        const former = await run(registryAllowMeasurement, [...as(owner), '--measurement', measurement]);
        expect(former.json.error).toBe('NOT_OWNER');
    }, 60_000);
});
