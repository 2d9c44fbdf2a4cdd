/**
 * Can this provider take this job right now? A pure function over the directory's view of the chain.
 *
 * The checks mirror what the contracts would enforce when the provider claims (ProviderStake.ClaimJob, then
 * JobEscrow.OfferClaim), plus orchestrator policies (allowlists checked before a revocation is pruned on-chain,
 * heartbeat freshness, worker capacity, time left before the deadline). They run in this order and the first
 * failing one is the reason:
 *
 *   job-level        MODEL_NOT_ALLOWED, DEADLINE_TOO_CLOSE
 *   job × provider   MODEL_NOT_SERVED, NOT_A_CANDIDATE
 *   provider state   NOT_ACTIVE, MEASUREMENT_REVOKED, INSUFFICIENT_STAKE, INSUFFICIENT_FREE_STAKE
 *   price / lock     PRICE_ABOVE_MAX, LOCK_TOO_SMALL
 *   worker           STALE_HEARTBEAT, AT_CAPACITY
 *
 * The router (router.ts) evaluates the same rules on precomputed fields; tests cross-check the two.
 */
import { hashKey, lockFor, ownerKey } from './keys';
import type { Eligibility, IneligibleReason, ProviderEntry, RoutableJob, RoutingNetwork } from './types';

/** Every reason, in evaluation order. Internally a reason's code is its index + 1 (0 means eligible). */
export const INELIGIBLE_REASONS: readonly IneligibleReason[] = [
    'MODEL_NOT_ALLOWED',
    'DEADLINE_TOO_CLOSE',
    'MODEL_NOT_SERVED',
    'NOT_A_CANDIDATE',
    'NOT_ACTIVE',
    'MEASUREMENT_REVOKED',
    'INSUFFICIENT_STAKE',
    'INSUFFICIENT_FREE_STAKE',
    'PRICE_ABOVE_MAX',
    'LOCK_TOO_SMALL',
    'STALE_HEARTBEAT',
    'AT_CAPACITY',
];

export const OK = 0;
export const CODE: { readonly [R in IneligibleReason]: number } = Object.fromEntries(
    INELIGIBLE_REASONS.map((r, i) => [r, i + 1]),
) as { [R in IneligibleReason]: number };

/** The lock ratio and minimum stake ClaimJob would use for this provider (its config snapshot, else the network's). */
export function providerTerms(p: ProviderEntry, network: RoutingNetwork): { lockRatioBps: number; minProviderStake: bigint } {
    return p.config ?? { lockRatioBps: network.lockRatioBps, minProviderStake: network.minProviderStake };
}

/**
 * The provider-state checks that depend on neither the job nor the clock, only on the provider, its price for the
 * model and the network: the directory precomputes them per (provider, model) when any input changes.
 */
export function providerStateReason(p: ProviderEntry, price: bigint, network: RoutingNetwork): IneligibleReason | null {
    if (!p.active) return 'NOT_ACTIVE';
    if (!network.allowedMeasurements.has(p.measurement)) return 'MEASUREMENT_REVOKED';
    const { lockRatioBps, minProviderStake } = providerTerms(p, network);
    const available = p.stake - p.pendingUnstake;
    if (available < minProviderStake) return 'INSUFFICIENT_STAKE';
    if (available - p.locked < lockFor(price, lockRatioBps)) return 'INSUFFICIENT_FREE_STAKE';
    return null;
}

/** Time left before the job's deadline is too short to route it (or the deadline passed: OfferClaim needs now < deadline). */
export function deadlineTooClose(job: RoutableJob, network: RoutingNetwork, nowMs: number): boolean {
    const left = job.deadline * 1000 - nowMs;
    return left <= 0 || left < (job.minTimeLeftMs ?? network.minTimeLeftMs);
}

function isCandidate(job: RoutableJob, owner: string): boolean {
    if (job.candidates == null) return true;
    let any = false;
    for (const c of job.candidates) {
        any = true;
        if (c === owner || ownerKey(c) === owner) return true;
    }
    return !any;
}

function no(reason: IneligibleReason): Eligibility {
    return { ok: false, reason };
}

/** Whether `provider` may be routed `job` at `nowMs`, and if not, the first rule it fails (order above). */
export function eligibility(job: RoutableJob, provider: ProviderEntry, network: RoutingNetwork, nowMs: number): Eligibility {
    const model = hashKey(job.modelHash);
    if (!network.allowedModels.has(model)) return no('MODEL_NOT_ALLOWED');
    if (deadlineTooClose(job, network, nowMs)) return no('DEADLINE_TOO_CLOSE');
    const price = provider.models.get(model);
    if (price === undefined) return no('MODEL_NOT_SERVED');
    if (!isCandidate(job, provider.owner)) return no('NOT_A_CANDIDATE');
    const state = providerStateReason(provider, price, network);
    if (state !== null) return no(state);
    if (price > job.maxPrice) return no('PRICE_ABOVE_MAX');
    // OfferClaim: lock * 10000 >= price * job.lockRatioBps, with the lock computed from the provider's own ratio
    const lock = lockFor(price, providerTerms(provider, network).lockRatioBps);
    const jobRatio = job.lockRatioBps ?? network.lockRatioBps;
    if (lock * 10000n < price * BigInt(jobRatio)) return no('LOCK_TOO_SMALL');
    if (nowMs - provider.lastHeartbeatMs > network.heartbeatTtlMs) return no('STALE_HEARTBEAT');
    if (provider.load >= provider.capacity) return no('AT_CAPACITY');
    return { ok: true };
}
