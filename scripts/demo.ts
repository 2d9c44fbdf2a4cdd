/**
 * `npm run demo` — two confidential jobs, end to end, on one machine.
 *
 * A local chain (the devnet: the TVM emulator behind the TON HTTP API) runs in this process. Governance deploys
 * the registry and allows the worker image's measurement and the OCR and VAD models; two providers start
 * enclaves (SIMULATED TEE: no hardware protection on this machine), stake, and register their enclave records.
 * A client checks each provider's attestation, encrypts an image and a recording for both candidates' enclaves,
 * opens two escrows, and gets the results back: each job is claimed on chain, run inside an enclave with real
 * onnxruntime inference, committed with an enclave-signed receipt the escrow verifies, verified and decrypted
 * by the client, and settled.
 *
 * The orchestrator (BullMQ on Redis) that routes jobs to workers is not built yet: here the client hands each
 * job to its provider in-process. Everything else — chain, contracts, wallets, cryptography, models — is real.
 *
 *   npm run demo              readable receipt
 *   npm run demo -- --json    one JSON object
 */
import * as fs from 'fs';
import * as path from 'path';
import { Address, beginCell, Dictionary, toNano } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { randomBytes } from 'crypto';
import { startDevnet, Devnet } from '../devnet';
import { ChainClient, WalletSender } from '../protocol/chain';
import { NETWORK_IDS } from '../protocol/network';
import { bufferToUint256, uint256ToBuffer, verifyReceipt } from '../protocol/receipt';
import { generateX25519KeyPair, openResult, sealInput, x25519Recipient } from '../protocol/envelope';
import { attestationHash, computeWorkerMeasurement, devVendorKeyPair, SimulatedTee } from '../protocol/attestation';
import { checkClaimKey, verifyProvider, VerifiedProvider } from '../client/sdk/verifyProvider';
import { Enclave } from '../worker/enclave/enclave';
import { InferenceEngine, SHIPPED_MODEL_HASHES } from '../worker/inference';
import { ConfidentialJobRunner, postReceipt, SUGGESTED_RECEIPT_VALUE } from '../worker/job';
import { DEFAULT_PARAMS, JobEscrow, JobStatus, JobStatusName, loadJobClaim, loadJobTerms, providerStakeInit, registryInit, tactConstant } from '../wrappers';

const json = process.argv.includes('--json');
const ROOT = path.join(__dirname, '..');
const NETWORK_ID = NETWORK_IDS.devnet;
const WORKER_CONFIG = { tee: 'simulated', catalog: 'worker/models/catalog.json', executionProvider: 'cpu' };

function say(line = '') {
    if (!json) process.stdout.write(line + '\n');
}
function step(line: string) {
    if (!json) process.stderr.write(`  … ${line}\n`);
}
const ton = (n: bigint) => (Number(n) / 1e9).toFixed(6) + ' TON';

interface Party {
    name: string;
    wallet: WalletSender;
}

async function main() {
    const t0 = Date.now();
    say('Cocoon on TON — confidential inference demo (local devnet, simulated TEE: no hardware protection)\n');

    // ---------------------------------------------------------------- chain and parties
    step('starting the local chain');
    const devnet: Devnet = await startDevnet({ port: 0 });
    const chain = new ChainClient({ endpoint: devnet.endpoint });
    const wallet = async (name: string, amount: string): Promise<Party> => {
        const w = new WalletSender(chain, { version: 'v4', keyPair: keyPairFromSeed(randomBytes(32)), pollIntervalMs: 20 });
        await devnet.fund(w.address, toNano(amount));
        return { name, wallet: w };
    };
    const cleanup: (() => Promise<void>)[] = [() => devnet.close()];
    try {
        const governance = await wallet('governance', '100');
        const treasury = await wallet('treasury', '1');
        const providers = [await wallet('provider-A', '200'), await wallet('provider-B', '200')];
        const client = await wallet('client', '50');
        /** sends from a wallet and waits until every message it caused has been processed */
        const act = async (from: Party, to: Address, value: bigint, body: ReturnType<typeof beginCell> | null, init?: { code: any; data: any }) => {
            await from.wallet.send({ to, value, body: body ? body.endCell() : undefined, init, bounce: true });
            await devnet.waitIdle();
            return from.wallet.lastTransfer!.transaction;
        };

        // ---------------------------------------------------------------- governance
        step('deploying the registry and allowing the worker image and models');
        const measurement = Buffer.from(computeWorkerMeasurement(ROOT, WORKER_CONFIG), 'hex');
        const registryState = await registryInit(NETWORK_ID, { ...DEFAULT_PARAMS, unstakeCooldown: 86400n, disputeWindow: 600n, maxJobDuration: 3600n }, treasury.wallet.address, governance.wallet.address);
        const registry = chain.open(registryState);
        await act(governance, registry.address, toNano('1'), null, registryState.init!);
        const models = { ocr: BigInt('0x' + SHIPPED_MODEL_HASHES.ocr), vad: BigInt('0x' + SHIPPED_MODEL_HASHES.vad) };
        await registry.send(governance.wallet, { value: toNano('0.05') }, { $$type: 'AllowMeasurement', queryId: 0n, measurement: bufferToUint256(measurement) });
        for (const modelHash of Object.values(models)) {
            await registry.send(governance.wallet, { value: toNano('0.05') }, { $$type: 'AllowModel', queryId: 0n, modelHash });
        }
        await devnet.waitIdle();

        // ---------------------------------------------------------------- providers
        step('starting two workers: enclaves, attestation, stake, enclave records');
        const vendor = devVendorKeyPair('cocoon-demo'); // INSECURE dev vendor key: simulated TEE only
        const engine = await InferenceEngine.fromCatalogFile(path.join(ROOT, WORKER_CONFIG.catalog));
        await engine.warmup();
        const workers = [];
        for (const p of providers) {
            const tee = new SimulatedTee({ vendorPrivateKey: vendor.privateKey, measurement });
            const enclave = new Enclave({ attestation: tee, measurement });
            const { quote } = await enclave.attest();
            const stake = chain.open(await providerStakeInit(registry.address, p.wallet.address));
            await stake.send(p.wallet, { value: toNano('50.1') }, { $$type: 'Stake', queryId: 0n, amount: toNano('50') });
            const prices = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.BigUint(64));
            prices.set(models.ocr, toNano('0.2'));
            prices.set(models.vad, toNano('0.1'));
            await devnet.waitIdle();
            await stake.send(p.wallet, { value: toNano('0.1') }, {
                $$type: 'RegisterEnclave',
                queryId: 0n,
                record: {
                    $$type: 'EnclaveRecord',
                    receiptKey: bufferToUint256(enclave.ed25519PublicKey),
                    encryptionKey: bufferToUint256(enclave.x25519PublicKey),
                    measurement: bufferToUint256(measurement),
                    attestationHash: bufferToUint256(attestationHash(quote)),
                    endpoint: `local://${p.name}`,
                },
                models: prices,
            });
            await devnet.waitIdle();
            workers.push({ party: p, enclave, quote, stake, runner: new ConfidentialJobRunner(enclave, engine) });
        }

        // ---------------------------------------------------------------- client: attestation checks
        step('client: verifying both providers’ attestations against the chain');
        const checks: string[] = [];
        const attested = new Map<string, VerifiedProvider>();
        for (const w of workers) {
            const v = await verifyProvider({
                registry,
                stake: w.stake,
                owner: w.party.wallet.address,
                quote: w.quote,
                modelHash: models.ocr,
                quoteOptions: { vendorPublicKey: vendor.publicKeyHex },
            });
            if (!v.ok) throw new Error(`${w.party.name}: ${v.error}`);
            for (const c of v.checks) checks.push(`${w.party.name}: ${c.name}`);
            attested.set(w.party.name, v);
        }

        // ---------------------------------------------------------------- jobs
        const resultKeys = generateX25519KeyPair();
        const inputs = [
            { task: 'ocr' as const, model: models.ocr, file: 'ocr-confidential.png', expected: 'CONFIDENTIAL 42', worker: workers[0] },
            { task: 'vad' as const, model: models.vad, file: 'speech-16k.wav', worker: workers[1] },
        ];
        const jobs = [];
        for (const input of inputs) {
            const timings: Record<string, number> = {};
            const clock = (label: string, since: number) => (timings[label] = Date.now() - since);
            const payload = fs.readFileSync(path.join(ROOT, 'demo', 'assets', input.file));
            step(`${input.task}: encrypting ${payload.length} bytes for both candidates' enclaves and opening the escrow`);
            let t = Date.now();
            const sealed = sealInput({
                networkId: NETWORK_ID,
                modelHash: uint256ToBuffer(input.model),
                clientResultPublicKey: resultKeys.publicKey,
                recipients: workers.map((w) => w.enclave.x25519PublicKey),
                payload,
            });
            clock('encrypt', t);
            const clientBefore = await client.wallet.getBalance();
            t = Date.now();
            const jobId = await registry.getJobCount();
            const candidates = Dictionary.empty(Dictionary.Keys.Address(), Dictionary.Values.Bool());
            for (const w of workers) candidates.set(w.party.wallet.address, true);
            const maxPrice = toNano('0.5');
            await registry.send(client.wallet, { value: maxPrice + tactConstant('OpenJobFee') }, {
                $$type: 'OpenJob', queryId: 0n, maxPrice, deadline: BigInt(Math.floor(Date.now() / 1000) + 600),
                modelHash: input.model, inputCommitment: bufferToUint256(sealed.commitment), resultKey: bufferToUint256(resultKeys.publicKey), candidates,
            });
            const openTx = client.wallet.lastTransfer!.transaction;
            await devnet.waitIdle();
            const jobAddress = await registry.getJobAddress(jobId);
            const job = chain.open(JobEscrow.fromAddress(jobAddress));
            if ((await job.getStatus()) !== BigInt(JobStatus.Open)) throw new Error(`job ${jobId} did not open`);
            clock('open', t);

            // the provider claims, runs the job in its enclave and posts the receipt (the orchestrator will route
            // JobOpened to a worker; here the client hands the job to its first candidate directly)
            const w = input.worker;
            t = Date.now();
            await w.stake.send(w.party.wallet, { value: toNano('0.05') }, { $$type: 'ClaimJob', queryId: 0n, jobId, modelHash: input.model });
            await devnet.waitIdle();
            const state = await job.getState();
            if (Number(state.status) !== JobStatus.Claimed) throw new Error(`claim by ${w.party.name} failed (job is ${JobStatusName[Number(state.status)]})`);
            clock('claim', t);
            t = Date.now();
            const terms = loadJobTerms(state.terms!.beginParse());
            const out = await w.runner.run({
                modelHash: uint256ToBuffer(terms.modelHash),
                envelope: sealed.envelope,
                networkId: Number(terms.network.networkId),
                jobAddress,
                clientResultPublicKey: uint256ToBuffer(terms.resultKey),
                inputCommitment: uint256ToBuffer(terms.inputCommitment),
            });
            clock('enclave', t);
            t = Date.now();
            await postReceipt(w.party.wallet, jobAddress, { outputCommitment: out.outputCommitment, signature: out.receiptSignature }, SUGGESTED_RECEIPT_VALUE);
            await devnet.waitIdle();
            clock('receipt', t);

            // the client verifies and decrypts, then accepts
            t = Date.now();
            const committed = await job.getState();
            const claim = loadJobClaim(committed.claim!.beginParse());
            const verified: string[] = [];
            const verify = (what: string, ok: boolean) => {
                if (!ok) throw new Error(`result verification failed: ${what}`);
                verified.push(what);
            };
            verify('escrow status is Committed', Number(committed.status) === JobStatus.Committed);
            verify('sha256(result) equals the on-chain output commitment', bufferToUint256(out.outputCommitment) === committed.outputCommitment);
            verify('receipt signed by the attested enclave key recorded at claim', verifyReceipt(out.receipt, out.receiptSignature, uint256ToBuffer(claim.receiptKey)));
            verify('claimed by one of the job’s candidates', workers.some((x) => x.party.wallet.address.equals(claim.provider)));
            const claimer = workers.find((x) => x.party.wallet.address.equals(claim.provider))!;
            checkClaimKey(attested.get(claimer.party.name)!, claim.receiptKey);
            verify('the claim carries the attested receipt key', true);
            const plaintext = openResult(out.resultEnvelope, { networkId: NETWORK_ID, job: jobAddress, modelHash: uint256ToBuffer(input.model) }, x25519Recipient(resultKeys.privateKey));
            const result = JSON.parse(plaintext.toString('utf8'));
            verify('result decrypts with the client’s result key', true);
            await job.send(client.wallet, { value: toNano('0.05') }, { $$type: 'AcceptResult', queryId: 0n });
            await devnet.waitIdle();
            const final = Number(await job.getStatus());
            verify('escrow settled', final === JobStatus.Settled);
            clock('verify+settle', t);

            const clientPaid = clientBefore - (await client.wallet.getBalance());
            jobs.push({
                task: input.task,
                jobId: Number(jobId),
                job: jobAddress.toString(),
                provider: w.party.name,
                state: JobStatusName[final],
                verified: true,
                verifications: verified,
                openTx: openTx.hash.toString('hex'),
                price: ton(claim.price),
                feesNanoTon: { clientTotal: Number(clientPaid), price: Number(claim.price), networkAndProtocol: Number(clientPaid - claim.price) },
                timingsMs: timings,
                ...(input.task === 'ocr' ? { text: result.text as string, expectedText: input.expected } : {}),
                ...(input.task === 'vad' ? { segments: result.segments as { start: number; end: number }[], durationSec: result.durationSec } : {}),
            });
        }

        const earnings = await Promise.all(workers.map(async (w) => ({ provider: w.party.name, ...(await w.stake.getState()) })));
        const summary = {
            ok: true,
            network: { devnet: devnet.endpoint, networkId: NETWORK_ID, registry: registry.address.toString() },
            tee: 'simulated (no hardware protection)',
            attestationChecks: checks,
            jobs,
            providers: earnings.map((e) => ({ provider: e.provider, stake: ton(e.stake), locked: ton(e.locked), earnings: ton(e.earnings) })),
            elapsedMs: Date.now() - t0,
        };
        if (json) {
            process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
        } else {
            say(`Registry ${summary.network.registry} on ${devnet.endpoint}\n`);
            say('Attestation checks (client side):');
            for (const c of checks) say(`  ✓ ${c}`);
            for (const j of jobs) {
                say(`\nJob #${j.jobId} — ${j.task.toUpperCase()} — ${j.state}`);
                say(`  escrow      ${j.job}   (open tx ${j.openTx.slice(0, 16)}…)`);
                say(`  provider    ${j.provider}, price ${j.price}`);
                if ('text' in j) say(`  result      recognized text: "${j.text}"`);
                if ('segments' in j) say(`  result      speech segments: ${j.segments!.map((s) => `${s.start.toFixed(2)}–${s.end.toFixed(2)} s`).join(', ')} of ${j.durationSec?.toFixed(2)} s`);
                say(`  client paid ${ton(BigInt(j.feesNanoTon.clientTotal))} = price + ${ton(BigInt(j.feesNanoTon.networkAndProtocol))} network fees`);
                say(`  timings     ${Object.entries(j.timingsMs).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
                for (const v of j.verifications) say(`  ✓ ${v}`);
            }
            say('\nProviders:');
            for (const p of summary.providers) say(`  ${p.provider}: stake ${p.stake}, locked ${p.locked}, earnings ${p.earnings}`);
            say(`\nDone in ${(summary.elapsedMs / 1000).toFixed(1)} s. Inputs and results were only ever plaintext inside the client and the enclaves.`);
        }
        await engine.close();
    } finally {
        for (const c of cleanup.reverse()) await c().catch(() => undefined);
    }
}

main().then(
    () => process.exit(0),
    (e) => {
        const message = e instanceof Error ? e.message : String(e);
        if (json) process.stdout.write(JSON.stringify({ ok: false, error: message }) + '\n');
        else process.stderr.write(`demo failed: ${message}\n`);
        process.exit(1);
    },
);
