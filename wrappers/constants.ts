import * as fs from 'fs';
import * as path from 'path';
import { toNano } from '@ton/core';
import { Registry } from '../build/Registry/tact_Registry';

/**
 * The contracts' named constants (exit codes, bounds, fees, gas budgets), read from contracts/constants.tact so
 * that tests, scripts and off-chain code can never drift from what the contracts enforce.
 */
function readTactConstants(): Record<string, bigint> {
    const file = path.join(__dirname, '..', 'contracts', 'constants.tact');
    const out: Record<string, bigint> = {};
    const re = /^const (\w+): Int = (?:ton\("([\d.]+)"\)|(\d+));/gm;
    const text = fs.readFileSync(file, 'utf8');
    for (let m = re.exec(text); m; m = re.exec(text)) {
        out[m[1]] = m[2] !== undefined ? toNano(m[2]) : BigInt(m[3]);
    }
    return out;
}

const all = readTactConstants();

function pick(prefix: string): Record<string, number> {
    return Object.fromEntries(
        Object.entries(all)
            .filter(([k]) => k.startsWith(prefix))
            .map(([k, v]) => [k, Number(v)]),
    );
}

/** Exit codes by name, e.g. ExitCode.ErrJobNotOpen === 1301. */
export const ExitCode = pick('Err') as Record<string, number>;
/** Gas budgets of the hot-path messages, e.g. GasBudget.GasOfferClaim. */
export const GasBudget = pick('Gas') as Record<string, number>;

export function tactConstant(name: string): bigint {
    const v = all[name];
    if (v === undefined) throw new Error(`contracts/constants.tact has no constant ${name}`);
    return v;
}

export const JobStatus = {
    Uninitialized: 0,
    Open: 1,
    Claimed: 2,
    Committed: 3,
    Settled: 4,
    Cancelled: 5,
    Expired: 6,
} as const;

export const JobStatusName: Record<number, string> = Object.fromEntries(
    Object.entries(JobStatus).map(([k, v]) => [v, k]),
);

/** Known exit code -> name, for error messages (`exitCodeName(1301) === 'ErrJobNotOpen'`). */
export function exitCodeName(code: number): string {
    return Object.entries(ExitCode).find(([, v]) => v === code)?.[0] ?? `exit code ${code}`;
}

/**
 * Every message's and event's 32-bit opcode by name (from the compiler: messages.tact is the single source), e.g.
 * Opcodes.OfferClaim, Opcodes.JobClaimed. Events are external-out messages whose body starts with their opcode.
 */
export const Opcodes: Readonly<Record<string, number>> = Registry.opcodes;
