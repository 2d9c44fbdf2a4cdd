import * as fs from 'fs';
import * as path from 'path';
import { Address } from '@ton/core';
import type { NetworkProvider } from '@ton/blueprint';

type Network = ReturnType<NetworkProvider['network']>;

/**
 * deployments/<network>.json: what deployRegistry wrote, so that later scripts find the registry without
 * --registry. <network> is the Cocoon network name: mainnet and testnet for TON's networks, devnet for a --custom
 * endpoint (a local devnet), or any name given with --network.
 */
export interface Deployment {
    network: string;
    networkId: number;
    /** Blueprint's network the registry was deployed through (mainnet, testnet, custom…). */
    chain: string;
    registry: string;
    owner: string;
    treasury: string;
    params: Record<string, string>;
    /** how the registry deploys jobs: with the code, or a library cell for it (older files: absent = inline) */
    jobCode?: 'inline' | 'library';
    deployedAt: string;
}

/** True for an API endpoint on this machine (a local devnet), e.g. http://127.0.0.1:8081/jsonRPC. */
export function isLocalEndpoint(endpoint: string): boolean {
    let host: string;
    try {
        host = new URL(endpoint).hostname;
    } catch {
        return false;
    }
    return host === 'localhost' || host === '[::1]' || host === '::1' || host === '0.0.0.0' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The deployment name when --network is not given: devnet for a local endpoint (Blueprint reports a devnet run
 * with `--custom … --custom-type testnet` as testnet, which must not overwrite the real testnet's file) or a
 * custom network, otherwise Blueprint's network name (mainnet, testnet).
 */
export function defaultDeploymentName(chain: Network, endpoint?: string): string {
    if (chain === 'custom' || (endpoint !== undefined && isLocalEndpoint(endpoint))) return 'devnet';
    return chain;
}

/** The HTTP endpoint behind Blueprint's TON client, when it is a v2 TonClient (the others do not expose it). */
export function providerEndpoint(provider: NetworkProvider): string | undefined {
    try {
        const api = provider.api() as unknown as { parameters?: { endpoint?: unknown } };
        const endpoint = api?.parameters?.endpoint;
        return typeof endpoint === 'string' ? endpoint : undefined;
    } catch {
        return undefined;
    }
}

export function deploymentsDir(dir?: string): string {
    return path.resolve(dir ?? 'deployments');
}

export function deploymentFile(name: string, dir?: string): string {
    return path.join(deploymentsDir(dir), `${name}.json`);
}

/** Path relative to the working directory when inside it, for messages. */
export function displayPath(p: string): string {
    const rel = path.relative(process.cwd(), p);
    return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

export function readDeployment(name: string, dir?: string): Deployment | undefined {
    const file = deploymentFile(name, dir);
    if (!fs.existsSync(file)) return undefined;
    let data: Deployment;
    try {
        data = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
        throw new Error(`${displayPath(file)} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof data.registry !== 'string') throw new Error(`${displayPath(file)} has no "registry" address`);
    try {
        Address.parse(data.registry);
    } catch {
        throw new Error(`${displayPath(file)}: "registry" is not a TON address: ${JSON.stringify(data.registry)}`);
    }
    return data;
}

export function writeDeployment(d: Deployment, dir?: string): string {
    const file = deploymentFile(d.network, dir);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(d, null, 2) + '\n');
    fs.renameSync(tmp, file);
    return file;
}
