/**
 * `cocoon devnet` as a process: one JSON ready line on stdout, serves the API, funds addresses, stops cleanly on
 * SIGTERM (saving its state), and rejects bad flags with a usage error.
 */
import { ChildProcess, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Address, toNano } from '@ton/core';
import { freePort, rpc } from './helpers';

const ROOT = path.join(__dirname, '..', '..');
const BIN = path.join(ROOT, 'bin', 'cocoon.js');
const children: ChildProcess[] = [];
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-devnet-cli-'));

afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    fs.rmSync(tmp, { recursive: true, force: true });
});

interface Run {
    child: ChildProcess;
    stdout: () => string;
    stderr: () => string;
    exited: Promise<number | null>;
}

function cocoon(args: string[]): Run {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, COCOON_CONFIG: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, stdout: () => out, stderr: () => err, exited };
}

async function firstLine(run: Run, timeoutMs = 40_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!run.stdout().includes('\n')) {
        if (run.child.exitCode !== null) throw new Error(`cocoon exited with ${run.child.exitCode}: ${run.stderr()}`);
        if (Date.now() > deadline) throw new Error(`no ready line within ${timeoutMs} ms; stderr: ${run.stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
    }
    return run.stdout().split('\n')[0];
}

test('prints exactly one ready line, serves and funds, and stops cleanly on SIGTERM saving its state', async () => {
    const port = await freePort();
    const funded = new Address(0, Buffer.alloc(32, 0xc1));
    const friendly = new Address(0, Buffer.alloc(32, 0xc2));
    const stateDir = path.join(tmp, 'state');
    const run = cocoon([
        'devnet', '--port', String(port), '--state', stateDir,
        '--fund', `${funded.toRawString()}=5`,
        '--fund', `${friendly.toString({ bounceable: false, testOnly: true })}=0.25`,
    ]);
    const line = await firstLine(run);
    expect(JSON.parse(line)).toEqual({ event: 'ready', endpoint: `http://127.0.0.1:${port}/jsonRPC` });
    const endpoint = JSON.parse(line).endpoint;

    expect((await rpc(endpoint, 'getAddressBalance', { address: funded.toString() })).body.result).toBe(toNano('5').toString());
    expect((await rpc(endpoint, 'getAddressBalance', { address: friendly.toRawString() })).body.result).toBe(toNano('0.25').toString());
    expect((await rpc(endpoint, 'getMasterchainInfo')).body.ok).toBe(true);

    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toBe(line + '\n'); // nothing else on stdout
    expect(run.stderr()).toMatch(/SIGTERM received, shutting down/);
    const saved = JSON.parse(fs.readFileSync(path.join(stateDir, 'chain.json'), 'utf8'));
    expect(saved.txLog.count).toBe(2);
    expect(fs.existsSync(path.join(stateDir, 'LOCK'))).toBe(false);
    await expect(fetch(endpoint)).rejects.toThrow();
});

test('bad --fund values and ports are usage errors (exit 2) with a clear message', async () => {
    const bad = cocoon(['devnet', '--port', '0', '--fund', 'not-an-address=5', '--fund', '0:' + 'ab'.repeat(32) + '=-1']);
    expect(await bad.exited).toBe(2);
    expect(bad.stderr()).toMatch(/cocoon devnet: "not-an-address" is not a TON address/);
    expect(bad.stdout()).toBe('');
});
