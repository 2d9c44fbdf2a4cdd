import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { devVendorKeyPair, SimulatedTee } from '../../protocol/attestation';

// Each run starts ts-node (a few seconds on a busy machine): allow for that, and run independent calls in parallel.
jest.setTimeout(180_000);

const REPO = path.join(__dirname, '..', '..');
const BIN = path.join(REPO, 'bin', 'cocoon.js');
const FIXTURE = path.join(REPO, 'tests', 'fixtures', 'tdx', 'quote-v4.dat');

interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

function cocoon(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
    const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
    delete childEnv.COCOON_CONFIG;
    if (!('COCOON_TEE_VENDOR_KEY' in env)) delete childEnv.COCOON_TEE_VENDOR_KEY;
    return new Promise((resolve) => {
        execFile(process.execPath, [BIN, ...args], { cwd: REPO, env: childEnv, timeout: 50_000 }, (err, stdout, stderr) => {
            const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
            resolve({ code, stdout, stderr });
        });
    });
}

let tmp: string;
const vendor = devVendorKeyPair('cli-attest-test');
let simQuoteFile: string;
let tamperedFile: string;

beforeAll(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-attest-cli-'));
    const tee = new SimulatedTee({ vendorPrivateKey: vendor.privateKey, measurement: 'ef'.repeat(32) });
    simQuoteFile = path.join(tmp, 'sim.quote');
    fs.writeFileSync(simQuoteFile, await tee.quote(Buffer.alloc(64, 9)));
    const tampered = fs.readFileSync(FIXTURE);
    tampered[48 + 200] ^= 0x01; // a byte of MRTD
    tamperedFile = path.join(tmp, 'tampered.dat');
    fs.writeFileSync(tamperedFile, tampered);
});

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('cocoon attest verify', () => {
    test('a valid TDX quote: exit 0 and the JSON fields', async () => {
        const r = await cocoon(['attest', 'verify', FIXTURE, '--json', '--at', '2027-01-01T00:00:00Z']);
        expect(r.code).toBe(0);
        const out = JSON.parse(r.stdout);
        expect(out).toMatchObject({
            valid: true,
            teeType: 'tdx',
            version: 4,
            mrtd: '7357a10d2e2724dffe68813e3cc4cfcde6814d749f2fb62e3953e54f6e0b50a219786afe2cd478f684b52c61837e1114',
            reportData:
                'd21efaa8d7de2b0f5601df8b24cfbca690c5231e677d0fe35954c8be00614bd27f467a5624a6667aa74506cb14c271a48894c3ef11d2d26b269a2926fc74f87b',
            measurement: '08940bcb8fd4393f8913c36b8816e60de9916d8715fcede85da51ddb6cbf93a7',
            attestationHash: '4e36dfe92842050bdef6fc65450e8c2f3fda49beb519f65ec44ac766f8b834b5',
        });
        expect(out.rtmr).toHaveLength(4);
        expect(out.rtmr[0]).toBe('251a7f3cfc68006349444307c686485986beea461740437dae618e22a7aaac4ec0233ae0190eb1ce92ab8e9966563acc');
        expect(out.error).toBeUndefined();
        expect(out.pckChain).toHaveLength(3);
    });

    test('human-readable output', async () => {
        const r = await cocoon(['attest', 'verify', FIXTURE, '--at', '2027-01-01T00:00:00Z']);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/valid:\s+yes/);
        expect(r.stdout).toMatch(/MRTD:\s+7357a10d/);
        expect(r.stdout).toMatch(/measurement:\s+08940bcb/);
    });

    test('a tampered quote: exit 1, the error on stderr and in the JSON', async () => {
        const r = await cocoon(['attest', 'verify', tamperedFile, '--json', '--at', '2027-01-01T00:00:00Z']);
        expect(r.code).toBe(1);
        const out = JSON.parse(r.stdout);
        expect(out.valid).toBe(false);
        expect(out.errorCode).toBe('quote_signature');
        expect(out.error).toMatch(/quote signature/);
        expect(out.mrtd).toHaveLength(96);
        expect(r.stderr).toMatch(/invalid quote: quote signature/);
    });

    test('--at outside the certificates’ validity: exit 1', async () => {
        const r = await cocoon(['attest', 'verify', FIXTURE, '--json', '--at', '2040-01-01T00:00:00Z']);
        expect(r.code).toBe(1);
        expect(JSON.parse(r.stdout).errorCode).toBe('cert_validity');
    });

    test('usage errors exit 2 and name the problem', async () => {
        const missing = path.join(tmp, 'does-not-exist.dat');
        const [r, dir, none, badAt] = await Promise.all([
            cocoon(['attest', 'verify', missing]),
            cocoon(['attest', 'verify', tmp]),
            cocoon(['attest', 'verify']),
            cocoon(['attest', 'verify', FIXTURE, '--at', 'yesterday']),
        ]);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain(missing);
        expect(r.stderr).toMatch(/Usage: cocoon attest verify <quote-file>/);

        expect(dir.code).toBe(2);
        expect(dir.stderr).toContain(tmp);

        expect(none.code).toBe(2);
        expect(none.stderr).toMatch(/missing <quote-file>/);

        expect(badAt.code).toBe(2);
        expect(badAt.stderr).toMatch(/--at/);
    });

    test('simulated quotes: vendor key by flag or env, warning in the output', async () => {
        const [ok, viaEnv, wrong, noKey, badKey] = await Promise.all([
            cocoon(['attest', 'verify', simQuoteFile, '--json', '--vendor-key', vendor.publicKeyHex]),
            cocoon(['attest', 'verify', simQuoteFile], { COCOON_TEE_VENDOR_KEY: vendor.publicKeyHex }),
            cocoon(['attest', 'verify', simQuoteFile, '--json', '--vendor-key', devVendorKeyPair('other').publicKeyHex]),
            cocoon(['attest', 'verify', simQuoteFile]),
            cocoon(['attest', 'verify', simQuoteFile, '--vendor-key', 'xyz']),
        ]);
        expect(ok.code).toBe(0);
        const out = JSON.parse(ok.stdout);
        expect(out).toMatchObject({
            valid: true,
            teeType: 'simulated',
            measurement: 'ef'.repeat(32),
            reportData: '09'.repeat(64),
            mrtd: null,
            rtmr: null,
            warning: 'simulated TEE: no hardware protection',
        });

        expect(viaEnv.code).toBe(0);
        expect(viaEnv.stdout).toMatch(/WARNING:\s+simulated TEE: no hardware protection/);

        expect(wrong.code).toBe(1);
        expect(JSON.parse(wrong.stdout)).toMatchObject({ valid: false, errorCode: 'vendor_key' });

        expect(noKey.code).toBe(2);
        expect(noKey.stderr).toMatch(/--vendor-key/);

        expect(badKey.code).toBe(2);
    });

    test('not a quote at all: exit 1', async () => {
        const junk = path.join(tmp, 'junk.bin');
        fs.writeFileSync(junk, 'definitely not a quote');
        const r = await cocoon(['attest', 'verify', junk, '--json']);
        expect(r.code).toBe(1);
        expect(JSON.parse(r.stdout)).toMatchObject({ valid: false, teeType: 'unknown', errorCode: 'unknown_format' });
    });

    test('--help shows usage, options and an example', async () => {
        const r = await cocoon(['attest', 'verify', '--help']);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/Usage: cocoon attest verify <quote-file> \[--json\]/);
        expect(r.stdout).toMatch(/--vendor-key/);
        expect(r.stdout).toMatch(/COCOON_TEE_VENDOR_KEY/);
        expect(r.stdout).toMatch(/--at/);
        expect(r.stdout).toMatch(/Example:\n\s+cocoon attest verify \S+ --json/);
    });
});
