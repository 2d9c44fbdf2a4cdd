/**
 * Blueprint scripts run against the devnet: `npx blueprint run devnetPing --custom <endpoint> --custom-version v2
 * --custom-type testnet --mnemonic` with WALLET_MNEMONIC / WALLET_VERSION=v4 deploys the wallet and pings itself.
 */
import { spawn } from 'child_process';
import * as path from 'path';
import { toNano } from '@ton/core';
import { Devnet, startDevnet } from '../../devnet';
import { newWallet } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
let devnet: Devnet;

afterAll(async () => {
    await devnet?.close();
});

function blueprint(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, [path.join(ROOT, 'node_modules', '@ton', 'blueprint', 'dist', 'cli', 'cli.js'), ...args], {
            cwd: ROOT,
            env: { ...process.env, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
        child.on('exit', (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr });
        });
    });
}

test('blueprint run scripts/devnetPing.ts deploys the mnemonic wallet and sends 0.01 TON to itself', async () => {
    const w = await newWallet();
    devnet = await startDevnet({ port: 0, fund: [{ address: w.wallet.address, amount: toNano('3') }] });
    const r = await blueprint(
        ['run', 'devnetPing', '--custom', devnet.endpoint, '--custom-version', 'v2', '--custom-type', 'testnet', '--mnemonic'],
        { WALLET_MNEMONIC: w.mnemonic.join(' '), WALLET_VERSION: 'v4' },
    );
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/Error/) });
    const line = r.stdout.split('\n').find((l) => l.startsWith('{"event":"devnet-ping"'));
    expect(line).toBeDefined();
    const ping = JSON.parse(line!);
    expect(ping).toMatchObject({ address: w.wallet.address.toRawString(), state: 'active', balanceBefore: toNano('3').toString(), seqno: 1 });
    const spent = toNano('3') - BigInt(ping.balanceAfter);
    expect(spent).toBeGreaterThan(0n); // fees only: the 0.01 TON came back
    expect(spent).toBeLessThan(toNano('0.05'));
}, 60_000);
