import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { Blockchain, SandboxContract, TreasuryContract } from '@ton/sandbox';
import { Address, toNano } from '@ton/core';
import { KeyPair, keyPairFromSeed } from '@ton/crypto';
import type { NetworkProvider } from '@ton/blueprint';
import { JobEscrow, loadJobClaim, loadJobTerms, ProviderStake, Registry } from '../../wrappers';
import { NETWORK_IDS } from '../../protocol/network';
import { signReceipt } from '../../protocol/receipt';
import { SandboxNetworkProvider, sandboxProvider } from '../helpers/sandboxProvider';

/** Shared setup of the script tests: a sandbox chain, the parties' wallets, and a runner for scripts' run(). */

export const START_TIME = 1_800_000_000;

export const hex = (x: bigint) => x.toString(16).padStart(64, '0');
export const sha256 = (data: string | Buffer) => BigInt('0x' + createHash('sha256').update(data).digest('hex'));

/** Every COCOON_* variable the scripts read: cleared so that a developer's shell cannot change the tests. */
export function isolateEnv() {
    for (const k of Object.keys(process.env)) {
        if (k.startsWith('COCOON_')) delete process.env[k];
    }
    process.env.COCOON_NON_INTERACTIVE = '1';
    process.env.COCOON_TIMEOUT = '2';
}

type Script = { run: (p: NetworkProvider, argv: string[]) => Promise<unknown> };

export async function createWorld() {
    isolateEnv();
    // autoDeployLibs: libraries published from the masterchain (publishJobCodeLibrary) serve every contract
    const blockchain = await Blockchain.create({ autoDeployLibs: true });
    blockchain.now = START_TIME;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-scripts-'));
    const governance = await blockchain.treasury('governance');
    const treasury = await blockchain.treasury('treasury');
    const owner = await blockchain.treasury('provider');
    const client = await blockchain.treasury('client');
    const stranger = await blockchain.treasury('stranger');
    const receiptKeys: KeyPair = keyPairFromSeed(createHash('sha256').update('scripts-test:receipt').digest());

    const files = {
        model: path.join(dir, 'ocr.onnx'),
        otherModel: path.join(dir, 'vad.onnx'),
        quote: path.join(dir, 'quote.bin'),
    };
    fs.writeFileSync(files.model, 'not really onnx: the bytes of the OCR model');
    fs.writeFileSync(files.otherModel, 'the bytes of another model');
    fs.writeFileSync(files.quote, 'COCOON-SIM quote bytes');

    const world = {
        blockchain,
        dir,
        governance,
        treasury,
        owner,
        client,
        stranger,
        receiptKeys,
        files,
        measurement: sha256('measurement:worker-image-v1'),
        modelHash: sha256(fs.readFileSync(files.model)),
        otherModelHash: sha256(fs.readFileSync(files.otherModel)),
        encryptionKey: sha256('x25519:provider'),
        resultKey: sha256('x25519:client'),

        /** Runs `script` as `wallet`; the deployment files live in the test's temporary folder. */
        async run<R = any>(script: Script, wallet: SandboxContract<TreasuryContract>, argv: string[]): Promise<{ result: R; p: SandboxNetworkProvider }> {
            const p = sandboxProvider(blockchain, wallet);
            const result = (await script.run(p, [...argv, '--deployments', dir])) as R;
            return { result, p };
        },

        /** Runs `script` expecting it to throw before sending anything; returns the error message. */
        async reject(script: Script, wallet: SandboxContract<TreasuryContract>, argv: string[]): Promise<string> {
            const p = sandboxProvider(blockchain, wallet);
            let message: string | undefined;
            try {
                await script.run(p, [...argv, '--deployments', dir]);
            } catch (e) {
                message = (e as Error).message;
            }
            if (message === undefined) throw new Error('the script did not fail');
            expect(p.sent).toHaveLength(0);
            return message;
        },

        registryAddress(): Address {
            const d = JSON.parse(fs.readFileSync(path.join(dir, 'devnet.json'), 'utf8'));
            return Address.parse(d.registry);
        },
        registry() {
            return blockchain.openContract(Registry.fromAddress(world.registryAddress()));
        },
        async providerStake(of: SandboxContract<TreasuryContract> = owner) {
            return blockchain.openContract(ProviderStake.fromAddress(await world.registry().getProviderAddress(of.address)));
        },
        async job(id: bigint) {
            return blockchain.openContract(JobEscrow.fromAddress(await world.registry().getJobAddress(id)));
        },

        /** The provider claims job `id` (no script: workers claim through the orchestrator). */
        async claim(id: bigint) {
            const stake = await world.providerStake();
            await stake.send(owner.getSender(), { value: toNano('0.05') }, { $$type: 'ClaimJob', queryId: 0n, jobId: id, modelHash: world.modelHash, receipt: null });
        },

        /** The enclave's receipt for job `id`, relayed by the stranger. */
        async submitReceipt(id: bigint, outputCommitment = sha256('output:' + id)) {
            const job = await world.job(id);
            const state = await job.getState();
            const terms = loadJobTerms(state.terms!.beginParse());
            const claim = loadJobClaim(state.claim!.beginParse());
            const signature = signReceipt(
                {
                    networkId: NETWORK_IDS.devnet,
                    job: job.address,
                    inputCommitment: terms.inputCommitment,
                    outputCommitment,
                    modelHash: terms.modelHash,
                    measurement: claim.measurement,
                },
                receiptKeys.secretKey,
            );
            await job.send(stranger.getSender(), { value: toNano('0.05') }, { $$type: 'SubmitReceipt', queryId: 0n, outputCommitment, signature });
            return outputCommitment;
        },

        cleanup() {
            fs.rmSync(dir, { recursive: true, force: true });
        },
    };
    return world;
}

export type World = Awaited<ReturnType<typeof createWorld>>;
