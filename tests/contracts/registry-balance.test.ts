import { toNano } from '@ton/core';
import { createNetwork } from './fixtures';
import { runLifecycle } from './lifecycle';

// The factory must not pay for jobs or events out of its own balance, or it would drain after enough jobs.
it('the registry balance stays constant across job opens and governance actions (only storage fees move it)', async () => {
    const net = await createNetwork();
    const p = await net.createProvider('a', { stake: toNano('100') });
    const c = await net.createClient('c');
    const balance = async () => (await net.blockchain.getContract(net.registry.address)).balance;
    const before = await balance();
    for (let i = 0; i < 3; i++) await runLifecycle(net, p, c);
    await c.openJob({ value: toNano('10') }); // overpayment refunded at open
    await net.gov.allowModel(1n);
    await net.gov.revokeModel(1n);
    await net.gov.setParams({ protocolFeeBps: 100n });
    const after = await balance();
    expect(after).toBeLessThanOrEqual(before);
    expect(before - after).toBeLessThan(1000n); // storage fees of a few seconds, nothing else
});
