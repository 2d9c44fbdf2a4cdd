import { Address, toNano } from '@ton/core';
import { SendMessageResult } from '@ton/sandbox';
import { Opcodes, tactConstant } from '../../wrappers';
import { Client, gasUsed, Network, Provider, totalFees } from './fixtures';

/** Gas and fees of processing one message, split into the protocol's contracts and everything else. */
export interface OpCost {
    /** gas of the transactions on protocol contracts (registry, provider stake, job escrow) */
    gas: number;
    /** gas of every transaction in the trace, the sandbox's wallets included */
    gasAllTransactions: number;
    /** every nanoTON the network took in the trace (gas, storage, forwarding) */
    feesNanoTon: bigint;
}

export function costOf(result: SendMessageResult, protocol: Set<string>): OpCost {
    let gas = 0;
    let gasAll = 0;
    for (const t of result.transactions) {
        const g = Number(gasUsed(t));
        gasAll += g;
        const dest = t.inMessage?.info.dest;
        if (dest && Address.isAddress(dest) && protocol.has(dest.toRawString())) gas += g;
    }
    return { gas, gasAllTransactions: gasAll, feesNanoTon: totalFees(result) };
}

/** The single transaction that handled opcode `op` on `address` in `result`: its gas and every fee it caused. */
export function costOfOp(result: SendMessageResult, address: Address, op: number): { gas: number; feesNanoTon: bigint } {
    for (const t of result.transactions) {
        const dest = t.inMessage?.info.dest;
        if (!dest || !Address.isAddress(dest) || !dest.equals(address)) continue;
        const body = t.inMessage!.body.beginParse();
        if (body.remainingBits < 32 || body.preloadUint(32) !== op) continue;
        let fees = t.totalFees.coins;
        for (const m of t.outMessages.values()) if (m.info.type === 'internal') fees += m.info.forwardFee;
        return { gas: Number(gasUsed(t)), feesNanoTon: fees };
    }
    throw new Error(`no transaction for op 0x${op.toString(16)} on ${address}`);
}

const OPCODES = Opcodes;

/**
 * How the provider commits the result: `claimCommit` is the worker's path (ClaimJob carries the receipt, the job goes
 * Open -> Committed in one chain); `twoStep` claims first and relays SubmitReceipt afterwards (for providers that want
 * the lock before they run a job).
 */
export type CommitPath = 'claimCommit' | 'twoStep';

/**
 * One whole job, open to settle (the client accepts), with the exact value a client attaches
 * (max price + OpenJobFee). Returns each step's trace and the per-message gas of every protocol transaction.
 */
export async function runLifecycle(net: Network, provider: Provider, client: Client, path: CommitPath = 'claimCommit') {
    const maxPrice = toNano('2');
    const opened = await client.openJob({ maxPrice, value: maxPrice + tactConstant('OpenJobFee') });
    const op = (r: SendMessageResult, a: Address, name: keyof typeof OPCODES) => costOfOp(r, a, OPCODES[name]);
    let steps: Record<string, SendMessageResult>;
    let operations: Record<string, { gas: number; feesNanoTon: bigint }>;
    if (path === 'claimCommit') {
        const { result: claimed } = await provider.claimCommit(opened.job);
        const settled = await client.accept(opened.job);
        steps = { open: opened.result, claimCommit: claimed, settle: settled };
        operations = {
            OpenJob: op(opened.result, net.registry.address, 'OpenJob'),
            InitJob: op(opened.result, opened.job.address, 'InitJob'),
            ClaimJob: op(claimed, provider.contract.address, 'ClaimJob'),
            OfferClaimWithReceipt: op(claimed, opened.job.address, 'OfferClaim'),
            AcceptResult: op(settled, opened.job.address, 'AcceptResult'),
        };
    } else {
        const claimed = await provider.claim(opened.jobId);
        const { result: committed } = await net.submitReceipt(opened.job, provider.keys, provider.owner);
        const settled = await client.accept(opened.job);
        steps = { open: opened.result, claim: claimed, commit: committed, settle: settled };
        operations = {
            OpenJob: op(opened.result, net.registry.address, 'OpenJob'),
            InitJob: op(opened.result, opened.job.address, 'InitJob'),
            ClaimJob: op(claimed, provider.contract.address, 'ClaimJob'),
            OfferClaim: op(claimed, opened.job.address, 'OfferClaim'),
            SubmitReceipt: op(committed, opened.job.address, 'SubmitReceipt'),
            AcceptResult: op(settled, opened.job.address, 'AcceptResult'),
            JobFinished: op(settled, provider.contract.address, 'JobFinished'),
        };
    }
    const protocol = new Set([net.registry.address, provider.contract.address, opened.job.address].map((a) => a.toRawString()));
    const messages = Object.fromEntries(Object.entries(operations).map(([k, v]) => [k, v.gas]));
    const perStep = Object.fromEntries(Object.entries(steps).map(([k, r]) => [k, costOf(r, protocol)]));
    const total = Object.values(perStep).reduce(
        (a, c) => ({ gas: a.gas + c.gas, gasAllTransactions: a.gasAllTransactions + c.gasAllTransactions, feesNanoTon: a.feesNanoTon + c.feesNanoTon }),
        { gas: 0, gasAllTransactions: 0, feesNanoTon: 0n },
    );
    return { path, job: opened.job, jobId: opened.jobId, steps, perStep, operations, messages, total };
}
