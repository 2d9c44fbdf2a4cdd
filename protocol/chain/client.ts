/**
 * ChainClient: the one way every off-chain part (orchestrator, worker, client SDK, scripts) reads the chain and
 * submits messages. It speaks toncenter's v2 JSON-RPC, so the same code runs against toncenter (mainnet/testnet),
 * a self-hosted ton-http-api or the local devnet.
 *
 * Reads retry with jittered exponential backoff on 429 / 5xx / network errors. sendBoc is one attempt: resending is
 * the caller's decision and must be idempotent (WalletSender checks whether the message landed before resending).
 */
import {
    Address,
    Cell,
    Contract,
    ContractProvider,
    ContractState,
    Message,
    OpenedContract,
    Sender,
    SendMode,
    StateInit,
    Transaction,
    TupleItem,
    TupleReader,
    beginCell,
    comment,
    external,
    loadMessage,
    loadTransaction,
    openContract,
    storeMessage,
    toNano,
} from '@ton/core';
import { ChainApiError, GetMethodError } from './errors';
import { normalizedMessageHash } from './hash';
import { parseApiStack, serializeApiStack } from './stack';
import { CallOptions, JsonRpcTransport, TransportOptions } from './transport';

export interface ChainClientOptions extends TransportOptions {
    /**
     * Use the devnet's push for waits (waitForTransactions). Default: on, unless the environment sets
     * COCOON_CHAIN_PUSH=off (for a proxy that cuts long requests, or to measure polling against pushing).
     */
    push?: boolean;
}

/** The push setting from COCOON_CHAIN_PUSH: on (also when unset) or off; anything else is refused. */
export function chainPushFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
    const v = env.COCOON_CHAIN_PUSH;
    if (v === undefined || v === '' || v === 'on') return true;
    if (v === 'off') return false;
    throw new Error(`COCOON_CHAIN_PUSH must be "on" or "off", got ${JSON.stringify(v)}`);
}

export type AccountStatus = 'active' | 'uninit' | 'frozen';

export interface AccountState {
    address: Address;
    balance: bigint;
    status: AccountStatus;
    code: Cell | null;
    data: Cell | null;
    lastTransaction: { lt: bigint; hash: Buffer } | null;
    extraCurrencies: Record<number, bigint>;
    /** Chain time of the state (seconds). */
    syncUtime: number;
}

export interface GetMethodResult {
    exitCode: number;
    gasUsed: number;
    stack: TupleItem[];
    reader: TupleReader;
}

export interface ChainTransaction {
    address: Address;
    lt: bigint;
    hash: Buffer;
    utime: number;
    /** The parsed transaction (in/out messages, phases, fees). */
    tx: Transaction;
}

export interface TransactionsQuery {
    limit?: number;
    /** Start from this transaction (inclusive); both lt and hash, as the API requires. */
    lt?: bigint;
    hash?: Buffer;
    /** Only transactions with lt > toLt. */
    toLt?: bigint;
}

export interface MasterchainInfo {
    seqno: number;
    workchain: number;
    shard: string;
    rootHash: string;
}

interface RawAccountInfo {
    balance: string | number;
    extra_currencies?: { id: number; amount: string }[];
    state: 'active' | 'uninitialized' | 'frozen';
    code: string;
    data: string;
    last_transaction_id: { lt: string; hash: string };
    frozen_hash?: string;
    sync_utime: number;
}

interface RawTransaction {
    data: string;
    utime: number;
    transaction_id: { lt: string; hash: string };
}

const TX_PAGE = 16;

/** Longest single push wait (ms): a longer maxWaitMs returns after it and the caller reads again. */
const MAX_PUSH_WAIT_MS = 10_000;

/** What waitForTransactions saw. */
export interface TransactionWait {
    /** Whether a watched account (any account, when none were named) has a transaction after `afterLt`. */
    moved: boolean;
    /** The named accounts with a transaction after `afterLt`, newest lt each (empty when the wait ran out). */
    changed: { address: Address; lt: bigint }[];
    /** Newest lt among the watched accounts (pass it back as the next afterLt); absent when nothing was pushed. */
    lt?: bigint;
    /** false when the endpoint cannot push and the call simply slept. */
    pushed: boolean;
}

interface RawWaitResult {
    moved: boolean;
    changed: { account: string; lt: string }[];
    lt: string;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export class ChainClient {
    readonly transport: JsonRpcTransport;

    /** Whether the endpoint answers devnetWaitTransaction: unknown until the first wait. */
    private push: 'unknown' | 'yes' | 'no' = 'unknown';

    constructor(opts: ChainClientOptions) {
        this.transport = new JsonRpcTransport(opts);
        if (!(opts.push ?? chainPushFromEnv())) this.push = 'no';
    }

    /**
     * Waits until one of `addresses` (none: any account) has a transaction with lt > afterLt, or `maxWaitMs` passed,
     * whichever is first. Pollers call this instead of sleeping between two reads.
     *
     * On the devnet this is a push: one long request that the node answers the moment such a transaction is
     * executed, so a poller reacts at once and sends nothing while nothing happens. toncenter and ton-http-api have
     * no such call: there the first attempt's error marks the endpoint and every wait is a plain sleep (the caller
     * then reads as it always did).
     */
    async waitForTransactions(addresses: readonly Address[], afterLt: bigint, maxWaitMs: number): Promise<TransactionWait> {
        const until = Date.now() + Math.max(0, maxWaitMs);
        if (this.push !== 'no' && maxWaitMs > 0) {
            const timeoutMs = Math.max(0, Math.min(maxWaitMs, MAX_PUSH_WAIT_MS, this.transport.requestTimeoutMs - 1_000));
            try {
                const r = await this.call<RawWaitResult>(
                    'devnetWaitTransaction',
                    { addresses: addresses.map((a) => a.toRawString()), after_lt: afterLt.toString(), timeout_ms: timeoutMs },
                    { retry: false },
                );
                this.push = 'yes';
                return { moved: r.moved, changed: r.changed.map((c) => ({ address: Address.parseRaw(c.account), lt: BigInt(c.lt) })), lt: BigInt(r.lt), pushed: true };
            } catch (e) {
                // An answer that is an error means the method does not exist here; a network error says nothing.
                if (e instanceof ChainApiError && this.push === 'unknown') this.push = 'no';
            }
        }
        const left = until - Date.now();
        if (left > 0) await sleep(left);
        return { moved: false, changed: [], pushed: false };
    }

    get endpoint(): string {
        return this.transport.endpoint;
    }

    /** A raw API call (any toncenter v2 method). Reads retry by default. */
    call<T>(method: string, params: Record<string, unknown> = {}, opts?: CallOptions): Promise<T> {
        return this.transport.call<T>(method, params, opts);
    }

    async getAccount(address: Address): Promise<AccountState> {
        const r = await this.call<RawAccountInfo>('getAddressInformation', { address: address.toString() });
        const extra: Record<number, bigint> = {};
        for (const ec of r.extra_currencies ?? []) extra[ec.id] = BigInt(ec.amount);
        return {
            address,
            balance: BigInt(r.balance),
            status: r.state === 'uninitialized' ? 'uninit' : r.state,
            code: r.code ? Cell.fromBase64(r.code) : null,
            data: r.data ? Cell.fromBase64(r.data) : null,
            lastTransaction:
                r.last_transaction_id.lt !== '0'
                    ? { lt: BigInt(r.last_transaction_id.lt), hash: Buffer.from(r.last_transaction_id.hash, 'base64') }
                    : null,
            extraCurrencies: extra,
            syncUtime: r.sync_utime,
        };
    }

    async getBalance(address: Address): Promise<bigint> {
        return BigInt(await this.call<string>('getAddressBalance', { address: address.toString() }));
    }

    async isDeployed(address: Address): Promise<boolean> {
        return (await this.getAccount(address)).status === 'active';
    }

    /** Runs a get method and returns whatever exit code it produced. */
    async runGetMethodRaw(address: Address, method: string | number, args: TupleItem[] = []): Promise<GetMethodResult> {
        const r = await this.call<{ exit_code: number; gas_used: number; stack: unknown[] }>('runGetMethod', {
            address: address.toString(),
            method,
            stack: serializeApiStack(args),
        });
        const stack = parseApiStack(r.stack);
        return { exitCode: r.exit_code, gasUsed: r.gas_used, stack, reader: new TupleReader(stack) };
    }

    /** Runs a get method; throws GetMethodError unless it exits with 0 or 1. */
    async runGetMethod(address: Address, method: string | number, args: TupleItem[] = []): Promise<GetMethodResult> {
        const r = await this.runGetMethodRaw(address, method, args);
        if (r.exitCode !== 0 && r.exitCode !== 1) throw new GetMethodError(address.toString(), method, r.exitCode);
        return r;
    }

    /** One page of an account's transactions, newest first (API semantics: lt+hash inclusive, to_lt exclusive). */
    async getTransactions(address: Address, q: TransactionsQuery = {}): Promise<ChainTransaction[]> {
        const params: Record<string, unknown> = { address: address.toString(), limit: q.limit ?? 10, archival: true };
        if (q.lt !== undefined && q.hash !== undefined) {
            params.lt = q.lt.toString();
            params.hash = q.hash.toString('hex');
        }
        if (q.toLt !== undefined) params.to_lt = q.toLt.toString();
        const raw = await this.call<RawTransaction[]>('getTransactions', params);
        return raw.map((r) => {
            const cell = Cell.fromBase64(r.data);
            return {
                address,
                lt: BigInt(r.transaction_id.lt),
                hash: Buffer.from(r.transaction_id.hash, 'base64'),
                utime: r.utime,
                tx: loadTransaction(cell.beginParse()),
            };
        });
    }

    /**
     * All transactions of an account newest → oldest, paging with the previous-transaction links (no duplicates,
     * no gaps). Stops at toLt (exclusive) or the account's first transaction.
     */
    async *transactions(address: Address, opts: { toLt?: bigint; pageSize?: number; from?: { lt: bigint; hash: Buffer } } = {}): AsyncGenerator<ChainTransaction> {
        let cursor = opts.from;
        const limit = opts.pageSize ?? TX_PAGE;
        for (;;) {
            const page = await this.getTransactions(address, { limit, toLt: opts.toLt, ...(cursor ?? {}) });
            for (const t of page) yield t;
            const last = page[page.length - 1];
            if (page.length < limit || !last || last.tx.prevTransactionLt === 0n) return;
            if (opts.toLt !== undefined && last.tx.prevTransactionLt <= opts.toLt) return;
            cursor = { lt: last.tx.prevTransactionLt, hash: Buffer.from(last.tx.prevTransactionHash.toString(16).padStart(64, '0'), 'hex') };
        }
    }

    /** The transaction of `address` whose inbound external message has this TEP-467 normalized hash, if any. */
    async findExternalTransaction(address: Address, normalizedHash: Buffer, opts: { toLt?: bigint } = {}): Promise<ChainTransaction | null> {
        for await (const t of this.transactions(address, { toLt: opts.toLt })) {
            const m = t.tx.inMessage;
            if (m && m.info.type === 'external-in' && normalizedMessageHash(m).equals(normalizedHash)) return t;
        }
        return null;
    }

    /** Submits a serialized external message. One attempt, never retried here. */
    async sendBoc(boc: Buffer | Cell): Promise<{ hash: Buffer; normalizedHash: Buffer }> {
        const cell = boc instanceof Cell ? boc : Cell.fromBoc(boc)[0];
        const bytes = boc instanceof Cell ? boc.toBoc() : boc;
        await this.call('sendBoc', { boc: bytes.toString('base64') }, { retry: false });
        return { hash: cell.hash(), normalizedHash: normalizedMessageHash(loadMessage(cell.beginParse())) };
    }

    async sendMessage(message: Message): Promise<{ hash: Buffer; normalizedHash: Buffer }> {
        return this.sendBoc(beginCell().store(storeMessage(message)).endCell());
    }

    async getMasterchainInfo(): Promise<MasterchainInfo> {
        const r = await this.call<{ last: { seqno: number; workchain: number; shard: string; root_hash: string } }>('getMasterchainInfo');
        return { seqno: r.last.seqno, workchain: r.last.workchain, shard: r.last.shard, rootHash: r.last.root_hash };
    }

    async estimateExternalFee(address: Address, args: { body: Cell; init?: StateInit | null; ignoreSignature?: boolean }) {
        const r = await this.call<{ source_fees: { in_fwd_fee: number; storage_fee: number; gas_fee: number; fwd_fee: number } }>('estimateFee', {
            address: address.toString(),
            body: args.body.toBoc().toString('base64'),
            init_code: args.init?.code ? args.init.code.toBoc().toString('base64') : '',
            init_data: args.init?.data ? args.init.data.toBoc().toString('base64') : '',
            ignore_chksig: args.ignoreSignature ?? true,
        });
        const f = r.source_fees;
        return {
            inFwdFee: BigInt(f.in_fwd_fee),
            storageFee: BigInt(f.storage_fee),
            gasFee: BigInt(f.gas_fee),
            fwdFee: BigInt(f.fwd_fee),
            total: BigInt(f.in_fwd_fee) + BigInt(f.storage_fee) + BigInt(f.gas_fee) + BigInt(f.fwd_fee),
        };
    }

    /** A @ton/core ContractProvider, so generated wrappers work unchanged: `client.open(MyContract.fromAddress(a))`. */
    provider(address: Address, init?: StateInit | null): ContractProvider {
        return new HttpContractProvider(this, address, init ?? null);
    }

    open<T extends Contract>(contract: T): OpenedContract<T> {
        return openContract(contract, (p) => this.provider(p.address, p.init));
    }
}

class HttpContractProvider implements ContractProvider {
    constructor(
        private readonly client: ChainClient,
        private readonly address: Address,
        private readonly init: StateInit | null,
    ) {}

    async getState(): Promise<ContractState> {
        const a = await this.client.getAccount(this.address);
        const ec = Object.keys(a.extraCurrencies).length > 0 ? a.extraCurrencies : null;
        const state: ContractState['state'] =
            a.status === 'active'
                ? { type: 'active', code: a.code?.toBoc() ?? null, data: a.data?.toBoc() ?? null }
                : a.status === 'frozen'
                  ? { type: 'frozen', stateHash: Buffer.alloc(0) }
                  : { type: 'uninit' };
        return { balance: a.balance, extracurrency: ec, last: a.lastTransaction, state };
    }

    async get(name: string | number, args: TupleItem[]) {
        const r = await this.client.runGetMethod(this.address, name, args);
        return { stack: r.reader, gasUsed: BigInt(r.gasUsed) };
    }

    async external(message: Cell): Promise<void> {
        const init = this.init && !(await this.client.isDeployed(this.address)) ? this.init : null;
        await this.client.sendMessage(external({ to: this.address, init, body: message }));
    }

    async internal(via: Sender, args: { value: bigint | string; bounce?: boolean | null; sendMode?: SendMode; body?: Cell | string | null; extracurrency?: Record<number, bigint> | null }) {
        const init = this.init && !(await this.client.isDeployed(this.address)) ? this.init : undefined;
        await via.send({
            to: this.address,
            value: typeof args.value === 'string' ? toNano(args.value) : args.value,
            bounce: args.bounce ?? true,
            sendMode: args.sendMode,
            extracurrency: args.extracurrency,
            init,
            body: typeof args.body === 'string' ? comment(args.body) : args.body,
        });
    }

    open<T extends Contract>(contract: T): OpenedContract<T> {
        return this.client.open(contract);
    }

    async getTransactions(address: Address, lt: bigint, hash: Buffer, limit?: number): Promise<Transaction[]> {
        const page = await this.client.getTransactions(address, { lt, hash, limit: limit ?? 100 });
        return page.map((t) => t.tx);
    }
}
