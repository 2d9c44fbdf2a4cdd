/**
 * Devnet get-method benchmark: `SmartContract.get` (what the sandbox offers) against the devnet's own path
 * (devnet/getMethods.ts: the same emulator call with each account's code and data serialized once per state), side
 * by side in one process, interleaved call by call, on the getters the network polls most: the registry's
 * `jobCount` and `jobAddress`, a job's `state`, a provider's `state`. Both run on the devnet's slim config.
 * The devnet's result cache (per account state and second) is not involved: this is the cost of a cache miss.
 *
 * Run: npx ts-node --swc bench/devnet.ts → bench/results/devnet.json (~20 s).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { toNano, TupleItem } from '@ton/core';
import { SmartContract } from '@ton/sandbox';
import { FastGetMethods } from '../devnet/getMethods';
import { createNetwork } from '../tests/contracts/fixtures';

const CALLS = 300;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
    const started = Date.now();
    const net = await createNetwork({ config: 'slim' });
    const provider = await net.createProvider('alice');
    await provider.stake(toNano('20'));
    await provider.register();
    const client = await net.createClient('carol');
    const { job } = await client.openJob();
    const fast = new FastGetMethods(net.blockchain);
    if (!fast.available) throw new Error('the sandbox lacks the executor internals the devnet path uses');
    const contract = (a: Parameters<typeof net.blockchain.getContract>[0]) => net.blockchain.getContract(a);
    const getters: [string, SmartContract, string, TupleItem[]][] = [
        ['registry.jobCount', await contract(net.registry.address), 'jobCount', []],
        ['registry.jobAddress', await contract(net.registry.address), 'jobAddress', [{ type: 'int', value: 0n }]],
        ['job.state', await contract(job.address), 'state', []],
        ['provider.state', await contract(provider.contract.address), 'state', []],
    ];
    const now = net.blockchain.now ?? Math.floor(Date.now() / 1000);
    const results: Record<string, { sandboxMs: number; devnetMs: number; speedup: number }> = {};
    for (const [name, sc, method, stack] of getters) {
        const a: number[] = [];
        const b: number[] = [];
        for (let i = 0; i < CALLS + 20; i++) {
            const order = i % 2 === 0 ? ['sandbox', 'devnet'] : ['devnet', 'sandbox'];
            for (const side of order) {
                const t = process.hrtime.bigint();
                if (side === 'sandbox') await sc.get(method, stack, { now });
                else fast.run(sc, method, stack, now);
                const ms = Number(process.hrtime.bigint() - t) / 1e6;
                if (i >= 20) (side === 'sandbox' ? a : b).push(ms);
            }
        }
        results[name] = { sandboxMs: r3(median(a)), devnetMs: r3(median(b)), speedup: r3(median(a) / median(b)) };
        console.log(`${name.padEnd(22)} SmartContract.get ${results[name].sandboxMs} ms, devnet path ${results[name].devnetMs} ms: ×${results[name].speedup}`);
    }
    const speedups = Object.values(results).map((r) => r.speedup);
    const out = {
        benchmark: 'devnet',
        timestamp: new Date().toISOString(),
        command: 'npx ts-node --swc bench/devnet.ts',
        machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', node: process.version, loadAvg: os.loadavg().map(r3) },
        what: 'median wall time of one get method (cache miss), SmartContract.get vs devnet/getMethods.ts, interleaved, slim config',
        callsPerSide: CALLS,
        getMethods: results,
        getMethodSpeedupMedian: r3(median(speedups)),
        elapsedMs: Date.now() - started,
    };
    const file = path.join(__dirname, 'results', 'devnet.json');
    fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
    console.log(`median speedup ×${out.getMethodSpeedupMedian}; wrote ${path.relative(process.cwd(), file)}`);
}

main().catch((e) => {
    console.error(e);
    process.exit(1);
});
