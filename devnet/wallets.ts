/** Known wallet codes for getWalletInformation (as toncenter: detected by code hash, seqno/wallet_id from data). */
import { Cell } from '@ton/core';
import {
    WalletContractV1R1,
    WalletContractV1R2,
    WalletContractV1R3,
    WalletContractV2R1,
    WalletContractV2R2,
    WalletContractV3R1,
    WalletContractV3R2,
    WalletContractV4,
    WalletContractV5R1,
} from '@ton/ton';

type Layout = 'seqno' | 'v3' | 'v5';

interface KnownWallet {
    type: string;
    layout: Layout;
}

let known: Map<string, KnownWallet> | undefined;

function table(): Map<string, KnownWallet> {
    if (known) return known;
    const publicKey = Buffer.alloc(32);
    const entries: [Cell, string, Layout][] = [
        [WalletContractV1R1.create({ workchain: 0, publicKey }).init.code, 'wallet v1 r1', 'seqno'],
        [WalletContractV1R2.create({ workchain: 0, publicKey }).init.code, 'wallet v1 r2', 'seqno'],
        [WalletContractV1R3.create({ workchain: 0, publicKey }).init.code, 'wallet v1 r3', 'seqno'],
        [WalletContractV2R1.create({ workchain: 0, publicKey }).init.code, 'wallet v2 r1', 'seqno'],
        [WalletContractV2R2.create({ workchain: 0, publicKey }).init.code, 'wallet v2 r2', 'seqno'],
        [WalletContractV3R1.create({ workchain: 0, publicKey }).init.code, 'wallet v3 r1', 'v3'],
        [WalletContractV3R2.create({ workchain: 0, publicKey }).init.code, 'wallet v3 r2', 'v3'],
        [WalletContractV4.create({ workchain: 0, publicKey }).init.code, 'wallet v4 r2', 'v3'],
        [WalletContractV5R1.create({ publicKey }).init.code, 'wallet v5 r1', 'v5'],
    ];
    known = new Map(entries.map(([code, type, layout]) => [code.hash().toString('hex'), { type, layout }]));
    return known;
}

export interface WalletDetails {
    wallet_type: string;
    seqno: number;
    wallet_id?: number;
}

/** Wallet type, seqno and wallet id of an active account, or undefined when the code is not a known wallet. */
export function detectWallet(code: Cell | undefined | null, data: Cell | undefined | null): WalletDetails | undefined {
    if (!code || !data) return undefined;
    const w = table().get(code.hash().toString('hex'));
    if (!w) return undefined;
    try {
        const s = data.beginParse();
        if (w.layout === 'v5') {
            s.loadBit();
            const seqno = s.loadUint(32);
            return { wallet_type: w.type, seqno, wallet_id: s.loadUint(32) };
        }
        const seqno = s.loadUint(32);
        if (w.layout === 'v3') return { wallet_type: w.type, seqno, wallet_id: s.loadUint(32) };
        return { wallet_type: w.type, seqno };
    } catch {
        return undefined;
    }
}
