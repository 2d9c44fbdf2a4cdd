import * as crypto from 'crypto';

/**
 * Verifier for Intel TDX DCAP quotes, versions 4 and 5 (ECDSA P-256 attestation key, certification data type 6
 * wrapping a type 5 PEM PCK certificate chain). Layout: Intel "TDX DCAP Quoting Library API", appendix
 * "Quote Format" (v4) and its v5 revision that puts a body descriptor (type u16, size u32) before the report body.
 *
 * All integers in a quote are little-endian. Layout of a v4 quote:
 *
 *   header            48 B   version u16 | att. key type u16 | TEE type u32 (0x81 = TDX) | reserved 4 B |
 *                            QE vendor id 16 B | user data 20 B
 *   TD report body   584 B   TEE_TCB_SVN 16 | MRSEAM 48 | MRSIGNERSEAM 48 | SEAMATTRIBUTES 8 | TDATTRIBUTES 8 |
 *                            XFAM 8 | MRTD 48 | MRCONFIGID 48 | MROWNER 48 | MROWNERCONFIG 48 | RTMR0..3 4×48 |
 *                            REPORTDATA 64
 *   sig. data length   4 B
 *   signature data           quote signature 64 B (r‖s) | attestation key 64 B (x‖y) |
 *                            certification data: type u16 (=6) | size u32 | QE report certification data:
 *                              QE report 384 B (SGX report body) | QE report signature 64 B |
 *                              QE auth data: size u16 | bytes |
 *                              certification data: type u16 (=5) | size u32 | PEM PCK chain (leaf, CA, root)
 *
 * v5 replaces the fixed body with: body type u16 (2 = TD report 1.0, 584 B; 3 = TD report 1.5, 648 B: adds
 * TEE_TCB_SVN2 16 B and MRSERVICETD 48 B) | body size u32 | body. The quote signature covers the header and body
 * (in v5 including the body type and size).
 *
 * What `verifyTdxQuote` checks, in this order (the first failure is reported with its code):
 *   1. structure: lengths, version 4/5, attestation key type 2 (ECDSA P-256), TEE type 0x81, cert data 6 → 5;
 *   2. PCK chain: exactly three canonical PEM certificates, each signed by the next and issued by it (names and
 *      key identifiers), issuers are CAs, the root self-signed and pinned by SHA-256 fingerprint, all valid at `now`;
 *   3. the QE report is signed (ECDSA P-256 / SHA-256) by the PCK leaf key;
 *   4. QE REPORTDATA = sha256(attestation key ‖ QE auth data) ‖ 32 zero bytes (binds the attestation key to the QE);
 *   5. the quote signature over header‖body verifies with the attestation key;
 *   6. policy: Intel's QE vendor id, the Intel TD QE identity (MRSIGNER, ISVPRODID, masked attributes: not a
 *      debug QE), and the TD is not a debug TD (unless `allowDebug`).
 *
 * Not checked (needs Intel PCS collateral fetched online): TCB status (TCB Info for the PCK's FMSPC), PCK and CA
 * revocation lists, the QE identity's minimum ISVSVN. A genuine but out-of-date or revoked platform is accepted.
 */

/**
 * SHA-256 fingerprint (of the DER) of the Intel SGX Root CA (a.k.a. "Intel SGX Provisioning Certification Root CA",
 * serial 22650CD65A9D3489F383B49552BF501B392706AC, valid 2018-05-21 to 2049-12-31). Taken from the third
 * certificate of the PCK chain in tests/fixtures/tdx/quote-v4.dat after checking that its subject and issuer are
 * "CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US" and that it is self-signed; it is the
 * same value Intel publishes for https://certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.cer
 * Every genuine PCK chain ends in this certificate: pinning it is what makes the chain mean anything.
 */
export const INTEL_SGX_ROOT_CA_SHA256 = '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3';

/** QE vendor id of Intel's quoting enclaves (header bytes 12..28). */
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';

/**
 * Identity of Intel's TD quoting enclave, as published in Intel PCS's TDX QE identity (`/tdx/certification/v4/qe/identity`):
 * the QE report must have this MRSIGNER and ISVPRODID, and (attributes & mask) == attributes. The mask keeps the
 * DEBUG bit, so a debug QE is rejected. (The fixture's QE report matches it.)
 */
export const INTEL_TDX_QE_IDENTITY = {
    mrSigner: 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5',
    isvProdId: 2,
    attributes: '11000000000000000000000000000000',
    attributesMask: 'fbffffffffffffff0000000000000000',
} as const;

export const TDX_TEE_TYPE = 0x81;
export const ATTESTATION_KEY_TYPE_ECDSA_P256 = 2;

const HEADER_LEN = 48;
const TD10_BODY_LEN = 584;
const TD15_BODY_LEN = 648;
const SGX_REPORT_LEN = 384;
const SIG_LEN = 64;
const ATT_KEY_LEN = 64;
const CERT_DATA_QE_REPORT = 6;
const CERT_DATA_PCK_CHAIN_PEM = 5;
const V5_BODY_TD10 = 2;
const V5_BODY_TD15 = 3;

/** Why a TDX quote did not verify. `truncated`/`malformed`/`unsupported` are structural; the rest are checks. */
export type TdxErrorCode =
    | 'truncated'
    | 'malformed'
    | 'unsupported'
    | 'cert_chain'
    | 'root_not_trusted'
    | 'cert_validity'
    | 'qe_report_signature'
    | 'qe_report_data'
    | 'quote_signature'
    | 'qe_vendor'
    | 'qe_identity'
    | 'debug_td';

export class TdxQuoteError extends Error {
    constructor(
        readonly code: TdxErrorCode,
        message: string,
    ) {
        super(message);
        this.name = 'TdxQuoteError';
    }
}

export interface TdxQuoteHeader {
    version: number;
    attestationKeyType: number;
    teeType: number;
    /** Bytes 8..12: reserved for TDX (QE SVN and PCE SVN in SGX v3 quotes). */
    reserved: Buffer;
    qeVendorId: Buffer;
    userData: Buffer;
}

/** TD report body (TD report 1.0; 1.5 adds teeTcbSvn2 and mrServiceTd). */
export interface TdReportBody {
    kind: 'td10' | 'td15';
    teeTcbSvn: Buffer;
    mrSeam: Buffer;
    mrSignerSeam: Buffer;
    seamAttributes: Buffer;
    tdAttributes: Buffer;
    xfam: Buffer;
    mrTd: Buffer;
    mrConfigId: Buffer;
    mrOwner: Buffer;
    mrOwnerConfig: Buffer;
    rtmr: [Buffer, Buffer, Buffer, Buffer];
    reportData: Buffer;
    teeTcbSvn2?: Buffer;
    mrServiceTd?: Buffer;
}

/** SGX report body (384 bytes): the quoting enclave's report. */
export interface SgxReportBody {
    cpuSvn: Buffer;
    miscSelect: number;
    attributes: Buffer;
    mrEnclave: Buffer;
    mrSigner: Buffer;
    isvProdId: number;
    isvSvn: number;
    reportData: Buffer;
}

export interface ParsedTdxQuote {
    header: TdxQuoteHeader;
    body: TdReportBody;
    /** The bytes the quote signature covers: header ‖ body (v5: header ‖ body type ‖ body size ‖ body). */
    signedData: Buffer;
    quoteSignature: Buffer;
    /** Raw P-256 public key x‖y (64 bytes). */
    attestationKey: Buffer;
    /** Raw 384-byte QE report (what the QE report signature covers). */
    qeReport: Buffer;
    qeReportBody: SgxReportBody;
    qeReportSignature: Buffer;
    qeAuthData: Buffer;
    /** PEM text of the PCK certificate chain, trailing NUL bytes removed. */
    pckChainPem: string;
    /** Length of the quote proper; a quote buffer may carry zero padding after it. */
    length: number;
    /** Zero bytes after the quote (quote-generation buffers are often padded); non-zero trailing data is rejected. */
    trailingBytes: number;
}

/** Bounds-checked little-endian reader; every failure names the field and offset. */
class Reader {
    private off = 0;
    constructor(private readonly buf: Buffer) {}
    get offset(): number {
        return this.off;
    }
    get remaining(): number {
        return this.buf.length - this.off;
    }
    take(n: number, what: string): Buffer {
        if (n > this.remaining) {
            throw new TdxQuoteError(
                'truncated',
                `TDX quote truncated: ${what} needs ${n} bytes at offset ${this.off}, only ${this.remaining} left (quote is ${this.buf.length} bytes)`,
            );
        }
        const out = this.buf.subarray(this.off, this.off + n);
        this.off += n;
        return out;
    }
    u16(what: string): number {
        return this.take(2, what).readUInt16LE(0);
    }
    u32(what: string): number {
        return this.take(4, what).readUInt32LE(0);
    }
}

/**
 * Parses a TDX DCAP quote (v4 or v5) without verifying anything cryptographic. Throws TdxQuoteError with code
 * truncated / malformed / unsupported.
 */
export function parseTdxQuote(quote: Buffer): ParsedTdxQuote {
    const r = new Reader(quote);
    const h = r.take(HEADER_LEN, 'quote header');
    const header: TdxQuoteHeader = {
        version: h.readUInt16LE(0),
        attestationKeyType: h.readUInt16LE(2),
        teeType: h.readUInt32LE(4),
        reserved: h.subarray(8, 12),
        qeVendorId: h.subarray(12, 28),
        userData: h.subarray(28, 48),
    };
    if (header.version !== 4 && header.version !== 5) {
        throw new TdxQuoteError('unsupported', `unsupported quote version ${header.version} (TDX quotes are version 4 or 5)`);
    }
    if (header.teeType !== TDX_TEE_TYPE) {
        throw new TdxQuoteError('unsupported', `TEE type 0x${header.teeType.toString(16)} is not TDX (0x81)`);
    }
    if (header.attestationKeyType !== ATTESTATION_KEY_TYPE_ECDSA_P256) {
        throw new TdxQuoteError(
            'unsupported',
            `attestation key type ${header.attestationKeyType} is not supported (only 2 = ECDSA-256-with-P-256)`,
        );
    }

    let kind: 'td10' | 'td15' = 'td10';
    let bodyLen = TD10_BODY_LEN;
    if (header.version === 5) {
        const bodyType = r.u16('v5 body type');
        const bodySize = r.u32('v5 body size');
        if (bodyType === V5_BODY_TD10) kind = 'td10';
        else if (bodyType === V5_BODY_TD15) kind = 'td15';
        else throw new TdxQuoteError('unsupported', `v5 quote body type ${bodyType} is not a TD report (2 = TDX 1.0, 3 = TDX 1.5)`);
        bodyLen = kind === 'td10' ? TD10_BODY_LEN : TD15_BODY_LEN;
        if (bodySize !== bodyLen) {
            throw new TdxQuoteError('malformed', `v5 body size ${bodySize} does not match body type ${bodyType} (${bodyLen} bytes)`);
        }
    }
    const b = r.take(bodyLen, 'TD report body');
    const signedData = quote.subarray(0, r.offset);
    const body = parseTdReportBody(b, kind);

    const sigDataLen = r.u32('signature data length');
    const sigStart = r.offset;
    const sd = new Reader(r.take(sigDataLen, 'signature data'));
    const quoteSignature = sd.take(SIG_LEN, 'quote signature');
    const attestationKey = sd.take(ATT_KEY_LEN, 'attestation key');
    const certType = sd.u16('certification data type');
    if (certType !== CERT_DATA_QE_REPORT) {
        throw new TdxQuoteError(
            'unsupported',
            `certification data type ${certType} is not supported (TDX quotes carry type 6, QE report certification data)`,
        );
    }
    const certSize = sd.u32('certification data size');
    const qd = new Reader(sd.take(certSize, 'QE report certification data'));
    const qeReport = qd.take(SGX_REPORT_LEN, 'QE report');
    const qeReportSignature = qd.take(SIG_LEN, 'QE report signature');
    const authLen = qd.u16('QE authentication data size');
    const qeAuthData = qd.take(authLen, 'QE authentication data');
    const innerType = qd.u16('PCK certification data type');
    if (innerType !== CERT_DATA_PCK_CHAIN_PEM) {
        throw new TdxQuoteError(
            'unsupported',
            `nested certification data type ${innerType} is not supported (expected 5, PEM PCK certificate chain)`,
        );
    }
    const innerSize = qd.u32('PCK certification data size');
    const pem = qd.take(innerSize, 'PCK certificate chain');
    if (qd.remaining !== 0) {
        throw new TdxQuoteError('malformed', `${qd.remaining} unexpected bytes after the PCK chain inside the QE report certification data`);
    }
    if (sd.remaining !== 0) {
        throw new TdxQuoteError('malformed', `${sd.remaining} unexpected bytes after the certification data inside the signature data`);
    }
    const length = sigStart + sigDataLen;
    const trailing = quote.subarray(length);
    if (trailing.some((x) => x !== 0)) {
        throw new TdxQuoteError('malformed', `non-zero data after the end of the quote (offset ${length}; only zero padding is allowed)`);
    }

    let end = pem.length;
    while (end > 0 && pem[end - 1] === 0) end--;
    return {
        header,
        body,
        signedData,
        quoteSignature,
        attestationKey,
        qeReport,
        qeReportBody: parseSgxReportBody(qeReport),
        qeReportSignature,
        qeAuthData,
        pckChainPem: pem.subarray(0, end).toString('latin1'),
        length,
        trailingBytes: trailing.length,
    };
}

function parseTdReportBody(b: Buffer, kind: 'td10' | 'td15'): TdReportBody {
    let o = 0;
    const f = (n: number): Buffer => {
        const out = b.subarray(o, o + n);
        o += n;
        return out;
    };
    const body: TdReportBody = {
        kind,
        teeTcbSvn: f(16),
        mrSeam: f(48),
        mrSignerSeam: f(48),
        seamAttributes: f(8),
        tdAttributes: f(8),
        xfam: f(8),
        mrTd: f(48),
        mrConfigId: f(48),
        mrOwner: f(48),
        mrOwnerConfig: f(48),
        rtmr: [f(48), f(48), f(48), f(48)],
        reportData: f(64),
    };
    if (kind === 'td15') {
        body.teeTcbSvn2 = f(16);
        body.mrServiceTd = f(48);
    }
    return body;
}

function parseSgxReportBody(b: Buffer): SgxReportBody {
    return {
        cpuSvn: b.subarray(0, 16),
        miscSelect: b.readUInt32LE(16),
        attributes: b.subarray(48, 64),
        mrEnclave: b.subarray(64, 96),
        mrSigner: b.subarray(128, 160),
        isvProdId: b.readUInt16LE(256),
        isvSvn: b.readUInt16LE(258),
        reportData: b.subarray(320, 384),
    };
}

/**
 * The image measurement this project allowlists for TDX workers (a 256-bit value, like the simulated TEE's):
 *
 *   measurement = sha256(MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2)        (4 × 48 bytes in, 32 bytes out)
 *
 * MRTD measures the initial TD memory (the virtual firmware, TDVF); RTMR0 the firmware configuration (TD HOB, ACPI
 * tables), RTMR1 the OS loader and kernel, RTMR2 the kernel command line and initrd: together, the booted image.
 * RTMR3 is left out on purpose: it starts at zero and the running workload extends it at runtime (e.g. with
 * application events), so it differs between two boots of the same image and cannot be allowlisted per image.
 */
export function tdxMeasurement(mrTd: Buffer, rtmr: readonly Buffer[]): Buffer {
    if (mrTd.length !== 48 || rtmr.length < 3 || rtmr.slice(0, 3).some((x) => x.length !== 48)) {
        throw new Error('tdxMeasurement needs MRTD and RTMR0..2 of 48 bytes each');
    }
    return crypto.createHash('sha256').update(mrTd).update(rtmr[0]).update(rtmr[1]).update(rtmr[2]).digest();
}

export interface TdxVerifyOptions {
    /** Time at which certificate validity is checked (default: now). */
    now?: Date;
    /** Accepted root CA fingerprints (SHA-256 of the DER, hex). Default: [INTEL_SGX_ROOT_CA_SHA256]. */
    trustedRootFingerprints?: readonly string[];
    /** Accept TDs with the DEBUG attribute (their memory is readable by the host). Default false. */
    allowDebug?: boolean;
}

export interface TdAttributesInfo {
    /** TDATTRIBUTES (8 bytes, hex as in the quote). */
    td: string;
    /** SEAMATTRIBUTES (8 bytes). */
    seam: string;
    /** XFAM (8 bytes). */
    xfam: string;
    /** TDATTRIBUTES bit 0: a debug TD, whose state the host can read and write. */
    debug: boolean;
    /** TDATTRIBUTES bit 28. */
    septVeDisable: boolean;
    /** TDATTRIBUTES bit 29. */
    pks: boolean;
    /** TDATTRIBUTES bit 30. */
    keyLocker: boolean;
    /** TDATTRIBUTES bit 63. */
    perfmon: boolean;
}

export interface PckCertInfo {
    subject: string;
    issuer: string;
    validFrom: string;
    validTo: string;
    /** SHA-256 of the DER, hex. */
    fingerprint: string;
}

/** Fields read from a parsed quote (all byte strings in lowercase hex). */
export interface TdxQuoteFields {
    teeType: 'tdx';
    version: number;
    mrtd: string;
    rtmr: [string, string, string, string];
    /** REPORTDATA (64 bytes): the enclave binds its keys here. */
    reportData: string;
    /** sha256(MRTD ‖ RTMR0 ‖ RTMR1 ‖ RTMR2), 64 hex chars: see tdxMeasurement. */
    measurement: string;
    /** TEE_TCB_SVN (16 bytes). */
    tcbSvn: string;
    attributes: TdAttributesInfo;
    mrSeam: string;
    mrSignerSeam: string;
    mrConfigId: string;
    mrOwner: string;
    mrOwnerConfig: string;
    qeVendorId: string;
    userData: string;
    qe: { mrEnclave: string; mrSigner: string; isvProdId: number; isvSvn: number; attributes: string };
    /** v5 with a TD report 1.5 body only. */
    teeTcbSvn2?: string;
    mrServiceTd?: string;
}

export type TdxVerifyResult =
    | (TdxQuoteFields & { valid: true; pckChain: PckCertInfo[] })
    | (Partial<TdxQuoteFields> & { valid: false; teeType: 'tdx'; error: string; errorCode: TdxErrorCode; pckChain?: PckCertInfo[] });

const hex = (b: Buffer): string => b.toString('hex');

function bit(attrs: Buffer, n: number): boolean {
    return ((attrs[n >> 3] >> (n & 7)) & 1) === 1;
}

/** Reads the reported fields of a parsed quote into hex strings. */
export function tdxQuoteFields(q: ParsedTdxQuote): TdxQuoteFields {
    const b = q.body;
    const fields: TdxQuoteFields = {
        teeType: 'tdx',
        version: q.header.version,
        mrtd: hex(b.mrTd),
        rtmr: [hex(b.rtmr[0]), hex(b.rtmr[1]), hex(b.rtmr[2]), hex(b.rtmr[3])],
        reportData: hex(b.reportData),
        measurement: hex(tdxMeasurement(b.mrTd, b.rtmr)),
        tcbSvn: hex(b.teeTcbSvn),
        attributes: {
            td: hex(b.tdAttributes),
            seam: hex(b.seamAttributes),
            xfam: hex(b.xfam),
            debug: bit(b.tdAttributes, 0),
            septVeDisable: bit(b.tdAttributes, 28),
            pks: bit(b.tdAttributes, 29),
            keyLocker: bit(b.tdAttributes, 30),
            perfmon: bit(b.tdAttributes, 63),
        },
        mrSeam: hex(b.mrSeam),
        mrSignerSeam: hex(b.mrSignerSeam),
        mrConfigId: hex(b.mrConfigId),
        mrOwner: hex(b.mrOwner),
        mrOwnerConfig: hex(b.mrOwnerConfig),
        qeVendorId: hex(q.header.qeVendorId),
        userData: hex(q.header.userData),
        qe: {
            mrEnclave: hex(q.qeReportBody.mrEnclave),
            mrSigner: hex(q.qeReportBody.mrSigner),
            isvProdId: q.qeReportBody.isvProdId,
            isvSvn: q.qeReportBody.isvSvn,
            attributes: hex(q.qeReportBody.attributes),
        },
    };
    if (b.teeTcbSvn2) fields.teeTcbSvn2 = hex(b.teeTcbSvn2);
    if (b.mrServiceTd) fields.mrServiceTd = hex(b.mrServiceTd);
    return fields;
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\r\n]*)-----END CERTIFICATE-----/g;

/**
 * Splits the PEM chain strictly: nothing but certificate blocks and line breaks, and each block's base64 must be the
 * canonical encoding of the certificate's DER (so no byte of the chain text can change without changing a
 * certificate, whose signature then fails).
 */
function parsePemChain(pem: string): crypto.X509Certificate[] {
    const certs: crypto.X509Certificate[] = [];
    let last = 0;
    for (const m of pem.matchAll(PEM_BLOCK)) {
        if (!/^[\r\n]*$/.test(pem.slice(last, m.index))) {
            throw new TdxQuoteError('cert_chain', 'PCK certificate chain has data outside the PEM certificate blocks');
        }
        last = m.index! + m[0].length;
        const b64 = m[1].replace(/[\r\n]/g, '');
        let cert: crypto.X509Certificate;
        try {
            cert = new crypto.X509Certificate(Buffer.from(b64, 'base64'));
        } catch (e) {
            throw new TdxQuoteError('cert_chain', `PCK certificate ${certs.length} does not parse: ${(e as Error).message}`);
        }
        if (cert.raw.toString('base64') !== b64) {
            throw new TdxQuoteError('cert_chain', `PCK certificate ${certs.length} is not canonically PEM-encoded (stray or altered base64)`);
        }
        certs.push(cert);
    }
    if (!/^[\r\n]*$/.test(pem.slice(last))) {
        throw new TdxQuoteError('cert_chain', 'PCK certificate chain has data outside the PEM certificate blocks');
    }
    return certs;
}

function commonName(dn: string): string {
    const m = /^CN=(.*)$/m.exec(dn);
    return m ? m[1] : dn.replace(/\n/g, ', ');
}

function certInfo(c: crypto.X509Certificate): PckCertInfo {
    return {
        subject: c.subject.replace(/\n/g, ', '),
        issuer: c.issuer.replace(/\n/g, ', '),
        validFrom: new Date(c.validFrom).toISOString(),
        validTo: new Date(c.validTo).toISOString(),
        fingerprint: crypto.createHash('sha256').update(c.raw).digest('hex'),
    };
}

/** Verifies the PCK chain (leaf → intermediate → pinned root) at `now`; returns the leaf certificate. */
function verifyPckChain(pem: string, now: Date, trusted: readonly string[]): { leaf: crypto.X509Certificate; info: PckCertInfo[] } {
    const certs = parsePemChain(pem);
    if (certs.length !== 3) {
        throw new TdxQuoteError('cert_chain', `PCK certificate chain has ${certs.length} certificates, expected 3 (PCK leaf, PCK CA, root CA)`);
    }
    const info = certs.map(certInfo);
    for (let i = 0; i < certs.length; i++) {
        const cert = certs[i];
        const issuer = certs[Math.min(i + 1, certs.length - 1)];
        const name = commonName(cert.subject);
        if (i > 0 && !cert.ca) throw new TdxQuoteError('cert_chain', `certificate "${name}" issues another certificate but is not a CA`);
        if (!cert.checkIssued(issuer)) {
            throw new TdxQuoteError('cert_chain', `certificate "${name}" was not issued by "${commonName(issuer.subject)}"`);
        }
        let ok = false;
        try {
            ok = cert.verify(issuer.publicKey);
        } catch {
            ok = false;
        }
        if (!ok) {
            throw new TdxQuoteError('cert_chain', `signature of certificate "${name}" does not verify with the key of "${commonName(issuer.subject)}"`);
        }
    }
    const root = info[info.length - 1];
    const pinned = trusted.map((f) => f.toLowerCase().replace(/:/g, ''));
    if (!pinned.includes(root.fingerprint)) {
        throw new TdxQuoteError(
            'root_not_trusted',
            `root certificate "${commonName(certs[2].subject)}" (sha256 ${root.fingerprint}) is not a pinned root (expected the Intel SGX Root CA ${INTEL_SGX_ROOT_CA_SHA256})`,
        );
    }
    for (let i = 0; i < certs.length; i++) {
        const from = new Date(certs[i].validFrom);
        const to = new Date(certs[i].validTo);
        if (!(now >= from && now <= to)) {
            throw new TdxQuoteError(
                'cert_validity',
                `certificate "${commonName(certs[i].subject)}" is not valid at ${now.toISOString()} (valid ${from.toISOString()} to ${to.toISOString()})`,
            );
        }
    }
    const leafKey = certs[0].publicKey;
    if (leafKey.asymmetricKeyType !== 'ec' || leafKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new TdxQuoteError('cert_chain', 'PCK leaf certificate key is not ECDSA P-256');
    }
    return { leaf: certs[0], info };
}

function ecdsaP256Verify(data: Buffer, key: crypto.KeyObject, sig: Buffer): boolean {
    try {
        return crypto.verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig);
    } catch {
        return false;
    }
}

/** Builds a KeyObject from a raw 64-byte P-256 public key (x‖y); throws if the point is not on the curve. */
export function p256PublicKeyFromRaw(raw: Buffer): crypto.KeyObject {
    if (raw.length !== 64) throw new Error(`raw P-256 public key must be 64 bytes, got ${raw.length}`);
    return crypto.createPublicKey({
        key: { kty: 'EC', crv: 'P-256', x: raw.subarray(0, 32).toString('base64url'), y: raw.subarray(32).toString('base64url') },
        format: 'jwk',
    });
}

function maskedEquals(value: Buffer, expectedHex: string, maskHex: string): boolean {
    const exp = Buffer.from(expectedHex, 'hex');
    const mask = Buffer.from(maskHex, 'hex');
    return value.length === mask.length && value.every((v, i) => (v & mask[i]) === (exp[i] & mask[i]));
}

/** Runs checks 2–6 on a parsed quote; throws TdxQuoteError on the first failure. */
function checkParsed(q: ParsedTdxQuote, opts: TdxVerifyOptions): PckCertInfo[] {
    const now = opts.now ?? new Date();
    if (Number.isNaN(now.getTime())) throw new Error('verification time is not a valid date');
    const { leaf, info } = verifyPckChain(q.pckChainPem, now, opts.trustedRootFingerprints ?? [INTEL_SGX_ROOT_CA_SHA256]);

    if (!ecdsaP256Verify(q.qeReport, leaf.publicKey, q.qeReportSignature)) {
        throw new TdxQuoteError('qe_report_signature', 'QE report signature does not verify with the PCK certificate key');
    }

    const binding = crypto.createHash('sha256').update(q.attestationKey).update(q.qeAuthData).digest();
    const rd = q.qeReportBody.reportData;
    if (!rd.subarray(0, 32).equals(binding) || rd.subarray(32).some((x) => x !== 0)) {
        throw new TdxQuoteError(
            'qe_report_data',
            'QE report data is not sha256(attestation key ‖ QE authentication data) followed by 32 zero bytes: the attestation key is not bound to the quoting enclave',
        );
    }

    let attKey: crypto.KeyObject;
    try {
        attKey = p256PublicKeyFromRaw(q.attestationKey);
    } catch (e) {
        throw new TdxQuoteError('quote_signature', `attestation key is not a valid P-256 public key: ${(e as Error).message}`);
    }
    if (!ecdsaP256Verify(q.signedData, attKey, q.quoteSignature)) {
        throw new TdxQuoteError('quote_signature', 'quote signature over the header and TD report does not verify with the attestation key');
    }

    if (hex(q.header.qeVendorId) !== INTEL_QE_VENDOR_ID) {
        throw new TdxQuoteError('qe_vendor', `QE vendor id ${hex(q.header.qeVendorId)} is not Intel's (${INTEL_QE_VENDOR_ID})`);
    }
    const qe = q.qeReportBody;
    if (hex(qe.mrSigner) !== INTEL_TDX_QE_IDENTITY.mrSigner || qe.isvProdId !== INTEL_TDX_QE_IDENTITY.isvProdId) {
        throw new TdxQuoteError(
            'qe_identity',
            `quoting enclave is not Intel's TD QE (MRSIGNER ${hex(qe.mrSigner)}, ISVPRODID ${qe.isvProdId})`,
        );
    }
    if (!maskedEquals(qe.attributes, INTEL_TDX_QE_IDENTITY.attributes, INTEL_TDX_QE_IDENTITY.attributesMask)) {
        throw new TdxQuoteError('qe_identity', `quoting enclave attributes ${hex(qe.attributes)} do not match Intel's TD QE identity (debug QE?)`);
    }
    if (bit(q.body.tdAttributes, 0) && !opts.allowDebug) {
        throw new TdxQuoteError('debug_td', 'the TD runs in DEBUG mode: the host can read its memory');
    }
    return info;
}

/**
 * Verifies a TDX DCAP quote (see the module comment for the exact checks). Never throws for a bad quote: the
 * result has valid=false, an error message and an error code, plus every field that could be parsed.
 */
export function verifyTdxQuote(quote: Buffer, opts: TdxVerifyOptions = {}): TdxVerifyResult {
    let parsed: ParsedTdxQuote;
    try {
        parsed = parseTdxQuote(quote);
    } catch (e) {
        if (e instanceof TdxQuoteError) return { valid: false, teeType: 'tdx', error: e.message, errorCode: e.code };
        throw e;
    }
    const fields = tdxQuoteFields(parsed);
    try {
        const pckChain = checkParsed(parsed, opts);
        return { ...fields, valid: true, pckChain };
    } catch (e) {
        if (!(e instanceof TdxQuoteError)) throw e;
        let pckChain: PckCertInfo[] | undefined;
        try {
            pckChain = parsePemChain(parsed.pckChainPem).map(certInfo);
        } catch {
            pckChain = undefined; // the chain itself is what failed to parse
        }
        return { ...fields, ...(pckChain ? { pckChain } : {}), valid: false, error: e.message, errorCode: e.code };
    }
}

/** True when the bytes start like a TDX DCAP quote (version 4/5 header with TEE type 0x81). */
export function looksLikeTdxQuote(quote: Buffer): boolean {
    if (quote.length < 8) return false;
    const version = quote.readUInt16LE(0);
    return (version === 4 || version === 5) && quote.readUInt32LE(4) === TDX_TEE_TYPE;
}
