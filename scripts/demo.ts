/**
 * `npm run demo` — two confidential jobs through the whole network, on one machine.
 *
 * It starts what `cocoon up` starts (localnet/up.ts): a local TON chain (the devnet: the TVM emulator behind the TON
 * HTTP API) in this process, a private redis-server (or REDIS_URL), the registry deployed and configured by
 * governance, two staked providers, the orchestrator and the two providers' workers as child processes (SIMULATED
 * TEE: no hardware protection on this machine). Then a developer, through the client SDK (client/sdk), checks the
 * providers' attestations against the chain, and runs an OCR job (an image with known text) and a VAD job (a
 * recording): each input is encrypted to both candidates' enclaves, uploaded, paid into an escrow; the orchestrator
 * routes the job to a worker over BullMQ; the worker runs it inside its enclave with onnxruntime, claims it, uploads
 * the encrypted result and posts the enclave-signed receipt; the client verifies and decrypts the result and
 * accepts it, which settles the escrow.
 *
 *   npm run demo              readable receipt
 *   npm run demo -- --json    one JSON object
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Address, fromNano } from '@ton/core';
import { ChainClient } from '../protocol/chain';
import { walletFromSeed } from '../protocol/network-file';
import { CocoonClient, findProviderPayout, JobResult, ProgressEvent } from '../client/sdk';
import { startLocalNetwork, LocalNetwork } from '../localnet/up';

const json = process.argv.includes('--json');
const ROOT = path.join(__dirname, '..');

function say(line = '') {
    if (!json) process.stdout.write(line + '\n');
}
function step(line: string) {
    if (!json) process.stderr.write(`  … ${line}\n`);
}
const ton = (n: bigint) => `${fromNano(n)} TON`;

interface DemoJob {
    task: 'ocr' | 'vad';
    file: string;
    expected?: string;
}

const JOBS: DemoJob[] = [
    { task: 'ocr', file: 'ocr-confidential.png', expected: 'CONFIDENTIAL 42' },
    { task: 'vad', file: 'speech-16k.wav' },
];

async function main(): Promise<number> {
    const t0 = Date.now();
    say('Cocoon on TON — confidential inference demo (local devnet, simulated TEE: no hardware protection)\n');
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-demo-'));
    let net: LocalNetwork | undefined;
    const stop = async () => {
        await net?.stop();
        fs.rmSync(workDir, { recursive: true, force: true });
    };
    const onSignal = () => void stop().finally(() => process.exit(130));
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
        step('starting the network: chain, Redis, registry, 2 staked providers, orchestrator, 2 workers');
        net = await startLocalNetwork({ workers: 2, networkFile: path.join(workDir, 'network.json'), log: step });
        const startupMs = Date.now() - t0;
        const chain = new ChainClient({ endpoint: net.network.endpoint });
        const clientWallet = walletFromSeed(chain, net.bootstrap.client.seed);
        const client = new CocoonClient({ network: net.network, wallet: clientWallet, chain });
        const providerName = (owner: Address) => net!.bootstrap.providers.find((p) => p.address.equals(owner))?.name ?? owner.toString();

        // ------------------------------------------------------------------ attestation
        step('client: verifying the providers’ attestations against the chain');
        const attestation: string[] = [];
        for (const task of ['ocr', 'vad']) {
            const list = await client.listProviders(task);
            if (list.verified.length === 0) throw new Error(`no attested provider serves ${task}: ${list.rejected.map((r) => r.error).join('; ')}`);
            for (const p of list.verified) for (const c of p.verification.checks) attestation.push(`${task} @ ${providerName(p.owner)}: ${c.name}`);
        }

        // ------------------------------------------------------------------ jobs
        const jobs = [];
        for (const spec of JOBS) {
            const input = fs.readFileSync(path.join(ROOT, 'demo', 'assets', spec.file));
            step(`${spec.task}: submitting ${spec.file} (${input.length} bytes)`);
            const stages = new Map<string, number>();
            const onProgress = (p: ProgressEvent) => stages.set(p.stage, p.elapsedMs);
            const clientBefore = await clientWallet.getBalance();
            const treasuryBefore = await chain.getBalance(net.bootstrap.treasury.address);
            const providerWallets = await Promise.all(net.bootstrap.providers.map((p) => chain.getBalance(p.address)));

            const handle = await client.submit({ model: spec.task, input, onProgress });
            const result: JobResult = await handle.result({ timeoutMs: 60_000 });
            await handle.accept({ timeoutMs: 60_000 });
            const final = await handle.status();
            handle.close();
            const dispatch = await client.api.dispatchStatus(handle.address.toRawString()).catch(() => null);

            const clientPaid = clientBefore - (await clientWallet.getBalance());
            const treasuryGot = (await chain.getBalance(net.bootstrap.treasury.address)) - treasuryBefore;
            const pi = net.bootstrap.providers.findIndex((p) => p.address.equals(result.provider));
            // the worker claims with the receipt, so the job pays the provider's wallet directly (no lock, no stake hop)
            const payout = await findProviderPayout(chain, handle.address);
            if (!payout) throw new Error(`job ${handle.jobId} settled without paying its provider`);
            const providerEarned = payout.pay;
            // what the claim cost the provider's wallet, net of the unused gas that came back with the pay
            const providerWalletSpent = providerWallets[pi] - (await chain.getBalance(result.provider)) + (payout.via === 'wallet' ? payout.pay : 0n);
            const span = (a: string, b: string) => (stages.has(a) && stages.has(b) ? stages.get(b)! - stages.get(a)! : undefined);
            const timingsMs = Object.fromEntries(
                Object.entries({
                    verifyProviders: span('verifying', 'providers-verified'),
                    encryptAndUpload: span('encrypting', 'opening'),
                    openEscrow: span('opening', 'opened'),
                    // the worker claims with the receipt attached: claimed and committed in one transaction
                    routeRunAndCommit: span('opened', 'committed'),
                    verifyAndDecrypt: span('committed', 'verified'),
                    settle: span('verified', 'settled'),
                    total: Math.max(...stages.values()),
                }).filter(([, v]) => v !== undefined),
            ) as Record<string, number>;
            const output = result.output as { text?: string; segments?: { start: number; end: number }[]; durationSec?: number };
            if (spec.expected && output.text?.replace(/\s+/g, ' ').trim() !== spec.expected) throw new Error(`OCR read ${JSON.stringify(output.text)}, expected ${JSON.stringify(spec.expected)}`);
            if (spec.task === 'vad' && !(output.segments && output.segments.length > 0)) throw new Error('VAD found no speech in the recording');
            jobs.push({
                task: spec.task,
                jobId: Number(handle.jobId),
                job: handle.address.toString(),
                provider: providerName(result.provider),
                state: final.state,
                verified: true,
                verifications: result.verifications,
                receiptHash: result.receiptHash,
                receiptTx: result.receiptTx,
                outputCommitment: result.outputCommitment,
                dispatch: dispatch ? { state: dispatch.state, attempts: dispatch.attempts?.length ?? 0 } : null,
                price: ton(result.price),
                feesNanoTon: {
                    clientTotal: Number(clientPaid),
                    price: Number(result.price),
                    clientNetworkFees: Number(clientPaid - result.price),
                    protocolFeeToTreasury: Number(treasuryGot),
                    providerEarned: Number(providerEarned),
                    providerGas: Number(providerWalletSpent),
                },
                timingsMs,
                ...(spec.task === 'ocr' ? { text: output.text, expectedText: spec.expected } : {}),
                ...(spec.task === 'vad' ? { segments: output.segments, durationSec: output.durationSec } : {}),
            });
        }

        const ok = jobs.every((j) => j.state === 'Settled' && j.verified);
        const report = {
            ok,
            network: { devnet: net.network.endpoint, networkId: net.network.networkId, registry: net.network.registry, api: net.api, redis: net.redisUrl },
            tee: 'simulated (no hardware protection)',
            providers: net.providers.map((p) => ({ name: p.name, owner: p.owner, stakeContract: p.stakeContract })),
            attestationChecks: attestation,
            jobs,
            startupMs,
            totalMs: Date.now() - t0,
        };
        if (json) {
            process.stdout.write(JSON.stringify(report, null, 2) + '\n');
        } else {
            say(`network     registry ${report.network.registry} (network ${report.network.networkId})`);
            say(`            chain ${report.network.devnet}, orchestrator API ${report.network.api}`);
            for (const p of report.providers) say(`provider    ${p.name}  ${p.owner}`);
            say(`attestation ${attestation.length} checks passed (quote ↔ chain ↔ allowlists ↔ enclave keys), simulated TEE: no hardware protection`);
            for (const j of jobs) {
                say('');
                say(`── ${j.task.toUpperCase()} job #${j.jobId}: ${j.state}, run by ${j.provider}${j.dispatch ? ` (routed by the orchestrator, ${j.dispatch.attempts} attempt${j.dispatch.attempts === 1 ? '' : 's'})` : ''}`);
                say(`   escrow        ${j.job}`);
                say(`   receipt tx    ${j.receiptTx}`);
                if (j.task === 'ocr') say(`   recognized    ${JSON.stringify(j.text)}`);
                if (j.task === 'vad') say(`   speech        ${j.segments!.map((s) => `${s.start.toFixed(2)}–${s.end.toFixed(2)} s`).join(', ')} of ${j.durationSec?.toFixed(2)} s`);
                for (const v of j.verifications) say(`   ✓ ${v}`);
                const f = j.feesNanoTon;
                say(`   client paid   ${ton(BigInt(f.clientTotal))} = price ${j.price} + network fees ${ton(BigInt(f.clientNetworkFees))}`);
                say(`   provider      paid ${ton(BigInt(f.providerEarned))} (price − protocol fee) straight to its wallet; the claim, which carries the receipt, cost it ${ton(BigInt(f.providerGas))} of gas`);
                say(`   treasury      ${ton(BigInt(f.protocolFeeToTreasury))} protocol fee`);
                say(`   timings       ${Object.entries(j.timingsMs).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
            }
            say('');
            say(`${ok ? 'OK' : 'FAILED'}: ${jobs.length} confidential jobs run, verified and settled in ${((Date.now() - t0) / 1000).toFixed(1)} s (network start ${(startupMs / 1000).toFixed(1)} s)`);
        }
        return ok ? 0 : 1;
    } finally {
        step('stopping workers, orchestrator, Redis and the chain');
        await stop();
    }
}

main().then(
    (code) => process.exit(code),
    (e) => {
        if (json) process.stdout.write(JSON.stringify({ ok: false, error: e instanceof Error ? e.message : String(e) }) + '\n');
        else process.stderr.write(`demo failed: ${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(1);
    },
);
