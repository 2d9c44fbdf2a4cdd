/**
 * Bootstraps a Cocoon network on a local chain: funded dev wallets, the registry deployed and configured
 * (the simulated worker image's measurement and the shipped models allowed), and providers staked. Used by
 * `cocoon up`, `npm run demo`, the end-to-end tests and the benchmarks, so they all start from the same network.
 *
 * Everything goes through real wallets and the TON HTTP API (the devnet's), like on a public network; only the
 * funding uses the devnet's faucet. Enclave registration is left to the workers (they own the enclave keys).
 *
 * DEV ONLY: the wallets' seeds are random and returned in clear so that local processes can use them.
 */
import { randomBytes } from 'crypto';
import { Address, beginCell, toNano } from '@ton/core';
import { ChainClient, WalletSender } from '../protocol/chain';
import { NETWORK_IDS } from '../protocol/network';
import { devVendorKeyPair, SIMULATED_WARNING } from '../protocol/attestation';
import { NetworkFile, walletFromSeed } from '../protocol/network-file';
import { SHIPPED_MODEL_HASHES } from '../worker/inference/catalog';
import { DEFAULT_WORKER_IMAGE, simulatedWorkerMeasurement, WorkerImageConfig } from '../worker/enclave/measurement';
import { codeLibrarianInit, DEFAULT_PARAMS, jobEscrowCode, NetworkParams, providerStakeInit, Registry, registryInit, storePublishLibrary } from '../wrappers';

/** What bootstrap needs from the local chain: a faucet and a way to wait until every message was processed. */
export interface LocalChain {
    endpoint: string;
    fund(address: Address, amount: bigint): Promise<void>;
    /** optional: resolves once the chain processed everything (the in-process devnet has it) */
    waitIdle?(): Promise<void>;
}

export interface BootstrapOptions {
    chain: LocalChain;
    /** provider names, e.g. ['provider-1', 'provider-2'] */
    providers: string[];
    /** stake per provider (TON), default 50 */
    stakeTon?: string;
    /** balances of the dev wallets (TON) */
    balancesTon?: Partial<Record<'governance' | 'client' | 'operator' | 'provider', string>>;
    /** network parameters (defaults: DEFAULT_PARAMS with a 1 day cooldown, a 10 min dispute window, 1 h max job) */
    params?: Partial<NetworkParams>;
    /** seed of the simulated TEE vendor key every local process derives (INSECURE, dev only). Default 'cocoon-local'. */
    vendorSeed?: string;
    image?: WorkerImageConfig;
    networkId?: number;
    /** orchestrator API URL to record in the network file */
    api?: string;
    redisUrl?: string;
    /** progress lines */
    log?: (line: string) => void;
}

export interface DevWallet {
    name: string;
    seed: string;
    wallet: WalletSender;
    address: Address;
}

export interface BootstrappedNetwork {
    networkId: number;
    registry: Address;
    measurement: string;
    vendorSeed: string;
    vendorPublicKey: string;
    models: Record<string, string>;
    governance: DevWallet;
    treasury: DevWallet;
    client: DevWallet;
    /** pays for ExpireJob and other housekeeping the orchestrator sends */
    operator: DevWallet;
    providers: (DevWallet & { stakeContract: Address })[];
    /** the network file for these facts (api / redisUrl as given) */
    networkFile(extra?: Partial<NetworkFile>): NetworkFile;
}

export const DEFAULT_VENDOR_SEED = 'cocoon-local';

export async function bootstrapNetwork(opts: BootstrapOptions): Promise<BootstrappedNetwork> {
    const log = opts.log ?? (() => undefined);
    const chain = new ChainClient({ endpoint: opts.chain.endpoint });
    const idle = async () => {
        if (opts.chain.waitIdle) await opts.chain.waitIdle();
    };
    const balances = { governance: '100', client: '100', operator: '20', provider: '200', ...opts.balancesTon };
    const makeWallet = async (name: string, ton: string): Promise<DevWallet> => {
        const seed = randomBytes(32).toString('hex');
        const wallet = walletFromSeed(chain, seed, { pollIntervalMs: 20 });
        await opts.chain.fund(wallet.address, toNano(ton));
        return { name, seed, wallet, address: wallet.address };
    };

    log('funding dev wallets');
    const governance = await makeWallet('governance', balances.governance);
    const treasury = await makeWallet('treasury', '1');
    const client = await makeWallet('client', balances.client);
    const operator = await makeWallet('operator', balances.operator);
    const providerWallets: DevWallet[] = [];
    for (const name of opts.providers) providerWallets.push(await makeWallet(name, balances.provider));

    // As on a real network, jobs are deployed with a library cell for their code: a CodeLibrarian in the devnet's
    // masterchain publishes it first (the devnet collects published libraries like the network does).
    log('publishing the job code as a masterchain library');
    const librarian = chain.open(await codeLibrarianInit(governance.address, await jobEscrowCode()));
    await governance.wallet.send({
        to: librarian.address,
        value: toNano('1'),
        init: librarian.init!,
        bounce: false,
        body: beginCell().store(storePublishLibrary({ $$type: 'PublishLibrary', queryId: 0n })).endCell(),
    });
    await idle();
    if (!(await chain.isDeployed(librarian.address))) throw new Error('the job code librarian did not deploy');

    log('deploying the registry');
    const networkId = opts.networkId ?? NETWORK_IDS.devnet;
    const params: NetworkParams = { ...DEFAULT_PARAMS, unstakeCooldown: 86400n, disputeWindow: 600n, maxJobDuration: 3600n, ...opts.params };
    const registryState = await registryInit(networkId, params, treasury.address, governance.address, { jobCode: 'library' });
    const registry = chain.open(registryState);
    await governance.wallet.send({ to: registry.address, value: toNano('1'), init: registryState.init!, bounce: false });
    await idle();
    if (!(await chain.isDeployed(registry.address))) throw new Error('the registry did not deploy');

    log('allowing the worker image measurement and the shipped models');
    const image = opts.image ?? DEFAULT_WORKER_IMAGE;
    const measurement = simulatedWorkerMeasurement(image);
    await registry.send(governance.wallet, { value: toNano('0.05') }, { $$type: 'AllowMeasurement', queryId: 0n, measurement: BigInt('0x' + measurement) });
    const models: Record<string, string> = { ...SHIPPED_MODEL_HASHES };
    for (const hash of Object.values(models)) {
        await registry.send(governance.wallet, { value: toNano('0.05') }, { $$type: 'AllowModel', queryId: 0n, modelHash: BigInt('0x' + hash) });
    }
    await idle();
    await waitFor(async () => (await registry.getAllowlistCounts()).models === BigInt(Object.keys(models).length), 'the model allowlist');

    const stakeTon = opts.stakeTon ?? '50';
    const providers: BootstrappedNetwork['providers'] = [];
    for (const p of providerWallets) {
        log(`staking ${stakeTon} TON for ${p.name}`);
        const stake = chain.open(await providerStakeInit(registry.address, p.address));
        await stake.send(p.wallet, { value: toNano(stakeTon) + toNano('0.1') }, { $$type: 'Stake', queryId: 0n, amount: toNano(stakeTon) });
        providers.push({ ...p, stakeContract: stake.address });
    }
    await idle();
    for (const p of providers) {
        const stake = chain.open(await providerStakeInit(registry.address, p.address));
        await waitFor(async () => (await chain.isDeployed(stake.address)) && (await stake.getState()).stake === toNano(stakeTon), `${p.name}'s stake`);
    }

    const vendorSeed = opts.vendorSeed ?? DEFAULT_VENDOR_SEED;
    const vendorPublicKey = devVendorKeyPair(vendorSeed).publicKeyHex;
    const result: BootstrappedNetwork = {
        networkId,
        registry: registry.address,
        measurement,
        vendorSeed,
        vendorPublicKey,
        models,
        governance,
        treasury,
        client,
        operator,
        providers,
        networkFile: (extra = {}) => ({
            networkId,
            endpoint: opts.chain.endpoint,
            registry: registry.address.toString(),
            api: opts.api ?? 'http://127.0.0.1:8080',
            ...(opts.redisUrl ? { redisUrl: opts.redisUrl } : {}),
            tee: { type: 'simulated', vendorPublicKey, warning: SIMULATED_WARNING },
            measurement,
            models,
            devWallets: Object.fromEntries([governance, client, operator, ...providers].map((w) => [w.name, w.seed])),
            ...extra,
        }),
    };
    return result;
}

/** Re-reads `check` every 50 ms until it holds (the chain processes internal messages after the wallet's tx). */
export async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
        if (await check().catch(() => false)) return;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
    }
}

/** A Registry opened on the chain (helper for callers that have the address only). */
export function openRegistry(chain: ChainClient, address: Address) {
    return chain.open(Registry.fromAddress(address));
}
