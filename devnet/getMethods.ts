/**
 * Get methods straight through the sandbox's emulator, with each account's code and data serialized once per state.
 *
 * `SmartContract.get` serializes the account's code and data to BoCs on every call (10 KB of registry code: ~3 ms of
 * pure-JS serialization) before the emulator runs for ~1.5 ms, and every watcher, job handle, worker and SDK call
 * asks the devnet get methods. Here the BoCs are cached by cell hash (a contract's code changes almost never, its data
 * once per transaction) and the emulator's `_run_get_method` is called with exactly the parameters `SmartContract.get`
 * builds (@ton/sandbox 0.41, Executor.getMethodArgsToInternalParams). Anything this path does not handle — extra
 * currencies, previous-blocks info, a sandbox without the executor internals it uses — goes through
 * `SmartContract.get` unchanged. tests/devnet/get-methods.test.ts checks both paths give the same answers.
 */
import { Cell, parseTuple, serializeTuple, TupleItem } from '@ton/core';
import { Blockchain, SmartContract } from '@ton/sandbox';
import { getSelectorForMethod } from '@ton/sandbox/dist/utils/selector';

export interface GetMethodResult {
    gas_used: number;
    exit_code: number;
    stack: TupleItem[];
}

interface EmulatorInternals {
    invoke(method: string, args: unknown[]): unknown;
    extractString(ptr: unknown): string;
}

/** BoCs kept per cell hash; a few hundred live accounts' code and data fit many times over. */
const BOC_CACHE_SIZE = 4096;
const GAS_LIMIT = '10000000'; // SmartContract.get's default
const ZERO_SEED = Buffer.alloc(32);

export class FastGetMethods {
    private readonly bocs = new Map<string, string>();
    private readonly emulator?: EmulatorInternals;

    constructor(private readonly blockchain: Blockchain) {
        const ex = (blockchain as unknown as { executor?: Partial<EmulatorInternals> }).executor;
        if (ex && typeof ex.invoke === 'function' && typeof ex.extractString === 'function') this.emulator = ex as EmulatorInternals;
    }

    /** Whether the fast path is available (false: every call goes through SmartContract.get). */
    get available(): boolean {
        return this.emulator !== undefined;
    }

    /**
     * Runs `method` on an active account. Returns undefined when this path does not apply (the caller then uses
     * SmartContract.get); throws what SmartContract.get throws for emulator failures.
     */
    run(sc: SmartContract, method: string | number, stack: TupleItem[], now: number): GetMethodResult | undefined {
        const bc = this.blockchain as unknown as { prevBlocks?: unknown; random?: Buffer; libs?: Cell; configBase64: string };
        if (!this.emulator || bc.prevBlocks !== undefined) return undefined;
        const account = sc.account.account;
        const state = account?.storage.state;
        if (!account || state?.type !== 'active' || !state.state.code || !state.state.data) return undefined;
        const other = account.storage.balance.other;
        if (other && other.size > 0) return undefined;
        const params = {
            code: this.boc(state.state.code),
            data: this.boc(state.state.data),
            verbosity: 0,
            libs: bc.libs ? this.boc(bc.libs) : '',
            address: sc.address.toString(),
            unixtime: now,
            balance: account.storage.balance.coins.toString(),
            rand_seed: (bc.random ?? ZERO_SEED).toString('hex'),
            gas_limit: GAS_LIMIT,
            method_id: typeof method === 'string' ? getSelectorForMethod(method) : method,
            debug_enabled: false,
        };
        const stackBoc = serializeTuple(stack).toBoc().toString('base64');
        const resp = JSON.parse(this.emulator.extractString(this.emulator.invoke('_run_get_method', [JSON.stringify(params), stackBoc, bc.configBase64]))) as {
            fail?: boolean;
            message?: string;
            output: { success: boolean; error?: string; vm_exit_code: number; gas_used: string | number; stack: string };
        };
        if (resp.fail) throw new Error(`Unknown emulation error${resp.message ? `: ${resp.message}` : ''}`);
        if (!resp.output.success) throw new Error('Error invoking get method: ' + resp.output.error);
        const exit = resp.output.vm_exit_code;
        if (exit !== 0 && exit !== 1) return { gas_used: Number(resp.output.gas_used), exit_code: exit, stack: [] };
        return { gas_used: Number(resp.output.gas_used), exit_code: exit, stack: parseTuple(Cell.fromBase64(resp.output.stack)) };
    }

    private boc(cell: Cell): string {
        const key = cell.hash().toString('hex');
        let b64 = this.bocs.get(key);
        if (b64 === undefined) {
            b64 = cell.toBoc().toString('base64');
            if (this.bocs.size >= BOC_CACHE_SIZE) this.bocs.delete(this.bocs.keys().next().value!);
            this.bocs.set(key, b64);
        }
        return b64;
    }
}
