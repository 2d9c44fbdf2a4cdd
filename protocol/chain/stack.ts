/**
 * Get-method stacks in toncenter v2's JSON format, both directions.
 * Results: ['num','0x…'], ['cell',{bytes}], ['slice',{bytes}], ['list'|'tuple',{elements:[tvm.stackEntry…]}].
 * Unlike @ton/ton's TonClient this keeps nested entries as proper TupleItems, and rebuilds tonlib's flattened
 * lists as the nested pairs TVM uses.
 */
import { Cell, TupleItem } from '@ton/core';

function cellOf(v: unknown, where: string): Cell {
    const bytes = typeof v === 'object' && v !== null && 'bytes' in v ? (v as { bytes: unknown }).bytes : v;
    if (typeof bytes !== 'string') throw new Error(`${where}: expected base64 bytes`);
    return Cell.fromBase64(bytes);
}

function parseNum(v: unknown, where: string): bigint {
    if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
    if (typeof v !== 'string') throw new Error(`${where}: expected a number`);
    const neg = v.startsWith('-');
    const n = BigInt(neg ? v.slice(1) : v);
    return neg ? -n : n;
}

/** TVM list (a, (b, (c, null))) from tonlib's flattened element array. */
function listToPairs(items: TupleItem[]): TupleItem {
    let acc: TupleItem = { type: 'null' };
    for (let i = items.length - 1; i >= 0; i--) acc = { type: 'tuple', items: [items[i], acc] };
    return acc;
}

function parseEntry(x: unknown, where: string): TupleItem {
    const o = x as Record<string, any>;
    switch (o?.['@type']) {
        case 'tvm.stackEntryNumber':
            return { type: 'int', value: parseNum(o.number?.number, where) };
        case 'tvm.stackEntryCell':
            return { type: 'cell', cell: cellOf(o.cell, where) };
        case 'tvm.stackEntrySlice':
            return { type: 'slice', cell: cellOf(o.slice ?? o.cell, where) };
        case 'tvm.stackEntryTuple':
            return { type: 'tuple', items: (o.tuple?.elements ?? []).map((e: unknown, i: number) => parseEntry(e, `${where}[${i}]`)) };
        case 'tvm.stackEntryList':
            return listToPairs((o.list?.elements ?? []).map((e: unknown, i: number) => parseEntry(e, `${where}[${i}]`)));
        case 'tvm.stackEntryUnsupported':
            return { type: 'nan' };
        default:
            throw new Error(`${where}: unsupported stack entry ${JSON.stringify(o?.['@type'])}`);
    }
}

export function parseApiStack(stack: unknown[]): TupleItem[] {
    return stack.map((s, i) => {
        const where = `stack[${i}]`;
        if (!Array.isArray(s)) throw new Error(`${where}: expected a [type, value] pair`);
        const [type, v] = s as [string, any];
        switch (type) {
            case 'num':
                return v === 'NaN' ? { type: 'nan' } : { type: 'int', value: parseNum(v, where) };
            case 'null':
                return { type: 'null' };
            case 'cell':
                return { type: 'cell', cell: cellOf(v, where) };
            case 'slice':
                return { type: 'slice', cell: cellOf(v, where) };
            case 'builder':
                return { type: 'builder', cell: cellOf(v, where) };
            case 'tuple':
                return { type: 'tuple', items: (v?.elements ?? []).map((e: unknown, j: number) => parseEntry(e, `${where}[${j}]`)) };
            case 'list':
                return listToPairs((v?.elements ?? []).map((e: unknown, j: number) => parseEntry(e, `${where}[${j}]`)));
            default:
                throw new Error(`${where}: unsupported stack entry type ${JSON.stringify(type)}`);
        }
    });
}

/** Get-method arguments as toncenter takes them (and as @ton/ton sends them). */
export function serializeApiStack(items: TupleItem[]): unknown[] {
    return items.map((item) => {
        switch (item.type) {
            case 'int':
                return ['num', item.value.toString()];
            case 'cell':
                return ['tvm.Cell', item.cell.toBoc().toString('base64')];
            case 'slice':
                return ['tvm.Slice', item.cell.toBoc().toString('base64')];
            case 'builder':
                return ['tvm.Builder', item.cell.toBoc().toString('base64')];
            case 'null':
                return ['null', null];
            case 'tuple':
                // Understood by the devnet; public toncenter does not take tuple arguments.
                return ['tuple', serializeApiStack(item.items)];
            default:
                throw new Error(`get-method arguments of type ${item.type} cannot be sent over the HTTP API`);
        }
    });
}
