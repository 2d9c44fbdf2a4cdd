import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
    looksLikeSimulatedQuote,
    parseSimulatedQuote,
    SIMULATED_WARNING,
    SimulatedErrorCode,
    SimulatedTee,
    SimulatedTeeOptions,
    SimulatedVerifyResult,
    verifySimulatedQuote,
} from './simulated';
import { looksLikeTdxQuote, TdxErrorCode, TdxVerifyResult, verifyTdxQuote } from './tdx';
import { AttestationProvider, checkReportData, TeeType } from './types';

/**
 * Attestation for cocoon-ton: one provider interface for producing quotes and one `verifyQuote` that recognises the
 * quote type from its bytes. Two TEEs:
 *   - 'tdx': Intel TDX DCAP quotes v4/v5 (protocol/attestation/tdx.ts), hardware-rooted in Intel's SGX Root CA;
 *   - 'simulated': a software TEE (protocol/attestation/simulated.ts) with NO hardware protection, for development.
 * See docs/attestation.md.
 */

export * from './types';
export * from './tdx';
export * from './simulated';

export const TDX_UNAVAILABLE_MESSAGE = 'TDX hardware not available on this machine: use --tee simulated';

/** Linux configfs-tsm report interface (kernel ≥ 6.7) through which a TDX guest obtains quotes. */
export const CONFIGFS_TSM_REPORT_DIR = '/sys/kernel/config/tsm/report';

/**
 * Quotes from Intel TDX hardware through the Linux configfs-tsm interface: create a report directory, write the
 * 64-byte report data to `inblob`, read the quote from `outblob`. On a machine without a TDX guest kernel (like
 * the development machines of this project) quote() throws TDX_UNAVAILABLE_MESSAGE. This path has not been run on
 * TDX hardware inside this repository's test suite.
 */
export class TdxAttestationProvider implements AttestationProvider {
    readonly teeType = 'tdx' as const;
    constructor(private readonly tsmReportDir: string = CONFIGFS_TSM_REPORT_DIR) {}

    /** True when the configfs-tsm report directory exists (it does only inside a confidential guest). */
    available(): boolean {
        return fs.existsSync(this.tsmReportDir);
    }

    async quote(reportData: Buffer): Promise<Buffer> {
        checkReportData(reportData);
        if (!this.available()) throw new Error(TDX_UNAVAILABLE_MESSAGE);
        const dir = path.join(this.tsmReportDir, `cocoon-${process.pid}-${crypto.randomBytes(6).toString('hex')}`);
        await fs.promises.mkdir(dir);
        try {
            const provider = (await fs.promises.readFile(path.join(dir, 'provider'), 'utf8')).trim();
            if (provider !== 'tdx_guest') throw new Error(`configfs-tsm provider is "${provider}", not tdx_guest: ${TDX_UNAVAILABLE_MESSAGE}`);
            await fs.promises.writeFile(path.join(dir, 'inblob'), reportData);
            const before = await fs.promises.readFile(path.join(dir, 'generation'), 'utf8');
            const quote = await fs.promises.readFile(path.join(dir, 'outblob'));
            const after = await fs.promises.readFile(path.join(dir, 'generation'), 'utf8');
            if (before !== after) throw new Error('configfs-tsm report changed while reading the quote (concurrent writer)');
            return quote;
        } finally {
            await fs.promises.rmdir(dir).catch(() => undefined);
        }
    }
}

export type AttestationProviderOptions = ({ tee: 'simulated' } & SimulatedTeeOptions) | { tee: 'tdx'; tsmReportDir?: string };

/** Builds the provider for `--tee simulated|tdx`. The simulated one gives NO hardware protection. */
export function createAttestationProvider(opts: AttestationProviderOptions): AttestationProvider {
    if (opts.tee === 'tdx') return new TdxAttestationProvider(opts.tsmReportDir);
    return new SimulatedTee(opts);
}

/** sha256 of the quote bytes: the attestation hash a provider's on-chain record stores (as uint256). */
export function attestationHash(quote: Buffer): Buffer {
    return crypto.createHash('sha256').update(quote).digest();
}

/** Recognises a quote from its first bytes. */
export function detectQuoteType(quote: Buffer): TeeType | 'unknown' {
    if (looksLikeSimulatedQuote(quote)) return 'simulated';
    if (looksLikeTdxQuote(quote)) return 'tdx';
    return 'unknown';
}

export interface VerifyQuoteOptions {
    /** Trusted simulated-TEE vendor public key (hex, raw 32 bytes or KeyObject). Without it simulated quotes fail. */
    vendorPublicKey?: crypto.KeyObject | Buffer | string;
    /** Verification time: certificate validity (TDX), maximum age (simulated). Default now. */
    now?: Date;
    /** TDX: accepted root CA fingerprints (default: the Intel SGX Root CA). */
    trustedRootFingerprints?: readonly string[];
    /** TDX: accept debug TDs (default false). */
    allowDebug?: boolean;
    /** Simulated: maximum quote age in ms (TDX quotes carry no timestamp; bind freshness through report data). */
    maxAgeMs?: number;
    /** TEE types accepted (default both). Production clients should pass ['tdx']. */
    allowedTeeTypes?: readonly TeeType[];
    /** If set, the quote's report data must equal this (64 bytes, Buffer or hex). */
    expectedReportData?: Buffer | string;
    /** If set, the measurement must be one of these (hex). */
    allowedMeasurements?: readonly string[];
}

export type VerifyErrorCode =
    | TdxErrorCode
    | SimulatedErrorCode
    | 'unknown_format'
    | 'tee_not_allowed'
    | 'report_data_mismatch'
    | 'measurement_not_allowed';

interface QuoteFieldsCommon {
    /** sha256(quote), hex: compare with the provider contract's attestation hash. */
    attestationHash: string;
    /** TDX only: MRTD (hex). */
    mrtd?: string;
    /** TDX only: RTMR0..3 (hex). */
    rtmr?: [string, string, string, string];
    /** Simulated only: 'simulated TEE: no hardware protection'. */
    warning?: typeof SIMULATED_WARNING;
    /** The type-specific result with every parsed field. */
    details?: TdxVerifyResult | SimulatedVerifyResult;
}

/** Outcome of verifyQuote. A valid simulated quote still has NO hardware protection (see `warning`). */
export type VerifiedQuote =
    | (QuoteFieldsCommon & {
          valid: true;
          teeType: TeeType;
          /** Image measurement, 64 hex chars (TDX: sha256(MRTD‖RTMR0‖RTMR1‖RTMR2); simulated: the signed value). */
          measurement: string;
          /** Report data, 128 hex chars. */
          reportData: string;
          details: TdxVerifyResult | SimulatedVerifyResult;
      })
    | (QuoteFieldsCommon & {
          valid: false;
          teeType: TeeType | 'unknown';
          measurement?: string;
          reportData?: string;
          error: string;
          errorCode: VerifyErrorCode;
      });

function normHex(h: string): string {
    return h.trim().toLowerCase().replace(/^0x/, '');
}

/**
 * Verifies a quote of either type (detected from its bytes) and, optionally, policy: accepted TEE types, expected
 * report data, measurement allowlist. Never throws for a bad quote; returns valid=false with error and errorCode.
 */
export function verifyQuote(quote: Buffer, opts: VerifyQuoteOptions = {}): VerifiedQuote {
    const hash = attestationHash(quote).toString('hex');
    const type = detectQuoteType(quote);
    if (type === 'unknown') {
        return {
            valid: false,
            teeType: 'unknown',
            attestationHash: hash,
            error: 'unknown quote format: neither an Intel TDX quote (v4/v5, TEE type 0x81) nor a simulated quote ("COCOON-SIM")',
            errorCode: 'unknown_format',
        };
    }

    let inner: TdxVerifyResult | SimulatedVerifyResult;
    const common: QuoteFieldsCommon = { attestationHash: hash };
    if (type === 'tdx') {
        const r = verifyTdxQuote(quote, { now: opts.now, trustedRootFingerprints: opts.trustedRootFingerprints, allowDebug: opts.allowDebug });
        inner = r;
        if (r.mrtd !== undefined) common.mrtd = r.mrtd;
        if (r.rtmr !== undefined) common.rtmr = r.rtmr;
    } else {
        common.warning = SIMULATED_WARNING;
        if (opts.vendorPublicKey === undefined) {
            let fields: { measurement?: string; reportData?: string } = {};
            try {
                const q = parseSimulatedQuote(quote);
                fields = { measurement: q.measurement.toString('hex'), reportData: q.reportData.toString('hex') };
            } catch {
                // reported below as a configuration error; the structure is checked once a key is configured
            }
            return {
                ...common,
                ...fields,
                valid: false,
                teeType: 'simulated',
                error: 'simulated quote, but no simulated-TEE vendor public key is configured (vendorPublicKey / COCOON_TEE_VENDOR_KEY)',
                errorCode: 'config',
            };
        }
        inner = verifySimulatedQuote(quote, { vendorPublicKey: opts.vendorPublicKey, now: opts.now, maxAgeMs: opts.maxAgeMs });
    }

    const base = { ...common, teeType: type, measurement: inner.measurement, reportData: inner.reportData, details: inner };
    if (!inner.valid) return { ...base, valid: false, error: inner.error, errorCode: inner.errorCode };
    const measurement = inner.measurement;
    const reportData = inner.reportData;

    if (opts.allowedTeeTypes && !opts.allowedTeeTypes.includes(type)) {
        return { ...base, valid: false, error: `TEE type ${type} is not accepted (accepted: ${opts.allowedTeeTypes.join(', ')})`, errorCode: 'tee_not_allowed' };
    }
    if (opts.expectedReportData !== undefined) {
        const expected = typeof opts.expectedReportData === 'string' ? normHex(opts.expectedReportData) : opts.expectedReportData.toString('hex');
        if (expected !== reportData) {
            return { ...base, valid: false, error: `report data ${reportData} does not match the expected ${expected}`, errorCode: 'report_data_mismatch' };
        }
    }
    if (opts.allowedMeasurements !== undefined && !opts.allowedMeasurements.map(normHex).includes(measurement)) {
        return { ...base, valid: false, error: `measurement ${measurement} is not in the allowlist`, errorCode: 'measurement_not_allowed' };
    }
    return { ...base, valid: true, measurement, reportData };
}
