/**
 * The devnet's own transaction index: every transaction the chain executed, per account, in lt order.
 * (The sandbox's Blockchain.getTransactions reverses its list in place and matches cursors by Buffer identity, so
 * the devnet never uses it.)
 */
export interface TxEntry {
    /** Raw address of the account, `<wc>:<hex>`. */
    account: string;
    lt: bigint;
    hash: Buffer;
    utime: number;
    /** Base64 BoC of the Transaction cell, exactly as executed. */
    boc: string;
}

export interface TxQuery {
    limit: number;
    /** Start (inclusive) from this transaction; both must be given, as in toncenter, or the newest is used. */
    lt?: bigint;
    hash?: Buffer;
    /** Stop before transactions with lt <= toLt (exclusive bound, as toncenter's to_lt). */
    toLt?: bigint;
}

export class TxCursorNotFound extends Error {}

export class TxIndex {
    private readonly byAccount = new Map<string, TxEntry[]>();
    private readonly byHash = new Map<string, TxEntry>();
    private total = 0;

    get size(): number {
        return this.total;
    }

    add(entry: TxEntry): void {
        let list = this.byAccount.get(entry.account);
        if (!list) {
            list = [];
            this.byAccount.set(entry.account, list);
        }
        const last = list[list.length - 1];
        if (last && last.lt >= entry.lt) {
            // Never expected (lt grows monotonically), but keep the list sorted if it happens.
            const at = this.upperBound(list, entry.lt);
            list.splice(at, 0, entry);
        } else {
            list.push(entry);
        }
        this.byHash.set(entry.hash.toString('hex'), entry);
        this.total++;
    }

    /** Transactions of one account, newest first. Throws TxCursorNotFound when lt+hash names no transaction. */
    query(account: string, q: TxQuery): TxEntry[] {
        const list = this.byAccount.get(account) ?? [];
        let start = list.length - 1;
        if (q.lt !== undefined && q.hash !== undefined) {
            const i = this.upperBound(list, q.lt) - 1;
            if (i < 0 || list[i].lt !== q.lt || !list[i].hash.equals(q.hash)) {
                throw new TxCursorNotFound(
                    `cannot locate transaction lt=${q.lt} hash=${q.hash.toString('hex')} of account ${account}`,
                );
            }
            start = i;
        }
        const out: TxEntry[] = [];
        for (let i = start; i >= 0 && out.length < q.limit; i--) {
            if (q.toLt !== undefined && list[i].lt <= q.toLt) break;
            out.push(list[i]);
        }
        return out;
    }

    /** All transactions of an account in lt order (oldest first). */
    all(account: string): readonly TxEntry[] {
        return this.byAccount.get(account) ?? [];
    }

    byTxHash(hash: Buffer): TxEntry | undefined {
        return this.byHash.get(hash.toString('hex'));
    }

    /** Index of the first entry with lt > value. */
    upperBound(list: readonly TxEntry[], value: bigint): number {
        let lo = 0;
        let hi = list.length;
        while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (list[mid].lt <= value) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
