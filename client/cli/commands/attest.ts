import * as fs from 'fs';
import { Command, CommandIO, ParsedArgs, UsageError } from '../command';
import { detectQuoteType, parseVendorPublicKey, TdxVerifyResult, verifyQuote, VerifiedQuote, SimulatedVerifyResult } from '../../../protocol/attestation';

/**
 * `cocoon attest verify <quote-file>`: verifies an Intel TDX DCAP quote (v4/v5) or a simulated quote and prints
 * its measurement, MRTD/RTMRs and report data. Exit 0 valid, 1 invalid, 2 usage error. See docs/attestation.md.
 */
export const attestVerify: Command = {
    path: ['attest', 'verify'],
    summary: 'Verify a TEE quote (Intel TDX DCAP v4/v5, or simulated) and print its measurement and report data',
    usage: '<quote-file> [--json]',
    example: 'cocoon attest verify tests/fixtures/tdx/quote-v4.dat --json',
    options: [
        {
            name: 'vendor-key',
            type: 'string',
            description: 'simulated TEE vendor public key (64 hex chars); needed for simulated quotes only',
            env: 'COCOON_TEE_VENDOR_KEY',
        },
        {
            name: 'at',
            type: 'string',
            description: 'verification time, ISO 8601 (certificate validity is checked at this time; default now)',
        },
    ],
    async run(args: ParsedArgs, io: CommandIO): Promise<number> {
        if (args.positionals.length === 0) throw new UsageError('missing <quote-file>');
        if (args.positionals.length > 1) throw new UsageError(`expected one quote file, got ${args.positionals.length}: ${args.positionals.join(' ')}`);
        const file = args.positionals[0];
        let quote: Buffer;
        try {
            quote = fs.readFileSync(file);
        } catch (e) {
            const err = e as NodeJS.ErrnoException;
            const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EISDIR' ? 'is a directory' : err.message;
            throw new UsageError(`cannot read quote file ${file}: ${why}`);
        }

        let now: Date | undefined;
        if (args.options.at !== undefined) {
            const at = String(args.options.at);
            now = new Date(at);
            if (!/^\d{4}-\d{2}-\d{2}/.test(at) || Number.isNaN(now.getTime())) {
                throw new UsageError(`--at must be an ISO 8601 time such as 2030-01-01T00:00:00Z, got ${JSON.stringify(at)}`);
            }
        }
        const vendorKey = args.options['vendor-key'] as string | undefined;
        if (vendorKey !== undefined) {
            try {
                parseVendorPublicKey(vendorKey);
            } catch (e) {
                throw new UsageError(`--vendor-key (or COCOON_TEE_VENDOR_KEY): ${(e as Error).message}`);
            }
        }
        if (detectQuoteType(quote) === 'simulated' && vendorKey === undefined) {
            throw new UsageError(`${file} is a simulated quote: pass the simulated TEE vendor public key with --vendor-key <hex> or COCOON_TEE_VENDOR_KEY`);
        }

        const result = verifyQuote(quote, { now, vendorPublicKey: vendorKey });
        if (args.json) {
            io.out(JSON.stringify(jsonView(file, quote, result)));
        } else {
            for (const line of textView(file, quote, result)) io.out(line);
        }
        if (!result.valid) {
            io.error(`cocoon attest verify: invalid quote: ${result.error}`);
            return 1;
        }
        return 0;
    },
};

function jsonView(file: string, quote: Buffer, r: VerifiedQuote): Record<string, unknown> {
    const d = r.details as { version?: number } | undefined;
    const tdx = r.teeType === 'tdx' ? (r.details as TdxVerifyResult | undefined) : undefined;
    const sim = r.teeType === 'simulated' ? (r.details as SimulatedVerifyResult | undefined) : undefined;
    return {
        file,
        bytes: quote.length,
        valid: r.valid,
        teeType: r.teeType,
        version: d?.version ?? null,
        measurement: r.measurement ?? null,
        mrtd: r.mrtd ?? null,
        rtmr: r.rtmr ?? null,
        reportData: r.reportData ?? null,
        attestationHash: r.attestationHash,
        ...(tdx
            ? {
                  tcbSvn: tdx.tcbSvn ?? null,
                  attributes: tdx.attributes ?? null,
                  mrSeam: tdx.mrSeam ?? null,
                  mrConfigId: tdx.mrConfigId ?? null,
                  mrOwner: tdx.mrOwner ?? null,
                  mrOwnerConfig: tdx.mrOwnerConfig ?? null,
                  qe: tdx.qe ?? null,
                  pckChain: tdx.pckChain ?? null,
              }
            : {}),
        ...(sim ? { timestamp: sim.timestamp ?? null, vendorPublicKey: sim.vendorPublicKey ?? null } : {}),
        ...(r.warning ? { warning: r.warning } : {}),
        ...(r.valid ? {} : { error: r.error, errorCode: r.errorCode }),
    };
}

function textView(file: string, quote: Buffer, r: VerifiedQuote): string[] {
    const lines = [`quote:           ${file} (${quote.length} bytes, sha256 ${r.attestationHash})`];
    const version = (r.details as { version?: number } | undefined)?.version;
    lines.push(`TEE:             ${r.teeType}${version !== undefined ? ` (quote version ${version})` : ''}`);
    if (r.warning) lines.push(`WARNING:         ${r.warning}`);
    lines.push(`valid:           ${r.valid ? 'yes' : `NO (${r.errorCode})`}`);
    if (r.measurement) lines.push(`measurement:     ${r.measurement}`);
    if (r.mrtd) lines.push(`MRTD:            ${r.mrtd}`);
    r.rtmr?.forEach((v, i) => lines.push(`RTMR${i}:           ${v}`));
    if (r.reportData) lines.push(`report data:     ${r.reportData}`);
    if (r.teeType === 'tdx' && r.details) {
        const t = r.details as TdxVerifyResult;
        if (t.tcbSvn) lines.push(`TEE TCB SVN:     ${t.tcbSvn}`);
        if (t.attributes) lines.push(`TD attributes:   ${t.attributes.td} (debug: ${t.attributes.debug ? 'YES' : 'no'})`);
        for (const c of t.pckChain ?? []) lines.push(`PCK chain:       ${c.subject} (valid ${c.validFrom} to ${c.validTo})`);
    }
    if (r.teeType === 'simulated' && r.details) {
        const s = r.details as SimulatedVerifyResult;
        if (s.timestamp) lines.push(`quoted at:       ${s.timestamp}`);
        if (s.vendorPublicKey) lines.push(`vendor key:      ${s.vendorPublicKey}`);
    }
    return lines;
}
