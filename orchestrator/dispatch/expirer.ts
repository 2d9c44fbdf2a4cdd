/**
 * Expirer (leader only): a BullMQ Worker on the `expiry` queue, whose delayed jobs (`expire-<jobId>`) fall due at
 * deadline + 5 s. For each it reads the escrow:
 *  - Open or Claimed past the deadline → sends ExpireJob from the operator wallet and waits for `Expired` (the
 *    client gets its payment back; a claimer's lock is partly slashed to the client). Before the deadline (clock
 *    skew) → delayed again.
 *  - Committed → sends Settle once the dispute window is over (the provider gets paid even if the client never
 *    accepts); before that → delayed until it ends.
 *  - anything else → nothing to do.
 * Without an operator wallet nothing can be sent: that is logged once at start and per job.
 */
import { Address, toNano } from '@ton/core';
import { DelayedError, Job, Worker } from 'bullmq';
import pino, { Logger } from 'pino';
import type { ChainClient, WalletSender } from '../../protocol/chain';
import { EXPIRY_QUEUE } from '../../protocol/work';
import { JobEscrow, JobStatus, JobStatusName, loadJobTerms } from '../../wrappers';
import type { ServiceMetrics } from '../metrics';
import type { ExpiryItem, QueueSet } from './queues';

export interface ExpirerOptions {
    queues: QueueSet;
    chain: Pick<ChainClient, 'open'>;
    /** pays for ExpireJob / Settle; without it jobs cannot be expired by this orchestrator */
    operator?: WalletSender;
    /** also Settle committed jobs after their dispute window. Default true */
    settle?: boolean;
    /** how long to wait for the escrow to change after sending. Default 30 000 ms */
    confirmTimeoutMs?: number;
    concurrency?: number;
    logger?: Logger;
    metrics?: ServiceMetrics;
}

export interface ExpiryResult {
    action: 'expired' | 'settled' | 'none';
    status: string;
    reason?: string;
}

/** Value attached to ExpireJob / Settle; the escrow returns what it does not use (cashback). */
const HOUSEKEEPING_VALUE = toNano('0.1');

export class Expirer {
    readonly worker: Worker<ExpiryItem, ExpiryResult>;
    private readonly log: Logger;

    constructor(private readonly opts: ExpirerOptions) {
        this.log = (opts.logger ?? pino({ name: 'cocoon-orchestrator' })).child({ component: 'expirer' });
        if (!opts.operator) this.log.warn('no operator wallet: jobs past their deadline cannot be expired by this orchestrator (pass --operator-seed)');
        this.worker = new Worker<ExpiryItem, ExpiryResult>(EXPIRY_QUEUE, (job, token) => this.process(job, token), {
            connection: opts.queues.connection,
            prefix: opts.queues.prefix,
            concurrency: opts.concurrency ?? 4,
        });
        this.worker.on('error', (e) => this.log.warn({ err: e.message }, 'expiry worker error'));
    }

    async close(): Promise<void> {
        await this.worker.close();
    }

    async process(job: Job<ExpiryItem, ExpiryResult>, token?: string): Promise<ExpiryResult> {
        const { jobId, deadline } = job.data;
        const escrow = this.opts.chain.open(JobEscrow.fromAddress(Address.parse(job.data.job)));
        const state = await escrow.getState();
        const status = Number(state.status);
        const name = JobStatusName[status] ?? String(status);
        const log = this.log.child({ jobId, job: job.data.job });

        if (status === JobStatus.Open || status === JobStatus.Claimed) {
            // the contract wants block time > deadline; block time follows the wall clock in whole seconds
            if (Date.now() < (deadline + 1) * 1000) return this.later(job, token, (deadline + 1) * 1000 + 500);
            if (!this.opts.operator) {
                log.warn({ status: name }, 'job is past its deadline but there is no operator wallet to expire it');
                return { action: 'none', status: name, reason: 'NO_OPERATOR_WALLET' };
            }
            await this.send(escrow, 'ExpireJob');
            await this.confirm(escrow, JobStatus.Expired, 'expire');
            log.info({ was: name }, 'job expired on chain (client refunded)');
            return { action: 'expired', status: 'Expired' };
        }
        if (status === JobStatus.Committed && (this.opts.settle ?? true)) {
            const terms = loadJobTerms(state.terms!.beginParse());
            const due = (Number(state.committedAt) + Number(terms.network.disputeWindow)) * 1000;
            if (Date.now() < due + 1000) return this.later(job, token, due + 1500);
            if (!this.opts.operator) return { action: 'none', status: name, reason: 'NO_OPERATOR_WALLET' };
            await this.send(escrow, 'Settle');
            await this.confirm(escrow, JobStatus.Settled, 'settle');
            log.info('committed job settled after its dispute window');
            return { action: 'settled', status: 'Settled' };
        }
        return { action: 'none', status: name };
    }

    private async later(job: Job<ExpiryItem, ExpiryResult>, token: string | undefined, at: number): Promise<never> {
        await job.moveToDelayed(at, token);
        throw new DelayedError();
    }

    private async send(escrow: ReturnType<Expirer['open']>, what: 'ExpireJob' | 'Settle'): Promise<void> {
        const action = what === 'ExpireJob' ? 'expire' : 'settle';
        try {
            await escrow.send(this.opts.operator!, { value: HOUSEKEEPING_VALUE, bounce: true }, { $$type: what, queryId: 0n });
        } catch (e) {
            this.opts.metrics?.expirer.inc({ action, result: 'send_failed' });
            throw e;
        }
    }

    private async confirm(escrow: ReturnType<Expirer['open']>, want: number, action: string): Promise<void> {
        const until = Date.now() + (this.opts.confirmTimeoutMs ?? 30_000);
        for (;;) {
            const s = Number(await escrow.getStatus());
            if (s === want) {
                this.opts.metrics?.expirer.inc({ action, result: 'ok' });
                return;
            }
            if (Date.now() > until) {
                this.opts.metrics?.expirer.inc({ action, result: 'unconfirmed' });
                throw new Error(`the escrow is still ${JobStatusName[s] ?? s} after ${action}: will retry`);
            }
            await new Promise((r) => setTimeout(r, 200));
        }
    }

    private open(address: Address) {
        return this.opts.chain.open(JobEscrow.fromAddress(address));
    }
}
