/**
 * Binding the on-chain enclave record to THIS process's enclave. Every worker process generates fresh enclave keys,
 * so at start the provider's record (ProviderStake registration) names other keys and the worker sends
 * RegisterEnclave from the owner wallet; the stake contract asks the registry (CheckEnclave), which approves the
 * record when the measurement and every model are allowed. A record that already binds this enclave with the same
 * models, prices and endpoint is left alone.
 *
 * The allowlists and the stake are checked with get methods BEFORE sending, so a refusal has a clear reason instead
 * of a bounced message and a timeout.
 */
import { Address, beginCell, Dictionary } from '@ton/core';
import { ChainClient, WalletSender } from '../../protocol/chain';
import { attestationHash } from '../../protocol/attestation';
import { bufferToUint256 } from '../../protocol/receipt';
import { EnclaveRecord, ProviderStake, providerEnclave, Registry, storeRegisterEnclave, tactConstant } from '../../wrappers';
import { REGISTER_VALUE, REGISTRATION_TIMEOUT_MS, CHAIN_POLL_MS } from './config';

export interface RegistrationInput {
    chain: ChainClient;
    registry: Address;
    wallet: WalletSender;
    ed25519PublicKey: Buffer;
    x25519PublicKey: Buffer;
    measurement: Buffer;
    quote: Buffer;
    /** model hash hex → nanoTON */
    prices: Record<string, bigint>;
    endpoint: string;
    timeoutMs?: number;
}

export interface RegistrationResult {
    stakeContract: Address;
    /** false: the chain already held exactly this record */
    sent: boolean;
    /** hash (hex) of the RegisterEnclave wallet transaction, when sent */
    tx?: string;
}

export class RegistrationError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'RegistrationError';
    }
}

const hex = (n: bigint) => n.toString(16).padStart(64, '0');

/** The record this enclave should have on chain. */
export function desiredRecord(input: RegistrationInput): EnclaveRecord {
    return {
        $$type: 'EnclaveRecord',
        receiptKey: bufferToUint256(input.ed25519PublicKey),
        encryptionKey: bufferToUint256(input.x25519PublicKey),
        measurement: bufferToUint256(input.measurement),
        attestationHash: bufferToUint256(attestationHash(input.quote)),
        endpoint: input.endpoint,
    };
}

function sameRecord(a: EnclaveRecord | null, b: EnclaveRecord): boolean {
    return (
        !!a &&
        a.receiptKey === b.receiptKey &&
        a.encryptionKey === b.encryptionKey &&
        a.measurement === b.measurement &&
        a.attestationHash === b.attestationHash &&
        a.endpoint === b.endpoint
    );
}

function samePrices(onChain: Dictionary<bigint, bigint>, prices: Record<string, bigint>): boolean {
    const keys = onChain.keys();
    if (keys.length !== Object.keys(prices).length) return false;
    return keys.every((k) => prices[hex(k)] === onChain.get(k));
}

/** Ensures the provider's enclave record binds this enclave; sends RegisterEnclave and waits for approval if not. */
export async function ensureEnclaveRegistered(input: RegistrationInput): Promise<RegistrationResult> {
    const { chain, wallet } = input;
    const owner = wallet.address;
    const registry = chain.open(Registry.fromAddress(input.registry));
    if (!(await chain.isDeployed(input.registry))) {
        throw new RegistrationError(`no registry is deployed at ${input.registry.toString()}: check --registry / the network file`);
    }
    const stakeAddress = await registry.getProviderAddress(owner);
    const stake = chain.open(ProviderStake.fromAddress(stakeAddress));

    // The stake: ClaimJob refuses a provider below the minimum, so a worker without it could never take a job.
    const params = await registry.getParams();
    const state = (await chain.isDeployed(stakeAddress)) ? await stake.getState() : null;
    const active = state ? state.stake - state.pendingUnstake : 0n;
    if (active < params.minProviderStake) {
        throw new RegistrationError(
            `provider ${owner.toString()} has ${fmtTon(active)} TON of active stake at ${stakeAddress.toString()}, below the network minimum ` +
                `${fmtTon(params.minProviderStake)} TON: send Stake from the owner wallet first`,
        );
    }

    const record = desiredRecord(input);
    const models = Object.keys(input.prices);
    const maxModels = Number(tactConstant('MaxModelsPerProvider'));
    if (models.length === 0 || models.length > maxModels) throw new RegistrationError(`a provider serves 1 to ${maxModels} models, this worker prices ${models.length}`);
    const maxEndpoint = Number(tactConstant('MaxEndpointBytes'));
    if (Buffer.byteLength(input.endpoint, 'utf8') > maxEndpoint) throw new RegistrationError(`the endpoint name is longer than ${maxEndpoint} bytes`);

    if (sameRecord(await providerEnclave(stake), record) && samePrices(await stake.getModels(), input.prices)) {
        return { stakeContract: stakeAddress, sent: false };
    }

    if (!(await registry.getIsMeasurementAllowed(record.measurement))) {
        throw new RegistrationError(
            `the registry does not allow this worker image's measurement ${hex(record.measurement)}: governance must AllowMeasurement it ` +
                `(a changed checkout or worker configuration gives a different measurement)`,
        );
    }
    const refused: string[] = [];
    for (const m of models) if (!(await registry.getIsModelAllowed(BigInt('0x' + m)))) refused.push(m);
    if (refused.length > 0) {
        throw new RegistrationError(`the registry does not allow model(s) ${refused.join(', ')}: governance must AllowModel them, or do not serve them`);
    }

    const dict = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.BigUint(64));
    for (const [m, price] of Object.entries(input.prices)) dict.set(BigInt('0x' + m), price);
    const body = beginCell().store(storeRegisterEnclave({ $$type: 'RegisterEnclave', queryId: BigInt(Date.now()), record, models: dict })).endCell();
    const sent = await wallet.transfer([{ to: stakeAddress, value: REGISTER_VALUE, body, bounce: true }]);

    const until = Date.now() + (input.timeoutMs ?? REGISTRATION_TIMEOUT_MS);
    for (;;) {
        const current = await providerEnclave(stake).catch(() => null);
        if (sameRecord(current, record)) return { stakeContract: stakeAddress, sent: true, tx: sent.transaction.hash.toString('hex') };
        if (Date.now() > until) {
            throw new RegistrationError(
                `the enclave record was not approved within ${Math.round((input.timeoutMs ?? REGISTRATION_TIMEOUT_MS) / 1000)} s ` +
                    `(RegisterEnclave tx ${sent.transaction.hash.toString('hex')}): the registry may have refused it (EnclaveRejected), ` +
                    `or the wallet lacks funds for ${fmtTon(REGISTER_VALUE)} TON`,
            );
        }
        await new Promise((r) => setTimeout(r, CHAIN_POLL_MS));
    }
}

function fmtTon(n: bigint): string {
    const s = (Number(n) / 1e9).toFixed(9).replace(/\.?0+$/, '');
    return s === '' ? '0' : s;
}
