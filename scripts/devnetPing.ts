import { NetworkProvider, sleep } from '@ton/blueprint';
import { toNano } from '@ton/core';

/**
 * Smoke test of a chain endpoint through Blueprint: reads the sender wallet's balance, sends 0.01 TON to itself
 * (which also deploys the wallet on its first message) and waits until the wallet's seqno moves on.
 *
 *   npx blueprint run devnetPing --custom http://127.0.0.1:8081/jsonRPC --custom-version v2 --custom-type testnet \
 *     --mnemonic          # with env WALLET_MNEMONIC="word1 … word24" WALLET_VERSION=v4
 *
 * Prints one JSON line: {"event":"devnet-ping","address":…,"balanceBefore":…,"balanceAfter":…,"seqno":…}.
 */
export async function run(provider: NetworkProvider) {
    const sender = provider.sender();
    const address = sender.address;
    if (!address) throw new Error('the sender has no address (use --mnemonic with WALLET_MNEMONIC and WALLET_VERSION)');
    const before = await provider.getContractState(address);
    provider.ui().write(`wallet ${address.toString({ testOnly: provider.network() === 'testnet' })}: ${before.state.type}, balance ${before.balance} nanoTON`);
    if (before.balance < toNano('0.05')) throw new Error(`wallet balance ${before.balance} nanoTON is too low for a ping; fund it first`);

    const seqnoOf = async () =>
        (await provider.isContractDeployed(address)) ? (await provider.provider(address).get('seqno', [])).stack.readNumber() : 0;
    const seqnoBefore = await seqnoOf();
    await sender.send({ to: address, value: toNano('0.01') });
    // provider.waitForLastTransaction() needs the sent BoC, which Blueprint's mnemonic sender does not expose;
    // the wallet's seqno moving on is the inclusion signal instead.
    const deadline = Date.now() + 60_000;
    let seqno = seqnoBefore;
    while ((seqno = await seqnoOf()) <= seqnoBefore) {
        if (Date.now() > deadline) throw new Error(`the transfer was not included within 60 s (seqno still ${seqno})`);
        await sleep(250);
    }
    const after = await provider.getContractState(address);
    console.log(
        JSON.stringify({
            event: 'devnet-ping',
            address: address.toRawString(),
            state: after.state.type,
            balanceBefore: before.balance.toString(),
            balanceAfter: after.balance.toString(),
            seqno,
        }),
    );
}
