/**
 * localnet/processes.ts with a fake child (a tiny Node script written to a temp dir): the ready line, log
 * forwarding, SIGTERM then SIGKILL, the ready timeout, a crash before ready, and no orphans when the parent dies.
 */
import { isAlive } from '../helpers/cli';
import { execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { liveChildCount, startChild } from '../../localnet/processes';

const ROOT = path.join(__dirname, '..', '..');

const FAKE_CHILD = `
const mode = process.argv[2];
console.error('fake child starting in mode ' + mode);
if (mode === 'crash') { console.error('boom: cannot open the model'); process.exit(3); }
if (mode === 'silent') { console.error('still loading'); setInterval(() => {}, 1000); }
else {
    console.log('some log line');
    setTimeout(() => console.log(JSON.stringify({ ready: true, api: 'http://127.0.0.1:1', pid: process.pid })), 50);
    setInterval(() => {}, 1000);
    if (mode === 'stubborn') process.on('SIGTERM', () => console.error('ignoring SIGTERM'));
    else process.on('SIGTERM', () => { console.error('draining'); setTimeout(() => process.exit(0), 50); });
}
`;

/** A parent that starts a child through processes.ts, prints its pid, then dies as told. */
const PARENT = (fake: string) => `
const path = require('path');
require(path.join(${JSON.stringify(ROOT)}, 'node_modules', 'ts-node')).register({ transpileOnly: true, swc: true, project: path.join(${JSON.stringify(ROOT)}, 'tsconfig.json') });
const { startChild } = require(path.join(${JSON.stringify(ROOT)}, 'localnet', 'processes'));
startChild({ name: 'fake', script: ${JSON.stringify(fake)}, args: ['ok'] }).then((c) => {
    console.log(JSON.stringify({ child: c.pid }));
    if (process.argv[2] === 'throw') setTimeout(() => { throw new Error('parent crashed'); }, 50);
    else setInterval(() => {}, 1000);
});
`;


async function waitGone(pid: number, ms: number): Promise<boolean> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
        if (!isAlive(pid)) return true;
        await new Promise((r) => setTimeout(r, 100));
    }
    return !isAlive(pid);
}

describe('localnet processes', () => {
    let tmp: string;
    let fake: string;
    let parent: string;

    beforeAll(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-processes-'));
        fake = path.join(tmp, 'fake-child.js');
        fs.writeFileSync(fake, FAKE_CHILD);
        parent = path.join(tmp, 'parent.js');
        fs.writeFileSync(parent, PARENT(fake));
    });

    afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it('resolves on the ready line, forwards labelled logs, and stops with SIGTERM', async () => {
        const logs: string[] = [];
        const child = await startChild({ name: 'fake', script: fake, args: ['ok'], onLog: (name, stream, line) => logs.push(`${name}/${stream}: ${line}`) });
        expect(child.ready).toMatchObject({ ready: true, api: 'http://127.0.0.1:1', pid: child.pid });
        expect(child.running).toBe(true);
        expect(liveChildCount()).toBe(1);
        expect(logs).toEqual(expect.arrayContaining(['fake/stderr: fake child starting in mode ok', 'fake/stdout: some log line']));
        expect(logs.some((l) => l.includes('"ready"'))).toBe(false);
        const exit = await child.stop();
        expect(exit).toEqual({ code: 0, signal: null });
        expect(child.stderrTail()).toContain('draining');
        expect(child.running).toBe(false);
        expect(liveChildCount()).toBe(0);
        expect(await child.stop()).toEqual(exit); // idempotent
    });

    it('kills a child that ignores SIGTERM after the grace period', async () => {
        const child = await startChild({ name: 'stubborn', script: fake, args: ['stubborn'], stopGraceMs: 300 });
        const t = Date.now();
        expect(await child.stop()).toEqual({ code: null, signal: 'SIGKILL' });
        expect(Date.now() - t).toBeGreaterThanOrEqual(250);
        expect(isAlive(child.pid)).toBe(false);
    });

    it('rejects on a timeout or a crash before ready, with the last stderr lines, and leaves nothing running', async () => {
        await expect(startChild({ name: 'slow worker', script: fake, args: ['silent'], readyTimeoutMs: 1500, stopGraceMs: 300 })).rejects.toThrow(
            /slow worker did not print its ready line within 1\.5 s; its last stderr lines:\n {2}fake child starting in mode silent\n {2}still loading/,
        );
        await expect(startChild({ name: 'crashy worker', script: fake, args: ['crash'] })).rejects.toThrow(
            /crashy worker exited \(code 3\) before it was ready; its last stderr lines:[\s\S]*boom: cannot open the model/,
        );
        expect(liveChildCount()).toBe(0);
    });

    it('leaves no orphan when the parent dies of an uncaught error or is SIGKILLed', async () => {
        const childOf = (mode: string) =>
            new Promise<{ parentPid: number; childPid: number; exited: Promise<void> }>((resolve, reject) => {
                const p = spawn(process.execPath, [parent, mode], { stdio: ['ignore', 'pipe', 'pipe'] });
                const exited = new Promise<void>((r) => p.once('exit', () => r()));
                let buf = '';
                p.stdout.on('data', (d) => {
                    buf += d;
                    const m = /\{"child":(\d+)\}/.exec(buf);
                    if (m) resolve({ parentPid: p.pid!, childPid: Number(m[1]), exited });
                });
                p.once('exit', (code) => reject(new Error(`parent exited early (${code})`)));
            });

        const crashed = await childOf('throw');
        await crashed.exited;
        expect(await waitGone(crashed.childPid, 5_000)).toBe(true);

        const killed = await childOf('wait');
        process.kill(killed.parentPid, 'SIGKILL');
        await killed.exited;
        // the child notices it was re-parented (parent-watch.js polls every 500 ms) and shuts down
        expect(await waitGone(killed.childPid, 5_000)).toBe(true);
    }, 30_000);
});
