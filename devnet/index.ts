/**
 * A local TON chain behind toncenter's v2 HTTP API: @ton/sandbox's TVM emulator, a transaction index of its own,
 * wall-clock block time, serialized message processing and optional persistence.
 *
 *   const devnet = await startDevnet({ port: 0, fund: [{ address: wallet.address, amount: toNano('100') }] });
 *   const client = new TonClient({ endpoint: devnet.endpoint });
 *   ...
 *   await devnet.close();
 *
 * Also served by the CLI: `cocoon devnet --port 8081 [--state <dir>] [--fund <address>=<TON> ...]`.
 */
import '../protocol/chain/nativeSha256'; // Node's SHA-256 for every cell the emulator's results are parsed into
import * as http from 'http';
import { Address, Cell, Message, loadMessage, toNano } from '@ton/core';
import { Blockchain } from '@ton/sandbox';
import { DevnetChain } from './chain';
import { closeServer, createDevnetServer, listen } from './server';
import { TxEntry } from './txindex';

export { DevnetChain, FAUCET_ADDRESS, CONFIG_ADDRESS } from './chain';
export { methods as devnetMethods, MAX_TX_LIMIT } from './api';
export { StateError } from './state';
export type { TxEntry } from './txindex';

export interface FundEntry {
    address: Address | string;
    /** nanoTON. */
    amount: bigint;
}

export interface DevnetOptions {
    /** TCP port; 0 picks a free one (read it from `port` / `endpoint`). */
    port: number;
    /** Interface to bind; default 127.0.0.1. */
    host?: string;
    /** Directory to persist the chain in and to resume from. */
    stateDir?: string;
    /** Credits applied (as faucet transactions) before the devnet reports ready. */
    fund?: FundEntry[];
    /** Require this API key (X-API-Key header or api_key query parameter). */
    apiKey?: string;
    /** Minimum interval between periodic state saves when something changed, ms (default 2000). */
    saveIntervalMs?: number;
    /** Diagnostics sink; silent by default. */
    log?: (line: string) => void;
}

export interface Devnet {
    /** `http://<host>:<port>/jsonRPC`: give it to TonClient, ChainClient or `blueprint run --custom`. */
    endpoint: string;
    host: string;
    port: number;
    blockchain: Blockchain;
    chain: DevnetChain;
    server: http.Server;
    /** Mints `amount` nanoTON to `address` through a faucet transaction; resolves once it executed. */
    fund(address: Address | string, amount: bigint): Promise<void>;
    /**
     * Executes a message (internal or external, without the acceptance check sendBoc does) through the devnet's
     * queue and resolves with the transactions of its whole chain. In-process code may also use `blockchain`
     * directly (treasuries, sendMessage): those transactions are indexed too, but are not serialized with the
     * queue; never call blockchain.loadFrom on a running devnet.
     */
    sendMessage(message: Message | Cell): Promise<TxEntry[]>;
    /** Resolves when every accepted message has been processed. */
    waitIdle(): Promise<void>;
    /** Writes the state now (no-op without stateDir). */
    save(): void;
    /** Stops serving, lets queued messages finish, saves the state and releases the directory. */
    close(): Promise<void>;
}

export function parseAddressArg(text: string): Address {
    const t = text.trim();
    try {
        if (Address.isRaw(t)) return Address.parseRaw(t);
        if (Address.isFriendly(t)) return Address.parseFriendly(t).address;
    } catch {
        // reported below
    }
    throw new Error(`"${text}" is not a TON address (raw <workchain>:<64 hex> or user-friendly base64)`);
}

/** Parses `<address>=<TON>` (e.g. `EQ…=100` or `0:ab…=2.5`) into a FundEntry. */
export function parseFundSpec(spec: string): FundEntry {
    const eq = spec.lastIndexOf('=');
    if (eq <= 0) throw new Error(`--fund "${spec}" must look like <address>=<TON>, e.g. 0:…=100`);
    const address = parseAddressArg(spec.slice(0, eq));
    const tons = spec.slice(eq + 1).trim();
    if (!/^\d+(\.\d{1,9})?$/.test(tons)) throw new Error(`--fund "${spec}": amount "${tons}" must be a positive number of TON with at most 9 decimals`);
    const amount = toNano(tons);
    if (amount <= 0n) throw new Error(`--fund "${spec}": amount must be greater than zero`);
    return { address, amount };
}

export async function startDevnet(opts: DevnetOptions): Promise<Devnet> {
    const host = opts.host ?? '127.0.0.1';
    const log = opts.log ?? (() => undefined);
    const fund = (opts.fund ?? []).map((f) => ({
        address: typeof f.address === 'string' ? parseAddressArg(f.address) : f.address,
        amount: f.amount,
    }));
    for (const f of fund) if (f.amount <= 0n) throw new Error(`fund amount for ${f.address.toRawString()} must be positive`);

    const chain = await DevnetChain.create({ stateDir: opts.stateDir, log, saveIntervalMs: opts.saveIntervalMs });
    let server: http.Server | undefined;
    try {
        for (const f of fund) await chain.fund(f.address, f.amount);
        server = createDevnetServer(chain, { apiKey: opts.apiKey, log });
        const port = await listen(server, opts.port, host);
        const s = server;
        const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${port}/jsonRPC`;
        let closing: Promise<void> | undefined;
        return {
            endpoint,
            host,
            port,
            blockchain: chain.blockchain,
            chain,
            server: s,
            fund: async (address, amount) => {
                await chain.fund(typeof address === 'string' ? parseAddressArg(address) : address, amount);
            },
            sendMessage: (message) => chain.send(message instanceof Cell ? loadMessage(message.beginParse()) : message),
            waitIdle: () => chain.waitIdle(),
            save: () => chain.saveNow(),
            close: () => {
                closing ??= (async () => {
                    chain.releaseWaiters(); // long-polling clients get their answer instead of a cut connection
                    await closeServer(s);
                    await chain.close();
                })();
                return closing;
            },
        };
    } catch (e) {
        if (server) await closeServer(server);
        await chain.close();
        throw e;
    }
}
