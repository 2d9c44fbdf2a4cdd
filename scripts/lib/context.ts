import type { NetworkProvider, UIProvider } from '@ton/blueprint';
import { Address, fromNano, OpenedContract, toNano } from '@ton/core';
import {
    JobClaim,
    JobEscrow,
    JobState,
    JobStatusName,
    JobTerms,
    loadJobClaim,
    loadJobTerms,
    ProviderStake,
    Registry,
} from '../../wrappers';
import { Args, COMMON_OPTIONS, ScriptSpec } from './args';
import { providerStakeInit } from './contracts';
import { defaultDeploymentName, deploymentFile, displayPath, providerEndpoint, readDeployment } from './deployments';
import { JobRef, parseDeploymentName, parseDuration } from './validate';

/**
 * What every Cocoon script shares: its parsed arguments, the sender, the registry (from --registry or the
 * deployment file), chain time, polling for the expected state change, and the one result line it prints.
 */

type Network = ReturnType<NetworkProvider['network']>;

export const DEFAULT_TIMEOUT_SECONDS = 120;
/** Margin for the wallet's own fees when checking that the sender can pay for a message. */
export const WALLET_FEE_MARGIN = toNano('0.02');

export interface ScriptResult {
    script: string;
    /** The line printed at the end: addresses and what changed. */
    summary: string;
}

export interface JobView {
    contract: OpenedContract<JobEscrow>;
    address: Address;
    id: bigint;
    status: number;
    statusName: string;
    state: JobState;
    terms: JobTerms;
    claim: JobClaim | null;
}

function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, ms));
}

export class ScriptContext {
    readonly ui: UIProvider;
    readonly chain: Network;
    /** Deployment name: deployments/<network>.json. */
    readonly network: string;
    readonly deploymentsDir: string | undefined;
    readonly timeoutMs: number;
    private registryCache?: OpenedContract<Registry>;

    constructor(
        readonly provider: NetworkProvider,
        readonly args: Args,
    ) {
        this.ui = provider.ui();
        this.chain = provider.network();
        this.network = args.optional('network', parseDeploymentName, defaultDeploymentName(this.chain, providerEndpoint(provider)));
        this.deploymentsDir = args.raw('deployments');
        this.timeoutMs = args.optional('timeout', (n, v) => parseDuration(n, v, { min: 1, max: 3600 }), DEFAULT_TIMEOUT_SECONDS) * 1000;
    }

    /** The wallet that signs and pays for the messages. */
    sender(): Address {
        const a = this.provider.sender().address;
        if (!a) throw new Error('the sender has no address: connect a wallet with --tonconnect, or use --mnemonic with WALLET_MNEMONIC and WALLET_VERSION');
        return a;
    }

    /** User-friendly form of an address for this network. */
    fmt(a: Address): string {
        return a.toString({ testOnly: this.chain !== 'mainnet' });
    }

    /** Unix time of the chain: the provider's clock when it has one (the sandbox's), else this machine's. */
    now(): number {
        const clock = (this.provider as unknown as { now?: () => number }).now;
        return typeof clock === 'function' ? clock.call(this.provider) : Math.floor(Date.now() / 1000);
    }

    /** The registry: --registry, COCOON_REGISTRY, or deployments/<network>.json; checked to be deployed. */
    async registry(): Promise<OpenedContract<Registry>> {
        if (this.registryCache) return this.registryCache;
        let address: Address;
        const given = this.args.spec.options.some((o) => o.name === 'registry') ? this.args.raw('registry') : undefined;
        if (given !== undefined) {
            try {
                address = Address.parse(given.trim());
            } catch {
                throw new Error(`--registry: expected a TON address (EQ…, UQ…, kQ…, 0Q… or 0:<64 hex>), got ${JSON.stringify(given)}`);
            }
        } else {
            const d = readDeployment(this.network, this.deploymentsDir);
            if (!d) {
                throw new Error(
                    `no registry: pass --registry <address>, or run deployRegistry first (${displayPath(deploymentFile(this.network, this.deploymentsDir))} does not exist)`,
                );
            }
            address = Address.parse(d.registry);
        }
        if (!(await this.provider.isContractDeployed(address))) {
            throw new Error(`registry ${this.fmt(address)} is not deployed on ${this.chain}: check --registry, --network or the network flags`);
        }
        const registry = this.provider.open(Registry.fromAddress(address));
        try {
            await registry.getNetworkId();
        } catch {
            throw new Error(`${this.fmt(address)} is not a Cocoon registry (its get method networkId failed)`);
        }
        this.registryCache = registry;
        return registry;
    }

    /** Throws unless the sender is the registry's governance owner. */
    async requireOwner(registry: OpenedContract<Registry>): Promise<void> {
        const g = await registry.getGovernance();
        const me = this.sender();
        if (!g.owner.equals(me)) {
            throw new Error(
                `the wallet ${this.fmt(me)} is not the governance owner of registry ${this.fmt(registry.address)} (the owner is ${this.fmt(g.owner)}); the registry would reject the message`,
            );
        }
    }

    /** The sender's wallet must hold `value` plus a margin for its own fees. */
    async requireBalance(value: bigint, what: string): Promise<void> {
        const me = this.sender();
        const state = await this.provider.getContractState(me);
        if (state.balance < value + WALLET_FEE_MARGIN) {
            throw new Error(
                `the wallet ${this.fmt(me)} holds ${fromNano(state.balance)} TON; ${what} needs ${fromNano(value)} TON plus about ${fromNano(WALLET_FEE_MARGIN)} TON of wallet fees`,
            );
        }
    }

    /** The ProviderStake of `owner` under `registry`, whose address is checked against the registry's derivation. */
    async providerStake(registry: OpenedContract<Registry>, owner: Address): Promise<OpenedContract<ProviderStake>> {
        const local = await providerStakeInit(registry.address, owner);
        const expected = await registry.getProviderAddress(owner);
        if (!local.address.equals(expected)) {
            throw new Error(
                `the ProviderStake code in build/ does not match registry ${this.fmt(registry.address)} (it derives ${this.fmt(expected)}, the build gives ${this.fmt(local.address)}): rebuild with npx blueprint build --all or use the matching registry`,
            );
        }
        return this.provider.open(local);
    }

    /** A job by id or address, with its decoded terms and claim. */
    async job(ref: JobRef): Promise<JobView> {
        let address: Address;
        if ('id' in ref) {
            const registry = await this.registry();
            const count = await registry.getJobCount();
            if (ref.id >= count) {
                throw new Error(
                    `job ${ref.id} does not exist in registry ${this.fmt(registry.address)}: ${count === 0n ? 'no job has been opened yet' : `it has opened ${count} job${count === 1n ? '' : 's'} (ids 0 to ${count - 1n})`}`,
                );
            }
            address = await registry.getJobAddress(ref.id);
        } else {
            address = ref.address;
        }
        if (!(await this.provider.isContractDeployed(address))) throw new Error(`job contract ${this.fmt(address)} is not deployed on ${this.chain}`);
        const contract = this.provider.open(JobEscrow.fromAddress(address));
        let state: JobState;
        try {
            state = await contract.getState();
        } catch {
            throw new Error(`${this.fmt(address)} is not a Cocoon job (its get method state failed)`);
        }
        if (!state.terms) throw new Error(`job ${state.jobId} (${this.fmt(address)}) has no terms yet: it is not initialized`);
        const status = Number(state.status);
        return {
            contract,
            address,
            id: state.jobId,
            status,
            statusName: JobStatusName[status] ?? `status ${status}`,
            state,
            terms: loadJobTerms(state.terms.beginParse()),
            claim: state.claim ? loadJobClaim(state.claim.beginParse()) : null,
        };
    }

    /**
     * Polls `check` until it returns a value other than undefined/false (errors count as "not yet", e.g. a getter
     * on a contract that is not deployed yet), or throws after the timeout with `what` in the message.
     */
    async waitFor<T>(what: string, check: () => Promise<T | undefined | false>): Promise<T> {
        const deadline = Date.now() + this.timeoutMs;
        const interval = Math.min(2000, Math.max(100, Math.floor(this.timeoutMs / 10)));
        let lastError: unknown;
        for (;;) {
            try {
                const v = await check();
                if (v !== undefined && v !== false) return v;
            } catch (e) {
                lastError = e;
            }
            if (Date.now() >= deadline) {
                const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
                throw new Error(
                    `timed out after ${Math.round(this.timeoutMs / 1000)} s waiting for ${what}${why}; the message may not have been included yet or failed on-chain: check the transactions in an explorer, or raise --timeout`,
                );
            }
            await sleep(interval);
        }
    }

    /** Waits for a contract to be deployed (Blueprint's waitForDeploy, bounded by --timeout). */
    async waitForDeploy(address: Address): Promise<void> {
        const sleepMs = 2000;
        const attempts = Math.max(1, Math.ceil(this.timeoutMs / sleepMs));
        await this.provider.waitForDeploy(address, attempts, sleepMs);
        if (!(await this.provider.isContractDeployed(address))) {
            throw new Error(`timed out after ${Math.round(this.timeoutMs / 1000)} s waiting for ${this.fmt(address)} to be deployed`);
        }
    }

    /** Prints the result line and returns the result. */
    done<R extends object>(summary: string, extra: R): ScriptResult & R {
        const line = `${this.args.spec.name}: ${summary}`;
        this.ui.write(line);
        return { script: this.args.spec.name, summary, ...extra };
    }
}

/**
 * Runs a script body with its arguments parsed against `spec` (plus the common options). With --help prints the
 * usage and returns undefined without touching the chain.
 */
export async function runScript<R>(
    provider: NetworkProvider,
    argv: string[] | undefined,
    spec: ScriptSpec,
    body: (ctx: ScriptContext) => Promise<R>,
): Promise<R | undefined> {
    const common = COMMON_OPTIONS.filter((c) => !spec.options.some((o) => o.name === c.name) && !(spec.without ?? []).includes(c.name));
    const full: ScriptSpec = { ...spec, options: [...spec.options, ...common] };
    const args = Args.parse(full, argv ?? [], { ui: provider.ui() });
    if (args.flag('help')) {
        provider.ui().write(args.usage());
        return undefined;
    }
    return body(new ScriptContext(provider, args));
}
