import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { keyPairFromSeed } from '@ton/crypto';
import {
    canonicalJson,
    computeWorkerMeasurement,
    devVendorKeyPair,
    generateVendorKeyPair,
    listMeasuredFiles,
    parseVendorPublicKey,
    SIM_QUOTE_LENGTH,
    SIMULATED_WARNING,
    SimulatedTee,
    SimulatedVerifyResult,
    verifySimulatedQuote,
} from '../../protocol/attestation/simulated';

const REPO = path.join(__dirname, '..', '..');
const MEASUREMENT = 'ab'.repeat(32);
const T0 = Date.parse('2026-06-01T12:00:00Z');

function reportData(fill = 7): Buffer {
    return Buffer.alloc(64, fill);
}

function expectInvalid(r: SimulatedVerifyResult, code: string): void {
    if (r.valid) throw new Error(`expected ${code}, but the quote verified`);
    expect(r.errorCode).toBe(code);
    expect(r.warning).toBe(SIMULATED_WARNING);
}

describe('simulated TEE quotes', () => {
    const vendor = generateVendorKeyPair();
    const tee = new SimulatedTee({ vendorPrivateKey: vendor.privateKey, measurement: MEASUREMENT, clock: () => T0 });

    test('round trip: quote → verify gives back measurement, report data, time and the warning', async () => {
        const rd = crypto.randomBytes(64);
        const quote = await tee.quote(rd);
        expect(quote.length).toBe(SIM_QUOTE_LENGTH);
        expect(quote.subarray(0, 10).toString('ascii')).toBe('COCOON-SIM');
        const r = verifySimulatedQuote(quote, { vendorPublicKey: vendor.publicKeyHex });
        if (!r.valid) throw new Error(r.error);
        expect(r).toMatchObject({
            teeType: 'simulated',
            warning: 'simulated TEE: no hardware protection',
            version: 1,
            measurement: MEASUREMENT,
            reportData: rd.toString('hex'),
            timestamp: '2026-06-01T12:00:00.000Z',
            vendorPublicKey: vendor.publicKeyHex,
        });
        // the key may also be given as a KeyObject or raw bytes
        expect(verifySimulatedQuote(quote, { vendorPublicKey: vendor.publicKey }).valid).toBe(true);
        expect(verifySimulatedQuote(quote, { vendorPublicKey: Buffer.from(vendor.publicKeyHex, 'hex') }).valid).toBe(true);
        expect(tee.teeType).toBe('simulated');
        expect(tee.warning).toBe(SIMULATED_WARNING);
        expect(tee.vendorPublicKeyHex).toBe(vendor.publicKeyHex);
    });

    test('a different vendor key is refused', () => {
        const quote = tee.quoteSync(reportData());
        const other = generateVendorKeyPair();
        const r = verifySimulatedQuote(quote, { vendorPublicKey: other.publicKeyHex });
        expectInvalid(r, 'vendor_key');
        expect(r.valid ? '' : r.error).toContain(other.publicKeyHex);
        // swapping the key named in the quote for the trusted one does not help: the signature no longer verifies
        const swapped = Buffer.from(quote);
        Buffer.from(other.publicKeyHex, 'hex').copy(swapped, 12 + 32 + 64 + 8);
        expectInvalid(verifySimulatedQuote(swapped, { vendorPublicKey: other.publicKeyHex }), 'signature');
        // a quote signed by another vendor's key, verified with ours
        const forged = new SimulatedTee({ vendorPrivateKey: other.privateKey, measurement: MEASUREMENT }).quoteSync(reportData());
        expectInvalid(verifySimulatedQuote(forged, { vendorPublicKey: vendor.publicKeyHex }), 'vendor_key');
    });

    test('tampered measurement, report data or timestamp fail the signature', () => {
        const quote = tee.quoteSync(reportData());
        const regions: Array<[string, number, number]> = [
            ['measurement', 12, 44],
            ['report data', 44, 108],
            ['timestamp', 108, 116],
            ['signature', 148, 212],
        ];
        for (const [name, start, end] of regions) {
            for (let pos = start; pos < end; pos++) {
                const t = Buffer.from(quote);
                t[pos] ^= 0x01;
                const r = verifySimulatedQuote(t, { vendorPublicKey: vendor.publicKeyHex });
                if (r.valid || r.errorCode !== 'signature') throw new Error(`${name} byte ${pos}: ${r.valid ? 'accepted' : r.errorCode}`);
            }
        }
    });

    test('every byte of the quote is covered', () => {
        const quote = tee.quoteSync(reportData());
        for (let pos = 0; pos < quote.length; pos++) {
            const t = Buffer.from(quote);
            t[pos] ^= 0x80;
            expect(verifySimulatedQuote(t, { vendorPublicKey: vendor.publicKeyHex }).valid).toBe(false);
        }
    });

    test('structure errors', () => {
        const quote = tee.quoteSync(reportData());
        expectInvalid(verifySimulatedQuote(quote.subarray(0, 100), { vendorPublicKey: vendor.publicKeyHex }), 'truncated');
        expectInvalid(verifySimulatedQuote(Buffer.concat([quote, Buffer.alloc(1)]), { vendorPublicKey: vendor.publicKeyHex }), 'malformed');
        const v2 = Buffer.from(quote);
        v2.writeUInt16BE(2, 10);
        expectInvalid(verifySimulatedQuote(v2, { vendorPublicKey: vendor.publicKeyHex }), 'unsupported');
        expectInvalid(verifySimulatedQuote(Buffer.from('not a quote'), { vendorPublicKey: vendor.publicKeyHex }), 'malformed');
        expectInvalid(verifySimulatedQuote(quote, { vendorPublicKey: 'zz' }), 'config');
    });

    test('maximum age', () => {
        const quote = tee.quoteSync(reportData());
        const key = vendor.publicKeyHex;
        expect(verifySimulatedQuote(quote, { vendorPublicKey: key, maxAgeMs: 60_000, now: new Date(T0 + 30_000) }).valid).toBe(true);
        expectInvalid(verifySimulatedQuote(quote, { vendorPublicKey: key, maxAgeMs: 60_000, now: new Date(T0 + 61_000) }), 'stale');
        expectInvalid(verifySimulatedQuote(quote, { vendorPublicKey: key, maxAgeMs: 60_000, now: new Date(T0 - 3_600_000) }), 'future');
    });

    test('report data must be exactly 64 bytes', async () => {
        await expect(tee.quote(Buffer.alloc(32))).rejects.toThrow(/exactly 64 bytes/);
        expect(() => tee.quoteSync(Buffer.alloc(65))).toThrow(/exactly 64 bytes/);
    });

    test('measurement and key arguments are validated', () => {
        expect(() => new SimulatedTee({ vendorPrivateKey: vendor.privateKey, measurement: 'abcd' })).toThrow(/32 bytes/);
        expect(() => new SimulatedTee({ vendorPrivateKey: vendor.publicKey, measurement: MEASUREMENT })).toThrow(/private key/);
        expect(() => parseVendorPublicKey('00')).toThrow(/64 hex/);
    });
});

describe('vendor keys', () => {
    test('dev keys are deterministic per seed (INSECURE: anyone with the seed can sign)', () => {
        const a = devVendorKeyPair('devnet');
        const b = devVendorKeyPair('devnet');
        expect(a.publicKeyHex).toBe(b.publicKeyHex);
        expect(devVendorKeyPair('other').publicKeyHex).not.toBe(a.publicKeyHex);
        // pinned: Ed25519 seed = sha256("cocoon-ton/dev-tee-vendor-key/v1\0" ‖ seed), cross-checked with tweetnacl
        const seed = crypto.createHash('sha256').update('cocoon-ton/dev-tee-vendor-key/v1\0').update('devnet').digest();
        expect(a.publicKeyHex).toBe(keyPairFromSeed(seed).publicKey.toString('hex'));
        expect(a.publicKeyHex).toBe('bc580f16c179358ffd1c6e7ec57b075cfb80e68982d2e28cbcc2e03c1e0b7fd0');
        // and a dev-key quote verifies with the derived public key
        const q = new SimulatedTee({ vendorPrivateKey: b.privateKey, measurement: MEASUREMENT }).quoteSync(reportData());
        expect(verifySimulatedQuote(q, { vendorPublicKey: a.publicKeyHex }).valid).toBe(true);
    });

    test('generated keys are random', () => {
        expect(generateVendorKeyPair().publicKeyHex).not.toBe(generateVendorKeyPair().publicKeyHex);
        expect(generateVendorKeyPair().publicKeyHex).toMatch(/^[0-9a-f]{64}$/);
    });
});

describe('computeWorkerMeasurement', () => {
    let root: string;
    const config = { model: 'ocr', limits: { maxBatch: 4, timeoutMs: 30000 }, tags: ['a', 'b'] };

    beforeEach(() => {
        root = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-measure-'));
        const write = (rel: string, text: string): void => {
            fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
            fs.writeFileSync(path.join(root, rel), text);
        };
        write('worker/main.ts', 'export const x = 1;\n');
        write('worker/runner/run.ts', 'export function run() { return 2; }\n');
        write('worker/runner/thread.js', 'module.exports = 4;\n');
        write('protocol/envelope.ts', 'export const y = 3;\n');
        write('protocol/README.md', 'not code\n');
        write('worker/node_modules/dep/index.ts', 'ignored\n');
        write('client/cli.ts', 'not worker code\n');
    });
    afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

    test('lists worker and protocol .ts and .js files in sorted order', () => {
        expect(listMeasuredFiles(root)).toEqual(['protocol/envelope.ts', 'worker/main.ts', 'worker/runner/run.ts', 'worker/runner/thread.js']);
    });

    test('matches the documented formula', () => {
        const parts: Buffer[] = [];
        const u32 = (n: number): Buffer => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
        const u64 = (n: number): Buffer => Buffer.concat([Buffer.alloc(4), u32(n)]);
        const domain = Buffer.from('cocoon-ton/simulated-measurement/v1');
        parts.push(u32(domain.length), domain, u32(4));
        for (const rel of ['protocol/envelope.ts', 'worker/main.ts', 'worker/runner/run.ts', 'worker/runner/thread.js']) {
            const content = fs.readFileSync(path.join(root, rel));
            parts.push(u32(rel.length), Buffer.from(rel), u64(content.length), content);
        }
        const c = Buffer.from('{"limits":{"maxBatch":4,"timeoutMs":30000},"model":"ocr","tags":["a","b"]}');
        parts.push(u64(c.length), c);
        const expected = crypto.createHash('sha256').update(Buffer.concat(parts)).digest('hex');
        expect(computeWorkerMeasurement(root, config)).toBe(expected);
    });

    test('same tree and config give the same measurement; key order does not matter', () => {
        const a = computeWorkerMeasurement(root, config);
        expect(a).toMatch(/^[0-9a-f]{64}$/);
        expect(computeWorkerMeasurement(root, { tags: ['a', 'b'], limits: { timeoutMs: 30000, maxBatch: 4 }, model: 'ocr' })).toBe(a);
        // files outside the measured set do not matter
        fs.writeFileSync(path.join(root, 'protocol/README.md'), 'changed\n');
        fs.writeFileSync(path.join(root, 'client/cli.ts'), 'changed\n');
        fs.writeFileSync(path.join(root, 'worker/node_modules/dep/index.ts'), 'changed\n');
        expect(computeWorkerMeasurement(root, config)).toBe(a);
    });

    test('one changed byte, a renamed or added file, or a changed config value changes it', () => {
        const a = computeWorkerMeasurement(root, config);
        const file = path.join(root, 'worker/runner/run.ts');
        const original = fs.readFileSync(file);
        const changed = Buffer.from(original);
        changed[changed.length - 3] ^= 0x01;
        fs.writeFileSync(file, changed);
        expect(computeWorkerMeasurement(root, config)).not.toBe(a);
        fs.writeFileSync(file, original);
        expect(computeWorkerMeasurement(root, config)).toBe(a);

        expect(computeWorkerMeasurement(root, { ...config, model: 'ocr2' })).not.toBe(a);
        expect(computeWorkerMeasurement(root, { ...config, limits: { maxBatch: 5, timeoutMs: 30000 } })).not.toBe(a);
        expect(computeWorkerMeasurement(root, { ...config, extra: true })).not.toBe(a);

        fs.renameSync(file, path.join(root, 'worker/runner/run2.ts'));
        expect(computeWorkerMeasurement(root, config)).not.toBe(a);
        fs.renameSync(path.join(root, 'worker/runner/run2.ts'), file);
        fs.writeFileSync(path.join(root, 'protocol/new.ts'), '');
        expect(computeWorkerMeasurement(root, config)).not.toBe(a);
    });

    test('refuses a root without the measured directories, and symbolic links', () => {
        fs.rmSync(path.join(root, 'worker'), { recursive: true });
        expect(() => computeWorkerMeasurement(root, config)).toThrow(/worker/);
        fs.mkdirSync(path.join(root, 'worker'));
        fs.symlinkSync(path.join(root, 'client/cli.ts'), path.join(root, 'worker/link.ts'));
        expect(() => computeWorkerMeasurement(root, config)).toThrow(/symbolic link/);
    });

    test('is reproducible on this checkout', () => {
        const a = computeWorkerMeasurement(REPO, { network: 'devnet' });
        expect(computeWorkerMeasurement(REPO, { network: 'devnet' })).toBe(a);
        expect(listMeasuredFiles(REPO)).toContain('protocol/attestation/simulated.ts');
        // the enclave's sealing thread is plain JavaScript and runs inside the enclave: it must be measured
        expect(listMeasuredFiles(REPO)).toContain('worker/enclave/result-sealer-thread.js');
    });
});

describe('canonicalJson', () => {
    test('sorts keys recursively, drops undefined properties, keeps array order', () => {
        expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    });
    test('rejects values JSON cannot carry faithfully', () => {
        expect(() => canonicalJson({ a: NaN })).toThrow(/finite/);
        expect(() => canonicalJson({ a: 1n })).toThrow(/bigint/);
        expect(() => canonicalJson({ a: new Date() })).toThrow(/plain object/);
        expect(() => canonicalJson([undefined])).toThrow(/undefined/);
    });
});
