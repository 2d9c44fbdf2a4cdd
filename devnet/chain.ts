/**
 * The devnet's chain: @ton/sandbox's Blockchain (the TVM emulator) driven like a real network.
 *  - Incoming external messages are checked against the current state first (as a lite server does, so a message
 *    the contract would not accept is refused at once), then queued; one job at a time is emulated, so concurrent
 *    sends never interleave. Acceptance returns before emulation, as on the real chain.
 *  - Block time follows the wall clock (never going backwards); every processed message is one "block".
 *  - Every transaction is recorded in the devnet's own TxIndex (newest-first paging with lt/hash cursors).
 *  - Optionally persisted in a state directory (see state.ts); saves happen only between jobs, so a saved state
 *    never has messages in flight.
 */
import { createHash, randomBytes } from 'crypto';
import {
    Address,
    Cell,
    Dictionary,
    Message,
    ShardAccount,
    TupleItem,
    beginCell,
    loadMessage,
    loadShardAccount,
    serializeTuple,
    storeMessage,
    storeShardAccount,
} from '@ton/core';
import {
    Blockchain,
    BlockchainStorage,
    BlockchainTransaction,
    GetMethodError,
    SmartContract,
    SmartContractSnapshot,
    createEmptyShardAccount,
} from '@ton/sandbox';
import { normalizedMessageHash } from '../protocol/chain/hash';
import { RpcError, liteServerError } from './errors';
import { FastGetMethods } from './getMethods';
import { BlockIdExt, renderTransaction } from './render';
import { StateStore } from './state';
import { TxEntry, TxIndex } from './txindex';

/** Source address of --fund / fund() credits (an account that does not exist; the value is minted). */
export const FAUCET_ADDRESS = new Address(0, createHash('sha256').update('cocoon-devnet-faucet').digest());
/** The config contract's address; Blueprint's provider.getConfig() reads the config from its data. */
export const CONFIG_ADDRESS = Address.parseRaw('-1:5555555555555555555555555555555555555555555555555555555555555555');
const MASTER_SHARD = '-9223372036854775808';
const LT_STEP = 1_000_000n;
/** Transactions of one message chain emulated before letting HTTP requests in. */
const YIELD_EVERY = 50;
/** Accepted messages waiting for emulation; beyond this sendBoc answers 503 (like an overloaded node). */
const MAX_QUEUE = 10_000;
/** get-method results kept (oldest evicted first) */
const GET_METHOD_CACHE_SIZE = 4096;

/** Sandbox storage that can be peeked without creating accounts (reads of random addresses must not grow state). */
class DevnetStorage implements BlockchainStorage {
    private readonly contracts = new Map<string, SmartContract>();

    async getContract(blockchain: Blockchain, address: Address): Promise<SmartContract> {
        const key = address.toRawString();
        let c = this.contracts.get(key);
        if (!c) {
            c = SmartContract.empty(blockchain, address);
            this.contracts.set(key, c);
        }
        return c;
    }

    peek(address: Address): SmartContract | undefined {
        return this.contracts.get(address.toRawString());
    }

    knownContracts(): SmartContract[] {
        return Array.from(this.contracts.values());
    }

    clearKnownContracts(): void {
        this.contracts.clear();
    }
}

interface Job {
    message: Message;
    label: string;
    resolve?: (txs: TxEntry[]) => void;
    reject?: (e: Error) => void;
}

export interface AcceptedMessage {
    /** Hash of the message cell as sent. */
    hash: Buffer;
    /** TEP-467 normalized hash (what wallets and explorers use to find the message's transaction). */
    hashNorm: Buffer;
}

export interface ChainOptions {
    stateDir?: string;
    /** Diagnostics (stderr in the CLI). */
    log?: (line: string) => void;
    /** Minimum interval between periodic saves when the state changed (ms). Default 2000. */
    saveIntervalMs?: number;
}

export class DevnetChain {
    /**
     * Formats a new transaction for the API once the emulator is idle, off the request path, as an indexing API
     * node does: watchers reading fresh history then get cached JSON instead of parsing BoCs per request.
     */
    private prerender(entry: TxEntry): void {
        setImmediate(() => {
            try {
                renderTransaction(entry);
            } catch {
                // a transaction that cannot be rendered is reported when it is requested
            }
        });
    }

    readonly index = new TxIndex();
    seqno = 1;
    chainId = randomBytes(16).toString('hex');
    private lastNow = 0;
    private readonly getMethodCache = new Map<string, { gas_used: number; exit_code: number; stack: TupleItem[] }>();
    private readonly getMethods: FastGetMethods;
    private readonly queue: Job[] = [];
    private running = false;
    private idleWaiters: (() => void)[] = [];
    private unsaved: TxEntry[] = [];
    private configCache?: { b64: string; cell: Cell };
    private configAccountCache?: { config: Cell; account: ShardAccount };
    /** Transactions of the job being executed (filled by the recording hook). */
    private jobTxs: TxEntry[] | undefined;
    /** Pollers parked in waitTransaction, by raw account address ('*' for any account). */
    private readonly txWaiters = new Map<string, Set<TxWaiter>>();
    /** Newest transaction lt recorded, by raw account address. */
    private readonly accountLts = new Map<string, bigint>();
    /** Set on shutdown: waitTransaction answers at once. */
    private shuttingDown = false;
    private dirty = false;
    private lastSave = 0;
    private saveTimer?: NodeJS.Timeout;
    private store?: StateStore;
    private closed = false;
    private readonly log: (line: string) => void;
    private readonly saveIntervalMs: number;

    private constructor(
        readonly blockchain: Blockchain,
        private readonly storage: DevnetStorage,
        opts: ChainOptions,
    ) {
        this.log = opts.log ?? (() => undefined);
        this.saveIntervalMs = opts.saveIntervalMs ?? 2000;
        this.getMethods = new FastGetMethods(blockchain);
    }

    static async create(opts: ChainOptions = {}): Promise<DevnetChain> {
        const storage = new DevnetStorage();
        // The slim config: the same parameters as the default one for everything a basechain contract touches (gas
        // and forwarding prices, storage, limits: identical cells), without the validator and bridge sections. The
        // emulator parses the whole config on every get method and transaction; slim makes a get method ~5× cheaper.
        // autoDeployLibs: libraries published by masterchain accounts become available to every contract, as on the
        // network (a registry can deploy its jobs with a library cell for their code: contracts/code_librarian.tact).
        const blockchain = await Blockchain.create({ storage, meta: undefined, config: 'slim', autoDeployLibs: true });
        // Quiet: a server must not print contract debug output on stdout.
        blockchain.verbosity = { ...blockchain.verbosity, print: false, blockchainLogs: false, vmLogs: 'none', debugLogs: false };
        const chain = new DevnetChain(blockchain, storage, opts);
        // Warm the emulator up (its first run builds the config), so the first real message is not slow.
        await chain.emulateExternal(beginCell().store(storeMessage({
            info: { type: 'external-in', src: null, dest: FAUCET_ADDRESS, importFee: 0n },
            body: beginCell().endCell(),
        })).endCell(), FAUCET_ADDRESS, false);
        if (opts.stateDir) {
            chain.store = new StateStore(opts.stateDir);
            chain.store.lock();
            try {
                await chain.restore();
            } catch (e) {
                chain.store.unlock();
                throw e;
            }
            chain.saveTimer = setInterval(() => chain.maybeSave(), Math.max(250, Math.floor(chain.saveIntervalMs / 2)));
            chain.saveTimer.unref();
        }
        chain.installRecorder();
        return chain;
    }

    /** Current block time: the wall clock, never going backwards. */
    tick(): number {
        const t = Math.floor(Date.now() / 1000);
        if (t > this.lastNow) this.lastNow = t;
        return this.lastNow;
    }

    blockId(seqno = this.seqno): BlockIdExt {
        const h = (kind: string) => createHash('sha256').update(`${this.chainId}/${kind}/${seqno}`).digest('base64');
        return { '@type': 'ton.blockIdExt', workchain: -1, shard: MASTER_SHARD, seqno, root_hash: h('root'), file_hash: h('file') };
    }

    /** The account as the chain holds it, without creating it (undefined for never-touched addresses). */
    account(address: Address): ShardAccount | undefined {
        return this.storage.peek(address)?.account;
    }

    /** The emulator's config as a cell (Blockchain.config re-parses its base64 on every access: slow). */
    config(): Cell {
        const b64 = this.blockchain.configBase64;
        if (this.configCache?.b64 !== b64) this.configCache = { b64, cell: Cell.fromBase64(b64) };
        return this.configCache.cell;
    }

    /** Config contract state synthesized from the emulator's config (only when no real account is there). */
    configAccount(): ShardAccount {
        const config = this.config();
        if (this.configAccountCache?.config === config) return this.configAccountCache.account;
        const data = beginCell().storeRef(config).storeUint(0, 32).storeUint(0, 256).storeBit(false).endCell();
        const account: ShardAccount = {
            account: {
                addr: CONFIG_ADDRESS,
                storageStats: { used: { cells: 0n, bits: 0n }, lastPaid: 0, duePayment: null, storageExtra: null },
                storage: {
                    lastTransLt: 0n,
                    balance: { coins: 0n },
                    state: { type: 'active', state: { code: beginCell().endCell(), data } },
                },
            },
            lastTransactionLt: 0n,
            lastTransactionHash: 0n,
        };
        this.configAccountCache = { config, account };
        return account;
    }

    configParam(id: number): Cell | undefined {
        const dict = this.config().beginParse().loadDictDirect(Dictionary.Keys.Int(32), Dictionary.Values.Cell());
        return dict.get(id);
    }

    /**
     * Accepts an external message for processing (sendBoc): parses it, checks that the destination contract accepts it
     * in the current state, queues it and returns its hashes. Throws the lite server's errors otherwise.
     */
    async accept(cell: Cell): Promise<AcceptedMessage> {
        if (this.closed) throw new RpcError(503, 'devnet is shutting down');
        if (this.queue.length >= MAX_QUEUE) throw new RpcError(503, `devnet is busy: ${this.queue.length} messages queued; retry later`);
        let message: Message;
        try {
            message = loadMessage(cell.beginParse());
        } catch (e) {
            throw liteServerError(
                `cannot apply external message to current state : failed to parse external message: external message is not a (Message Any) according to automated checks (${(e as Error).message})`,
            );
        }
        if (message.info.type !== 'external-in') {
            throw liteServerError(
                `cannot apply external message to current state : failed to parse external message: expected an inbound external message, got an ${message.info.type} message`,
            );
        }
        const dest = message.info.dest;
        if (dest.workChain !== 0 && dest.workChain !== -1) {
            throw liteServerError(`cannot apply external message to current state : unknown workchain ${dest.workChain}`);
        }
        const res = await this.emulateExternal(cell, dest, false);
        if (!res.result.success) {
            const exit = res.result.vmResults?.vmExitCode;
            throw liteServerError(
                `cannot apply external message to current state : External message was not accepted\n` +
                    `Cannot run message on account: inbound external message rejected by account ${dest.toRawString()}: ` +
                    `${res.result.error}` +
                    (exit !== undefined ? `\nexitcode=${exit}, gas_used=0` : ''),
            );
        }
        this.enqueue({ message, label: `external to ${dest.toRawString()}` });
        return { hash: cell.hash(), hashNorm: normalizedMessageHash(message) };
    }

    /** Credits an address with minted value through an internal message from the faucet; resolves once executed. */
    fund(address: Address, amount: bigint): Promise<TxEntry[]> {
        if (amount <= 0n) return Promise.reject(new Error(`fund amount must be positive, got ${amount}`));
        if (this.closed) return Promise.reject(new Error('devnet is shutting down'));
        const message: Message = {
            info: {
                type: 'internal',
                ihrDisabled: true,
                bounce: false,
                bounced: false,
                src: FAUCET_ADDRESS,
                dest: address,
                value: { coins: amount },
                ihrFee: 0n,
                forwardFee: 0n,
                createdLt: this.blockchain.lt + 1n,
                createdAt: this.tick(),
            },
            init: null,
            body: beginCell().endCell(),
        };
        return new Promise((resolve, reject) => this.enqueue({ message, label: `fund ${address.toRawString()}`, resolve, reject }));
    }

    /**
     * Executes any message (internal or external, no acceptance check) through the queue; resolves with the
     * transactions of its whole chain, or rejects when the first transaction cannot be executed.
     */
    send(message: Message): Promise<TxEntry[]> {
        if (this.closed) return Promise.reject(new Error('devnet is shutting down'));
        const dest = message.info.dest;
        const label = `${message.info.type} message to ${dest instanceof Address ? dest.toRawString() : '?'}`;
        return new Promise((resolve, reject) => this.enqueue({ message, label, resolve, reject }));
    }

    /**
     * Runs a get method the way toncenter reports it (exit_code -13 for accounts without code).
     *
     * Results are cached by everything a get method can see: the account's last transaction (which fixes its code,
     * data and balance), the method, the stack and the unix time (one-second resolution, like a block's). Pollers
     * ask the same question many times between two transactions. A miss goes through FastGetMethods (getMethods.ts),
     * which serializes each account's code and data once per state instead of once per call.
     */
    async runGetMethod(address: Address, method: string | number, stack: TupleItem[]) {
        const sc = this.storage.peek(address);
        if (!sc || sc.accountState?.type !== 'active') return { gas_used: 0, exit_code: -13, stack: [] as TupleItem[] };
        const now = this.tick();
        const key = `${address.toRawString()}|${sc.lastTransactionLt}|${sc.lastTransactionHash}|${method}|${now}|${stack.length === 0 ? '' : serializeTuple(stack).hash().toString('hex')}`;
        const hit = this.getMethodCache.get(key);
        if (hit) return hit;
        let result: { gas_used: number; exit_code: number; stack: TupleItem[] };
        try {
            const fast = this.getMethods.run(sc, method, stack, now);
            if (fast) {
                result = fast;
            } else {
                const r = await sc.get(method, stack, { now });
                result = { gas_used: Number(r.gasUsed), exit_code: r.exitCode, stack: r.stack };
            }
        } catch (e) {
            if (e instanceof GetMethodError) result = { gas_used: Number(e.gasUsed), exit_code: e.exitCode, stack: [] as TupleItem[] };
            else throw liteServerError(`cannot run get method: ${(e as Error).message}`);
        }
        if (this.getMethodCache.size >= GET_METHOD_CACHE_SIZE) this.getMethodCache.delete(this.getMethodCache.keys().next().value!);
        this.getMethodCache.set(key, result);
        return result;
    }

    /** Emulates an external message against the current state without applying it. */
    async emulateExternal(message: Cell, dest: Address, ignoreChksig: boolean) {
        const sc = this.storage.peek(dest);
        // SmartContract keeps its account serialized already; use it rather than re-serializing (sendBoc latency).
        const cached = (sc as unknown as { _account?: unknown } | undefined)?._account;
        const shardAccount = typeof cached === 'string'
            ? cached
            : beginCell().store(storeShardAccount(sc?.account ?? createEmptyShardAccount(dest))).endCell().toBoc().toString('base64');
        return this.blockchain.executor.runTransaction({
            config: this.blockchain.configBase64,
            libs: this.blockchain.libs ?? null,
            verbosity: 'short',
            shardAccount,
            now: this.tick(),
            lt: this.blockchain.lt + LT_STEP,
            randomSeed: Buffer.alloc(32),
            ignoreChksig,
            debugEnabled: false,
            prevBlocksInfo: this.blockchain.prevBlocks,
            message,
        });
    }

    /**
     * The devnet's push for pollers (served as devnetWaitTransaction): resolves once one of `accounts` (raw
     * "wc:hex" addresses; empty: any account) has a transaction with lt > afterLt, or when `timeoutMs` passes.
     * Returns the named accounts that changed (with their newest lt), whether anything watched moved, and the newest
     * lt among the watched accounts, which the caller passes back as its next afterLt. A poller that waits here
     * instead of sleeping reacts the moment its transaction lands and asks nothing while nothing happens; toncenter
     * has no such call, so ChainClient falls back to sleeping there.
     */
    waitTransaction(accounts: readonly string[], afterLt: bigint, timeoutMs: number): Promise<{ changed: [string, bigint][]; lt: bigint; moved: boolean }> {
        const keys = accounts.length === 0 ? [ANY_ACCOUNT] : [...new Set(accounts)];
        const snapshot = () => {
            const changed: [string, bigint][] = [];
            let lt = 0n;
            for (const k of keys) {
                const at = this.accountLts.get(k) ?? 0n;
                if (at > lt) lt = at;
                if (at > afterLt && k !== ANY_ACCOUNT) changed.push([k, at]);
            }
            return { changed, lt, moved: lt > afterLt };
        };
        const now = snapshot();
        if (now.moved || timeoutMs <= 0 || this.shuttingDown) return Promise.resolve(now);
        return new Promise((resolve) => {
            let settled = false;
            const waiter: TxWaiter = {
                afterLt,
                settle: () => {
                    if (settled) return;
                    settled = true;
                    clearTimeout(timer);
                    for (const k of keys) {
                        const set = this.txWaiters.get(k);
                        set?.delete(waiter);
                        if (set?.size === 0) this.txWaiters.delete(k);
                    }
                    // answer after the current transaction chain step: the caller's next read sees its effects
                    setImmediate(() => resolve(snapshot()));
                },
            };
            const timer = setTimeout(waiter.settle, timeoutMs);
            for (const k of keys) {
                let set = this.txWaiters.get(k);
                if (!set) this.txWaiters.set(k, (set = new Set()));
                set.add(waiter);
            }
        });
    }

    /** Answers every parked waitTransaction now (before shutdown, so the HTTP server has no long request left). */
    releaseWaiters(): void {
        this.shuttingDown = true;
        for (const set of [...this.txWaiters.values()]) for (const w of [...set]) w.settle();
    }

    private noteLt(entry: TxEntry): void {
        if ((this.accountLts.get(entry.account) ?? 0n) < entry.lt) this.accountLts.set(entry.account, entry.lt);
        if ((this.accountLts.get(ANY_ACCOUNT) ?? 0n) < entry.lt) this.accountLts.set(ANY_ACCOUNT, entry.lt);
        if (this.txWaiters.size === 0) return;
        for (const k of [entry.account, ANY_ACCOUNT]) {
            const set = this.txWaiters.get(k);
            if (set) for (const w of [...set]) if (entry.lt > w.afterLt) w.settle();
        }
    }

    /** Resolves when no message is queued or being processed. */
    waitIdle(): Promise<void> {
        if (!this.running && this.queue.length === 0) return Promise.resolve();
        return new Promise((resolve) => this.idleWaiters.push(resolve));
    }

    get pending(): number {
        return this.queue.length + (this.running ? 1 : 0);
    }

    /**
     * Stops accepting messages, lets queued ones finish (up to drainTimeoutMs), saves and releases the state dir.
     */
    async close(drainTimeoutMs = 10_000): Promise<void> {
        if (this.closed) return;
        this.closed = true;
        this.releaseWaiters();
        if (this.saveTimer) clearInterval(this.saveTimer);
        let timer: NodeJS.Timeout | undefined;
        const drained = await Promise.race([
            this.waitIdle().then(() => true),
            new Promise<boolean>((r) => {
                timer = setTimeout(() => r(false), drainTimeoutMs);
            }),
        ]);
        if (timer) clearTimeout(timer);
        if (!drained) this.log(`devnet: ${this.pending} message(s) still queued at shutdown; they are dropped`);
        if (this.store) {
            try {
                this.saveNow();
            } finally {
                this.store.unlock();
            }
        }
    }

    /** Writes the state now (only between jobs; no-op without a state dir). */
    saveNow(): void {
        if (!this.store) return;
        const snap = this.blockchain.snapshot();
        const accounts = snap.contracts
            .filter((c) => c.account.account || c.account.lastTransactionLt !== 0n)
            .map((c) => ({
                address: c.address.toRawString(),
                account: beginCell().store(storeShardAccount(c.account)).endCell().toBoc().toString('base64'),
                lastTxTime: c.lastTxTime,
            }));
        this.store.save(
            {
                chainId: this.chainId,
                lt: this.blockchain.lt.toString(),
                now: this.lastNow,
                seqno: this.seqno,
                libs: this.blockchain.libs ? this.blockchain.libs.toBoc().toString('base64') : null,
                accounts,
            },
            this.unsaved,
        );
        this.unsaved = [];
        this.dirty = false;
        this.lastSave = Date.now();
    }

    // ---- internals ----

    private maybeSave(): void {
        if (!this.store || !this.dirty || this.running || this.closed) return;
        if (Date.now() - this.lastSave < this.saveIntervalMs) return;
        try {
            this.saveNow();
        } catch (e) {
            this.log(`devnet: saving state failed: ${(e as Error).message}`);
        }
    }

    private async restore(): Promise<void> {
        const loaded = this.store!.load();
        if (!loaded) {
            this.saveNow(); // a fresh directory gets its genesis state right away
            return;
        }
        const { state, txs } = loaded;
        const contracts: SmartContractSnapshot[] = state.accounts.map((a) => ({
            address: Address.parseRaw(a.address),
            account: loadShardAccount(Cell.fromBase64(a.account).beginParse()),
            lastTxTime: a.lastTxTime,
        }));
        await this.blockchain.loadFrom({
            ...this.blockchain.snapshot(),
            contracts,
            lt: BigInt(state.lt),
            time: undefined,
            libs: state.libs ? Cell.fromBase64(state.libs) : undefined,
            transactions: [],
        });
        for (const t of txs) {
            this.index.add(t);
            this.noteLt(t);
        }
        this.chainId = state.chainId;
        this.seqno = state.seqno;
        this.lastNow = state.now;
        this.lastSave = Date.now();
        this.log(`devnet: restored ${contracts.length} accounts and ${txs.length} transactions from ${this.store!.dir}`);
    }

    private enqueue(job: Job): void {
        this.queue.push(job);
        if (!this.running) {
            this.running = true;
            setImmediate(() => void this.pump());
        }
    }

    private async pump(): Promise<void> {
        try {
            while (this.queue.length > 0) {
                const job = this.queue.shift()!;
                await this.execute(job);
                this.maybeSave();
                await new Promise((r) => setImmediate(r));
            }
        } finally {
            this.running = false;
            const waiters = this.idleWaiters;
            this.idleWaiters = [];
            for (const w of waiters) w();
        }
    }

    private async execute(job: Job): Promise<void> {
        this.blockchain.now = this.tick();
        this.blockchain.random = randomBytes(32);
        const produced: TxEntry[] = [];
        this.jobTxs = produced;
        try {
            // allowParallel gives each job its own message queue, so a failure never leaves messages behind.
            const iter = await this.blockchain.sendMessageIter(job.message, { allowParallel: true });
            let n = 0;
            for await (const _ of iter) {
                if (++n % YIELD_EVERY === 0) await new Promise((r) => setImmediate(r));
            }
        } catch (e) {
            if (produced.length === 0) {
                this.log(`devnet: dropped ${job.label}: ${firstLine((e as Error).message)}`);
                job.reject?.(e as Error);
                job.resolve = undefined;
            } else {
                this.log(`devnet: emulation stopped after ${produced.length} transaction(s) of ${job.label}: ${firstLine((e as Error).message)}`);
            }
        } finally {
            this.jobTxs = undefined;
        }
        if (produced.length > 0) this.seqno++;
        job.resolve?.(produced);
    }

    /**
     * Every transaction the sandbox executes, whichever way it was triggered (the devnet's queue, or in-process
     * code using `blockchain` directly, e.g. a treasury), passes through Blockchain's transaction log; replacing
     * that log's push records each one in the index at the moment it is executed, and keeps nothing else in memory.
     */
    private installRecorder(): void {
        const log: unknown[] = [];
        log.push = (...items: unknown[]) => {
            for (const tx of items) this.record(tx as BlockchainTransaction);
            return 0;
        };
        (this.blockchain as unknown as { transactions: unknown[] }).transactions = log;
    }

    private record(tx: BlockchainTransaction): TxEntry {
        const dest = tx.inMessage?.info.dest;
        // Without an inbound message it is a tick-tock transaction, which only masterchain accounts have.
        const wc = dest instanceof Address ? dest.workChain : -1;
        const entry: TxEntry = {
            account: `${wc}:${tx.address.toString(16).padStart(64, '0')}`,
            lt: tx.lt,
            hash: tx.hash(),
            utime: tx.now,
            boc: tx.raw.toBoc().toString('base64'),
        };
        this.index.add(entry);
        this.noteLt(entry);
        this.prerender(entry);
        this.jobTxs?.push(entry);
        if (this.store) this.unsaved.push(entry);
        this.dirty = true;
        return entry;
    }
}

/** The key of waiters on any account (raw addresses always contain a colon). */
const ANY_ACCOUNT = '*';

interface TxWaiter {
    afterLt: bigint;
    settle(): void;
}

function firstLine(s: string): string {
    const i = s.indexOf('\n');
    return i < 0 ? s : s.slice(0, i);
}
