/**
 * Runs the real `cocoon` binary (bin/cocoon.js) as a child process and collects its output, for CLI tests.
 * COCOON_* variables of the test's own environment are dropped unless passed in `env`, so a developer's settings
 * cannot change what a test sees.
 */
import { execFile } from 'child_process';
import * as path from 'path';
import { parseArgs } from '../../client/cli/args';
import { Command, CommandIO, UsageError } from '../../client/cli/command';

export const COCOON_BIN = path.join(__dirname, '..', '..', 'bin', 'cocoon.js');

export interface CocoonRun {
    code: number;
    stdout: string;
    stderr: string;
}

export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('COCOON_'))), ...extra };
}

export function runCocoon(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CocoonRun> {
    return new Promise((resolve) =>
        execFile(process.execPath, [COCOON_BIN, ...args], { cwd: opts.cwd ?? path.join(__dirname, '..', '..'), env: opts.env ?? cleanEnv(), timeout: opts.timeoutMs ?? 90_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        ),
    );
}

export interface CommandRun {
    code: number;
    out: string[];
    err: string[];
    /** the last stdout line parsed as JSON, when it is JSON */
    json: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Runs a Command in this process as `cocoon` would (flags parsed, UsageError → exit 2), with no env fallbacks. */
export async function runCommand(cmd: Command, argv: string[]): Promise<CommandRun> {
    const out: string[] = [];
    const err: string[] = [];
    const io: CommandIO = { out: (l) => out.push(l), progress: (l) => err.push(l), error: (l) => err.push(l) };
    let code: number;
    try {
        code = await cmd.run(parseArgs(cmd, argv, {}), io);
    } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        code = 2;
        err.push(e.message);
    }
    let json: CommandRun['json'];
    try {
        json = JSON.parse(out[out.length - 1] ?? '');
    } catch {
        json = undefined;
    }
    return { code, out, err, json };
}

/** Whether a process with this pid exists. */
export function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}
