/**
 * Pruner (leader only): a BullMQ Worker on the `prune` queue. Intake adds one job per registry MeasurementRevoked
 * or ModelRevoked event. Routing stops using the revoked hash at once (the directory drops it), but on chain a
 * provider keeps its approved offers until someone prunes it: until then it could still win claims, for instance on
 * a job a client opened by hand for the revoked model. The pruner closes that window:
 *  - the registry still lists the hash as revoked (re-allowed meanwhile → nothing to do: pruning would be refused);
 *  - every provider the network knows (KEYS.providers ∪ live workers) is read from its ProviderStake, and those
 *    still advertising the hash (a model in its price list; the measurement on its active enclave) get a
 *    `PruneProvider` sent to the registry from the operator wallet, batched per wallet transaction;
 *  - it waits until each of them dropped the hash, and throws otherwise (BullMQ retries with backoff).
 * Anyone may prune (the registry vouches for the revocation); the operator pays gas only (the stake returns the
 * rest to the sender). Without an operator wallet nothing can be sent: logged once at start and per revocation.
 */
import { Address, beginCell, toNano } from '@ton/core';
import { Job, Worker } from 'bullmq';
import pino, { Logger } from 'pino';
import type { ChainClient, WalletSender } from '../../protocol/chain';
import { PRUNE_QUEUE } from '../../protocol/work';
import type { RedisClient } from '../../protocol/redis';
import { ProviderStake, Registry, providerStakeInit, storePruneProvider, tactConstant } from '../../wrappers';
import type { ServiceMetrics } from '../metrics';
import { knownProviderOwners } from '../providers/known';
import type { PruneItem, QueueSet } from './queues';

export interface PrunerOptions {
    queues: QueueSet;
    redis: RedisClient;
    chain: Pick<ChainClient, 'open' | 'isDeployed'>;
    registry: Address;
    /** pays for PruneProvider; without it revocations are left to others */
    operator?: WalletSender;
    /** how long to wait for the pruned providers to drop the hash. Default 30 000 ms */
    confirmTimeoutMs?: number;
    logger?: Logger;
    metrics?: ServiceMetrics;
}

export interface PruneResult {
    action: 'pruned' | 'none';
    /** providers read */
    checked: number;
    /** owners (raw) pruned by this run */
    pruned: string[];
    reason?: 'STILL_ALLOWED' | 'NO_OPERATOR_WALLET';
}

/** Value attached to each PruneProvider; the provider's contract returns what its gas did not use. */
const PRUNE_VALUE = toNano('0.05');

export class Pruner {
    readonly worker: Worker<PruneItem, PruneResult>;
    private readonly log: Logger;

    constructor(private readonly opts: PrunerOptions) {
        this.log = (opts.logger ?? pino({ name: 'cocoon-orchestrator' })).child({ component: 'pruner' });
        if (!opts.operator) this.log.warn('no operator wallet: providers that advertise a revoked hash are not pruned by this orchestrator (pass --operator-seed)');
        this.worker = new Worker<PruneItem, PruneResult>(PRUNE_QUEUE, (job) => this.process(job), {
            connection: opts.queues.connection,
            prefix: opts.queues.prefix,
            concurrency: 1,
        });
        this.worker.on('error', (e) => this.log.warn({ err: e.message }, 'prune worker error'));
    }

    async close(): Promise<void> {
        await this.worker.close();
    }

    async process(job: Job<PruneItem, PruneResult>): Promise<PruneResult> {
        const { kind, hash } = job.data;
        const value = BigInt('0x' + hash);
        const log = this.log.child({ kind, hash, revokedIn: job.data.revokedIn });
        const registry = this.opts.chain.open(Registry.fromAddress(this.opts.registry));
        const allowed = kind === 'measurement' ? await registry.getIsMeasurementAllowed(value) : await registry.getIsModelAllowed(value);
        if (allowed) {
            log.info('the hash is allowed again: nothing to prune');
            return { action: 'none', checked: 0, pruned: [], reason: 'STILL_ALLOWED' };
        }

        const owners = await this.knownOwners();
        const advertising: { owner: string; stake: Address }[] = [];
        for (const owner of owners) {
            const stake = (await providerStakeInit(this.opts.registry, Address.parse(owner))).address;
            if (await this.advertises(stake, kind, value)) advertising.push({ owner, stake });
            else this.opts.metrics?.pruner.inc({ kind, result: 'clean' });
        }
        await job.updateProgress({ checked: owners.length, advertising: advertising.length });
        if (advertising.length === 0) return { action: 'none', checked: owners.length, pruned: [] };
        if (!this.opts.operator) {
            log.warn({ providers: advertising.map((a) => a.owner) }, 'providers still advertise a revoked hash and there is no operator wallet to prune them');
            return { action: 'none', checked: owners.length, pruned: [], reason: 'NO_OPERATOR_WALLET' };
        }

        const operator = this.opts.operator;
        const revokeKind = tactConstant(kind === 'measurement' ? 'RevokeKindMeasurement' : 'RevokeKindModel');
        for (let i = 0; i < advertising.length; i += operator.maxMessages) {
            const batch = advertising.slice(i, i + operator.maxMessages);
            const messages = batch.map(({ owner }) => ({
                to: this.opts.registry,
                value: PRUNE_VALUE,
                bounce: true,
                body: beginCell().store(storePruneProvider({ $$type: 'PruneProvider', queryId: 0n, owner: Address.parse(owner), kind: revokeKind, hash: value })).endCell(),
            }));
            try {
                await operator.transfer(messages);
            } catch (e) {
                this.opts.metrics?.pruner.inc({ kind, result: 'send_failed' }, batch.length);
                throw e;
            }
        }

        const until = Date.now() + (this.opts.confirmTimeoutMs ?? 30_000);
        let left = advertising;
        for (;;) {
            const still = [];
            for (const a of left) if (await this.advertises(a.stake, kind, value)) still.push(a);
            this.opts.metrics?.pruner.inc({ kind, result: 'pruned' }, left.length - still.length);
            left = still;
            if (left.length === 0) break;
            if (Date.now() > until) {
                this.opts.metrics?.pruner.inc({ kind, result: 'unconfirmed' }, left.length);
                throw new Error(`${left.length} provider(s) still advertise the revoked ${kind} after PruneProvider: ${left.map((a) => a.owner).join(', ')}; will retry`);
            }
            await new Promise((r) => setTimeout(r, 200));
        }
        const pruned = advertising.map((a) => a.owner);
        log.info({ pruned: pruned.length, checked: owners.length }, 'providers pruned of a revoked hash');
        return { action: 'pruned', checked: owners.length, pruned };
    }

    /** Provider owners (raw) the network knows from chain events and from worker heartbeats, sorted. */
    private async knownOwners(): Promise<string[]> {
        const owners = await knownProviderOwners(this.opts.redis, (entry) => this.log.warn({ entry }, 'ignored a provider entry that is not an address'));
        return [...owners].sort();
    }

    /** Whether the provider's contract still offers the model, or still claims with an enclave of the measurement. */
    private async advertises(address: Address, kind: PruneItem['kind'], hash: bigint): Promise<boolean> {
        if (!(await this.opts.chain.isDeployed(address))) return false;
        const stake = this.opts.chain.open(ProviderStake.fromAddress(address));
        if (kind === 'model') return (await stake.getModels()).has(hash);
        return (await stake.getEnclave())?.measurement === hash;
    }
}
