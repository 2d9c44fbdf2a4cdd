/**
 * A Cocoon network on the in-process devnet for orchestrator tests and bench/watcher.ts: deploys the Registry and
 * acts for governance, providers and clients by injecting internal messages through `devnet.sendMessage` (no
 * wallets to sign for, so thousands of messages go fast; the devnet's queue serializes them like a chain).
 */
import { createHash } from 'crypto';
import { Address, Cell, Dictionary, beginCell, loadTransaction, toNano } from '@ton/core';
import { internal } from '@ton/sandbox';
import { Devnet } from '../../devnet';
import type { TxEntry } from '../../devnet';
import {
    DEFAULT_PARAMS,
    NetworkParams,
    registryInit,
    ProviderStake,
    Registry,
    storeAllowMeasurement,
    storeAllowModel,
    storeCancelJob,
    storeOpenJob,
    jobNetworkCell,
    openJobMessage,
    storeRegisterEnclave,
    storeRevokeModel,
    storeSlashProvider,
    storeStake,
} from '../../wrappers';

export const NETWORK_ID = 3n;

export function hash256(label: string): bigint {
    return BigInt('0x' + createHash('sha256').update(label).digest('hex'));
}

export function fakeAddress(label: string): Address {
    return new Address(0, createHash('sha256').update('addr:' + label).digest());
}

export const MEASUREMENT = hash256('measurement:watcher-test');
export const MODEL = hash256('model:watcher-test');

export const params: NetworkParams = { ...DEFAULT_PARAMS, unstakeCooldown: 600n, disputeWindow: 60n };

export interface DevnetNetwork {
    registry: Registry;
    governance: Address;
    treasury: Address;
    /** Sends `body` from `from` to `to` (an internal message) and resolves with the transactions it caused. */
    send(from: Address, to: Address, body: Cell | null, value?: bigint, init?: { code: Cell; data: Cell }): Promise<TxEntry[]>;
    /** One governance message that emits exactly one registry event: AllowModel / RevokeModel of a rotating hash. */
    governanceEvent(i: number): Promise<TxEntry[]>;
    allowMeasurement(m: bigint): Promise<TxEntry[]>;
    allowModel(m: bigint): Promise<TxEntry[]>;
    provider(name: string): Promise<{ owner: Address; contract: ProviderStake }>;
    stake(p: { owner: Address; contract: ProviderStake }, amount: bigint): Promise<TxEntry[]>;
    registerEnclave(p: { owner: Address; contract: ProviderStake }, name: string): Promise<TxEntry[]>;
    slash(owner: Address, amount: bigint): Promise<TxEntry[]>;
    openJob(client: Address, jobId: bigint): Promise<TxEntry[]>;
    cancelJob(client: Address, job: Address): Promise<TxEntry[]>;
}

/** Body of the i-th governance event message: allow on even i, revoke on odd i, of hash (i >> 1). */
export function governanceBody(i: number): Cell {
    const modelHash = hash256('model:rotating:' + (i >> 1));
    return i % 2 === 0
        ? beginCell().store(storeAllowModel({ $$type: 'AllowModel', queryId: BigInt(i), modelHash })).endCell()
        : beginCell().store(storeRevokeModel({ $$type: 'RevokeModel', queryId: BigInt(i), modelHash })).endCell();
}

export async function deployNetwork(devnet: Devnet, label = 'net'): Promise<DevnetNetwork> {
    const governance = fakeAddress(label + ':governance');
    const treasury = fakeAddress(label + ':treasury');
    const registry = await registryInit(Number(NETWORK_ID), params, treasury, governance);
    const send: DevnetNetwork['send'] = async (from, to, body, value = toNano('0.05'), init) => {
        const txs = await devnet.sendMessage(internal({ from, to, value, body: body ?? undefined, stateInit: init, bounce: init === undefined }));
        return txs;
    };
    const first = await send(governance, registry.address, null, toNano('1'), registry.init!);
    if (!first.some((t) => t.account === registry.address.toRawString())) throw new Error('registry deployment did not run');

    const net: DevnetNetwork = {
        registry,
        governance,
        treasury,
        send,
        governanceEvent: (i) => send(governance, registry.address, governanceBody(i)),
        allowMeasurement: (measurement) =>
            send(governance, registry.address, beginCell().store(storeAllowMeasurement({ $$type: 'AllowMeasurement', queryId: 0n, measurement })).endCell()),
        allowModel: (modelHash) => send(governance, registry.address, beginCell().store(storeAllowModel({ $$type: 'AllowModel', queryId: 0n, modelHash })).endCell()),
        provider: async (name) => {
            const owner = fakeAddress(label + ':provider:' + name);
            const contract = await ProviderStake.fromInit(registry.address, owner, 0n, 0n, 0n, 0n, 0n, Dictionary.empty(), null);
            return { owner, contract };
        },
        stake: (p, amount) =>
            send(p.owner, p.contract.address, beginCell().store(storeStake({ $$type: 'Stake', queryId: 0n, amount })).endCell(), amount + toNano('0.1'), p.contract.init!),
        registerEnclave: (p, name) => {
            const models = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.BigUint(64));
            models.set(MODEL, toNano('1'));
            const body = beginCell()
                .store(
                    storeRegisterEnclave({
                        $$type: 'RegisterEnclave',
                        queryId: 0n,
                        record: {
                            $$type: 'EnclaveRecord',
                            receiptKey: hash256('receipt:' + name),
                            encryptionKey: hash256('x25519:' + name),
                            measurement: MEASUREMENT,
                            attestationHash: hash256('quote:' + name),
                            endpoint: `https://${name}.example/cocoon`,
                        },
                        models,
                    }),
                )
                .endCell();
            return send(p.owner, p.contract.address, body, toNano('0.1'));
        },
        slash: (owner, amount) =>
            send(governance, registry.address, beginCell().store(storeSlashProvider({ $$type: 'SlashProvider', queryId: 0n, owner, amount })).endCell(), toNano('0.1')),
        openJob: async (client, jobId) => {
            const maxPrice = toNano('1');
            const body = beginCell()
                .store(
                    storeOpenJob(
                        openJobMessage({
                            queryId: jobId,
                            maxPrice,
                            deadline: BigInt(Math.floor(Date.now() / 1000) + 3600),
                            modelHash: MODEL,
                            inputCommitment: hash256('input:' + jobId),
                            resultKey: hash256('result-key'),
                            network: await jobNetworkCell(Number(NETWORK_ID), params, treasury),
                        }),
                    ),
                )
                .endCell();
            return send(client, registry.address, body, maxPrice + toNano('0.05'));
        },
        cancelJob: (client, job) => send(client, job, beginCell().store(storeCancelJob({ $$type: 'CancelJob', queryId: 0n })).endCell()),
    };
    return net;
}

/**
 * The events the chain really emitted for an account, from the devnet's own transaction index (oldest first):
 * what a perfect watcher must deliver. Only external-out messages with a body of at least 32 bits.
 */
export function emittedEvents(devnet: Devnet, address: Address): { id: string; txLt: bigint; outIndex: number; tag: number }[] {
    const out: { id: string; txLt: bigint; outIndex: number; tag: number }[] = [];
    for (const e of devnet.chain.index.all(address.toRawString())) {
        const tx = loadTransaction(Cell.fromBase64(e.boc).beginParse());
        for (const k of tx.outMessages.keys().sort((a, b) => a - b)) {
            const m = tx.outMessages.get(k)!;
            if (m.info.type !== 'external-out') continue;
            const s = m.body.beginParse();
            if (s.remainingBits < 32) continue;
            out.push({ id: `${e.hash.toString('hex')}:${k}`, txLt: e.lt, outIndex: k, tag: s.preloadUint(32) });
        }
    }
    return out;
}
