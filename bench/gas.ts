/**
 * Gas and fees of the on-chain protocol in the sandbox (the TVM emulator with @ton/sandbox's default config).
 *
 *   npm run bench:gas [-- --jobs 1000 --providers 50]
 *
 * Writes bench/results/gas.json: per-message gas and fees, one whole job as the worker runs it on a registry that
 * deploys jobs with a library cell for their code (open → claim carrying the receipt → accept), the same for the
 * two-step path (open → claim → SubmitReceipt → accept), for a registry that deploys the code itself and for a
 * network pricing gas and forwarding 6 times lower than the sandbox, and the growth of a job's lifecycle gas between
 * the first and the last of `--jobs` jobs, with `--providers`
 * staked providers and every allowlist filled to its cap, which shows that per-job cost does not grow with the
 * network (no map grows with jobs or providers).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Address, beginCell, Cell, storeMessage, toNano } from '@ton/core';
import { SendMessageResult } from '@ton/sandbox';
import { tactConstant } from '../wrappers';
import { createNetwork, hash256, MODEL_OCR, MODEL_VAD, MEASUREMENT } from '../tests/contracts/fixtures';
import { runLifecycle } from '../tests/contracts/lifecycle';
import { dividedPricesConfig } from './priceConfig';

/** The dividedPricesLifecycle row: what a job costs where gas and forwarding are priced 6 times lower. */
const PRICE_DIVISOR = 6n;

function arg(name: string, fallback: number): number {
    const i = process.argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const v = Number(process.argv[i + 1]);
    if (!Number.isInteger(v) || v < 2) throw new Error(`--${name} must be an integer >= 2, got ${process.argv[i + 1]}`);
    return v;
}

async function main() {
    const jobs = arg('jobs', 1000);
    const providerCount = arg('providers', 50);
    const started = Date.now();
    const net = await createNetwork();

    // fill every allowlist to its cap
    const maxMeasurements = Number(tactConstant('MaxMeasurements'));
    const maxModels = Number(tactConstant('MaxModels'));
    for (let i = 1; i < maxMeasurements; i++) await net.gov.allowMeasurement(hash256('bench-measurement-' + i));
    for (let i = 2; i < maxModels; i++) await net.gov.allowModel(hash256('bench-model-' + i));
    const counts = await net.registry.getAllowlistCounts();
    process.stderr.write(`allowlists: ${counts.measurements} measurements, ${counts.models} models\n`);

    const providers = [];
    for (let i = 0; i < providerCount; i++) {
        providers.push(await net.createProvider('bench-' + i, { stake: toNano('1000'), models: [[MODEL_OCR, toNano('1')], [MODEL_VAD, toNano('0.5')]], measurement: MEASUREMENT }));
    }
    const clients = [];
    for (let i = 0; i < 10; i++) clients.push(await net.createClient('bench-' + i));
    process.stderr.write(`${providerCount} providers staked and registered\n`);

    const first = await runLifecycle(net, providers[0], clients[0]);
    for (let i = 1; i < jobs - 1; i++) {
        await runLifecycle(net, providers[i % providerCount], clients[i % clients.length]);
        if (i % 100 === 0) process.stderr.write(`  ${i}/${jobs} jobs\n`);
    }
    const last = await runLifecycle(net, providers[(jobs - 1) % providerCount], clients[(jobs - 1) % clients.length]);
    if ((await net.registry.getJobCount()) !== BigInt(jobs)) throw new Error('job count mismatch');
    // the two-step path (a provider that takes the lock before running the job), for comparison
    const twoStep = await runLifecycle(net, providers[0], clients[0], 'twoStep');
    // a registry that deploys every job with the code itself instead of the library cell, for comparison
    const inlineNet = await createNetwork({ jobCode: 'inline' });
    const inlineProvider = await inlineNet.createProvider('bench-inline', { stake: toNano('1000'), models: [[MODEL_OCR, toNano('1')], [MODEL_VAD, toNano('0.5')]], measurement: MEASUREMENT });
    const inline = await runLifecycle(inlineNet, inlineProvider, await inlineNet.createClient('bench-inline'));
    // the same job on a network whose gas and forwarding prices are a sixth of the sandbox's
    const cheapNet = await createNetwork({ config: dividedPricesConfig(net.blockchain.config, PRICE_DIVISOR) });
    const cheapProvider = await cheapNet.createProvider('bench-cheap', { stake: toNano('1000'), models: [[MODEL_OCR, toNano('1')], [MODEL_VAD, toNano('0.5')]], measurement: MEASUREMENT });
    const cheap = await runLifecycle(cheapNet, cheapProvider, await cheapNet.createClient('bench-cheap'));

    const result = {
        benchmark: 'gas',
        jobCode: 'library: jobs are deployed with a library cell for the JobEscrow code, published in the masterchain by a CodeLibrarian',
        openJobFees: openJobFees(first.steps.open, net.registry.address),
        command: `npm run bench:gas -- --jobs ${jobs} --providers ${providerCount}`,
        config: 'sandbox default (@ton/sandbox 0.41): ' + '400 nanoTON per gas unit on the basechain',
        operations: Object.fromEntries(
            Object.entries(first.operations).map(([k, v]) => [k, { gas: v.gas, feesNanoTon: Number(v.feesNanoTon) }]),
        ),
        steps: Object.fromEntries(
            Object.entries(first.perStep).map(([k, v]) => [k, { gas: v.gas, gasAllTransactions: v.gasAllTransactions, feesNanoTon: Number(v.feesNanoTon) }]),
        ),
        lifecycleGas: first.total.gas,
        lifecycleGasAllTransactions: first.total.gasAllTransactions,
        lifecycleFeesNanoTon: Number(first.total.feesNanoTon),
        lifecyclePath: 'claim with the receipt attached (the worker\'s path): OpenJob, InitJob, ClaimJob, OfferClaim, AcceptResult (the job pays the provider\'s wallet: no lock, no stake transaction)',
        twoStepLifecycle: {
            path: 'claim, then SubmitReceipt',
            gas: twoStep.total.gas,
            gasAllTransactions: twoStep.total.gasAllTransactions,
            feesNanoTon: Number(twoStep.total.feesNanoTon),
            operations: Object.fromEntries(Object.entries(twoStep.operations).map(([k, v]) => [k, { gas: v.gas, feesNanoTon: Number(v.feesNanoTon) }])),
        },
        inlineCodeLifecycle: {
            jobCode: 'inline: every deployment carries the JobEscrow code (first job of a fresh network)',
            gas: inline.total.gas,
            gasAllTransactions: inline.total.gasAllTransactions,
            feesNanoTon: Number(inline.total.feesNanoTon),
            openJobFees: openJobFees(inline.steps.open, inlineNet.registry.address),
        },
        dividedPricesLifecycle: {
            prices: `the sandbox's gas and forwarding prices divided by ${PRICE_DIVISOR} (basechain: ${(400 / Number(PRICE_DIVISOR)).toFixed(1)} nanoTON per gas unit, a ${Math.round(400_000 / Number(PRICE_DIVISOR))} nanoTON forwarding lump); everything else as the default config`,
            gas: cheap.total.gas,
            feesNanoTon: Number(cheap.total.feesNanoTon),
            meetsFeeTarget: cheap.total.feesNanoTon <= 5000000n,
        },
        lastJobLifecycleGas: last.total.gas,
        gasGrowthRatio: Number((last.total.gas / first.total.gas).toFixed(4)),
        jobs,
        providers: providerCount,
        allowlists: { measurements: Number(counts.measurements), models: Number(counts.models) },
        targets: { lifecycleGas: 40000, lifecycleFeesNanoTon: 5000000, gasGrowthRatio: 1.02 },
        meetsTargets: {
            lifecycleGas: first.total.gas <= 40000,
            lifecycleFeesNanoTon: first.total.feesNanoTon <= 5000000n,
            gasGrowthRatio: last.total.gas / first.total.gas <= 1.02,
        },
        notes:
            'lifecycleGas counts the protocol contracts (registry, job escrow, provider stake); lifecycleGasAllTransactions adds the ' +
            "sandbox's treasury wallets. Fees include gas, storage and forwarding of every message in the job's traces.",
        machine: { cpus: os.cpus().length, node: process.version },
        elapsedMs: Date.now() - started,
        timestamp: new Date().toISOString(),
    };
    const out = path.join(__dirname, 'results', 'gas.json');
    fs.mkdirSync(path.dirname(out), { recursive: true });
    fs.writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
    console.log(JSON.stringify(result, null, 2));
}

/** Where OpenJob's fee goes: the registry's gas, and forwarding its messages; the deployment carries the job's code. */
function openJobFees(open: SendMessageResult, registry: Address) {
    const tx = open.transactions.find((t) => t.inMessage?.info.dest instanceof Address && t.inMessage.info.dest.equals(registry));
    const d = tx?.description;
    if (!tx || d?.type !== 'generic' || d.computePhase.type !== 'vm' || !d.actionPhase) throw new Error('no OpenJob transaction at the registry');
    const deploy = [...tx.outMessages.values()].find((m) => m.init?.code);
    if (!deploy) throw new Error('OpenJob deployed nothing');
    const size = (root: Cell) => {
        const seen = new Set<string>();
        let bits = 0;
        const walk = (c: Cell) => {
            const h = c.hash().toString('hex');
            if (seen.has(h)) return;
            seen.add(h);
            bits += c.bits.length;
            c.refs.forEach(walk);
        };
        walk(root);
        return { cells: seen.size, bits };
    };
    const message = size(beginCell().store(storeMessage(deploy)).endCell());
    return {
        gasFeesNanoTon: Number(d.computePhase.gasFees),
        forwardFeesNanoTon: Number(d.actionPhase.totalFwdFees ?? 0n),
        deployMessage: message,
        jobCode: size(deploy.init!.code!),
        note: 'forwardFeesNanoTon covers every message and event the registry sent; the deployment message carries the job\'s code (jobCode) as its StateInit',
    };
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
