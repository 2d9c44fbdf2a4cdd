/**
 * The Blueprint scripts' run() against the sandbox through tests/helpers/sandboxProvider.ts: the path from a new
 * registry to a cancelled job, asserting the on-chain state after each script, and the checks that stop a script
 * before it sends anything.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Address, Dictionary, fromNano, toNano } from '@ton/core';
import { JobCodeKind, jobEscrowCode, JobStatus, libraryCellOf, loadJobTerms } from '../../wrappers';
import { NETWORK_IDS } from '../../protocol/network';
import * as deployRegistry from '../../scripts/deployRegistry';
import * as publishJobCodeLibrary from '../../scripts/publishJobCodeLibrary';
import * as allowMeasurement from '../../scripts/allowMeasurement';
import * as allowModel from '../../scripts/allowModel';
import * as stakeProvider from '../../scripts/stakeProvider';
import * as registerEnclave from '../../scripts/registerEnclave';
import * as openJob from '../../scripts/openJob';
import * as cancelJob from '../../scripts/cancelJob';
import * as requestUnstake from '../../scripts/requestUnstake';
import * as withdrawStake from '../../scripts/withdrawStake';
import { createWorld, hex, START_TIME, World } from './helpers';

const fmt = (a: Address) => a.toString({ testOnly: true });

let w: World;

beforeAll(async () => {
    w = await createWorld();
});

afterAll(() => w?.cleanup());

describe('from a new registry to a cancelled job', () => {
    test('deployRegistry deploys the registry and writes deployments/devnet.json', async () => {
        const { result, p } = await w.run(deployRegistry, w.governance, ['--treasury', fmt(w.treasury.address), '--network-id', 'devnet', '--fee-bps', '300']);
        const file = path.join(w.dir, 'devnet.json');
        const d = JSON.parse(fs.readFileSync(file, 'utf8'));
        expect(Address.parse(d.registry).equals(result.registry)).toBe(true);
        expect(d).toMatchObject({ network: 'devnet', networkId: NETWORK_IDS.devnet, chain: 'custom', owner: fmt(w.governance.address), treasury: fmt(w.treasury.address) });

        const registry = w.registry();
        expect(await w.blockchain.getContract(registry.address).then((c) => c.accountState?.type)).toBe('active');
        expect(Number(await registry.getNetworkId())).toBe(NETWORK_IDS.devnet);
        expect((await registry.getGovernance()).owner.equals(w.governance.address)).toBe(true);
        expect((await registry.getTreasury()).equals(w.treasury.address)).toBe(true);
        const params = await registry.getParams();
        expect(params.protocolFeeBps).toBe(300n);
        expect(params.minProviderStake).toBe(toNano('10'));
        expect(params.unstakeCooldown).toBe(7n * 86400n);
        expect(p.sent).toHaveLength(1);
        expect(p.lines.at(-1)).toMatch(new RegExp(`^deployRegistry: registry ${fmt(registry.address)} deployed on custom \\(network id ${NETWORK_IDS.devnet}, `));

        // running it again finds the registry and sends nothing
        const again = await w.run(deployRegistry, w.governance, ['--treasury', fmt(w.treasury.address), '--network-id', 'devnet', '--fee-bps', '300']);
        expect(again.result.alreadyDeployed).toBe(true);
        expect(again.p.sent).toHaveLength(0);
    });

    test('allowMeasurement adds the measurement to the allowlist', async () => {
        const registry = w.registry();
        expect(await registry.getIsMeasurementAllowed(w.measurement)).toBe(false);
        const { result, p } = await w.run(allowMeasurement, w.governance, ['--measurement', '0x' + hex(w.measurement)]);
        expect(await registry.getIsMeasurementAllowed(w.measurement)).toBe(true);
        expect((await registry.getAllowlistCounts()).measurements).toBe(1n);
        expect(result.count).toBe(1n);
        expect(p.lines).toEqual([`allowMeasurement: registry ${fmt(registry.address)}: measurement 0x${hex(w.measurement)} allowed (1 measurements allowed)`]);
    });

    test('allowModel takes the sha256 of an .onnx file as the model hash', async () => {
        const registry = w.registry();
        const { result } = await w.run(allowModel, w.governance, ['--model', w.files.model]);
        expect(result.hash).toBe(w.modelHash);
        expect(await registry.getIsModelAllowed(w.modelHash)).toBe(true);
        expect((await registry.getAllowlistCounts()).models).toBe(1n);
    });

    test('stakeProvider deploys the provider contract on the first stake', async () => {
        const registry = w.registry();
        const address = await registry.getProviderAddress(w.owner.address);
        expect((await w.blockchain.getContract(address)).accountState?.type).not.toBe('active');
        const { result } = await w.run(stakeProvider, w.owner, ['--amount', '12']);
        expect(result.provider.equals(address)).toBe(true);
        expect(result.deployed).toBe(true);
        const state = await (await w.providerStake()).getState();
        expect(state.stake).toBe(toNano('12'));
        expect(state.owner.equals(w.owner.address)).toBe(true);

        // a second stake adds to it
        const { result: second } = await w.run(stakeProvider, w.owner, ['--amount', '0.5']);
        expect(second.deployed).toBe(false);
        expect((await (await w.providerStake()).getState()).stake).toBe(toNano('12.5'));
    });

    test('registerEnclave records the enclave, the sha256 of the quote and the model prices', async () => {
        const { p } = await w.run(registerEnclave, w.owner, [
            '--receipt-key', w.receiptKeys.publicKey.toString('hex'),
            '--encryption-key', hex(w.encryptionKey),
            '--measurement', hex(w.measurement),
            '--quote', w.files.quote,
            '--models', `${w.files.model}=1.5`,
            '--endpoint', 'https://gpu1.example/cocoon',
        ]);
        const stake = await w.providerStake();
        const enclave = await stake.getEnclave();
        expect(enclave).not.toBeNull();
        expect(enclave!.receiptKey).toBe(BigInt('0x' + w.receiptKeys.publicKey.toString('hex')));
        expect(enclave!.encryptionKey).toBe(w.encryptionKey);
        expect(enclave!.measurement).toBe(w.measurement);
        expect(enclave!.attestationHash).toBe(BigInt('0x' + require('crypto').createHash('sha256').update(fs.readFileSync(w.files.quote)).digest('hex')));
        expect(enclave!.endpoint).toBe('https://gpu1.example/cocoon');
        const models = await stake.getModels();
        expect(models.size).toBe(1);
        expect(models.get(w.modelHash)).toBe(toNano('1.5'));
        expect(p.lines.at(-1)).toContain(`provider ${fmt(stake.address)}: enclave registered`);
    });

    test('openJob opens job 0 with the given terms and candidates', async () => {
        const { result } = await w.run(openJob, w.client, [
            '--model', hex(w.modelHash),
            '--input', hex(0xabcn),
            '--result-key', hex(w.resultKey),
            '--max-price', '2',
            '--deadline', '10m',
            '--candidates', fmt(w.owner.address),
        ]);
        expect(result.jobId).toBe(0n);
        const registry = w.registry();
        expect(await registry.getJobCount()).toBe(1n);
        const job = await w.job(0n);
        expect(result.job.equals(job.address)).toBe(true);
        const state = await job.getState();
        expect(Number(state.status)).toBe(JobStatus.Open);
        const terms = loadJobTerms(state.terms!.beginParse());
        expect(terms.client.equals(w.client.address)).toBe(true);
        expect(terms.modelHash).toBe(w.modelHash);
        expect(terms.inputCommitment).toBe(0xabcn);
        expect(terms.resultKey).toBe(w.resultKey);
        expect(terms.maxPrice).toBe(toNano('2'));
        expect(terms.deadline).toBe(BigInt(START_TIME + 600));
        expect(terms.candidates.size).toBe(1);
        expect(terms.candidates.get(w.owner.address)).toBe(true);
        expect((await w.blockchain.getContract(job.address)).balance).toBeGreaterThanOrEqual(toNano('2'));
    });

    test('cancelJob cancels the open job and refunds the client', async () => {
        const job = await w.job(0n);
        const before = (await w.blockchain.getContract(w.client.address)).balance;
        const { result, p } = await w.run(cancelJob, w.client, ['--job', '0']);
        expect(Number(await job.getStatus())).toBe(JobStatus.Cancelled);
        expect((await w.blockchain.getContract(job.address)).balance).toBe(0n);
        const after = (await w.blockchain.getContract(w.client.address)).balance;
        expect(after - before).toBeGreaterThan(toNano('1.9')); // the 2 TON price and the unspent fee, minus gas
        expect(result.refunded).toBeGreaterThanOrEqual(toNano('2'));
        expect(p.lines.at(-1)).toBe(`cancelJob: job 0 (${fmt(job.address)}) Open → Cancelled; its ${fromNano(result.refunded)} TON refunded to ${fmt(w.client.address)}`);
    });
});

describe('scripts refuse before sending', () => {
    test('a bad hash', async () => {
        expect(await w.reject(allowMeasurement, w.governance, ['--measurement', 'xyz'])).toBe(
            '--measurement: expected a 256-bit hash as 64 hex characters (0x prefix optional), got "xyz"',
        );
        expect(await w.reject(allowMeasurement, w.governance, ['--measurement', 'abcd'])).toBe(
            '--measurement: expected a 256-bit hash as 64 hex characters (0x prefix optional), got 4 hex characters',
        );
    });

    test('openJob for a model that is not allowed', async () => {
        const registry = w.registry();
        const count = await registry.getJobCount();
        const msg = await w.reject(openJob, w.client, [
            '--model', hex(w.otherModelHash),
            '--input', hex(1n),
            '--result-key', hex(w.resultKey),
            '--max-price', '1',
            '--deadline', '600',
        ]);
        expect(msg).toBe(`model 0x${hex(w.otherModelHash)} is not allowed in registry ${fmt(registry.address)}: no provider could claim the job`);
        expect(await registry.getJobCount()).toBe(count);
    });

    test('withdrawStake during the unstake cooldown', async () => {
        const { result } = await w.run(requestUnstake, w.owner, ['--amount', '2']);
        const stake = await w.providerStake();
        const state = await stake.getState();
        expect(state.pendingUnstake).toBe(toNano('2'));
        expect(Number(state.unstakeReadyAt)).toBe(START_TIME + 7 * 86400);
        expect(result.unstakeReadyAt).toBe(START_TIME + 7 * 86400);
        const readyIso = new Date((START_TIME + 7 * 86400) * 1000).toISOString();
        expect(await w.reject(withdrawStake, w.owner, [])).toBe(
            `the unstake cooldown of provider ${fmt(stake.address)} is still running: 2 TON can be withdrawn from ${readyIso} (in 7d)`,
        );
        expect((await stake.getState()).pendingUnstake).toBe(toNano('2'));
    });

    test('cancelJob of a job that is no longer open, or by someone else', async () => {
        expect(await w.reject(cancelJob, w.client, ['--job', '0'])).toBe('job 0 is already Cancelled: nothing left to do');
        expect(await w.reject(cancelJob, w.client, ['--job', '7'])).toBe(
            `job 7 does not exist in registry ${fmt(w.registryAddress())}: it has opened 1 job (ids 0 to 0)`,
        );
        await w.run(openJob, w.client, ['--model', hex(w.modelHash), '--input', hex(2n), '--result-key', hex(w.resultKey), '--max-price', '1', '--deadline', '1h']);
        expect(await w.reject(cancelJob, w.stranger, ['--job', '1'])).toBe(
            `only the client ${fmt(w.client.address)} of job 1 can cancel it, not ${fmt(w.stranger.address)}`,
        );
    });

    test('registerEnclave with a measurement the registry does not allow', async () => {
        const other = 0x1234n;
        expect(
            await w.reject(registerEnclave, w.owner, [
                '--receipt-key', w.receiptKeys.publicKey.toString('hex'),
                '--encryption-key', hex(w.encryptionKey),
                '--measurement', hex(other),
                '--attestation-hash', hex(5n),
                '--models', `${hex(w.modelHash)}=1`,
                '--endpoint', 'https://gpu1.example/cocoon',
            ]),
        ).toBe(`measurement 0x${hex(other)} is not allowed in registry ${fmt(w.registryAddress())}: the registry would reject the enclave (governance runs allowMeasurement)`);
    });

    test('governance scripts from a wallet that is not the owner', async () => {
        expect(await w.reject(allowModel, w.stranger, ['--model', hex(w.otherModelHash)])).toBe(
            `the wallet ${fmt(w.stranger.address)} is not the governance owner of registry ${fmt(w.registryAddress())} (the owner is ${fmt(w.governance.address)}); the registry would reject the message`,
        );
    });

    test('a missing argument in a non-interactive run, and an unknown one', async () => {
        expect(await w.reject(stakeProvider, w.owner, [])).toBe('missing argument --amount: TON to add to the stake, e.g. 10');
        expect(await w.reject(stakeProvider, w.owner, ['--amount', '1', '--amout', '2'])).toBe(
            'unknown argument --amout for stakeProvider (run it with --help to list its arguments)',
        );
    });

    test('no registry: no --registry and no deployment file', async () => {
        const p = await w.reject(stakeProvider, w.owner, ['--amount', '1', '--network', 'elsewhere']);
        expect(p).toBe(`no registry: pass --registry <address>, or run deployRegistry first (${path.join(w.dir, 'elsewhere.json')} does not exist)`);
    });
});

// A registry that deploys jobs with a library cell for their code, published first by publishJobCodeLibrary.
// Its own world: it deploys a second registry.
describe('the job code as a masterchain library', () => {
    let lw: World;
    beforeAll(async () => {
        lw = await createWorld();
    });
    afterAll(() => lw?.cleanup());

    test('deployRegistry --job-code library refuses while the library is not published; bad values are named', async () => {
        const missing = await lw.reject(deployRegistry, lw.governance, ['--network-id', 'devnet', '--job-code', 'library']);
        expect(missing).toMatch(/^--job-code library: no JobEscrow library librarian at .+; publish the code first: npx blueprint run publishJobCodeLibrary$/);
        expect(await lw.reject(deployRegistry, lw.governance, ['--network-id', 'devnet', '--job-code', 'lib'])).toBe(`--job-code: 'inline' or 'library', got "lib"`);
        expect(await lw.reject(publishJobCodeLibrary, lw.governance, ['--value', '0.5'])).toBe('--value: at least 1 TON (masterchain storage is paid from it), got 0.5');
    });

    test('publishJobCodeLibrary publishes from the masterchain; the registry then deploys jobs with the library cell', async () => {
        const { result } = await lw.run(publishJobCodeLibrary, lw.governance, []);
        expect(result.librarian.workChain).toBe(-1);
        const code = await jobEscrowCode();
        expect(result.codeHash).toBe(code.hash().toString('hex'));
        const libs = lw.blockchain.libs!.beginParse().loadDictDirect(Dictionary.Keys.Buffer(32), Dictionary.Values.Cell());
        expect(libs.get(code.hash())?.equals(code)).toBe(true);

        const { result: deployed } = await lw.run(deployRegistry, lw.governance, ['--network-id', 'devnet', '--job-code', 'library']);
        expect(deployed.jobCode).toBe('library');
        expect(JSON.parse(fs.readFileSync(path.join(lw.dir, 'devnet.json'), 'utf8')).jobCode).toBe('library');
        const registry = lw.registry();
        expect(Number(await registry.getJobCodeKind())).toBe(JobCodeKind.library);
        expect((await registry.getJobCode()).equals(libraryCellOf(code))).toBe(true);
    });
});
