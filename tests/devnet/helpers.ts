import { randomBytes } from 'crypto';
import { KeyPair, keyPairFromSeed, mnemonicNew, mnemonicToPrivateKey } from '@ton/crypto';
import { WalletContractV4 } from '@ton/ton';
export { freePort } from '../helpers/net';

export interface RawReply {
    status: number;
    body: any;
}

/** One raw JSON-RPC call, returning status and parsed body whatever they are. */
export async function rpc(endpoint: string, method: string, params: Record<string, unknown> = {}, id: string | number = 1): Promise<RawReply> {
    const res = await fetch(endpoint, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ id, jsonrpc: '2.0', method, params }),
    });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) };
}

export async function rawPost(url: string, body: string, method = 'POST'): Promise<RawReply> {
    const res = await fetch(url, { method, headers: { 'Content-Type': 'application/json' }, body: method === 'GET' ? undefined : body });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) };
}

/**
 * A mnemonic generated once for these tests (each test file runs its own devnet, so sharing it is harmless);
 * mnemonicNew() takes seconds on a busy machine.
 */
export const TEST_MNEMONIC = 'immense trip seminar solid police depth razor trumpet myth icon feel that jazz faint comic climb frequent near math theme toward theory attack scout';

export async function newWallet(fresh = false): Promise<{ mnemonic: string[]; keyPair: KeyPair; wallet: WalletContractV4 }> {
    const mnemonic = fresh ? await mnemonicNew() : TEST_MNEMONIC.split(' ');
    const keyPair = await mnemonicToPrivateKey(mnemonic);
    return { mnemonic, keyPair, wallet: WalletContractV4.create({ workchain: 0, publicKey: keyPair.publicKey }) };
}

/** A wallet from a random key (fast: no mnemonic key derivation). */
export function randomWallet(): { keyPair: KeyPair; wallet: WalletContractV4 } {
    const keyPair = keyPairFromSeed(randomBytes(32));
    return { keyPair, wallet: WalletContractV4.create({ workchain: 0, publicKey: keyPair.publicKey }) };
}

export async function waitFor<T>(fn: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, stepMs = 20): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const v = await fn();
        if (v) return v as T;
        if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, stepMs));
    }
}

