/**
 * The network file: what a client, a worker or an orchestrator needs to find one Cocoon network (chain endpoint,
 * registry, orchestrator API, TEE trust anchor). `cocoon up` writes one for the local network it starts
 * (default `.cocoon/network.json`); `cocoon job run`, the SDK and the worker read it with `--network <file>` or
 * env COCOON_NETWORK. Flags and env still override each field.
 *
 * A local network's file also holds DEV wallet seeds (funded on the devnet only): never put a real key here.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Address } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { ChainClient, WalletSender } from './chain';

export const DEFAULT_NETWORK_FILE = path.join('.cocoon', 'network.json');

export interface NetworkFile {
    /** the registry's network id (NETWORK_IDS) */
    networkId: number;
    /** TON HTTP API v2 JSON-RPC endpoint */
    endpoint: string;
    /** registry address (user-friendly form) */
    registry: string;
    /** orchestrator HTTP API base URL, e.g. http://127.0.0.1:8080 */
    api: string;
    /** Redis the orchestrators and workers share (local networks only; clients never need it) */
    redisUrl?: string;
    /** how to verify attestation quotes */
    tee: { type: 'simulated'; vendorPublicKey: string; warning: string } | { type: 'tdx' };
    /** the worker image measurement the registry allows (hex) */
    measurement?: string;
    /** model name → sha256 of the .onnx file (hex), for `--model ocr` shorthands */
    models: Record<string, string>;
    /** DEV ONLY: 32-byte hex seeds of wallets funded on a local devnet */
    devWallets?: Record<string, string>;
    /** process ids of what `cocoon up` started (informational) */
    pids?: Record<string, number>;
}

export class NetworkFileError extends Error {
    constructor(message: string) {
        super(message);
        this.name = 'NetworkFileError';
    }
}

const HEX32 = /^[0-9a-f]{64}$/;

/** Validates a parsed network file; throws NetworkFileError naming the first bad field. */
export function validateNetworkFile(v: unknown, source = 'network file'): NetworkFile {
    const fail = (field: string, what: string): never => {
        throw new NetworkFileError(`${source}: "${field}" ${what}`);
    };
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new NetworkFileError(`${source} must hold a JSON object`);
    const o = v as Record<string, unknown>;
    if (!Number.isInteger(o.networkId)) fail('networkId', 'must be an integer');
    if (typeof o.endpoint !== 'string' || !/^https?:\/\//.test(o.endpoint)) fail('endpoint', 'must be an http(s) URL');
    if (typeof o.registry !== 'string') fail('registry', 'must be a TON address');
    try {
        Address.parse(o.registry as string);
    } catch {
        fail('registry', 'must be a TON address');
    }
    if (typeof o.api !== 'string' || !/^https?:\/\//.test(o.api)) fail('api', 'must be an http(s) URL');
    const tee = o.tee as Record<string, unknown> | undefined;
    if (!tee || (tee.type !== 'simulated' && tee.type !== 'tdx')) fail('tee', 'must be {"type":"simulated",...} or {"type":"tdx"}');
    if (tee!.type === 'simulated' && (typeof tee!.vendorPublicKey !== 'string' || !HEX32.test(tee!.vendorPublicKey))) {
        fail('tee.vendorPublicKey', 'must be 64 lowercase hex digits');
    }
    const models = o.models as Record<string, unknown> | undefined;
    if (!models || typeof models !== 'object') fail('models', 'must map model names to 64-hex hashes');
    for (const [name, h] of Object.entries(models!)) if (typeof h !== 'string' || !HEX32.test(h)) fail(`models.${name}`, 'must be 64 lowercase hex digits');
    if (o.devWallets !== undefined) {
        for (const [name, s] of Object.entries(o.devWallets as Record<string, unknown>)) {
            if (typeof s !== 'string' || !HEX32.test(s)) fail(`devWallets.${name}`, 'must be a 32-byte hex seed');
        }
    }
    return o as unknown as NetworkFile;
}

export function readNetworkFile(file: string): NetworkFile {
    let text: string;
    try {
        text = fs.readFileSync(file, 'utf8');
    } catch (e) {
        throw new NetworkFileError(`cannot read the network file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (start a local network with \`cocoon up\`, or pass --network <file>)`);
    }
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch (e) {
        throw new NetworkFileError(`the network file ${file} is not valid JSON: ${(e as Error).message}`);
    }
    return validateNetworkFile(parsed, file);
}

/** Writes atomically (temp file + rename) with mode 0600: a local file may hold dev wallet seeds. */
export function writeNetworkFile(file: string, net: NetworkFile): void {
    validateNetworkFile(net);
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(net, null, 2) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, file);
}

/**
 * A v4 wallet from a 32-byte hex seed (how local networks and the CLI name wallets). Batching is on unless turned
 * off: concurrent jobs' messages (a client's OpenJobs, a worker's claims and receipts) share wallet transactions
 * instead of queueing one per seqno.
 */
export function walletFromSeed(chain: ChainClient, seedHex: string, options: { pollIntervalMs?: number; batch?: boolean } = {}): WalletSender {
    const seed = seedHex.trim().replace(/^0x/i, '').toLowerCase();
    if (!HEX32.test(seed)) throw new NetworkFileError('a wallet seed must be 32 bytes in hex (64 digits)');
    return new WalletSender(chain, { version: 'v4', keyPair: keyPairFromSeed(Buffer.from(seed, 'hex')), pollIntervalMs: options.pollIntervalMs ?? 100, batch: options.batch ?? true });
}
