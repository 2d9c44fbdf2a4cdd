/**
 * The devnet's get-method fast path (devnet/getMethods.ts) answers exactly what SmartContract.get answers — same
 * stack, gas and exit code — and follows the account's state from one transaction to the next.
 */
import { serializeTuple, TupleItem } from '@ton/core';
import { SmartContract } from '@ton/sandbox';
import { FastGetMethods } from '../../devnet/getMethods';
import { createNetwork } from '../contracts/fixtures';

type Network = Awaited<ReturnType<typeof createNetwork>>;

async function viaSandbox(sc: SmartContract, method: string, stack: TupleItem[], now: number) {
    try {
        const r = await sc.get(method, stack, { now });
        return { gas_used: Number(r.gasUsed), exit_code: r.exitCode, stack: r.stack };
    } catch (e) {
        const g = e as { exitCode?: number; gasUsed?: bigint };
        if (g.exitCode === undefined) throw e;
        return { gas_used: Number(g.gasUsed), exit_code: g.exitCode, stack: [] as TupleItem[] };
    }
}

const asComparable = (r: { gas_used: number; exit_code: number; stack: TupleItem[] }) => ({
    gas: r.gas_used,
    exit: r.exit_code,
    stack: serializeTuple(r.stack).toBoc().toString('hex'),
});

describe('FastGetMethods', () => {
    let net: Network;
    let fast: FastGetMethods;
    const now = () => net.blockchain.now ?? Math.floor(Date.now() / 1000);

    beforeEach(async () => {
        net = await createNetwork();
        fast = new FastGetMethods(net.blockchain);
    });

    it('answers like SmartContract.get for the registry, a provider and a job, including a failing call', async () => {
        expect(fast.available).toBe(true);
        const provider = await net.createProvider('alice');
        await provider.stake(10n ** 9n * 20n);
        await provider.register();
        const client = await net.createClient('carol');
        const { job } = await client.openJob();
        const calls: [SmartContract, string, TupleItem[]][] = [
            [await net.blockchain.getContract(net.registry.address), 'jobCount', []],
            [await net.blockchain.getContract(net.registry.address), 'params', []],
            [await net.blockchain.getContract(net.registry.address), 'jobAddress', [{ type: 'int', value: 0n }]],
            [await net.blockchain.getContract(net.registry.address), 'noSuchGetter', []], // the VM fails: no such method
            [await net.blockchain.getContract(provider.contract.address), 'state', []],
            [await net.blockchain.getContract(job.address), 'state', []],
        ];
        let failures = 0;
        for (const [sc, method, stack] of calls) {
            const got = fast.run(sc, method, stack, now());
            const want = await viaSandbox(sc, method, stack, now());
            expect(got).toBeDefined();
            expect(asComparable(got!)).toEqual(asComparable(want));
            if (want.exit_code !== 0 && want.exit_code !== 1) failures++;
        }
        expect(failures).toBe(1);
    });

    it('follows the account from one transaction to the next (no stale data)', async () => {
        const registry = await net.blockchain.getContract(net.registry.address);
        const count = () => {
            const r = fast.run(registry, 'jobCount', [], now());
            return (r!.stack[0] as { value: bigint }).value;
        };
        await net.createProvider('alice');
        const client = await net.createClient('carol');
        expect(count()).toBe(0n);
        await client.openJob();
        expect(count()).toBe(1n);
        await client.openJob();
        expect(count()).toBe(2n);
        expect(count()).toBe(await net.registry.getJobCount());
    });

    it('leaves what it does not handle to SmartContract.get', async () => {
        const registry = await net.blockchain.getContract(net.registry.address);
        net.blockchain.prevBlocks = { lastMcBlocks: [], prevKeyBlock: { workchain: -1, shard: 0n, seqno: 0, rootHash: Buffer.alloc(32), fileHash: Buffer.alloc(32) } };
        expect(fast.run(registry, 'jobCount', [], now())).toBeUndefined();
    });
});
