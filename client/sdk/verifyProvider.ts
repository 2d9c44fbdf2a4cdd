import { Address, Cell, Dictionary } from '@ton/core';
import { attestationHash, verifyQuote, VerifyQuoteOptions } from '../../protocol/attestation';
import { enclaveReportData } from '../../protocol/enclave-keys';
import { bufferToUint256, uint256ToBuffer } from '../../protocol/receipt';
import { EnclaveRecord, providerEnclave } from '../../wrappers';

/**
 * The trust chain a client checks before it encrypts anything for a provider (design.md, "Trust chain"):
 *
 *   quote verifies (TDX DCAP, or the simulated TEE's vendor key)
 *   → sha256(quote) equals the attestation hash in the provider's contract
 *   → the quote's measurement is allowed in the registry and equals the enclave record's
 *   → the quote's report data binds the enclave keys recorded on chain
 *   → the model is allowed in the registry and served by this provider.
 *
 * Only when every check passes may the client use `enclave.encryptionKey` (inputs) and `enclave.receiptKey`
 * (receipts: a claim must carry this very key, see `checkClaimKey`).
 */
export type ProviderCheckName =
    | 'enclave registered'
    | 'quote verifies'
    | 'attestation hash matches the chain'
    | 'measurement allowed'
    | 'measurement matches the enclave record'
    | 'report data binds the enclave keys'
    | 'model allowed'
    | 'model served';

export interface ProviderCheck {
    name: ProviderCheckName;
    ok: boolean;
    detail?: string;
}

export interface VerifiedProvider {
    ok: boolean;
    owner: Address;
    stakeContract: Address;
    enclave: EnclaveRecord | null;
    teeType: string | null;
    /** Set for simulated quotes: they prove nothing about hardware. */
    warning?: string;
    /** Price per job for the requested model, nanoTON (when served). */
    price?: bigint;
    checks: ProviderCheck[];
    /** The first failed check, phrased for a person, with what to do. */
    error?: string;
}

/** The registry getters the check reads (an opened Registry over any provider: HTTP API or sandbox). */
export interface RegistryReader {
    getIsMeasurementAllowed(measurement: bigint): Promise<boolean>;
    getIsModelAllowed(modelHash: bigint): Promise<boolean>;
}

/** The ProviderStake getters the check reads. */
export interface ProviderStakeReader {
    address: Address;
    getState(): Promise<{ registration: Cell | null }>;
    getModels(): Promise<Dictionary<bigint, bigint>>;
}

export interface VerifyProviderOptions {
    registry: RegistryReader;
    stake: ProviderStakeReader;
    owner: Address;
    /** The provider's attestation quote, as served by the orchestrator's directory or the provider itself. */
    quote: Buffer;
    /** The model the client wants to run (sha256 of the .onnx file). */
    modelHash?: bigint;
    /** Options for the quote itself: production clients pass `allowedTeeTypes: ['tdx']`. */
    quoteOptions?: VerifyQuoteOptions;
}

const ADVICE: Record<ProviderCheckName, string> = {
    'enclave registered': 'the provider has no active enclave on chain: pick another provider',
    'quote verifies': 'the attestation quote does not verify: do not send data to this provider',
    'attestation hash matches the chain': 'the quote is not the one the provider registered on chain: refetch it, or pick another provider',
    'measurement allowed': 'the enclave runs an image the registry does not allow (revoked?): pick another provider',
    'measurement matches the enclave record': 'the quote names another image than the on-chain record: do not send data to this provider',
    'report data binds the enclave keys': 'the quote does not vouch for the keys on chain: do not send data to this provider',
    'model allowed': 'the registry does not allow this model: use an allowed model hash',
    'model served': 'this provider does not serve the model: pick another provider',
};

export async function verifyProvider(o: VerifyProviderOptions): Promise<VerifiedProvider> {
    const checks: ProviderCheck[] = [];
    const check = (name: ProviderCheckName, ok: boolean, detail?: string) => checks.push({ name, ok, ...(detail ? { detail } : {}) });
    const enclave = await providerEnclave(o.stake);
    check('enclave registered', enclave !== null);
    const q = verifyQuote(o.quote, o.quoteOptions);
    check('quote verifies', q.valid, q.valid ? undefined : q.error);
    let price: bigint | undefined;
    if (enclave) {
        check('attestation hash matches the chain', bufferToUint256(attestationHash(o.quote)) === enclave.attestationHash);
        const measurement = q.measurement ? BigInt('0x' + q.measurement) : -1n;
        check('measurement allowed', measurement >= 0n && (await o.registry.getIsMeasurementAllowed(measurement)));
        check('measurement matches the enclave record', measurement === enclave.measurement);
        const expected = enclaveReportData(uint256ToBuffer(enclave.receiptKey), uint256ToBuffer(enclave.encryptionKey));
        check('report data binds the enclave keys', q.reportData === expected.toString('hex'));
        if (o.modelHash !== undefined) {
            check('model allowed', await o.registry.getIsModelAllowed(o.modelHash));
            price = (await o.stake.getModels()).get(o.modelHash);
            check('model served', price !== undefined);
        }
    }
    const failed = checks.find((c) => !c.ok);
    return {
        ok: !failed,
        owner: o.owner,
        stakeContract: o.stake.address,
        enclave,
        teeType: q.teeType ?? null,
        ...(q.warning ? { warning: q.warning } : {}),
        ...(price !== undefined ? { price } : {}),
        checks,
        ...(failed ? { error: `${failed.name} failed${failed.detail ? ` (${failed.detail})` : ''}: ${ADVICE[failed.name]}` } : {}),
    };
}

/**
 * A provider may re-register another receipt key after the client verified it; the key recorded at claim time
 * is the one the escrow checks. Clients compare it with the attested key before trusting a claim's receipt.
 */
export function checkClaimKey(verified: VerifiedProvider, claimReceiptKey: bigint): void {
    if (!verified.enclave || verified.enclave.receiptKey !== claimReceiptKey) {
        throw new Error(
            'the job was claimed with a receipt key other than the attested one: do not accept its result; ' +
                'let the job expire (you get a full refund plus the slashed stake)',
        );
    }
}
