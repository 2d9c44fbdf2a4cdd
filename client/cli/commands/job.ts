/**
 * `cocoon job run|result|accept|cancel`: confidential jobs from the command line, on the client SDK (client/sdk).
 * `cocoon job status` (read-only) lives in status.ts.
 *
 * The network comes from the network file (--network, env COCOON_NETWORK, default .cocoon/network.json written by
 * `cocoon up`), the wallet from --wallet-seed (env COCOON_WALLET_SEED) or, on a local network, the file's dev
 * client wallet. Result keys are kept in files readable by the user only: <keys-dir>/<job>.json (default
 * ~/.cocoon/keys, mode 0600), written before anything is paid; `job result` and `job accept` read them back (or
 * --result-key-file).
 */
import * as fs from 'fs';
import { fromNano, toNano } from '@ton/core';
import { randomBytes } from 'crypto';
import { ChainClient, WalletSender } from '../../../protocol/chain';
import { generateX25519KeyPair } from '../../../protocol/envelope';
import { DEFAULT_NETWORK_FILE, NetworkFile, NetworkFileError, readNetworkFile, walletFromSeed } from '../../../protocol/network-file';
import { CocoonClient, CocoonError, JobHandle, JobResult, ProgressEvent } from '../../sdk';
import { defaultKeysDir, jobKeyFile, loadResultKey, saveJobResultKey, savePendingResultKey } from '../../sdk/keystore';
import { Command, CommandIO, OptionSpec, ParsedArgs, UsageError } from '../command';

const SIMULATED_NOTE = 'simulated TEE: no hardware protection (development networks only)';

const networkOptions: OptionSpec[] = [
    { name: 'network', type: 'string', description: 'network file (endpoint, registry, API, TEE trust anchor)', env: 'COCOON_NETWORK', default: DEFAULT_NETWORK_FILE },
    { name: 'wallet-seed', type: 'string', description: "client wallet seed, 32 bytes hex (default: the network file's dev client wallet)", env: 'COCOON_WALLET_SEED' },
    { name: 'keys-dir', type: 'string', description: 'where result keys are kept, one 0600 file per job (default ~/.cocoon/keys)', env: 'COCOON_KEYS_DIR' },
];

const jobOption: OptionSpec = { name: 'job', type: 'string', description: 'the job: escrow address, or job id', required: true };

interface Session {
    network: NetworkFile;
    client: CocoonClient;
    wallet: WalletSender;
    keysDir: string;
}

function open(args: ParsedArgs, opts: { needWallet: boolean }): Session {
    const file = String(args.options.network);
    let network: NetworkFile;
    try {
        network = readNetworkFile(file);
    } catch (e) {
        if (e instanceof NetworkFileError) throw new UsageError(e.message);
        throw e;
    }
    const chain = new ChainClient({ endpoint: network.endpoint });
    const seed = (args.options['wallet-seed'] as string | undefined) ?? network.devWallets?.client;
    let wallet: WalletSender;
    if (seed) {
        try {
            wallet = walletFromSeed(chain, seed);
        } catch (e) {
            throw new UsageError(`--wallet-seed (or COCOON_WALLET_SEED): ${(e as Error).message}`);
        }
    } else if (opts.needWallet) {
        throw new UsageError(`no client wallet: pass --wallet-seed <hex> or set COCOON_WALLET_SEED (${file} has no dev client wallet)`);
    } else {
        wallet = walletFromSeed(chain, randomBytes(32).toString('hex')); // reads only: never sends
    }
    const client = new CocoonClient({ network, wallet, chain });
    return { network, client, wallet, keysDir: (args.options['keys-dir'] as string | undefined) ?? defaultKeysDir() };
}

function parseTon(value: unknown, what: string): bigint {
    const text = String(value);
    if (!/^\d+(\.\d{1,9})?$/.test(text)) throw new UsageError(`${what} must be an amount of TON such as 0.5, got ${JSON.stringify(text)}`);
    const n = toNano(text);
    if (n <= 0n) throw new UsageError(`${what} must be more than 0 TON`);
    return n;
}

const ton = (n: bigint) => `${fromNano(n)} TON`;
const seconds = (ms: number) => `${(ms / 1000).toFixed(1).padStart(5)} s`;

/** Prints a failure (one JSON object with --json) and returns exit code 1. Usage errors go on to main (exit 2). */
function fail(io: CommandIO, args: ParsedArgs, command: string, e: unknown, extra: Record<string, unknown> = {}): number {
    if (e instanceof UsageError) throw e;
    // Anything but a CocoonError comes from the chain client or the network (messages carry no job data).
    const err = e instanceof CocoonError ? e.toJSON() : { code: 'ERROR', message: e instanceof Error ? e.message : String(e), hint: 'check the endpoint and API in the network file, then retry' };
    if (args.json) io.out(JSON.stringify({ ok: false, ...extra, error: err }));
    else io.error(`cocoon ${command}: ${err.code}: ${err.message}${err.hint ? `\n  what to do: ${err.hint}` : ''}`);
    return 1;
}

/** Human lines for a result: OCR text, VAD segments, tensor outputs. */
function describeOutput(output: unknown): string[] {
    const o = output as Record<string, unknown> | null;
    if (!o || typeof o !== 'object') return ['  result      (not JSON)'];
    if (typeof o.text === 'string') {
        const lines = Array.isArray(o.lines) ? o.lines.length : 0;
        return [`  result      recognized text: ${JSON.stringify(o.text)} (${lines} line${lines === 1 ? '' : 's'})`];
    }
    if (Array.isArray(o.segments)) {
        const segs = o.segments as { start: number; end: number }[];
        return [`  result      speech segments: ${segs.length ? segs.map((s) => `${s.start.toFixed(2)}–${s.end.toFixed(2)} s`).join(', ') : 'none'}${typeof o.durationSec === 'number' ? ` of ${o.durationSec.toFixed(2)} s` : ''}`];
    }
    if (o.outputs && typeof o.outputs === 'object') {
        return Object.entries(o.outputs as Record<string, { dtype: string; shape: number[]; data: unknown }>).map(([name, t]) => {
            const head = Array.isArray(t.data) ? t.data.slice(0, 4).map((v) => (typeof v === 'number' ? Number(v.toFixed(4)) : v)).join(', ') + (t.data.length > 4 ? ', …' : '') : `${String(t.data).length} base64 chars`;
            return `  result      tensor ${name}: ${t.dtype}[${t.shape.join('×')}] = [${head}]`;
        });
    }
    return ['  result      ' + JSON.stringify(o).slice(0, 200)];
}

function resultLines(r: JobResult): string[] {
    return [
        ...describeOutput(r.output),
        `  provider    ${r.provider.toString()}, price ${ton(r.price)}`,
        `  receipt     ${r.receiptHash} (escrow tx ${r.receiptTx.slice(0, 16)}…), output ${r.outputCommitment.slice(0, 16)}…`,
        ...r.verifications.map((v) => `  ✓ ${v}`),
    ];
}

function writeOut(file: string | undefined, r: JobResult): void {
    if (file) fs.writeFileSync(file, r.bytes, { mode: 0o600 });
}

/** Durations between the lifecycle stages. */
function timings(stages: Map<string, number>): Record<string, number> {
    const span = (from: string, to: string) => (stages.has(from) && stages.has(to) ? stages.get(to)! - stages.get(from)! : undefined);
    const t: Record<string, number | undefined> = {
        verifyProviders: span('verifying', 'providers-verified'),
        encrypt: span('encrypting', 'uploading'),
        upload: span('uploading', 'opening'),
        open: span('opening', 'opened'),
        claim: span('opened', 'claimed'),
        run: span('claimed', 'committed'),
        verifyResult: span('committed', 'verified'),
        settle: span('verified', 'settled'),
        total: Math.max(...stages.values()),
    };
    return Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)) as Record<string, number>;
}

function progressLine(p: ProgressEvent, model: string): string | undefined {
    const d = p.detail ?? {};
    switch (p.stage) {
        case 'verifying':
            return `verifying providers of ${model} against the chain`;
        case 'providers-verified':
            return `${d.verified} provider(s) verified, ${d.rejected} rejected; candidates: ${(d.candidates as string[]).join(', ')}${d.simulatedTee ? ` — ${SIMULATED_NOTE}` : ''}`;
        case 'encrypting':
            return `encrypting ${d.bytes} bytes for ${d.recipients} enclave(s)`;
        case 'uploading':
            return `uploading the ${d.bytes}-byte envelope (${String(d.inputCommitment).slice(0, 16)}…)`;
        case 'opening':
            return `opening the escrow (max price ${ton(BigInt(String(d.maxPrice)))})`;
        case 'opened':
            return `opened job ${d.jobId} at ${d.job}`;
        case 'claimed':
            return `claimed by ${d.provider} at ${ton(BigInt(String(d.price)))}`;
        case 'committed':
            return `committed (output ${String(d.outputCommitment).slice(0, 16)}…)`;
        case 'verified':
            return `verified (${d.checks} checks) and decrypted`;
        case 'settled':
            return 'settled: the provider is paid, the rest is refunded';
        default:
            return undefined;
    }
}

export const jobRun: Command = {
    path: ['job', 'run'],
    summary: 'Run a confidential job: encrypt the input for attested enclaves, pay into escrow, verify and decrypt the result',
    usage: '--model ocr|vad|tensor|<hash> --input <file> [--max-price <TON>] [--deadline <s>] [--candidates N] [--no-accept] [--out <file>] [--json]',
    example: 'cocoon job run --model ocr --input demo/assets/ocr-confidential.png',
    options: [
        { name: 'model', type: 'string', description: 'ocr, vad, tensor, a model name from the network file, or a 64-hex model hash', required: true },
        { name: 'input', type: 'string', description: 'input file (image for ocr, 16 kHz WAV for vad, tensor JSON for tensor)', required: true },
        { name: 'max-price', type: 'string', description: 'most you pay the provider, TON (default: the highest price among the chosen candidates)' },
        { name: 'deadline', type: 'number', description: 'seconds the provider has to commit the result', default: 600 },
        { name: 'candidates', type: 'number', description: 'how many verified providers may claim the job (cheapest first, at most 4)', default: 2 },
        { name: 'no-accept', type: 'boolean', description: 'verify the result but do not accept it (accept later with `cocoon job accept`)' },
        { name: 'out', type: 'string', description: 'also write the decrypted result (JSON) to this file' },
        { name: 'timeout', type: 'number', description: 'seconds to wait for the result (default: until the deadline)' },
        ...networkOptions,
    ],
    async run(args, io) {
        const inputFile = String(args.options.input);
        let input: Buffer;
        try {
            input = fs.readFileSync(inputFile);
        } catch (e) {
            throw new UsageError(`cannot read --input ${inputFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        const maxPrice = args.options['max-price'] !== undefined ? parseTon(args.options['max-price'], '--max-price') : undefined;
        const s = open(args, { needWallet: true });
        const model = String(args.options.model);
        if (s.network.tee.type === 'simulated') io.progress(`WARNING: ${SIMULATED_NOTE}`);
        const stages = new Map<string, number>();
        const onProgress = (p: ProgressEvent) => {
            stages.set(p.stage, p.elapsedMs);
            const line = progressLine(p, model);
            if (line) io.progress(`[${seconds(p.elapsedMs)}] ${line}`);
        };
        const keys = generateX25519KeyPair();
        const pending = savePendingResultKey(s.keysDir, keys);
        let job: JobHandle;
        let balanceBefore: bigint;
        try {
            balanceBefore = await s.wallet.getBalance();
            job = await s.client.submit({
                model,
                input,
                maxPrice,
                deadlineSeconds: args.options.deadline as number,
                candidates: args.options.candidates as number,
                resultKeyPair: keys,
                onProgress,
            });
        } catch (e) {
            // Nothing was paid unless OpenJob was sent: then the pending key may belong to a job, so keep it.
            if (!(e instanceof CocoonError && e.code === 'OPEN_FAILED')) fs.rmSync(pending, { force: true });
            return fail(io, args, 'job run', e, e instanceof CocoonError && e.code === 'OPEN_FAILED' ? { resultKeyFile: pending } : {});
        }
        const keyFile = saveJobResultKey(s.keysDir, keys, { job: job.address.toRawString(), jobId: String(job.jobId), registry: s.network.registry, networkId: s.network.networkId, model: job.model.hash }, pending);
        const ids = { jobId: Number(job.jobId), job: job.address.toString(), resultKeyFile: keyFile };
        try {
            const timeoutS = args.options.timeout as number | undefined;
            const r = await job.result(timeoutS !== undefined ? { timeoutMs: timeoutS * 1000 } : {});
            writeOut(args.options.out as string | undefined, r);
            let state = 'Committed';
            if (!args.options['no-accept']) state = (await job.accept()).state;
            job.close();
            const paid = balanceBefore - (await s.wallet.getBalance());
            const settled = state === 'Settled';
            if (args.json) {
                io.out(JSON.stringify({
                    ok: true,
                    ...ids,
                    state,
                    model: job.model.name ?? job.model.hash,
                    provider: r.provider.toString(),
                    price: String(r.price),
                    feesNanoTon: settled ? { clientTotal: Number(paid), price: Number(r.price), network: Number(paid - r.price) } : { clientSoFar: Number(paid) },
                    timingsMs: timings(stages),
                    verifications: r.verifications,
                    receipt: { hash: r.receiptHash, tx: r.receiptTx, outputCommitment: r.outputCommitment },
                    tee: s.network.tee.type === 'simulated' ? SIMULATED_NOTE : s.network.tee.type,
                    output: r.output,
                }));
            } else {
                io.out(`Job #${job.jobId} — ${(job.model.name ?? job.model.hash).toUpperCase()} — ${state}`);
                io.out(`  escrow      ${job.address.toString()}`);
                for (const l of resultLines(r)) io.out(l);
                if (settled) io.out(`  client paid ${ton(paid)} = price ${ton(r.price)} + ${ton(paid - r.price)} network fees`);
                else io.out(`  not accepted yet: cocoon job accept --job ${job.address.toString()} (the provider may settle after the dispute window)`);
                io.out(`  timings     ${Object.entries(timings(stages)).map(([k, v]) => `${k} ${v} ms`).join(', ')}`);
                io.out(`  result key  ${keyFile}`);
            }
            return 0;
        } catch (e) {
            job.close();
            return fail(io, args, 'job run', e, ids);
        }
    },
};

async function handleFor(s: Session, args: ParsedArgs, withKey: boolean): Promise<JobHandle> {
    const address = await s.client.jobAddress(String(args.options.job));
    if (!withKey) return s.client.job(address);
    const file = (args.options['result-key-file'] as string | undefined) ?? jobKeyFile(s.keysDir, address);
    const key = loadResultKey(file);
    return s.client.job(address, { resultKey: key });
}

const resultKeyOption: OptionSpec = { name: 'result-key-file', type: 'string', description: 'the result key file of this job (default <keys-dir>/<job>.json, written by `cocoon job run`)' };

export const jobResult: Command = {
    path: ['job', 'result'],
    summary: "Fetch a job's result, verify it against the chain (commitment, enclave receipt, attested key) and decrypt it",
    usage: '--job <address|id> [--result-key-file <file>] [--out <file>] [--json]',
    example: 'cocoon job result --job EQD…',
    options: [jobOption, resultKeyOption, { name: 'out', type: 'string', description: 'write the decrypted result (JSON) to this file' }, { name: 'timeout', type: 'number', description: 'seconds to wait for the result', default: 60 }, ...networkOptions],
    async run(args, io) {
        const s = open(args, { needWallet: false });
        try {
            const job = await handleFor(s, args, true);
            const r = await job.result({ timeoutMs: (args.options.timeout as number) * 1000 });
            job.close();
            writeOut(args.options.out as string | undefined, r);
            const st = job.lastSnapshot;
            if (args.json) {
                io.out(JSON.stringify({ ok: true, jobId: Number(job.jobId), job: job.address.toString(), state: st?.state, provider: r.provider.toString(), price: String(r.price), verifications: r.verifications, receipt: { hash: r.receiptHash, tx: r.receiptTx, outputCommitment: r.outputCommitment }, output: r.output }));
            } else {
                io.out(`Job #${job.jobId} — ${st?.state ?? ''}`);
                for (const l of resultLines(r)) io.out(l);
            }
            return 0;
        } catch (e) {
            return fail(io, args, 'job result', e);
        }
    },
};

export const jobAccept: Command = {
    path: ['job', 'accept'],
    summary: 'Accept a committed job: verifies the result first (needs its result key), then pays the provider at once',
    usage: '--job <address|id> [--result-key-file <file>] [--unverified] [--json]',
    example: 'cocoon job accept --job EQD…',
    options: [jobOption, resultKeyOption, { name: 'unverified', type: 'boolean', description: 'accept without checking the result (when the result key is lost); not recommended' }, ...networkOptions],
    async run(args, io) {
        const s = open(args, { needWallet: true });
        try {
            const job = await handleFor(s, args, !args.options.unverified);
            let checks: string[] = [];
            if (!args.options.unverified) checks = (await job.result({ timeoutMs: 30_000 })).verifications;
            const st = await job.accept();
            job.close();
            if (args.json) io.out(JSON.stringify({ ok: true, jobId: Number(job.jobId), job: job.address.toString(), state: st.state, verifications: checks }));
            else io.out(`Job #${job.jobId} ${st.state}${checks.length ? ` (result verified: ${checks.length} checks)` : ' (result NOT verified)'}`);
            return 0;
        } catch (e) {
            return fail(io, args, 'job accept', e);
        }
    },
};

export const jobCancel: Command = {
    path: ['job', 'cancel'],
    summary: 'Cancel an Open job (no provider claimed it yet): the escrow refunds the payment',
    usage: '--job <address|id> [--json]',
    example: 'cocoon job cancel --job EQD…',
    options: [jobOption, ...networkOptions],
    async run(args, io) {
        const s = open(args, { needWallet: true });
        try {
            const job = await handleFor(s, args, false);
            const before = await s.wallet.getBalance();
            const st = await job.cancel();
            job.close();
            const after = await s.wallet.getBalance();
            if (args.json) io.out(JSON.stringify({ ok: true, jobId: Number(job.jobId), job: job.address.toString(), state: st.state, refundedNanoTon: Number(after - before) }));
            else io.out(`Job #${job.jobId} ${st.state}: ${ton(after - before)} back in ${s.wallet.address.toString()} (net of fees)`);
            return 0;
        } catch (e) {
            return fail(io, args, 'job cancel', e);
        }
    },
};

/** For the registry: every command of this module. */
export const jobCommands: Command[] = [jobRun, jobResult, jobAccept, jobCancel];

