/** Redis keys and value encodings of the chain watcher (see docs/watcher.md). */
import { Address } from '@ton/core';
import { WATCHER_KEY_PREFIX } from '../../protocol/work';

/** `cocoon:{chain}:watcher:`: the {chain} hash tag keeps every watcher key in one Redis Cluster slot (protocol/work.ts). */
export const DEFAULT_KEY_PREFIX = WATCHER_KEY_PREFIX;

/** Where the watcher's processing of one account stands: its newest fully handled transaction. */
export interface Cursor {
    lt: bigint;
    hash: Buffer;
}

export function encodeCursor(c: Cursor | null): string | null {
    return c ? `${c.lt.toString()}:${c.hash.toString('hex')}` : null;
}

export function decodeCursor(v: string | null | undefined): Cursor | null {
    if (!v) return null;
    const m = /^(\d+):([0-9a-f]{64})$/.exec(v);
    if (!m) throw new Error(`malformed watcher cursor ${JSON.stringify(v)}`);
    return { lt: BigInt(m[1]), hash: Buffer.from(m[2], 'hex') };
}

export class WatcherKeys {
    constructor(readonly prefix: string = DEFAULT_KEY_PREFIX) {}

    /** HASH raw address → contract kind: the followed set. */
    get follow(): string {
        return `${this.prefix}follow`;
    }

    /** STRING `<lt>:<hash hex>`: the newest transaction of the account whose events are all committed. */
    cursor(address: Address | string): string {
        return `${this.prefix}cursor:${raw(address)}`;
    }

    /** ZSET of handled event ids (`<tx hash hex>:<out index>`), score = transaction lt; bounded. */
    done(address: Address | string): string {
        return `${this.prefix}done:${raw(address)}`;
    }
}

function raw(a: Address | string): string {
    return typeof a === 'string' ? a : a.toRawString();
}
