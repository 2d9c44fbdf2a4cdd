/**
 * On-disk state of a devnet (`--state <dir>`):
 *   chain.json          every account's full ShardAccount (code, data, balance, last tx lt/hash), lt, clock, block
 *                       seqno, libraries, and how many bytes of the transaction log belong to this state. Written
 *                       atomically (temp file, fsync, rename).
 *   transactions.jsonl  the transaction index, one JSON line per transaction, append-only. Lines past the byte count
 *                       recorded in chain.json (a crash between the append and the rename) are cut off on load, so
 *                       accounts and index always come back consistent.
 *   LOCK                pid of the devnet using the directory.
 */
import * as fs from 'fs';
import * as path from 'path';
import { TxEntry } from './txindex';

export const STATE_FILE = 'chain.json';
export const TX_LOG_FILE = 'transactions.jsonl';
const LOCK_FILE = 'LOCK';
const FORMAT = 'cocoon-devnet-state';
const VERSION = 1;

export interface SavedAccount {
    /** Raw address. */
    address: string;
    /** Base64 BoC of the ShardAccount. */
    account: string;
    lastTxTime: number;
}

export interface SavedState {
    format: typeof FORMAT;
    version: number;
    savedAt: string;
    chainId: string;
    lt: string;
    now: number;
    seqno: number;
    libs: string | null;
    txLog: { file: string; bytes: number; count: number };
    accounts: SavedAccount[];
}

export type StateBody = Omit<SavedState, 'format' | 'version' | 'savedAt' | 'txLog'>;

export class StateError extends Error {}

/** Directories locked by this process (the LOCK file's pid cannot tell two devnets of one process apart). */
const lockedHere = new Set<string>();

interface LogLine {
    a: string;
    lt: string;
    h: string;
    u: number;
    b: string;
}

export class StateStore {
    private logBytes = 0;
    private logCount = 0;
    private locked = false;
    private lockKey?: string;

    constructor(readonly dir: string) {}

    /** Takes the directory's lock; fails when another live process holds it. */
    lock(): void {
        fs.mkdirSync(this.dir, { recursive: true });
        const key = fs.realpathSync(this.dir);
        if (lockedHere.has(key)) throw new StateError(`state directory ${this.dir} is in use by another devnet (pid ${process.pid})`);
        const file = path.join(this.dir, LOCK_FILE);
        for (let attempt = 0; attempt < 2; attempt++) {
            try {
                fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
                this.locked = true;
                this.lockKey = key;
                lockedHere.add(key);
                return;
            } catch (e) {
                if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
                const pid = Number(fs.readFileSync(file, 'utf8').trim());
                if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
                    throw new StateError(`state directory ${this.dir} is in use by another devnet (pid ${pid})`);
                }
                fs.rmSync(file, { force: true }); // stale lock of a process that is gone (or of ourselves)
            }
        }
        throw new StateError(`cannot lock state directory ${this.dir}`);
    }

    unlock(): void {
        if (!this.locked) return;
        this.locked = false;
        if (this.lockKey) lockedHere.delete(this.lockKey);
        try {
            fs.rmSync(path.join(this.dir, LOCK_FILE), { force: true });
        } catch {
            // best effort
        }
    }

    /** Reads the saved state, or returns undefined for a fresh directory. */
    load(): { state: SavedState; txs: TxEntry[] } | undefined {
        const stateFile = path.join(this.dir, STATE_FILE);
        const logFile = path.join(this.dir, TX_LOG_FILE);
        if (!fs.existsSync(stateFile)) {
            if (fs.existsSync(logFile)) {
                // A log without a state belongs to no chain we can restore; keep it aside rather than mixing it in.
                fs.renameSync(logFile, `${logFile}.orphaned-${Date.now()}`);
            }
            this.logBytes = 0;
            this.logCount = 0;
            return undefined;
        }
        let state: SavedState;
        try {
            state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
        } catch (e) {
            throw new StateError(`state file ${stateFile} is not valid JSON: ${(e as Error).message}`);
        }
        if (state.format !== FORMAT || state.version !== VERSION) {
            throw new StateError(`state file ${stateFile} is not a devnet state of version ${VERSION}`);
        }
        const want = state.txLog?.bytes ?? 0;
        let log = Buffer.alloc(0);
        if (fs.existsSync(logFile)) log = fs.readFileSync(logFile);
        if (log.length < want) {
            throw new StateError(`transaction log ${logFile} has ${log.length} bytes, the state expects ${want}`);
        }
        if (log.length > want) {
            fs.truncateSync(logFile, want); // transactions of a state that was never saved
            log = log.subarray(0, want);
        }
        const txs: TxEntry[] = [];
        const text = log.toString('utf8');
        let lineNo = 0;
        for (const line of text.split('\n')) {
            lineNo++;
            if (line === '') continue;
            try {
                const l = JSON.parse(line) as LogLine;
                txs.push({ account: l.a, lt: BigInt(l.lt), hash: Buffer.from(l.h, 'hex'), utime: l.u, boc: l.b });
            } catch (e) {
                throw new StateError(`transaction log ${logFile} line ${lineNo} is corrupt: ${(e as Error).message}`);
            }
        }
        if (txs.length !== state.txLog.count) {
            throw new StateError(`transaction log ${logFile} holds ${txs.length} transactions, the state expects ${state.txLog.count}`);
        }
        this.logBytes = want;
        this.logCount = txs.length;
        return { state, txs };
    }

    /** Appends the new transactions to the log, then atomically replaces the state file. */
    save(body: StateBody, newTxs: readonly TxEntry[]): void {
        fs.mkdirSync(this.dir, { recursive: true });
        if (newTxs.length > 0) {
            const lines = newTxs
                .map((t) => JSON.stringify({ a: t.account, lt: t.lt.toString(), h: t.hash.toString('hex'), u: t.utime, b: t.boc } satisfies LogLine))
                .join('\n') + '\n';
            const buf = Buffer.from(lines, 'utf8');
            const fd = fs.openSync(path.join(this.dir, TX_LOG_FILE), 'a');
            try {
                fs.writeSync(fd, buf);
                fs.fsyncSync(fd);
            } finally {
                fs.closeSync(fd);
            }
            this.logBytes += buf.length;
            this.logCount += newTxs.length;
        }
        const state: SavedState = {
            format: FORMAT,
            version: VERSION,
            savedAt: new Date().toISOString(),
            ...body,
            txLog: { file: TX_LOG_FILE, bytes: this.logBytes, count: this.logCount },
        };
        const target = path.join(this.dir, STATE_FILE);
        const tmp = `${target}.tmp-${process.pid}`;
        const fd = fs.openSync(tmp, 'w');
        try {
            fs.writeSync(fd, JSON.stringify(state));
            fs.fsyncSync(fd);
        } finally {
            fs.closeSync(fd);
        }
        fs.renameSync(tmp, target);
    }
}

function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (e) {
        return (e as NodeJS.ErrnoException).code === 'EPERM';
    }
}
