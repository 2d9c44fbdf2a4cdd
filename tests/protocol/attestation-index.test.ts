import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
    attestationHash,
    createAttestationProvider,
    detectQuoteType,
    devVendorKeyPair,
    SimulatedTee,
    TDX_UNAVAILABLE_MESSAGE,
    TdxAttestationProvider,
    verifyQuote,
} from '../../protocol/attestation';

const TDX_QUOTE = fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'tdx', 'quote-v4.dat'));
const NOW = new Date('2027-01-01T00:00:00Z');
const vendor = devVendorKeyPair('attestation-index-test');
const MEASUREMENT = 'cd'.repeat(32);
const sim = new SimulatedTee({ vendorPrivateKey: vendor.privateKey, measurement: MEASUREMENT });
const RD = Buffer.alloc(64, 0x42);

describe('verifyQuote dispatch', () => {
    test('detects the quote type from the bytes', () => {
        expect(detectQuoteType(TDX_QUOTE)).toBe('tdx');
        expect(detectQuoteType(sim.quoteSync(RD))).toBe('simulated');
        expect(detectQuoteType(Buffer.from('hello world, not a quote'))).toBe('unknown');
        expect(detectQuoteType(Buffer.alloc(0))).toBe('unknown');
    });

    test('a TDX quote: measurement, MRTD and RTMRs', () => {
        const r = verifyQuote(TDX_QUOTE, { now: NOW });
        if (!r.valid) throw new Error(r.error);
        expect(r.teeType).toBe('tdx');
        expect(r.measurement).toBe('08940bcb8fd4393f8913c36b8816e60de9916d8715fcede85da51ddb6cbf93a7');
        expect(r.mrtd).toMatch(/^7357a10d/);
        expect(r.rtmr).toHaveLength(4);
        expect(r.reportData).toMatch(/^d21efaa8/);
        expect(r.warning).toBeUndefined();
        expect(r.attestationHash).toBe('4e36dfe92842050bdef6fc65450e8c2f3fda49beb519f65ec44ac766f8b834b5');
    });

    test('a bad TDX quote keeps its fields and reports the error', () => {
        const t = Buffer.from(TDX_QUOTE);
        t[300] ^= 1;
        const r = verifyQuote(t, { now: NOW });
        expect(r.valid).toBe(false);
        if (r.valid) return;
        expect(r.errorCode).toBe('quote_signature');
        expect(r.teeType).toBe('tdx');
        expect(r.mrtd).toHaveLength(96);
    });

    test('a simulated quote needs the vendor key and carries the warning', () => {
        const q = sim.quoteSync(RD);
        const r = verifyQuote(q, { vendorPublicKey: vendor.publicKeyHex });
        if (!r.valid) throw new Error(r.error);
        expect(r).toMatchObject({ teeType: 'simulated', measurement: MEASUREMENT, reportData: RD.toString('hex'), warning: 'simulated TEE: no hardware protection' });
        expect(r.mrtd).toBeUndefined();
        const noKey = verifyQuote(q);
        expect(noKey.valid).toBe(false);
        expect(noKey.valid ? '' : noKey.errorCode).toBe('config');
        expect(noKey.warning).toBe('simulated TEE: no hardware protection');
        const wrong = verifyQuote(q, { vendorPublicKey: devVendorKeyPair('x').publicKeyHex });
        expect(wrong.valid ? '' : wrong.errorCode).toBe('vendor_key');
    });

    test('unknown bytes', () => {
        const r = verifyQuote(Buffer.from('garbage'));
        expect(r.valid).toBe(false);
        expect(r.valid ? '' : r.errorCode).toBe('unknown_format');
        expect(r.teeType).toBe('unknown');
    });

    test('policy: accepted TEE types, expected report data, measurement allowlist', () => {
        const q = sim.quoteSync(RD);
        const key = vendor.publicKeyHex;
        const code = (r: ReturnType<typeof verifyQuote>): string => (r.valid ? 'valid' : r.errorCode);
        expect(code(verifyQuote(q, { vendorPublicKey: key, allowedTeeTypes: ['tdx'] }))).toBe('tee_not_allowed');
        expect(code(verifyQuote(TDX_QUOTE, { now: NOW, allowedTeeTypes: ['tdx'] }))).toBe('valid');
        expect(code(verifyQuote(q, { vendorPublicKey: key, expectedReportData: Buffer.alloc(64) }))).toBe('report_data_mismatch');
        expect(code(verifyQuote(q, { vendorPublicKey: key, expectedReportData: RD.toString('hex').toUpperCase() }))).toBe('valid');
        expect(code(verifyQuote(q, { vendorPublicKey: key, allowedMeasurements: ['00'.repeat(32)] }))).toBe('measurement_not_allowed');
        expect(code(verifyQuote(q, { vendorPublicKey: key, allowedMeasurements: ['0x' + MEASUREMENT] }))).toBe('valid');
        expect(code(verifyQuote(TDX_QUOTE, { now: NOW, allowedMeasurements: ['08940bcb8fd4393f8913c36b8816e60de9916d8715fcede85da51ddb6cbf93a7'] }))).toBe(
            'valid',
        );
    });
});

describe('providers and the attestation hash', () => {
    test('attestationHash is sha256 of the quote bytes', () => {
        const q = sim.quoteSync(RD);
        expect(attestationHash(q).equals(crypto.createHash('sha256').update(q).digest())).toBe(true);
        expect(attestationHash(TDX_QUOTE).toString('hex')).toBe('4e36dfe92842050bdef6fc65450e8c2f3fda49beb519f65ec44ac766f8b834b5');
    });

    test('the TDX provider says plainly when there is no TDX hardware', async () => {
        const missing = path.join(os.tmpdir(), `no-tsm-${process.pid}-${Date.now()}`);
        const p = new TdxAttestationProvider(missing);
        expect(p.teeType).toBe('tdx');
        expect(p.available()).toBe(false);
        await expect(p.quote(RD)).rejects.toThrow(TDX_UNAVAILABLE_MESSAGE);
        await expect(p.quote(Buffer.alloc(3))).rejects.toThrow(/64 bytes/);
        const viaFactory = createAttestationProvider({ tee: 'tdx', tsmReportDir: missing });
        await expect(viaFactory.quote(RD)).rejects.toThrow('use --tee simulated');
    });

    test('the simulated provider from the factory produces verifiable quotes', async () => {
        const p = createAttestationProvider({ tee: 'simulated', vendorPrivateKey: vendor.privateKey, measurement: MEASUREMENT });
        expect(p.teeType).toBe('simulated');
        const r = verifyQuote(await p.quote(RD), { vendorPublicKey: vendor.publicKey });
        expect(r.valid).toBe(true);
    });
});
