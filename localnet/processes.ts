/**
 * Child processes of a local network (`cocoon orchestrator`, `cocoon worker`): spawn `node bin/cocoon.js <args>`,
 * wait for the JSON line with `"ready":true` it prints on stdout, keep (and optionally forward) its output, and
 * stop it with SIGTERM, then SIGKILL after a grace period.
 *
 * No orphans: every live child is signalled when this process exits or dies of an uncaught error, and every
 * child runs with localnet/parent-watch.js preloaded, which shuts it down if this process is killed outright.
 */
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';

const ROOT = path.join(__dirname, '..');
/** The `cocoon` binary of this checkout. */
export const COCOON_BIN = path.join(ROOT, 'bin', 'cocoon.js');
export const PARENT_WATCH = path.join(__dirname, 'parent-watch.js');

export type LogStream = 'stdout' | 'stderr';

export interface ChildOptions {
    /** label in logs and errors, e.g. "worker provider-1" */
    name: string;
    /** arguments after the script */
    args: string[];
    /** the Node script to run (default bin/cocoon.js) */
    script?: string;
    /** variables added to this process's environment */
    env?: Record<string, string>;
    cwd?: string;
    /** how long to wait for the ready line (default 60 s) */
    readyTimeoutMs?: number;
    /** SIGTERM → SIGKILL grace period of stop() (default 10 s) */
    stopGraceMs?: number;
    /** every output line except the ready line, e.g. to forward it with a label */
    onLog?: (name: string, stream: LogStream, line: string) => void;
}

/** The parsed ready line: `{"ready":true, ...}`. */
export type ReadyLine = { ready: true } & Record<string, unknown>;

export interface ExitInfo {
    code: number | null;
    signal: NodeJS.Signals | null;
}

export interface ManagedChild {
    name: string;
    pid: number;
    process: ChildProcess;
    ready: ReadyLine;
    /** resolves when the process exited (for any reason) */
    exited: Promise<ExitInfo>;
    /** true until the process exited */
    readonly running: boolean;
    /** last stdout lines (bounded) */
    stdoutLines(): string[];
    /** last stderr lines (bounded) */
    stderrTail(): string[];
    /** SIGTERM, then SIGKILL after the grace period; resolves with how it exited. Safe to call twice. */
    stop(): Promise<ExitInfo>;
}

const KEEP_STDOUT = 500;
const KEEP_STDERR = 50;
const SHOW_STDERR = 12;

// ---------------------------------------------------------------- orphan guard

const live = new Set<ChildProcess>();
let guardInstalled = false;

/** Signals every child still running. Synchronous: it runs from process 'exit' where nothing async happens. */
function signalAllChildren(): void {
    for (const child of live) {
        try {
            // SIGTERM lets a worker drain; parent-watch.js hard-exits it later if it does not stop on its own
            child.kill('SIGTERM');
        } catch {
            // already gone
        }
    }
}

function installOrphanGuard(): void {
    if (guardInstalled) return;
    guardInstalled = true;
    process.on('exit', signalAllChildren);
    // a monitor does not change how the process dies (still prints the error and exits 1); it only lets us clean up
    process.on('uncaughtExceptionMonitor', signalAllChildren);
}

/** How many children this process started and that have not exited yet. */
export function liveChildCount(): number {
    return live.size;
}

// ---------------------------------------------------------------- spawning

/** Splits a stream into lines (the last partial line is delivered when the stream ends). */
function onLines(stream: NodeJS.ReadableStream, handle: (line: string) => void): void {
    let buffered = '';
    stream.setEncoding?.('utf8');
    stream.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
            handle(buffered.slice(0, nl).replace(/\r$/, ''));
            buffered = buffered.slice(nl + 1);
        }
    });
    stream.on('end', () => {
        if (buffered.length > 0) handle(buffered);
        buffered = '';
    });
}

function parseReady(line: string): ReadyLine | null {
    const t = line.trim();
    if (!t.startsWith('{')) return null;
    try {
        const v = JSON.parse(t);
        return v && typeof v === 'object' && v.ready === true ? (v as ReadyLine) : null;
    } catch {
        return null;
    }
}

function push(lines: string[], line: string, max: number): void {
    lines.push(line);
    if (lines.length > max) lines.splice(0, lines.length - max);
}

/**
 * Spawns `node -r parent-watch.js <script> <args>` and resolves once it printed its ready line. Rejects (after
 * killing it) when it exits first or stays silent past the timeout, with its last stderr lines in the message.
 */
export function startChild(opts: ChildOptions): Promise<ManagedChild> {
    installOrphanGuard();
    const script = opts.script ?? COCOON_BIN;
    const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
    const graceMs = opts.stopGraceMs ?? 10_000;
    const child = spawn(process.execPath, ['-r', PARENT_WATCH, script, ...opts.args], {
        cwd: opts.cwd ?? ROOT,
        env: { ...process.env, ...opts.env },
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    live.add(child);
    const stdout: string[] = [];
    const stderr: string[] = [];
    let exitInfo: ExitInfo | undefined;
    const exited = new Promise<ExitInfo>((resolve) => {
        child.once('exit', (code, signal) => {
            live.delete(child);
            exitInfo = { code, signal };
            resolve(exitInfo);
        });
    });

    let stopping: Promise<ExitInfo> | undefined;
    const stop = (): Promise<ExitInfo> => {
        if (exitInfo) return Promise.resolve(exitInfo);
        if (!stopping) {
            stopping = (async () => {
                child.kill('SIGTERM');
                const timer = setTimeout(() => {
                    if (!exitInfo) child.kill('SIGKILL');
                }, graceMs);
                const info = await exited;
                clearTimeout(timer);
                return info;
            })();
        }
        return stopping;
    };

    const tail = () => {
        const lines = stderr.slice(-SHOW_STDERR);
        return lines.length ? `; its last stderr lines:\n  ${lines.join('\n  ')}` : '; it printed nothing on stderr';
    };

    return new Promise<ManagedChild>((resolve, reject) => {
        let ready: ReadyLine | undefined;
        let settled = false;
        const settle = (fn: () => void) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            fn();
        };
        const timer = setTimeout(() => {
            settle(() => {
                const why = `${opts.name} did not print its ready line within ${readyTimeoutMs / 1000} s${tail()}`;
                stop().then(() => reject(new Error(why)), () => reject(new Error(why)));
            });
        }, readyTimeoutMs);

        onLines(child.stdout!, (line) => {
            push(stdout, line, KEEP_STDOUT);
            if (!ready) {
                const r = parseReady(line);
                if (r) {
                    ready = r;
                    settle(() =>
                        resolve({
                            name: opts.name,
                            pid: child.pid!,
                            process: child,
                            ready: r,
                            exited,
                            get running() {
                                return exitInfo === undefined;
                            },
                            stdoutLines: () => stdout.slice(),
                            stderrTail: () => stderr.slice(),
                            stop,
                        }),
                    );
                    return;
                }
            }
            opts.onLog?.(opts.name, 'stdout', line);
        });
        onLines(child.stderr!, (line) => {
            push(stderr, line, KEEP_STDERR);
            opts.onLog?.(opts.name, 'stderr', line);
        });
        child.once('error', (e) => {
            live.delete(child);
            settle(() => reject(new Error(`cannot start ${opts.name}: ${e.message}`)));
        });
        // 'close' (not 'exit'): every output line, the last stderr lines included, has been read by then
        child.once('close', (code, signal) => {
            settle(() => reject(new Error(`${opts.name} exited (${signal ?? `code ${code}`}) before it was ready${tail()}`)));
        });
    });
}

/** `node bin/cocoon.js <args>` as a managed child. */
export function startCocoon(name: string, args: string[], opts: Omit<ChildOptions, 'name' | 'args' | 'script'> = {}): Promise<ManagedChild> {
    return startChild({ ...opts, name, args });
}

/** An onLog that writes `[name] line` through `write` (e.g. to stderr). */
export function labelledLog(write: (line: string) => void): ChildOptions['onLog'] {
    return (name, _stream, line) => write(`[${name}] ${line}`);
}
