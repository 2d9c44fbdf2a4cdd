/**
 * The scripts through the real Blueprint CLI against the local devnet: the script's own arguments follow `--`
 * (or are given as name=value), the mnemonic wallet pays, the deployment file of a local endpoint is devnet.json,
 * and a bad argument fails with the script's message and exit code 1.
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Address, toNano } from '@ton/core';
import { mnemonicNew, mnemonicToPrivateKey } from '@ton/crypto';
import { TonClient, WalletContractV4 } from '@ton/ton';
import { Devnet, startDevnet } from '../../devnet';
import { Registry } from '../../wrappers';
import { NETWORK_IDS } from '../../protocol/network';

const ROOT = path.join(__dirname, '..', '..');
let devnet: Devnet | undefined;
let dir: string;

afterAll(async () => {
    await devnet?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

function blueprint(args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [path.join(ROOT, 'node_modules', '@ton', 'blueprint', 'dist', 'cli', 'cli.js'), ...args], {
            cwd: ROOT,
            // type-checking every import on each run would take most of the test's time budget
            env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', COCOON_NON_INTERACTIVE: '1', ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        child.stderr.on('data', (d) => (out += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
        child.on('exit', (code) => {
            clearTimeout(timer);
            resolve({ code, out });
        });
    });
}

test('deployRegistry through `npx blueprint run … --mnemonic -- <args>`, then a rejected argument', async () => {
    const mnemonic = await mnemonicNew();
    const key = await mnemonicToPrivateKey(mnemonic);
    const wallet = WalletContractV4.create({ workchain: 0, publicKey: key.publicKey });
    devnet = await startDevnet({ port: 0, fund: [{ address: wallet.address, amount: toNano('5') }] });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-cli-'));
    const network = ['--custom', devnet.endpoint, '--custom-version', 'v2', '--custom-type', 'testnet', '--mnemonic'];
    const env = { WALLET_MNEMONIC: mnemonic.join(' '), WALLET_VERSION: 'v4' };

    const deploy = await blueprint(['run', 'deployRegistry', ...network, '--', '--deployments', dir, '--network-id', 'devnet', '--fee-bps', '100'], env);
    expect(deploy.out).toMatch(/deployRegistry: registry \S+ deployed on testnet \(network id 4411203, /);
    expect(deploy.code).toBe(0);
    const file = path.join(dir, 'devnet.json'); // a local endpoint is the devnet, whatever --custom-type says
    const d = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(d).toMatchObject({ network: 'devnet', networkId: NETWORK_IDS.devnet, chain: 'testnet', owner: wallet.address.toString({ testOnly: true }) });

    const registry = new TonClient({ endpoint: devnet.endpoint }).open(Registry.fromAddress(Address.parse(d.registry)));
    expect((await registry.getParams()).protocolFeeBps).toBe(100n);
    expect((await registry.getGovernance()).owner.equals(wallet.address)).toBe(true);

    const bad = await blueprint(['run', 'allowMeasurement', ...network, `deployments=${dir}`, 'measurement=0x1234'], env);
    expect(bad.code).toBe(1);
    expect(bad.out).toContain('Error: --measurement: expected a 256-bit hash as 64 hex characters (0x prefix optional), got 4 hex characters');
}, 58_000);
