import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import {
    INTEL_QE_VENDOR_ID,
    INTEL_SGX_ROOT_CA_SHA256,
    parseTdxQuote,
    TdxErrorCode,
    tdxMeasurement,
    TdxVerifyResult,
    verifyTdxQuote,
} from '../../protocol/attestation/tdx';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'tdx');
const QUOTE = fs.readFileSync(path.join(FIXTURES, 'quote-v4.dat'));
/** A time inside every fixture certificate's validity (the PCK leaf is valid 2025-07-20 .. 2032-07-20). */
const NOW = new Date('2027-01-01T00:00:00Z');

// Values from /work/shared/fixtures/tdx/README.md (read off the TD report body by hand there).
const EXPECTED = {
    mrtd: '7357a10d2e2724dffe68813e3cc4cfcde6814d749f2fb62e3953e54f6e0b50a219786afe2cd478f684b52c61837e1114',
    rtmr0: '251a7f3cfc68006349444307c686485986beea461740437dae618e22a7aaac4ec0233ae0190eb1ce92ab8e9966563acc',
    rtmr1: '7a6eb32a914226f429922564bb0ae0a7c7c413ba5a8ef055b481f6328108da335013b79c391dcc237f7e563674ce7787',
    rtmr2: 'aaccda38cf2bdee9965664d6793c9eaa93349564a052f36db45da5db656abe7b909d92cad5a29287f2bb78761771fec4',
    rtmr3: '00'.repeat(48),
    reportData:
        'd21efaa8d7de2b0f5601df8b24cfbca690c5231e677d0fe35954c8be00614bd27f467a5624a6667aa74506cb14c271a48894c3ef11d2d26b269a2926fc74f87b',
};

function sha256hex(...parts: Buffer[]): string {
    const h = crypto.createHash('sha256');
    for (const p of parts) h.update(p);
    return h.digest('hex');
}

function flip(buf: Buffer, pos: number, mask = 0x01): Buffer {
    const out = Buffer.from(buf);
    out[pos] ^= mask;
    return out;
}

function expectError(r: TdxVerifyResult, code: TdxErrorCode, message?: RegExp): void {
    if (r.valid) throw new Error(`expected ${code}, but the quote verified`);
    expect(r.errorCode).toBe(code);
    if (message) expect(r.error).toMatch(message);
}

/** Positions to flip in [start, end): both ends plus `n` evenly spaced ones. */
function sample(start: number, end: number, n = 12): number[] {
    const out = new Set<number>([start, end - 1]);
    for (let i = 1; i <= n; i++) out.add(start + Math.floor(((end - start) * i) / (n + 1)));
    return [...out].sort((a, b) => a - b);
}

describe('Intel TDX quote v4 fixture (Telegram Cocoon test vector)', () => {
    test('fixture is the expected file', () => {
        expect(sha256hex(QUOTE)).toBe('4e36dfe92842050bdef6fc65450e8c2f3fda49beb519f65ec44ac766f8b834b5');
        expect(QUOTE.length).toBe(5010);
    });

    test('parses to the README values', () => {
        const q = parseTdxQuote(QUOTE);
        expect(q.header.version).toBe(4);
        expect(q.header.attestationKeyType).toBe(2);
        expect(q.header.teeType).toBe(0x81);
        expect(q.header.qeVendorId.toString('hex')).toBe(INTEL_QE_VENDOR_ID);
        expect(q.body.kind).toBe('td10');
        expect(q.body.mrTd.toString('hex')).toBe(EXPECTED.mrtd);
        expect(q.body.rtmr.map((r) => r.toString('hex'))).toEqual([EXPECTED.rtmr0, EXPECTED.rtmr1, EXPECTED.rtmr2, EXPECTED.rtmr3]);
        expect(q.body.reportData.toString('hex')).toBe(EXPECTED.reportData);
        // layout: 48-byte header, 584-byte body, 4,304 bytes of signature data, then 70 bytes of zero padding
        expect(q.signedData.length).toBe(48 + 584);
        expect(q.length).toBe(48 + 584 + 4 + 4304);
        expect(q.trailingBytes).toBe(70);
        expect(q.quoteSignature.byteOffset - QUOTE.byteOffset).toBe(636);
        expect(q.attestationKey.byteOffset - QUOTE.byteOffset).toBe(700);
        expect(q.qeReport.length).toBe(384);
        expect(q.qeAuthData.length).toBe(32);
        expect(q.pckChainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(3);
    });

    test('verifies and reports the fields and the measurement', () => {
        const r = verifyTdxQuote(QUOTE, { now: NOW });
        if (!r.valid) throw new Error(r.error);
        expect(r.teeType).toBe('tdx');
        expect(r.version).toBe(4);
        expect(r.mrtd).toBe(EXPECTED.mrtd);
        expect(r.rtmr).toEqual([EXPECTED.rtmr0, EXPECTED.rtmr1, EXPECTED.rtmr2, EXPECTED.rtmr3]);
        expect(r.reportData).toBe(EXPECTED.reportData);
        // measurement = sha256(MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2), recomputed here from the README values
        const m = sha256hex(...[EXPECTED.mrtd, EXPECTED.rtmr0, EXPECTED.rtmr1, EXPECTED.rtmr2].map((h) => Buffer.from(h, 'hex')));
        expect(r.measurement).toBe(m);
        expect(r.measurement).toBe('08940bcb8fd4393f8913c36b8816e60de9916d8715fcede85da51ddb6cbf93a7');
        expect(r.tcbSvn).toBe('07010300000000000000000000000000');
        expect(r.attributes).toMatchObject({ td: '0000001000000000', debug: false, septVeDisable: true, xfam: 'e702060000000000' });
        expect(r.qe).toMatchObject({ mrSigner: 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5', isvProdId: 2 });
        expect(r.pckChain.map((c) => c.subject.split(',')[0])).toEqual([
            'CN=Intel SGX PCK Certificate',
            'CN=Intel SGX PCK Platform CA',
            'CN=Intel SGX Root CA',
        ]);
        expect(r.pckChain[2].fingerprint).toBe(INTEL_SGX_ROOT_CA_SHA256);
    });

    test('RTMR3 does not enter the measurement; RTMR0..2 and MRTD do', () => {
        const q = parseTdxQuote(QUOTE);
        const base = tdxMeasurement(q.body.mrTd, q.body.rtmr).toString('hex');
        const rt3 = Buffer.alloc(48, 0xaa);
        expect(tdxMeasurement(q.body.mrTd, [q.body.rtmr[0], q.body.rtmr[1], q.body.rtmr[2], rt3]).toString('hex')).toBe(base);
        for (let i = 0; i < 3; i++) {
            const rt = [...q.body.rtmr];
            rt[i] = flip(rt[i], 5);
            expect(tdxMeasurement(q.body.mrTd, rt).toString('hex')).not.toBe(base);
        }
        expect(tdxMeasurement(flip(q.body.mrTd, 0), q.body.rtmr).toString('hex')).not.toBe(base);
    });

    test('default verification time is the current time', () => {
        const withDefault = verifyTdxQuote(QUOTE);
        const withNow = verifyTdxQuote(QUOTE, { now: new Date() });
        expect(withDefault.valid).toBe(withNow.valid);
        expect(withDefault.valid ? '' : withDefault.errorCode).toBe(withNow.valid ? '' : withNow.errorCode);
    });

    test('certificate validity is checked against `now`', () => {
        expectError(verifyTdxQuote(QUOTE, { now: new Date('2033-01-01T00:00:00Z') }), 'cert_validity', /Intel SGX PCK Certificate.*not valid at 2033/);
        expectError(verifyTdxQuote(QUOTE, { now: new Date('2025-07-01T00:00:00Z') }), 'cert_validity', /Intel SGX PCK Certificate/);
        expect(verifyTdxQuote(QUOTE, { now: new Date('2032-07-20T11:37:00Z') }).valid).toBe(true);
    });

    describe('flipping a signed byte fails with the specific error', () => {
        const q = parseTdxQuote(QUOTE);
        const off = (b: Buffer): number => b.byteOffset - QUOTE.byteOffset;
        const span = (b: Buffer): [number, number] => [off(b), off(b) + b.length];
        const pemStart = off(q.qeAuthData) + q.qeAuthData.length + 6;
        const regions: Array<[string, [number, number], TdxErrorCode]> = [
            ['header (reserved, QE vendor id, user data)', [8, 48], 'quote_signature'],
            ['TD report body', [48, 632], 'quote_signature'],
            ['quote signature', span(q.quoteSignature), 'quote_signature'],
            ['attestation key', span(q.attestationKey), 'qe_report_data'],
            ['QE report', span(q.qeReport), 'qe_report_signature'],
            ['QE report signature', span(q.qeReportSignature), 'qe_report_signature'],
            ['QE authentication data', span(q.qeAuthData), 'qe_report_data'],
            ['PCK certificate chain (PEM text and its NUL terminator)', [pemStart, q.length], 'cert_chain'],
        ];
        test.each(regions)('%s', (_name, [start, end], code) => {
            for (const pos of sample(start, end, 24)) {
                const r = verifyTdxQuote(flip(QUOTE, pos), { now: NOW });
                if (r.valid || r.errorCode !== code) {
                    throw new Error(`byte ${pos}: expected ${code}, got ${r.valid ? 'valid' : `${r.errorCode}: ${r.error}`}`);
                }
            }
        });

        test('every byte of the TD report fields that matter (MRTD, RTMRs, REPORTDATA)', () => {
            for (let pos = 48 + 136; pos < 632; pos++) {
                const r = verifyTdxQuote(flip(QUOTE, pos, 0x80), { now: NOW });
                if (r.valid || r.errorCode !== 'quote_signature') throw new Error(`byte ${pos} not detected`);
            }
        });

        test('a base64 character of each certificate swapped for another valid one', () => {
            const pem = q.pckChainPem;
            const begins = [...pem.matchAll(/-----BEGIN CERTIFICATE-----\n/g)].map((m) => m.index! + m[0].length);
            for (const b of begins) {
                for (const k of [10, 300, 700]) {
                    const pos = pemStart + b + k;
                    const mutated = Buffer.from(QUOTE);
                    mutated[pos] = mutated[pos] === 0x41 ? 0x42 : 0x41; // 'A' <-> 'B': still base64
                    expectError(verifyTdxQuote(mutated, { now: NOW }), 'cert_chain');
                }
            }
        });

        test('structural header fields: version, key type, TEE type', () => {
            expectError(verifyTdxQuote(flip(QUOTE, 0, 0x02), { now: NOW }), 'unsupported', /version 6/);
            expectError(verifyTdxQuote(flip(QUOTE, 2), { now: NOW }), 'unsupported', /attestation key type 3/);
            expectError(verifyTdxQuote(flip(QUOTE, 4), { now: NOW }), 'unsupported', /TEE type 0x80/);
        });

        test('non-zero bytes in the trailing padding are rejected', () => {
            expectError(verifyTdxQuote(flip(QUOTE, 4980), { now: NOW }), 'malformed', /after the end of the quote/);
            // the unpadded quote is fine
            expect(verifyTdxQuote(QUOTE.subarray(0, 4940), { now: NOW }).valid).toBe(true);
        });
    });

    test('a different pinned root is refused', () => {
        expectError(verifyTdxQuote(QUOTE, { now: NOW, trustedRootFingerprints: ['11'.repeat(32)] }), 'root_not_trusted', /Intel SGX Root CA/);
        expectError(verifyTdxQuote(QUOTE, { now: NOW, trustedRootFingerprints: [] }), 'root_not_trusted');
        // colon-separated upper-case fingerprints (openssl/Node style) are accepted
        const colon = INTEL_SGX_ROOT_CA_SHA256.toUpperCase().match(/../g)!.join(':');
        expect(verifyTdxQuote(QUOTE, { now: NOW, trustedRootFingerprints: [colon] }).valid).toBe(true);
    });

    test('truncated quotes give a clear error naming the missing part', () => {
        const cases: Array<[number, RegExp]> = [
            [0, /quote header/],
            [47, /quote header needs 48 bytes at offset 0, only 47 left/],
            [48, /TD report body/],
            [631, /TD report body/],
            [632, /signature data length/],
            [636, /signature data needs 4304 bytes/],
            [1000, /signature data needs 4304 bytes/],
            [4939, /signature data/],
        ];
        for (const [n, msg] of cases) {
            const r = verifyTdxQuote(QUOTE.subarray(0, n), { now: NOW });
            expectError(r, 'truncated', msg);
            expect(r.valid ? '' : r.error).toMatch(/^TDX quote truncated/);
        }
        expect(() => parseTdxQuote(QUOTE.subarray(0, 700))).toThrow(/truncated/);
    });

    test('inconsistent inner lengths are reported', () => {
        const q = parseTdxQuote(QUOTE);
        const authSizeAt = q.qeAuthData.byteOffset - QUOTE.byteOffset - 2;
        const grown = Buffer.from(QUOTE);
        grown.writeUInt16LE(33, authSizeAt); // auth data claims one more byte: the nested cert data type shifts
        expect(verifyTdxQuote(grown, { now: NOW }).valid).toBe(false);
        const pemSizeAt = authSizeAt + 2 + 32 + 2;
        const shrunk = Buffer.from(QUOTE);
        shrunk.writeUInt32LE(shrunk.readUInt32LE(pemSizeAt) - 10, pemSizeAt);
        expectError(verifyTdxQuote(shrunk, { now: NOW }), 'malformed', /unexpected bytes after the PCK chain/);
    });
});

// ---------------------------------------------------------------------------------------------------------------
// Self-made quotes: a test PCK chain (tests/fixtures/tdx/test-pck-chain.pem, "Cocoon Test SGX Root CA", NOT Intel)
// and its leaf key sign QE reports, so the v5 layout, the pin and the policy checks run on consistent quotes.

const TEST_CHAIN = fs.readFileSync(path.join(FIXTURES, 'test-pck-chain.pem'), 'utf8');
const TEST_LEAF_KEY = crypto.createPrivateKey(fs.readFileSync(path.join(FIXTURES, 'test-pck-leaf.key'), 'utf8'));
const TEST_ROOT_FP = sha256hex(new crypto.X509Certificate(TEST_CHAIN.slice(TEST_CHAIN.lastIndexOf('-----BEGIN'))).raw);
const SYN_NOW = new Date('2030-01-01T00:00:00Z'); // the test chain is valid 2026-11-22 .. 2122

interface BuildOptions {
    version?: 4 | 5;
    td15?: boolean;
    debug?: boolean;
    qeMrSigner?: Buffer;
    qeAttributes?: Buffer;
    vendorId?: Buffer;
    chain?: string;
    attestationKey?: Buffer;
}

const u16 = (n: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(n);
    return b;
};
const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
};
const sign = (data: Buffer, key: crypto.KeyObject): Buffer => crypto.sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' });

function buildQuote(o: BuildOptions = {}): { quote: Buffer; body: Buffer } {
    const fixture = parseTdxQuote(QUOTE);
    const header = Buffer.from(QUOTE.subarray(0, 48));
    header.writeUInt16LE(o.version ?? 4, 0);
    if (o.vendorId) o.vendorId.copy(header, 12);
    let body = Buffer.from(QUOTE.subarray(48, 632));
    if (o.debug) body[120] |= 0x01; // TDATTRIBUTES bit 0
    if (o.td15) body = Buffer.concat([body, Buffer.alloc(16, 0x15), Buffer.alloc(48, 0x5e)]);
    const signed = o.version === 5 ? Buffer.concat([header, u16(o.td15 ? 3 : 2), u32(body.length), body]) : Buffer.concat([header, body]);

    const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const attKey = o.attestationKey ?? Buffer.concat([Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]);
    const auth = crypto.randomBytes(32);
    const qeReport = Buffer.from(fixture.qeReport);
    if (o.qeMrSigner) o.qeMrSigner.copy(qeReport, 128);
    if (o.qeAttributes) o.qeAttributes.copy(qeReport, 48);
    qeReport.fill(0, 320);
    crypto.createHash('sha256').update(attKey).update(auth).digest().copy(qeReport, 320);
    const pem = Buffer.from((o.chain ?? TEST_CHAIN) + '\0', 'latin1');
    const qeCert = Buffer.concat([qeReport, sign(qeReport, TEST_LEAF_KEY), u16(auth.length), auth, u16(5), u32(pem.length), pem]);
    const sigData = Buffer.concat([sign(signed, privateKey), attKey, u16(6), u32(qeCert.length), qeCert]);
    return { quote: Buffer.concat([signed, u32(sigData.length), sigData]), body };
}

const trustTest = { now: SYN_NOW, trustedRootFingerprints: [TEST_ROOT_FP] };

describe('self-made TDX quotes (test PCK chain)', () => {
    test('a consistent v4 quote under a test root verifies only when that root is pinned', () => {
        const { quote } = buildQuote();
        const r = verifyTdxQuote(quote, trustTest);
        if (!r.valid) throw new Error(r.error);
        expect(r.mrtd).toBe(EXPECTED.mrtd);
        // the default pin is Intel's root: a fully consistent chain to any other root is refused
        expectError(verifyTdxQuote(quote, { now: SYN_NOW }), 'root_not_trusted', /Cocoon Test SGX Root CA/);
    });

    test('v5 with a TD report 1.0 body', () => {
        const { quote } = buildQuote({ version: 5 });
        const r = verifyTdxQuote(quote, trustTest);
        if (!r.valid) throw new Error(r.error);
        expect(r.version).toBe(5);
        expect(r.measurement).toBe('08940bcb8fd4393f8913c36b8816e60de9916d8715fcede85da51ddb6cbf93a7');
        expect(r.teeTcbSvn2).toBeUndefined();
        // body type and size are signed too
        expectError(verifyTdxQuote(flip(quote, 100), trustTest), 'quote_signature');
        expectError(verifyTdxQuote(flip(quote, 48, 0x03), trustTest), 'unsupported', /body type 1/);
        expectError(verifyTdxQuote(flip(quote, 50), trustTest), 'malformed', /body size 585/);
    });

    test('v5 with a TD report 1.5 body (TEE_TCB_SVN2, MRSERVICETD)', () => {
        const { quote } = buildQuote({ version: 5, td15: true });
        const q = parseTdxQuote(quote);
        expect(q.body.kind).toBe('td15');
        expect(q.signedData.length).toBe(48 + 6 + 648);
        const r = verifyTdxQuote(quote, trustTest);
        if (!r.valid) throw new Error(r.error);
        expect(r.teeTcbSvn2).toBe('15'.repeat(16));
        expect(r.mrServiceTd).toBe('5e'.repeat(48));
        expect(r.reportData).toBe(EXPECTED.reportData);
    });

    test('debug TDs are refused unless allowed', () => {
        const { quote } = buildQuote({ debug: true });
        expectError(verifyTdxQuote(quote, trustTest), 'debug_td', /DEBUG/);
        const r = verifyTdxQuote(quote, { ...trustTest, allowDebug: true });
        expect(r.valid).toBe(true);
        expect(r.attributes?.debug).toBe(true);
    });

    test("the QE must be Intel's TD quoting enclave, not in debug mode", () => {
        expectError(verifyTdxQuote(buildQuote({ qeMrSigner: Buffer.alloc(32, 1) }).quote, trustTest), 'qe_identity', /MRSIGNER 0101/);
        const debugAttrs = Buffer.from('1700000000000000e700000000000000', 'hex'); // DEBUG bit (0x02) set
        expectError(verifyTdxQuote(buildQuote({ qeAttributes: debugAttrs }).quote, trustTest), 'qe_identity', /attributes/);
        expectError(verifyTdxQuote(buildQuote({ vendorId: Buffer.alloc(16, 9) }).quote, trustTest), 'qe_vendor');
    });

    test('an attestation key that is not a P-256 point', () => {
        const bad = Buffer.alloc(64, 0);
        bad[63] = 1;
        expectError(verifyTdxQuote(buildQuote({ attestationKey: bad }).quote, trustTest), 'quote_signature', /not a valid P-256 public key/);
    });

    test('chain shape: three certificates in leaf → CA → root order', () => {
        const certs = TEST_CHAIN.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n/g)!;
        expect(certs).toHaveLength(3);
        expectError(verifyTdxQuote(buildQuote({ chain: certs[0] + certs[2] }).quote, trustTest), 'cert_chain', /2 certificates/);
        expectError(verifyTdxQuote(buildQuote({ chain: certs[1] + certs[0] + certs[2] }).quote, trustTest), 'cert_chain', /not issued by/);
        expectError(verifyTdxQuote(buildQuote({ chain: certs.join('') + 'junk' }).quote, trustTest), 'cert_chain', /outside the PEM/);
        // the Intel chain from the fixture with the test leaf's QE signature: right root, wrong leaf key
        const intel = parseTdxQuote(QUOTE).pckChainPem;
        expectError(verifyTdxQuote(buildQuote({ chain: intel }).quote, { now: SYN_NOW }), 'qe_report_signature');
    });
});
