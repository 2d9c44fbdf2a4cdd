/**
 * Renders chain objects in toncenter v2's JSON shapes (what tonlib + pytonlib produce and what @ton/ton's HttpApi
 * validates), and parses the get-method stack format in both directions.
 */
import {
    Address,
    Cell,
    Dictionary,
    Message,
    ShardAccount,
    Transaction,
    TupleItem,
    beginCell,
    loadMessage,
    loadTransaction,
    storeStateInit,
} from '@ton/core';
import { invalidParam } from './errors';
import { TxEntry } from './txindex';
import { BocError, decodeBoc, describe } from './params';

export const ZERO_HASH_B64 = Buffer.alloc(32).toString('base64');

export interface BlockIdExt {
    '@type': 'ton.blockIdExt';
    workchain: number;
    shard: string;
    seqno: number;
    root_hash: string;
    file_hash: string;
}

const bocCache = new WeakMap<Cell, string>();

/** Base64 BoC of a cell, memoized per cell object (account code/data objects are reused until the account changes). */
export function bocB64(cell: Cell): string {
    let b = bocCache.get(cell);
    if (b === undefined) {
        b = cell.toBoc().toString('base64');
        bocCache.set(cell, b);
    }
    return b;
}

export function renderAddress(a: Address): string {
    return a.toString({ urlSafe: true, bounceable: true, testOnly: false });
}

export function bigintHashToB64(h: bigint): string {
    return Buffer.from(h.toString(16).padStart(64, '0'), 'hex').toString('base64');
}

export function accountStateName(sa: ShardAccount | undefined): 'active' | 'uninitialized' | 'frozen' {
    const t = sa?.account?.storage.state.type;
    return t === 'active' ? 'active' : t === 'frozen' ? 'frozen' : 'uninitialized';
}

export function renderExtraCurrencies(other: Dictionary<number, bigint> | null | undefined) {
    if (!other) return [];
    return other.keys().map((id) => ({ '@type': 'extraCurrency', id, amount: other.get(id)!.toString() }));
}

export function renderTransactionId(sa: ShardAccount | undefined) {
    return {
        '@type': 'internal.transactionId',
        lt: (sa?.lastTransactionLt ?? 0n).toString(),
        hash: sa ? bigintHashToB64(sa.lastTransactionHash) : ZERO_HASH_B64,
    };
}

/** raw.fullAccountState as getAddressInformation returns it. */
export function renderAccountInformation(sa: ShardAccount | undefined, block: BlockIdExt, syncUtime: number) {
    const acc = sa?.account ?? undefined;
    const state = acc?.storage.state;
    const active = state?.type === 'active' ? state.state : undefined;
    return {
        '@type': 'raw.fullAccountState',
        balance: (acc?.storage.balance.coins ?? 0n).toString(),
        extra_currencies: renderExtraCurrencies(acc?.storage.balance.other),
        code: active?.code ? bocB64(active.code) : '',
        data: active?.data ? bocB64(active.data) : '',
        last_transaction_id: renderTransactionId(sa),
        block_id: block,
        frozen_hash: state?.type === 'frozen' ? bigintHashToB64(state.stateHash) : '',
        sync_utime: syncUtime,
        state: accountStateName(sa),
    };
}

// ---- transactions and messages ----

function commentOf(body: Cell): string | null {
    try {
        const s = body.beginParse();
        if (s.remainingBits < 32 || s.loadUint(32) !== 0) return null;
        const text = s.loadStringTail();
        return text.includes('\uFFFD') ? null : text;
    } catch {
        return null;
    }
}

export function renderMessage(cell: Cell) {
    const msg: Message = loadMessage(cell.beginParse());
    const info = msg.info;
    const text = commentOf(msg.body);
    const msgData = text !== null
        ? { '@type': 'msg.dataText', text: Buffer.from(text, 'utf8').toString('base64') }
        : {
              '@type': 'msg.dataRaw',
              body: msg.body.toBoc().toString('base64'),
              init_state: msg.init ? beginCell().store(storeStateInit(msg.init)).endCell().toBoc().toString('base64') : '',
          };
    const common = {
        '@type': 'raw.message',
        hash: cell.hash().toString('base64'),
        body_hash: msg.body.hash().toString('base64'),
        msg_data: msgData,
        // pytonlib's decoding: the text of a comment, otherwise the base64 of the body's root data bits.
        message: text ?? msg.body.beginParse().loadBuffer(Math.floor(msg.body.bits.length / 8)).toString('base64'),
    };
    if (info.type === 'internal') {
        return {
            ...common,
            source: renderAddress(info.src),
            destination: renderAddress(info.dest),
            value: info.value.coins.toString(),
            extra_currencies: renderExtraCurrencies(info.value.other),
            fwd_fee: info.forwardFee.toString(),
            ihr_fee: info.ihrFee.toString(),
            created_lt: info.createdLt.toString(),
        };
    }
    if (info.type === 'external-in') {
        return {
            ...common,
            source: '',
            destination: renderAddress(info.dest),
            value: '0',
            extra_currencies: [],
            fwd_fee: info.importFee.toString(),
            ihr_fee: '0',
            created_lt: '0',
        };
    }
    return {
        ...common,
        source: renderAddress(info.src),
        destination: '',
        value: '0',
        extra_currencies: [],
        fwd_fee: '0',
        ihr_fee: '0',
        created_lt: info.createdLt.toString(),
    };
}

/** The exact message cells of a transaction (in_msg and out_msgs as stored, so their hashes are the real ones). */
export function messageCells(raw: Cell): { inMsg: Cell | null; outMsgs: Cell[] } {
    const s = raw.refs[0].beginParse();
    const inMsg = s.loadBit() ? s.loadRef() : null;
    const dict = s.loadDict(Dictionary.Keys.Uint(15), Dictionary.Values.Cell());
    const outMsgs = dict.keys().sort((a, b) => a - b).map((k) => dict.get(k)!);
    return { inMsg, outMsgs };
}

export function parseTxEntry(entry: TxEntry): { cell: Cell; tx: Transaction } {
    const cell = Cell.fromBase64(entry.boc);
    return { cell, tx: loadTransaction(cell.beginParse()) };
}

const TX_CACHE_MAX = 5_000;
const txCache = new Map<string, Record<string, unknown>>();

/** raw.transaction as getTransactions returns it (memoized: watchers re-read the same recent transactions). */
export function renderTransaction(entry: TxEntry): Record<string, unknown> {
    const key = entry.hash.toString('hex');
    let out = txCache.get(key);
    if (out) {
        txCache.delete(key); // most recently used goes last
    } else {
        out = renderTransactionUncached(entry);
        if (txCache.size >= TX_CACHE_MAX) txCache.delete(txCache.keys().next().value!);
    }
    txCache.set(key, out);
    return out;
}

function renderTransactionUncached(entry: TxEntry): Record<string, unknown> {
    const { cell, tx } = parseTxEntry(entry);
    const { inMsg, outMsgs } = messageCells(cell);
    const total = tx.totalFees.coins;
    const d = tx.description;
    const storage = d.type === 'generic' || d.type === 'storage' || d.type === 'tick-tock'
        ? (d.storagePhase?.storageFeesCollected ?? 0n)
        : 0n;
    const out: Record<string, unknown> = {
        '@type': 'raw.transaction',
        address: { '@type': 'accountAddress', account_address: renderAddress(Address.parseRaw(entry.account)) },
        utime: tx.now,
        data: entry.boc,
        transaction_id: { '@type': 'internal.transactionId', lt: entry.lt.toString(), hash: entry.hash.toString('base64') },
        fee: total.toString(),
        storage_fee: storage.toString(),
        other_fee: (total - storage).toString(),
        out_msgs: outMsgs.map(renderMessage),
    };
    if (inMsg) out.in_msg = renderMessage(inMsg);
    return out;
}

// ---- get-method stacks ----

function numHex(v: bigint): string {
    return v < 0n ? '-0x' + (-v).toString(16) : '0x' + v.toString(16);
}

function typedEntry(item: TupleItem): unknown {
    switch (item.type) {
        case 'int':
            return { '@type': 'tvm.stackEntryNumber', number: { '@type': 'tvm.numberDecimal', number: item.value.toString() } };
        case 'nan':
            return { '@type': 'tvm.stackEntryUnsupported' };
        case 'null':
            return { '@type': 'tvm.stackEntryList', list: { '@type': 'tvm.list', elements: [] } };
        case 'cell':
        case 'builder':
            return { '@type': 'tvm.stackEntryCell', cell: { '@type': 'tvm.cell', bytes: item.cell.toBoc().toString('base64') } };
        case 'slice':
            return { '@type': 'tvm.stackEntrySlice', slice: { '@type': 'tvm.slice', bytes: item.cell.toBoc().toString('base64') } };
        case 'tuple':
            return { '@type': 'tvm.stackEntryTuple', tuple: { '@type': 'tvm.tuple', elements: item.items.map(typedEntry) } };
    }
}

/** A get-method result stack in toncenter's format: ['num','0x…'], ['cell',{bytes}], ['tuple',{elements}], … */
export function renderStack(items: TupleItem[]): unknown[] {
    return items.map((item) => {
        switch (item.type) {
            case 'int':
                return ['num', numHex(item.value)];
            case 'nan':
                return ['num', 'NaN'];
            case 'null':
                return ['list', { '@type': 'tvm.list', elements: [] }];
            case 'cell':
            case 'slice':
            case 'builder':
                // toncenter (tvm_valuetypes) reports cells and slices alike as 'cell'.
                return ['cell', { bytes: item.cell.toBoc().toString('base64') }];
            case 'tuple':
                return ['tuple', { '@type': 'tvm.tuple', elements: item.items.map(typedEntry) }];
        }
    });
}

function parseNumber(v: unknown, where: string): bigint {
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    if (typeof v === 'string') {
        const t = v.trim();
        const neg = t.startsWith('-');
        const body = neg ? t.slice(1) : t;
        if (/^0x[0-9a-fA-F]+$/.test(body) || /^\d+$/.test(body)) {
            const n = BigInt(body);
            return neg ? -n : n;
        }
    }
    throw invalidParam(`${where}: expected an integer (number, decimal or 0x-hex string), got ${describe(v)}`);
}

function cellArg(v: unknown, where: string): Cell {
    const b64 = typeof v === 'object' && v !== null && 'bytes' in v ? (v as { bytes: unknown }).bytes : v;
    try {
        return decodeBoc(b64, 'bytes');
    } catch (e) {
        if (e instanceof BocError) throw invalidParam(`${where}: ${e.message}`);
        throw e;
    }
}

function parseTypedEntry(e: unknown, where: string): TupleItem {
    if (typeof e !== 'object' || e === null) throw invalidParam(`${where}: expected a tvm.stackEntry* object`);
    const o = e as Record<string, any>;
    switch (o['@type']) {
        case 'tvm.stackEntryNumber':
            return { type: 'int', value: parseNumber(o.number?.number, where) };
        case 'tvm.stackEntryCell':
            return { type: 'cell', cell: cellArg(o.cell, where) };
        case 'tvm.stackEntrySlice':
            return { type: 'slice', cell: cellArg(o.slice, where) };
        case 'tvm.stackEntryTuple':
            return { type: 'tuple', items: (o.tuple?.elements ?? []).map((x: unknown, i: number) => parseTypedEntry(x, `${where}[${i}]`)) };
        case 'tvm.stackEntryList': {
            const els = o.list?.elements ?? [];
            return els.length === 0 ? { type: 'null' } : { type: 'tuple', items: els.map((x: unknown, i: number) => parseTypedEntry(x, `${where}[${i}]`)) };
        }
        default:
            throw invalidParam(`${where}: unsupported stack entry type ${describe(o['@type'])}`);
    }
}

/** Parses the `stack` parameter of runGetMethod: [['num', 5], ['tvm.Cell', '<b64>'], ['slice', {bytes}], …]. */
export function parseStackParam(value: unknown): TupleItem[] {
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) throw invalidParam(`Parameter "stack" must be an array of [type, value] pairs, got ${describe(value)}`);
    return value.map((entry, i) => parseStackPair(entry, `stack[${i}]`));
}

function parseStackPair(entry: unknown, where: string): TupleItem {
    if (!Array.isArray(entry) || entry.length < 1 || typeof entry[0] !== 'string') {
        throw invalidParam(`${where}: expected a [type, value] pair, got ${describe(entry)}`);
    }
    const [type, v] = entry as [string, unknown];
    switch (type) {
        case 'num':
        case 'number':
        case 'int':
            return { type: 'int', value: parseNumber(v, where) };
        case 'cell':
        case 'tvm.Cell':
            return { type: 'cell', cell: cellArg(v, where) };
        case 'slice':
        case 'tvm.Slice':
            return { type: 'slice', cell: cellArg(v, where) };
        case 'builder':
        case 'tvm.Builder':
            return { type: 'builder', cell: cellArg(v, where) };
        case 'null':
            return { type: 'null' };
        case 'tuple':
        case 'list':
        case 'tvm.Tuple': {
            const els = Array.isArray(v) ? v : (v as { elements?: unknown[] } | null)?.elements;
            if (!Array.isArray(els)) throw invalidParam(`${where}: a tuple needs an array of elements`);
            const items = els.map((x, i) =>
                Array.isArray(x) ? parseStackPair(x, `${where}[${i}]`) : parseTypedEntry(x, `${where}[${i}]`),
            );
            return type === 'list' && items.length === 0 ? { type: 'null' } : { type: 'tuple', items };
        }
        default:
            throw invalidParam(`${where}: unsupported stack entry type ${JSON.stringify(type)}`);
    }
}
