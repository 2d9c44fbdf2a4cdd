/**
 * listProviders: the orchestrator's directory, checked against the chain. The API only says who to look at (owner)
 * and hands over the quote; everything the client then uses — the stake contract, the enclave's encryption and
 * receipt keys, the measurement, the price — is read from the chain, and only after verifyProvider passed.
 */
import { Address, OpenedContract } from '@ton/core';
import { ChainClient } from '../../protocol/chain';
import { VerifyQuoteOptions } from '../../protocol/attestation';
import { uint256ToBuffer } from '../../protocol/receipt';
import { ProviderStake, Registry } from '../../wrappers';
import { ApiProvider, OrchestratorApi } from './api';
import { ResolvedModel } from './models';
import { verifyProvider, VerifiedProvider } from './verifyProvider';

export interface ProviderInfo {
    owner: Address;
    /** derived from the registry (never the API's word) */
    stakeContract: Address;
    /** nanoTON per job for the model, from the provider's contract */
    price: bigint;
    teeType: string | null;
    /** set for simulated TEEs: they prove nothing about hardware */
    warning?: string;
    /** the on-chain enclave record: what inputs are sealed to and receipts are checked with */
    encryptionKey: Buffer;
    receiptKey: Buffer;
    /** 64 hex */
    measurement: string;
    endpoint: string;
    /** routing hints from the orchestrator (not verifiable, only used to choose) */
    load: number;
    capacity: number;
    lastHeartbeatMs: number | null;
    healthy: boolean;
    /** the checks that passed */
    verification: VerifiedProvider;
}

export interface RejectedProvider {
    owner: string;
    error: string;
}

export interface ProviderList {
    model: ResolvedModel;
    verified: ProviderInfo[];
    rejected: RejectedProvider[];
}

export async function listVerifiedProviders(o: {
    api: OrchestratorApi;
    chain: ChainClient;
    registry: Address;
    model: ResolvedModel;
    quoteOptions?: VerifyQuoteOptions;
}): Promise<ProviderList> {
    const items = await o.api.providers(o.model.hash);
    const registry = o.chain.open(Registry.fromAddress(o.registry));
    const seen = new Set<string>();
    const results = await Promise.all(
        items.map(async (item): Promise<ProviderInfo | RejectedProvider> => {
            let owner: Address;
            try {
                owner = Address.parse(item.owner);
            } catch {
                return { owner: String(item.owner).slice(0, 80), error: 'the API listed an owner that is not a TON address' };
            }
            const key = owner.toRawString();
            if (seen.has(key)) return { owner: key, error: 'listed twice by the API' };
            seen.add(key);
            return verifyOne(o.chain, registry, owner, item, o.model, o.quoteOptions);
        }),
    );
    const verified: ProviderInfo[] = [];
    const rejected: RejectedProvider[] = [];
    for (const r of results) ('error' in r ? rejected.push(r) : verified.push(r));
    return { model: o.model, verified, rejected };
}

async function verifyOne(
    chain: ChainClient,
    registry: OpenedContract<Registry>,
    owner: Address,
    item: ApiProvider,
    model: ResolvedModel,
    quoteOptions?: VerifyQuoteOptions,
): Promise<ProviderInfo | RejectedProvider> {
    const raw = owner.toRawString();
    if (typeof item.quote !== 'string' || item.quote.length === 0) return { owner: raw, error: 'the API gave no attestation quote' };
    try {
        const stakeAddress = await registry.getProviderAddress(owner);
        const stake = chain.open(ProviderStake.fromAddress(stakeAddress));
        const v = await verifyProvider({ registry, stake, owner, quote: Buffer.from(item.quote, 'base64'), modelHash: model.value, quoteOptions });
        if (!v.ok || !v.enclave || v.price === undefined) return { owner: raw, error: v.error ?? 'verification failed' };
        return {
            owner,
            stakeContract: stakeAddress,
            price: v.price,
            teeType: v.teeType,
            ...(v.warning ? { warning: v.warning } : {}),
            encryptionKey: uint256ToBuffer(v.enclave.encryptionKey),
            receiptKey: uint256ToBuffer(v.enclave.receiptKey),
            measurement: uint256ToBuffer(v.enclave.measurement).toString('hex'),
            endpoint: v.enclave.endpoint,
            load: Number.isFinite(item.load) ? Number(item.load) : 0,
            capacity: Number.isFinite(item.capacity) ? Number(item.capacity) : 1,
            lastHeartbeatMs: Number.isFinite(item.lastHeartbeatMs) ? Number(item.lastHeartbeatMs) : null,
            healthy: item.healthy !== false,
            verification: v,
        };
    } catch (e) {
        // an undeployed stake contract makes the getters fail: the provider is not on this registry
        return { owner: raw, error: `cannot read the provider's contract on chain (${(e as Error).message.slice(0, 160)}): pick another provider` };
    }
}
