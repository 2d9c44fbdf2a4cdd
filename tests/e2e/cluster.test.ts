/**
 * The whole network on a real Redis Cluster: 3 masters started by the test, `cocoon orchestrator` and one
 * `cocoon worker` as child processes given `--redis redis+cluster://…` (localnet/up.ts), the in-process devnet.
 * A client runs an OCR job through it to settlement; then every node is asked which keys it holds: the network's
 * keys are spread over the nodes, and each group written together (a queue, the watcher's batch, the heartbeats)
 * sits on one node.
 *
 * SIMULATED TEE: the worker's enclave is simulated and gives no hardware protection (test network only).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import Redis from 'ioredis';
import { CocoonClient } from '../../client/sdk';
import { ChainClient } from '../../protocol/chain';
import { walletFromSeed } from '../../protocol/network-file';
import { CHAIN_TAG, DISPATCH_QUEUE, WORKERS_TAG, workQueueName } from '../../protocol/work';
import { LocalNetwork, startLocalNetwork } from '../../localnet/up';
import { RedisCluster, startRedisCluster } from '../helpers/redis';

const ROOT = path.join(__dirname, '..', '..');
const OCR_IMAGE = fs.readFileSync(path.join(ROOT, 'demo', 'assets', 'ocr-confidential.png'));

describe('a local network on a 3-master Redis Cluster', () => {
    let tmp: string;
    let cluster: RedisCluster;
    let net: LocalNetwork;
    const logs: string[] = [];

    beforeAll(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-e2e-cluster-'));
        cluster = await startRedisCluster();
        net = await startLocalNetwork({
            workers: 1,
            redisUrl: cluster.url,
            networkFile: path.join(tmp, 'network.json'),
            onChildLog: (name, _stream, line) => logs.push(`[${name}] ${line}`),
            readyTimeoutMs: 90_000,
            stopGraceMs: 8_000,
        });
    }, 120_000);

    afterAll(async () => {
        await net?.stop();
        await cluster?.stop();
        if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    }, 60_000);

    it('runs an OCR job through orchestrator and worker processes to settlement', async () => {
        expect(net.redisUrl).toBe(cluster.url);
        const chain = new ChainClient({ endpoint: net.network.endpoint });
        const client = new CocoonClient({ network: net.network, wallet: walletFromSeed(chain, net.bootstrap.client.seed), chain });
        const handle = await client.submit({ model: 'ocr', input: OCR_IMAGE });
        try {
            const result = await handle.result({ timeoutMs: 60_000 });
            expect((result.output as { text: string }).text.replace(/\s+/g, ' ').trim()).toBe('CONFIDENTIAL 42');
            expect(result.provider.equals(net.bootstrap.providers[0].address)).toBe(true);
            const settled = await handle.accept({ timeoutMs: 60_000 });
            expect(settled.state).toBe('Settled');
        } catch (e) {
            throw new Error(`${(e as Error).message}\n${logs.slice(-40).join('\n')}`);
        } finally {
            handle.close();
        }
        expect(logs.some((l) => /CROSSSLOT|MOVED|All keys in the pipeline/.test(l))).toBe(false);
    }, 120_000);

    it("spreads the network's keys over the nodes; each group written together lives on one node", async () => {
        const owner = net.bootstrap.providers[0].address.toRawString();
        const byNode = new Map<number, string[]>();
        for (const port of cluster.ports) {
            const node = new Redis(port, '127.0.0.1');
            try {
                byNode.set(port, await node.keys('*'));
            } finally {
                await node.quit();
            }
        }
        const nodesHolding = (pattern: string) => [...byNode].filter(([, keys]) => keys.some((k) => k.includes(pattern))).map(([p]) => p);
        // one node each (and present at all)
        for (const group of [`:${DISPATCH_QUEUE}:`, `:${workQueueName(owner)}:`, CHAIN_TAG, WORKERS_TAG]) {
            expect({ group, nodes: nodesHolding(group).length }).toEqual({ group, nodes: 1 });
        }
        // and not all on the same node
        expect([...byNode.values()].filter((keys) => keys.length > 0).length).toBeGreaterThanOrEqual(2);
    });
});
