/**
 * Intake: the leader's chain-watcher handler. Turns events into work for every orchestrator:
 *
 *  - JobOpened → one `dispatch` job (BullMQ job id `job-<jobId>`: adding it again is a no-op, so a batch the watcher
 *    delivers twice still makes one), a delayed `expiry` job due at deadline + 5 s, and KEYS.jobByAddress.
 *  - provider events (and JobClaimed / JobClaimedAndCommitted, which change the claimer's locks) → SADD KEYS.providers + PUBLISH
 *    PROVIDER_CHANGED_CHANNEL owner, queued on the batch's MULTI so they commit exactly with the batch.
 *  - registry parameter / allowlist changes → PUBLISH REGISTRY_CHANGED_CHANNEL <event name>; a revocation also adds a
 *    `prune` job (id `prune-<tx>-<index>`) that the leader's pruner runs.
 *
 * Queue adds cannot join the MULTI; they are idempotent by job id instead.
 */
import type { Address } from '@ton/core';
import pino, { Logger } from 'pino';
import { KEYS, PROVIDER_CHANGED_CHANNEL, REGISTRY_CHANGED_CHANNEL, dispatchJobId } from '../../protocol/work';
import type { ChainEvent, EventHandler, HandlerContext } from '../watcher';
import { hashKey } from '../router';
import type { ServiceMetrics } from '../metrics';
import type { QueueSet } from './queues';
import type { DispatchState } from './types';

export interface IntakeOptions {
    queues: QueueSet;
    /** follow each job escrow (JobClaimed tells the directory the claimer's stake is locked). Default true */
    followJobs?: boolean;
    /** expiry job due this long after the deadline. Default 5 000 ms */
    expiryGraceMs?: number;
    /** how long finished dispatch jobs stay readable (job status). Default 7 days */
    keepFinishedSec?: number;
    /** retries of a dispatch job that throws unexpectedly (chain or Redis errors). Default 10 */
    dispatchRetries?: number;
    logger?: Logger;
    metrics?: ServiceMetrics;
}

const REGISTRY_CHANGES = new Set(['ParamsUpdated', 'MeasurementAllowed', 'MeasurementRevoked', 'ModelAllowed', 'ModelRevoked']);

/** The owner an event is about, for the provider events that change routing. */
function providerOwner(ev: ChainEvent): Address | null {
    switch (ev.name) {
        case 'Staked':
        case 'EnclaveRegistered':
        case 'EnclaveRejected':
        case 'EnclaveRevoked':
        case 'UnstakeRequested':
        case 'StakeWithdrawn':
        case 'StakeSlashed':
        case 'ProviderPruned':
        case 'LockReleased':
            return ev.data.owner;
        case 'JobClaimed':
        case 'JobClaimedAndCommitted':
            return ev.data.provider;
        default:
            return null;
    }
}

export function createIntakeHandler(opts: IntakeOptions): EventHandler {
    const log = (opts.logger ?? pino({ name: 'cocoon-orchestrator' })).child({ component: 'intake' });
    const followJobs = opts.followJobs ?? true;
    const graceMs = opts.expiryGraceMs ?? 5_000;
    const keepSec = opts.keepFinishedSec ?? 7 * 86_400;
    const retries = opts.dispatchRetries ?? 10;

    return async (ev: ChainEvent, ctx: HandlerContext) => {
        opts.metrics?.chainLagSeconds.set(Math.max(0, Date.now() / 1000 - ev.utime));
        if (ev.name === 'JobOpened') {
            const e = ev.data;
            const jobId = e.jobId.toString();
            const address = await ctx.jobAddress(e.jobId);
            const raw = address.toRawString();
            const deadline = Number(e.deadline);
            const data: DispatchState = {
                jobId,
                job: raw,
                client: e.client.toRawString(),
                modelHash: hashKey(e.modelHash),
                inputCommitment: hashKey(e.inputCommitment),
                maxPrice: e.maxPrice.toString(),
                deadline,
                candidates: e.candidates.keys().map((a) => a.toRawString()),
                seenAtMs: Date.now(),
                attempts: [],
            };
            await opts.queues.dispatch.add('dispatch', data, {
                jobId: dispatchJobId(jobId),
                attempts: retries,
                backoff: { type: 'exponential', delay: 1_000 },
                removeOnComplete: { age: keepSec },
                removeOnFail: { age: keepSec },
            });
            const dueInMs = Math.max(0, deadline * 1000 + graceMs - Date.now());
            await opts.queues.expiry.add(
                'expire',
                { jobId, job: raw, deadline },
                { jobId: `expire-${jobId}`, delay: dueInMs, attempts: 5, backoff: { type: 'exponential', delay: 2_000 }, removeOnComplete: { age: keepSec }, removeOnFail: { age: keepSec } },
            );
            ctx.multi.set(KEYS.jobByAddress(raw), jobId, 'EX', Math.max(60, Math.ceil(dueInMs / 1000)) + keepSec);
            if (followJobs) ctx.follow(address, 'job');
            log.info({ jobId, job: raw, deadline, candidates: data.candidates.length, modelHash: data.modelHash }, 'job opened: queued for dispatch');
            return;
        }
        const owner = providerOwner(ev);
        if (owner) {
            const raw = owner.toRawString();
            ctx.multi.sadd(KEYS.providers, raw);
            ctx.multi.publish(PROVIDER_CHANGED_CHANNEL, raw);
            return;
        }
        if (ev.name === 'MeasurementRevoked' || ev.name === 'ModelRevoked') {
            const kind = ev.name === 'MeasurementRevoked' ? 'measurement' : 'model';
            const hash = hashKey(ev.name === 'MeasurementRevoked' ? ev.data.measurement : ev.data.modelHash);
            await opts.queues.prune.add(
                'prune',
                { kind, hash, revokedIn: ev.txHash },
                { jobId: `prune-${ev.txHash}-${ev.outIndex}`, attempts: 6, backoff: { type: 'exponential', delay: 2_000 }, removeOnComplete: { age: keepSec }, removeOnFail: { age: keepSec } },
            );
            log.info({ kind, hash }, 'revocation: providers that still advertise it will be pruned');
        }
        if (REGISTRY_CHANGES.has(ev.name)) ctx.multi.publish(REGISTRY_CHANGED_CHANNEL, ev.name);
    };
}
