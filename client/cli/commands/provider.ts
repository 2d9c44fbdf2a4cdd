import * as fs from 'fs';
import { Address, Dictionary, fromNano, OpenedContract } from '@ton/core';
import { Command, CommandIO, OptionSpec, ParsedArgs, UsageError } from '../command';
import { ChainClient, WalletSender } from '../../../protocol/chain';
import { DEFAULT_NETWORK_FILE, NetworkFile, readNetworkFile, walletFromSeed } from '../../../protocol/network-file';
import { SIMULATED_WARNING, verifyQuote } from '../../../protocol/attestation';
import { enclaveReportData } from '../../../protocol/enclave-keys';
import { uint256ToBuffer } from '../../../protocol/receipt';
import { EnclaveRecord, providerEnclave, providerStakeInit, ProviderStake, ProviderState, Registry, tactConstant } from '../../../wrappers';
import { ACTION_VALUE, queryId, REGISTER_VALUE, STAKE_FEE, STAKE_MARGIN } from '../../../scripts/lib/fees';
import { hex256, parseEndpoint, parseHash256, parseHashOrFile, parseTon } from '../../../scripts/lib/validate';
import { when } from '../../../scripts/lib/time';

/**
 * `cocoon provider stake|register|unstake|withdraw`: a provider's own wallet acting on its ProviderStake contract.
 * Each command checks on chain first (registry and contract deployed, balance, allowlists, cooldown) so that a
 * message the contracts would reject is never sent, then waits until the change is visible and prints the new state.
 *
 * The first half of this file is the wallet-and-chain context shared with governance.ts.
 */

// ================================================================ shared with governance.ts

export const walletOptions: OptionSpec[] = [
    { name: 'network', type: 'string', description: `network file giving the endpoint and registry (written by cocoon up; used when it exists: ${DEFAULT_NETWORK_FILE})`, env: 'COCOON_NETWORK' },
    { name: 'endpoint', type: 'string', description: 'TON HTTP API v2 JSON-RPC endpoint (overrides the network file)', env: 'COCOON_ENDPOINT' },
    { name: 'api-key', type: 'string', description: 'API key for the endpoint', env: 'COCOON_API_KEY' },
    { name: 'registry', type: 'string', description: 'registry contract address (overrides the network file)', env: 'COCOON_REGISTRY' },
    { name: 'wallet-seed', type: 'string', description: 'the signing wallet (v4): its 32-byte private key seed in hex', env: 'COCOON_WALLET_SEED', required: true },
    { name: 'timeout', type: 'number', description: 'seconds to wait for the change to show on chain', default: 60 },
];

/** A check before sending failed: nothing was sent. `code` is stable for scripts (printed with --json). */
export class CheckFailed extends Error {
    constructor(
        readonly code: string,
        message: string,
    ) {
        super(message);
        this.name = 'CheckFailed';
    }
}

/** Runs a scripts/lib parser (which throws `--name: …`) and turns its error into a UsageError (exit code 2). */
export function parse<T>(fn: () => T): T {
    try {
        return fn();
    } catch (e) {
        throw new UsageError((e as Error).message);
    }
}

export interface WalletContext {
    chain: ChainClient;
    endpoint: string;
    wallet: WalletSender;
    me: Address;
    /** the network file used, if any */
    network?: NetworkFile;
    timeoutMs: number;
    /** the registry (checked to be deployed and to answer), unless the command runs without one */
    registry?: OpenedContract<Registry>;
    /** throws CheckFailed unless the wallet holds `value` plus a margin for its own fees */
    requireBalance(value: bigint, what: string): Promise<bigint>;
    /** polls until check returns something other than undefined/false, or throws TIMEOUT */
    waitFor<T>(what: string, check: () => Promise<T | undefined | false>): Promise<T>;
}

/** Margin for the wallet's own fees on top of the value it sends. */
export const WALLET_FEE_MARGIN = 20_000_000n; // 0.02 TON

/** --network, else the default network file when it exists and the flags do not already name the chain. */
function loadNetwork(args: ParsedArgs, needsRegistry: boolean): NetworkFile | undefined {
    const given = args.options.network as string | undefined;
    if (given) {
        try {
            return readNetworkFile(given);
        } catch (e) {
            throw new UsageError((e as Error).message);
        }
    }
    if (args.options.endpoint !== undefined && (!needsRegistry || args.options.registry !== undefined)) return undefined;
    if (!fs.existsSync(DEFAULT_NETWORK_FILE)) return undefined;
    try {
        return readNetworkFile(DEFAULT_NETWORK_FILE);
    } catch (e) {
        throw new UsageError((e as Error).message);
    }
}

/** The chain, the signing wallet and (unless withoutRegistry) the registry, from flags, env or the network file. */
export async function connectWallet(args: ParsedArgs, opts: { withoutRegistry?: boolean } = {}): Promise<WalletContext> {
    const network = loadNetwork(args, !opts.withoutRegistry);
    const endpoint = (args.options.endpoint as string | undefined) ?? network?.endpoint;
    if (!endpoint) throw new UsageError(`no chain endpoint: pass --endpoint <url> (and --registry), or --network <file> (start a local network with cocoon up)`);
    if (!/^https?:\/\//.test(endpoint)) throw new UsageError(`--endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
    const timeout = args.options.timeout as number;
    if (!(timeout > 0 && timeout <= 3600)) throw new UsageError(`--timeout must be a number of seconds from 1 to 3600, got ${timeout}`);
    const chain = new ChainClient({ endpoint, apiKey: args.options['api-key'] as string | undefined });
    let wallet: WalletSender;
    try {
        wallet = walletFromSeed(chain, String(args.options['wallet-seed']), { pollIntervalMs: 200 });
    } catch {
        throw new UsageError('--wallet-seed must be a 32-byte private key seed as 64 hex digits (env COCOON_WALLET_SEED)');
    }
    const timeoutMs = timeout * 1000;
    const me = wallet.address;

    const ctx: WalletContext = {
        chain,
        endpoint,
        wallet,
        me,
        network,
        timeoutMs,
        async requireBalance(value, what) {
            const balance = await chain.getBalance(me);
            if (balance < value + WALLET_FEE_MARGIN) {
                throw new CheckFailed(
                    'INSUFFICIENT_BALANCE',
                    `the wallet ${me.toString()} holds ${fromNano(balance)} TON; ${what} needs ${fromNano(value)} TON plus about ${fromNano(WALLET_FEE_MARGIN)} TON of fees: fund the wallet first`,
                );
            }
            return balance;
        },
        async waitFor(what, check) {
            const until = Date.now() + timeoutMs;
            let lastError: unknown;
            for (;;) {
                try {
                    const v = await check();
                    if (v !== undefined && v !== false) return v;
                } catch (e) {
                    lastError = e;
                }
                if (Date.now() >= until) {
                    const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
                    throw new CheckFailed('TIMEOUT', `timed out after ${timeout} s waiting for ${what}${why}: the message was sent but the change is not visible; check the wallet's transactions or raise --timeout`);
                }
                await new Promise((r) => setTimeout(r, 250));
            }
        },
    };
    if (opts.withoutRegistry) return ctx;

    const registryText = (args.options.registry as string | undefined) ?? network?.registry;
    if (!registryText) throw new UsageError('no registry: pass --registry <address>, or --network <file> (start a local network with cocoon up)');
    let registryAddress: Address;
    try {
        registryAddress = Address.parse(registryText);
    } catch {
        throw new UsageError(`--registry is not a TON address: ${JSON.stringify(registryText)}`);
    }
    if (!(await chain.isDeployed(registryAddress))) {
        throw new CheckFailed('REGISTRY_NOT_DEPLOYED', `no registry is deployed at ${registryAddress.toString()} on ${endpoint}: check --registry / --network`);
    }
    const registry = chain.open(Registry.fromAddress(registryAddress));
    try {
        await registry.getNetworkId();
    } catch {
        throw new CheckFailed('NOT_A_REGISTRY', `${registryAddress.toString()} is not a Cocoon registry (its get method networkId failed)`);
    }
    ctx.registry = registry;
    return ctx;
}

/**
 * A Command whose body may throw CheckFailed: printed as `cocoon <path>: <message> [CODE]` (and, with --json, one
 * line `{"ok":false,"error":CODE,"message":…}` on stdout), exit code 1. UsageError keeps its exit code 2.
 */
export function checkedRun(path: string[], body: (args: ParsedArgs, io: CommandIO) => Promise<number>): Command['run'] {
    return async (args, io) => {
        try {
            return await body(args, io);
        } catch (e) {
            if (!(e instanceof CheckFailed)) throw e;
            if (args.json) io.out(JSON.stringify({ ok: false, error: e.code, message: e.message }));
            io.error(`cocoon ${path.join(' ')}: ${e.message} [${e.code}]`);
            return 1;
        }
    };
}

/** One JSON line (bigints as decimal strings) with --json, else readable lines. */
export function printResult(io: CommandIO, json: boolean, data: Record<string, unknown>, lines: string[]): void {
    if (json) io.out(JSON.stringify({ ok: true, ...data }, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    else for (const l of lines) io.out(l);
}

export function noPositionals(args: ParsedArgs): void {
    if (args.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args.positionals[0])}`);
}

// ================================================================ provider commands

const ton = (n: bigint) => `${fromNano(n)} TON`;

/** The wallet's ProviderStake, its address checked against the registry's derivation. */
async function ownStake(ctx: WalletContext): Promise<{ stake: OpenedContract<ProviderStake>; deployed: boolean }> {
    const registry = ctx.registry!;
    const local = await providerStakeInit(registry.address, ctx.me);
    const expected = await registry.getProviderAddress(ctx.me);
    if (!local.address.equals(expected)) {
        throw new CheckFailed(
            'CODE_MISMATCH',
            `the ProviderStake code in build/ does not match registry ${registry.address.toString()} (it derives ${expected.toString()}, the build gives ${local.address.toString()}): rebuild the contracts or use the matching registry`,
        );
    }
    return { stake: ctx.chain.open(local), deployed: await ctx.chain.isDeployed(local.address) };
}

async function requireStake(ctx: WalletContext): Promise<{ stake: OpenedContract<ProviderStake>; state: ProviderState }> {
    const { stake, deployed } = await ownStake(ctx);
    if (!deployed) {
        throw new CheckFailed(
            'NO_PROVIDER_CONTRACT',
            `the wallet ${ctx.me.toString()} has no provider contract in registry ${ctx.registry!.address.toString()} (${stake.address.toString()} is not deployed): run cocoon provider stake first`,
        );
    }
    return { stake, state: await stake.getState() };
}

function stateJson(s: ProviderState) {
    return { stake: s.stake, locked: s.locked, freeStake: s.freeStake, inFlight: Number(s.inFlight), pendingUnstake: s.pendingUnstake, unstakeReadyAt: Number(s.unstakeReadyAt), earnings: s.earnings };
}

function stateLine(s: ProviderState): string {
    const pending = s.pendingUnstake > 0n ? `, ${ton(s.pendingUnstake)} pending unstake (withdrawable from ${when(Number(s.unstakeReadyAt), nowSeconds())})` : '';
    return `stake ${ton(s.stake)} (free ${ton(s.freeStake)}, locked ${ton(s.locked)} by ${s.inFlight} job(s))${pending}, earnings ${ton(s.earnings)}`;
}

/** Chain time is wall-clock time on TON and on the devnet alike. */
function nowSeconds(): number {
    return Math.floor(Date.now() / 1000);
}

function requireString(args: ParsedArgs, name: string, what: string): string {
    const v = args.options[name];
    if (typeof v !== 'string' || v.trim() === '') throw new UsageError(`missing --${name}: ${what}`);
    return v;
}

export const providerStake: Command = {
    path: ['provider', 'stake'],
    summary: "Add stake to your provider contract (the first stake deploys it); needs the network's minimum to claim jobs",
    usage: '--amount <TON> --wallet-seed <hex> [--network <file> | --endpoint <url> --registry <address>] [--json]',
    example: 'cocoon provider stake --network .cocoon/network.json --wallet-seed $COCOON_WALLET_SEED --amount 20',
    options: [{ name: 'amount', type: 'string', description: 'TON to add to the stake, e.g. 20', required: true }, ...walletOptions],
    run: checkedRun(['provider', 'stake'], async (args, io) => {
        noPositionals(args);
        const amount = parse(() => parseTon('amount', String(args.options.amount)));
        const ctx = await connectWallet(args);
        const registry = ctx.registry!;
        const { stake, deployed } = await ownStake(ctx);
        const before = deployed ? await stake.getState() : undefined;
        const value = amount + STAKE_FEE + STAKE_MARGIN;
        await ctx.requireBalance(value, `staking ${ton(amount)}`);
        io.progress(`sending Stake of ${ton(amount)} to ${stake.address.toString()}${deployed ? '' : ' (deploys the contract)'}`);
        await stake.send(ctx.wallet, { value }, { $$type: 'Stake', queryId: queryId(), amount });
        const target = (before?.stake ?? 0n) + amount;
        const after = await ctx.waitFor(`the stake of ${stake.address.toString()} to reach ${ton(target)}`, async () => {
            if (!(await ctx.chain.isDeployed(stake.address))) return undefined;
            const s = await stake.getState();
            return s.stake >= target ? s : undefined;
        });
        const { minProviderStake } = await registry.getParams();
        const belowMinimum = after.stake - after.pendingUnstake < minProviderStake;
        printResult(io, args.json, { owner: ctx.me.toString(), contract: stake.address.toString(), deployed: !deployed, stakeBefore: before?.stake ?? 0n, ...stateJson(after), minProviderStake, belowMinimum }, [
            `provider        ${ctx.me.toString()}`,
            `contract        ${stake.address.toString()}${deployed ? '' : ' (deployed now)'}`,
            `stake           ${ton(before?.stake ?? 0n)} → ${stateLine(after)}`,
            ...(belowMinimum ? [`note            below the network's minimum of ${ton(minProviderStake)}: it cannot claim jobs yet`] : []),
        ]);
        return 0;
    }),
};

/** `<model>=<TON>` where model is a 64-hex hash, an .onnx path, or a model name from the network file. */
function parsePrice(entry: string, network: NetworkFile | undefined): [bigint, bigint] {
    const eq = entry.lastIndexOf('=');
    if (eq <= 0 || eq === entry.length - 1) throw new UsageError(`--price: expected <model>=<price in TON> (model: a name like ocr, a 64-hex hash or an .onnx file), got ${JSON.stringify(entry)}`);
    const model = entry.slice(0, eq).trim();
    const named = network?.models[model];
    const hash = named ? BigInt('0x' + named) : parse(() => parseHashOrFile('price', model).hash);
    const price = parse(() => parseTon('price', entry.slice(eq + 1)));
    return [hash, price];
}

function parseKey(name: string, value: string): bigint {
    const k = parse(() => parseHash256(name, value));
    if (k === 0n) throw new UsageError(`--${name}: the key must not be zero`);
    return k;
}

export const providerRegister: Command = {
    path: ['provider', 'register'],
    summary: "Record an enclave (keys, measurement, quote hash, endpoint) and its model prices in your provider contract",
    usage: '--receipt-key <hex> --encryption-key <hex> --measurement <hex> --quote-file <file> --price <model>=<TON> ... --endpoint-name <name> --wallet-seed <hex> [--json]',
    example:
        'cocoon provider register --network .cocoon/network.json --wallet-seed $COCOON_WALLET_SEED --receipt-key 3b6a… --encryption-key 9f0c… ' +
        '--measurement 5d1e… --quote-file quote.bin --price ocr=0.2 --price vad=0.1 --endpoint-name gpu-1\n\n' +
        '  Note: `cocoon worker` registers its own enclave when it starts (it holds the enclave keys); this command is for\n' +
        '  registering by hand, e.g. from an enclave you run yourself. The quote is checked to bind the two keys and the\n' +
        `  measurement before anything is sent. A simulated quote proves nothing (${SIMULATED_WARNING}).`,
    options: [
        { name: 'receipt-key', type: 'string', description: "the enclave's Ed25519 public key that signs receipts (64 hex)", required: true },
        { name: 'encryption-key', type: 'string', description: "the enclave's X25519 public key clients encrypt inputs to (64 hex)", required: true },
        { name: 'measurement', type: 'string', description: 'the TEE image measurement (64 hex), allowed in the registry', required: true },
        { name: 'quote-file', type: 'string', description: 'the attestation quote; its sha256 is recorded on chain', required: true },
        { name: 'price', type: 'list', description: `<model>=<TON per job>, repeatable, 1 to ${tactConstant('MaxModelsPerProvider')} (model: name from the network file, 64-hex hash or .onnx file)`, required: true },
        { name: 'endpoint-name', type: 'string', description: `where clients and orchestrators reach the worker, at most ${tactConstant('MaxEndpointBytes')} bytes`, required: true },
        { name: 'tee-vendor-key', type: 'string', description: 'simulated-TEE vendor public key (hex) to check the quote signature (default: from the network file)', env: 'COCOON_TEE_VENDOR_KEY' },
        ...walletOptions,
    ],
    run: checkedRun(['provider', 'register'], async (args, io) => {
        noPositionals(args);
        const receiptKey = parseKey('receipt-key', String(args.options['receipt-key']));
        const encryptionKey = parseKey('encryption-key', String(args.options['encryption-key']));
        const measurement = parse(() => parseHash256('measurement', String(args.options.measurement)));
        const endpointName = parse(() => parseEndpoint('endpoint-name', requireString(args, 'endpoint-name', 'where the worker is reached'), Number(tactConstant('MaxEndpointBytes'))));
        const quoteFile = String(args.options['quote-file']);
        let quote: Buffer;
        try {
            quote = fs.readFileSync(quoteFile);
        } catch (e) {
            throw new UsageError(`--quote-file: cannot read ${quoteFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        }
        const ctx = await connectWallet(args);
        const registry = ctx.registry!;

        const prices = new Map<bigint, bigint>();
        for (const entry of args.options.price as string[]) {
            const [hash, price] = parsePrice(entry, ctx.network);
            if (prices.has(hash)) throw new UsageError(`--price: model ${hex256(hash)} is listed twice`);
            prices.set(hash, price);
        }
        const maxModels = Number(tactConstant('MaxModelsPerProvider'));
        if (prices.size > maxModels) throw new UsageError(`--price: at most ${maxModels} models, got ${prices.size}`);

        // the quote must attest these keys and this measurement, or clients will refuse the provider
        const measurementHex = uint256ToBuffer(measurement).toString('hex');
        const expectedReportData = enclaveReportData(uint256ToBuffer(receiptKey), uint256ToBuffer(encryptionKey)).toString('hex');
        const vendorKey = (args.options['tee-vendor-key'] as string | undefined) ?? (ctx.network?.tee.type === 'simulated' ? ctx.network.tee.vendorPublicKey : undefined);
        const verified = verifyQuote(quote, { vendorPublicKey: vendorKey, expectedReportData, allowedMeasurements: [measurementHex] });
        if (!verified.valid && verified.errorCode !== 'config') throw new CheckFailed('QUOTE_INVALID', `the quote in ${quoteFile} does not check out: ${verified.error}`);
        if (!verified.valid) {
            // simulated quote without a vendor key: the binding can still be checked, the signature cannot
            if (verified.measurement !== measurementHex) throw new CheckFailed('QUOTE_INVALID', `the quote in ${quoteFile} reports measurement ${verified.measurement ?? 'none'}, not --measurement ${measurementHex}`);
            if (verified.reportData !== expectedReportData) throw new CheckFailed('QUOTE_INVALID', `the quote in ${quoteFile} does not bind --receipt-key and --encryption-key (report data mismatch)`);
            io.progress('warning: no simulated-TEE vendor key (--tee-vendor-key or a network file): the quote signature was not checked');
        }
        if (verified.warning) io.progress(`warning: ${verified.warning}`);

        if (!(await registry.getIsMeasurementAllowed(measurement))) {
            throw new CheckFailed('MEASUREMENT_NOT_ALLOWED', `measurement ${measurementHex} is not allowed in registry ${registry.address.toString()}: governance runs cocoon registry allow-measurement first`);
        }
        for (const hash of prices.keys()) {
            if (!(await registry.getIsModelAllowed(hash))) {
                throw new CheckFailed('MODEL_NOT_ALLOWED', `model ${hex256(hash)} is not allowed in registry ${registry.address.toString()}: governance runs cocoon registry allow-model first`);
            }
        }
        const { stake } = await requireStake(ctx);
        await ctx.requireBalance(REGISTER_VALUE, 'registering an enclave');

        const attestationHash = BigInt('0x' + verified.attestationHash);
        const record: EnclaveRecord = { $$type: 'EnclaveRecord', receiptKey, encryptionKey, measurement, attestationHash, endpoint: endpointName };
        const dict = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.BigUint(64));
        for (const [h, p] of prices) dict.set(h, p);
        io.progress(`sending RegisterEnclave to ${stake.address.toString()} (the registry approves it)`);
        await stake.send(ctx.wallet, { value: REGISTER_VALUE }, { $$type: 'RegisterEnclave', queryId: queryId(), record, models: dict });
        await ctx.waitFor(`the registry to approve the enclave of ${stake.address.toString()} (a rejection leaves the old record)`, async () => {
            const e = await providerEnclave(stake);
            if (!e || e.receiptKey !== receiptKey || e.encryptionKey !== encryptionKey || e.measurement !== measurement || e.attestationHash !== attestationHash || e.endpoint !== endpointName) return false;
            const served = await stake.getModels();
            return served.size === prices.size && [...prices].every(([h, p]) => served.get(h) === p);
        });
        const state = await stake.getState();
        const hex = (x: bigint) => uint256ToBuffer(x).toString('hex');
        printResult(io, args.json, {
            owner: ctx.me.toString(),
            contract: stake.address.toString(),
            enclave: { receiptKey: hex(receiptKey), encryptionKey: hex(encryptionKey), measurement: measurementHex, attestationHash: verified.attestationHash, endpoint: endpointName },
            models: [...prices].map(([h, p]) => ({ model: hex(h), price: p })),
            ...stateJson(state),
        }, [
            `provider        ${ctx.me.toString()}`,
            `contract        ${stake.address.toString()}`,
            `enclave         measurement ${measurementHex}, attestation ${verified.attestationHash}, endpoint ${endpointName}`,
            ...[...prices].map(([h, p]) => `model           ${hex(h)}  ${ton(p)} per job`),
            `state           ${stateLine(state)}`,
        ]);
        return 0;
    }),
};

export const providerUnstake: Command = {
    path: ['provider', 'unstake'],
    summary: 'Request to take stake out (RequestUnstake): it stops backing claims now and is withdrawable after the cooldown',
    usage: '(--amount <TON> | --all) --wallet-seed <hex> [--network <file> | --endpoint <url> --registry <address>] [--json]',
    example: 'cocoon provider unstake --network .cocoon/network.json --wallet-seed $COCOON_WALLET_SEED --amount 5',
    options: [
        { name: 'amount', type: 'string', description: 'TON to unstake, e.g. 5' },
        { name: 'all', type: 'boolean', description: 'unstake everything not already pending' },
        ...walletOptions,
    ],
    run: checkedRun(['provider', 'unstake'], async (args, io) => {
        noPositionals(args);
        const all = args.options.all === true;
        if (all && args.options.amount !== undefined) throw new UsageError('--amount and --all: give one of them, not both');
        if (!all && args.options.amount === undefined) throw new UsageError('missing --amount <TON> (or --all)');
        const requested = all ? undefined : parse(() => parseTon('amount', String(args.options.amount)));
        const ctx = await connectWallet(args);
        const { stake, state } = await requireStake(ctx);
        const available = state.stake - state.pendingUnstake;
        if (available <= 0n) throw new CheckFailed('NOTHING_TO_UNSTAKE', `provider ${stake.address.toString()} has nothing left to unstake: stake ${ton(state.stake)}, already pending ${ton(state.pendingUnstake)}`);
        const amount = requested ?? available;
        if (amount > available) {
            throw new CheckFailed('AMOUNT_TOO_LARGE', `at most ${ton(available)} can be unstaked from ${stake.address.toString()} (stake ${ton(state.stake)}, already pending ${ton(state.pendingUnstake)}), got ${ton(amount)}`);
        }
        await ctx.requireBalance(ACTION_VALUE, 'requesting an unstake');
        // the cooldown is the one recorded with the enclave registration (none without one); it restarts with every request
        io.progress(`sending RequestUnstake of ${ton(amount)}`);
        await stake.send(ctx.wallet, { value: ACTION_VALUE }, { $$type: 'RequestUnstake', queryId: queryId(), amount });
        const after = await ctx.waitFor(`the pending unstake of ${stake.address.toString()} to grow`, async () => {
            const s = await stake.getState();
            return s.pendingUnstake !== state.pendingUnstake ? s : undefined;
        });
        const ready = Number(after.unstakeReadyAt);
        printResult(io, args.json, { owner: ctx.me.toString(), contract: stake.address.toString(), amount, ...stateJson(after) }, [
            `provider        ${ctx.me.toString()}`,
            `unstake         ${ton(state.pendingUnstake)} → ${ton(after.pendingUnstake)} pending, withdrawable from ${when(ready, nowSeconds())} with cocoon provider withdraw`,
            `state           ${stateLine(after)}`,
        ]);
        return 0;
    }),
};

export const providerWithdraw: Command = {
    path: ['provider', 'withdraw'],
    summary: 'Withdraw the pending unstake to your wallet once the cooldown is over (WithdrawStake)',
    usage: '--wallet-seed <hex> [--network <file> | --endpoint <url> --registry <address>] [--json]',
    example: 'cocoon provider withdraw --network .cocoon/network.json --wallet-seed $COCOON_WALLET_SEED',
    options: walletOptions,
    run: checkedRun(['provider', 'withdraw'], async (args, io) => {
        noPositionals(args);
        const ctx = await connectWallet(args);
        const { stake, state } = await requireStake(ctx);
        const at = stake.address.toString();
        if (state.pendingUnstake === 0n) throw new CheckFailed('NOTHING_TO_WITHDRAW', `provider ${at} has no pending unstake: run cocoon provider unstake first`);
        const ready = Number(state.unstakeReadyAt);
        const now = nowSeconds();
        if (now < ready) {
            throw new CheckFailed('COOLDOWN_ACTIVE', `the unstake cooldown of provider ${at} ends at ${when(ready, now)}: ${ton(state.pendingUnstake)} can be withdrawn from then`);
        }
        if (state.stake - state.locked < state.pendingUnstake) {
            throw new CheckFailed(
                'STAKE_LOCKED',
                `provider ${at} has ${ton(state.locked)} locked by ${state.inFlight} in-flight job(s): withdrawing ${ton(state.pendingUnstake)} needs stake minus locked (${ton(state.stake - state.locked)}) to cover it; wait for the jobs to finish`,
            );
        }
        const balanceBefore = await ctx.requireBalance(ACTION_VALUE, 'withdrawing');
        io.progress(`sending WithdrawStake to ${at}`);
        await stake.send(ctx.wallet, { value: ACTION_VALUE }, { $$type: 'WithdrawStake', queryId: queryId() });
        const after = await ctx.waitFor(`the pending unstake of ${at} to be paid out`, async () => {
            const s = await stake.getState();
            return s.pendingUnstake === 0n ? s : undefined;
        });
        const balance = await ctx.wallet.getBalance();
        printResult(io, args.json, { owner: ctx.me.toString(), contract: at, withdrawn: state.pendingUnstake, walletBalanceBefore: balanceBefore, walletBalance: balance, ...stateJson(after) }, [
            `provider        ${ctx.me.toString()}`,
            `withdrawn       ${ton(state.pendingUnstake)} (wallet ${ton(balanceBefore)} → ${ton(balance)})`,
            `state           ${stateLine(after)}`,
        ]);
        return 0;
    }),
};
