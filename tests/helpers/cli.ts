/**
 * Runs the real `cocoon` binary (bin/cocoon.js) as a child process and collects its output, for CLI tests.
 * COCOON_* variables of the test's own environment are dropped unless passed in `env`, so a developer's settings
 * cannot change what a test sees.
 */
import { execFile } from 'child_process';
import * as path from 'path';

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
