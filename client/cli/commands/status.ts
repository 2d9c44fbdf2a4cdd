import { Address, fromNano } from '@ton/core';
import { Command, CommandIO, OptionSpec, ParsedArgs, UsageError } from '../command';
import { ChainClient } from '../../../protocol/chain';
import { uint256ToBuffer } from '../../../protocol/receipt';
import { JobEscrow, JobStatusName, loadJobClaim, loadJobTerms, ProviderStake, providerEnclave, Registry } from '../../../wrappers';

/**
 * Read-only views of the network: `cocoon registry status`, `cocoon provider status`, `cocoon job status`.
 * They read contract getters through the TON HTTP API (any toncenter-compatible endpoint, or `cocoon devnet`).
 */

const chainOptions: OptionSpec[] = [
    { name: 'endpoint', type: 'string', description: 'TON HTTP API v2 JSON-RPC endpoint', env: 'COCOON_ENDPOINT', default: 'http://127.0.0.1:8081/jsonRPC' },
    { name: 'api-key', type: 'string', description: 'API key for the endpoint', env: 'COCOON_API_KEY' },
    { name: 'registry', type: 'string', description: 'registry contract address', env: 'COCOON_REGISTRY', required: true },
];

function parseAddress(value: unknown, what: string): Address {
    try {
        return Address.parse(String(value));
    } catch {
        throw new UsageError(`${what} is not a TON address: ${JSON.stringify(value)}`);
    }
}

/** The chain client and the registry named by the flags, after checking the registry exists there. */
async function connect(args: ParsedArgs) {
    const endpoint = String(args.options.endpoint);
    if (!/^https?:\/\//.test(endpoint)) throw new UsageError(`--endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
    const chain = new ChainClient({ endpoint, apiKey: args.options['api-key'] as string | undefined });
    const registryAddress = parseAddress(args.options.registry, '--registry');
    await requireDeployed(chain, registryAddress, 'registry');
    return { chain, registry: chain.open(Registry.fromAddress(registryAddress)), registryAddress };
}

async function requireDeployed(chain: ChainClient, address: Address, what: string) {
    if (!(await chain.isDeployed(address))) throw new UsageError(`no ${what} is deployed at ${address.toString()} on this endpoint`);
}

const ton = (n: bigint) => `${fromNano(n)} TON`;
const hex = (x: bigint) => uint256ToBuffer(x).toString('hex');

function print(io: CommandIO, json: boolean, data: Record<string, unknown>, lines: string[]) {
    if (json) io.out(JSON.stringify(data, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));
    else for (const l of lines) io.out(l);
}

export const registryStatus: Command = {
    path: ['registry', 'status'],
    summary: 'Show a registry: network id, parameters, allowlist sizes, job count, treasury and owner',
    usage: '--registry <address> [--endpoint <url>] [--json]',
    example: 'cocoon registry status --endpoint http://127.0.0.1:8081/jsonRPC --registry EQC…',
    options: chainOptions,
    async run(args, io) {
        const { chain, registry, registryAddress } = await connect(args);
        const [networkId, params, version, counts, jobCount, treasury, governance] = await Promise.all([
            registry.getNetworkId(),
            registry.getParams(),
            registry.getParamsVersion(),
            registry.getAllowlistCounts(),
            registry.getJobCount(),
            registry.getTreasury(),
            registry.getGovernance(),
        ]);
        const { $$type: _, ...p } = params;
        print(io, args.json, {
            registry: registryAddress.toString(),
            networkId: Number(networkId),
            paramsVersion: Number(version),
            params: p,
            allowlists: { measurements: Number(counts.measurements), models: Number(counts.models) },
            jobCount: Number(jobCount),
            treasury: treasury.toString(),
            owner: governance.owner.toString(),
            pendingOwner: governance.pendingOwner?.toString() ?? null,
        }, [
            `registry        ${registryAddress.toString()} (network ${networkId})`,
            `owner           ${governance.owner.toString()}${governance.pendingOwner ? ` (pending: ${governance.pendingOwner.toString()})` : ''}`,
            `treasury        ${treasury.toString()}`,
            `jobs opened     ${jobCount}`,
            `allowlists      ${counts.measurements} measurements, ${counts.models} models`,
            `parameters v${version}  min stake ${ton(params.minProviderStake)}, cooldown ${params.unstakeCooldown} s, fee ${params.protocolFeeBps} bps, ` +
                `dispute window ${params.disputeWindow} s, slash ${params.slashBps} bps, max job ${params.maxJobDuration} s, lock ratio ${params.lockRatioBps} bps`,
        ]);
        return 0;
    },
};

export const providerStatus: Command = {
    path: ['provider', 'status'],
    summary: 'Show a provider: stake, locks, pending unstake, earnings, enclave record and model prices',
    usage: '--registry <address> --owner <address> [--endpoint <url>] [--json]',
    example: 'cocoon provider status --registry EQC… --owner EQD…',
    options: [...chainOptions, { name: 'owner', type: 'string', description: "the provider's wallet address", env: 'COCOON_PROVIDER', required: true }],
    async run(args, io) {
        const { chain, registry } = await connect(args);
        const owner = parseAddress(args.options.owner, '--owner');
        const stakeAddress = await registry.getProviderAddress(owner);
        await requireDeployed(chain, stakeAddress, `provider contract for ${owner.toString()} (has it staked?)`);
        const stake = chain.open(ProviderStake.fromAddress(stakeAddress));
        const [s, enclave, models] = await Promise.all([stake.getState(), providerEnclave(stake), stake.getModels()]);
        const prices = [...models.keys()].map((h) => ({ model: hex(h), price: models.get(h)! }));
        print(io, args.json, {
            owner: owner.toString(),
            contract: stakeAddress.toString(),
            stake: s.stake, locked: s.locked, freeStake: s.freeStake, inFlight: Number(s.inFlight),
            pendingUnstake: s.pendingUnstake, unstakeReadyAt: Number(s.unstakeReadyAt), earnings: s.earnings,
            enclave: enclave
                ? { receiptKey: hex(enclave.receiptKey), encryptionKey: hex(enclave.encryptionKey), measurement: hex(enclave.measurement), attestationHash: hex(enclave.attestationHash), endpoint: enclave.endpoint }
                : null,
            models: prices,
        }, [
            `provider        ${owner.toString()}`,
            `contract        ${stakeAddress.toString()}`,
            `stake           ${ton(s.stake)} (free ${ton(s.freeStake)}, locked ${ton(s.locked)} by ${s.inFlight} job(s))`,
            `unstake         ${s.pendingUnstake > 0n ? `${ton(s.pendingUnstake)} pending, ready at ${new Date(Number(s.unstakeReadyAt) * 1000).toISOString()}` : 'none pending'}`,
            `earnings        ${ton(s.earnings)}`,
            `enclave         ${enclave ? `measurement ${hex(enclave.measurement)}, endpoint ${enclave.endpoint}` : 'none active (not registered, or its measurement was revoked)'}`,
            ...prices.map((m) => `model           ${m.model}  ${ton(m.price)} per job`),
        ]);
        return 0;
    },
};

export const jobStatus: Command = {
    path: ['job', 'status'],
    summary: 'Show a job escrow: state, terms, claim and output commitment',
    usage: '--registry <address> --job <id> [--endpoint <url>] [--json]',
    example: 'cocoon job status --registry EQC… --job 0 --json',
    options: [...chainOptions, { name: 'job', type: 'number', description: 'job id (as numbered by the registry)', required: true }],
    async run(args, io) {
        const { chain, registry } = await connect(args);
        const id = args.options.job as number;
        if (!Number.isInteger(id) || id < 0) throw new UsageError(`--job must be a job id (a non-negative integer), got ${id}`);
        const address = await registry.getJobAddress(BigInt(id));
        await requireDeployed(chain, address, `job #${id}`);
        const st = await chain.open(JobEscrow.fromAddress(address)).getState();
        const terms = st.terms ? loadJobTerms(st.terms.beginParse()) : null;
        const claim = st.claim ? loadJobClaim(st.claim.beginParse()) : null;
        const state = JobStatusName[Number(st.status)] ?? `unknown (${st.status})`;
        print(io, args.json, {
            job: id, address: address.toString(), state,
            client: terms?.client.toString() ?? null, model: terms ? hex(terms.modelHash) : null,
            maxPrice: terms?.maxPrice ?? null, deadline: terms ? Number(terms.deadline) : null,
            provider: claim?.provider.toString() ?? null, price: claim?.price ?? null, lock: claim?.lock ?? null,
            outputCommitment: st.outputCommitment === 0n ? null : hex(st.outputCommitment),
        }, [
            `job #${id}         ${address.toString()} — ${state}`,
            ...(terms ? [`client          ${terms.client.toString()}, max price ${ton(terms.maxPrice)}, deadline ${new Date(Number(terms.deadline) * 1000).toISOString()}`, `model           ${hex(terms.modelHash)}`] : []),
            ...(claim ? [`provider        ${claim.provider.toString()}, price ${ton(claim.price)}, lock ${ton(claim.lock)}`] : []),
            ...(st.outputCommitment !== 0n ? [`output          ${hex(st.outputCommitment)}`] : []),
        ]);
        return 0;
    },
};
