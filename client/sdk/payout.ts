import { Address, Transaction } from '@ton/core';
import { ChainClient } from '../../protocol/chain/client';
import { loadJobFinished, loadJobPayment, loadJobSettled, Opcodes } from '../../wrappers';

/**
 * What a settled job paid its provider, read from the job's settlement transaction:
 *  - `wallet`: the claim carried its receipt and took no lock, so the job paid the provider's owner directly
 *    (JobPayment); `value` is the price net of the protocol fee plus the offer's unused gas credit;
 *  - `stake`: the claim held a lock, so the job paid through the provider's stake (JobFinished), which releases it;
 *    `value` is the pay the message names (the attached credit and gas allowance stay there as earnings).
 */
export interface ProviderPayout {
    via: 'wallet' | 'stake';
    to: Address;
    value: bigint;
    /** the price net of the protocol fee, from the job's JobSettled event */
    pay: bigint;
    /** the protocol fee, from the job's JobSettled event */
    fee: bigint;
    /** hex hash of the job's transaction that sent it */
    tx: string;
}

/** The payout of a settled job, or null when none was sent (yet, or ever: a cancelled or expired job). */
export async function findProviderPayout(chain: ChainClient, job: Address, opts: { maxTransactions?: number } = {}): Promise<ProviderPayout | null> {
    let seen = 0;
    // a job has a handful of transactions; the settlement is among the newest
    for await (const t of chain.transactions(job, { pageSize: 10 })) {
        for (const m of t.tx.outMessages.values()) {
            if (m.info.type !== 'internal') continue;
            const body = m.body.beginParse();
            if (body.remainingBits < 32) continue;
            const op = body.preloadUint(32);
            if (op === Opcodes.JobPayment) {
                loadJobPayment(body); // throws on a malformed body
                return { via: 'wallet', to: m.info.dest, value: m.info.value.coins, ...settledIn(t.tx), tx: t.hash.toString('hex') };
            }
            if (op === Opcodes.JobFinished) {
                const f = loadJobFinished(body);
                if (f.slash === 0n) return { via: 'stake', to: m.info.dest, value: f.pay, ...settledIn(t.tx), tx: t.hash.toString('hex') };
            }
        }
        if (++seen >= (opts.maxTransactions ?? 50)) break;
    }
    return null;
}

function settledIn(tx: Transaction): { pay: bigint; fee: bigint } {
    for (const m of tx.outMessages.values()) {
        if (m.info.type !== 'external-out') continue;
        const body = m.body.beginParse();
        if (body.remainingBits >= 32 && body.preloadUint(32) === Opcodes.JobSettled) {
            const e = loadJobSettled(body);
            return { pay: e.providerPay, fee: e.fee };
        }
    }
    throw new Error(`transaction ${tx.hash().toString('hex')} paid a provider without a JobSettled event`);
}
