/**
 * Shared types of the router: what the orchestrator knows about a provider, a job and the network.
 *
 * Keys are plain strings so that lookups are cheap and serialisable:
 *  - provider owners: raw address form `0:<64 hex>` (see `ownerKey` in keys.ts),
 *  - hashes (model, measurement, keys): 64 lowercase hex digits without `0x` (see `hashKey`).
 * Amounts are nanoTON bigints, exactly as on-chain.
 */

/** Why a provider cannot take a job. Each mirrors a contract rule or an orchestrator policy (docs/routing.md). */
export type IneligibleReason =
    /** the job's model is not (or no longer) on the registry's model allowlist */
    | 'MODEL_NOT_ALLOWED'
    /** less than the minimum run time is left before the job's deadline (or the deadline passed) */
    | 'DEADLINE_TOO_CLOSE'
    /** the provider does not list the job's model (ClaimJob: ErrModelNotServed) */
    | 'MODEL_NOT_SERVED'
    /** the job names candidates and this provider is not one of them (OfferClaim: ErrNotCandidate) */
    | 'NOT_A_CANDIDATE'
    /** no approved enclave, or its registration was deactivated by a revocation (ClaimJob: ErrNoEnclave) */
    | 'NOT_ACTIVE'
    /** the enclave's measurement is not on the registry's allowlist (revoked; pruning may not have landed yet) */
    | 'MEASUREMENT_REVOKED'
    /** stake − pendingUnstake < minProviderStake (ClaimJob: ErrInsufficientStake) */
    | 'INSUFFICIENT_STAKE'
    /** stake − pendingUnstake − locked < lock (ClaimJob: ErrInsufficientFreeStake) */
    | 'INSUFFICIENT_FREE_STAKE'
    /** the provider's price for the model exceeds the job's maxPrice (OfferClaim: ErrPriceAboveMax) */
    | 'PRICE_ABOVE_MAX'
    /** the provider's lock ratio snapshot is below the job's, so its lock would be refused (OfferClaim: ErrLockTooSmall) */
    | 'LOCK_TOO_SMALL'
    /** no heartbeat from the worker within the TTL */
    | 'STALE_HEARTBEAT'
    /** the worker already runs `capacity` jobs */
    | 'AT_CAPACITY';

/** Reasons a route() call may count besides eligibility. */
export type RouteRejectReason =
    | IneligibleReason
    /** named in `exclude` (already failed or lost this job) */
    | 'EXCLUDED'
    /** a candidate address the directory does not know */
    | 'UNKNOWN_PROVIDER';

export type Eligibility = { ok: true } | { ok: false; reason: IneligibleReason };

/**
 * What the provider's contract snapshotted from the registry at approval (ProviderConfig). ClaimJob checks the
 * minimum stake and computes the lock with these values, not with the registry's current parameters.
 */
export interface ProviderConfigSnapshot {
    minProviderStake: bigint;
    lockRatioBps: number;
}

/** One provider as the directory sees it (chain state + worker telemetry + routing statistics). */
export interface ProviderEntry {
    /** owner address, raw form */
    owner: string;
    /** the provider's ProviderStake contract address, raw form */
    stakeContract: string;
    stake: bigint;
    locked: bigint;
    pendingUnstake: bigint;
    /** registration present and active (the contract's `enclave()` getter is not null) */
    active: boolean;
    measurement: string;
    attestationHash: string;
    receiptKey: string;
    encryptionKey: string;
    endpoint: string;
    /** model hash → price per job (nanoTON) */
    models: ReadonlyMap<string, bigint>;
    /** ProviderConfig snapshot; when absent the directory's network parameters are used */
    config: ProviderConfigSnapshot | null;
    lastHeartbeatMs: number;
    /** jobs in flight on the worker */
    load: number;
    /** jobs the worker runs at once */
    capacity: number;
    /** exponentially weighted mean latency of successful jobs; null before the first sample */
    latencyEwmaMs: number | null;
    successCount: number;
    failureCount: number;
}

/** Network parameters and allowlists the router checks against (registry state + orchestrator policy). */
export interface RoutingNetwork {
    /** NetworkParams.minProviderStake (used for providers without a config snapshot) */
    minProviderStake: bigint;
    /** NetworkParams.lockRatioBps: used for providers without a snapshot, and as the job's ratio by default */
    lockRatioBps: number;
    /** allowed TEE measurements (hash keys) */
    allowedMeasurements: ReadonlySet<string>;
    /** allowed model hashes (hash keys) */
    allowedModels: ReadonlySet<string>;
    /** a worker whose last heartbeat is older than this is not routed to */
    heartbeatTtlMs: number;
    /** minimum time that must be left before a job's deadline to route it (policy: time to claim + run + commit) */
    minTimeLeftMs: number;
}

/** A job to route: the fields of JobOpened (+ optional knobs). */
export interface RoutableJob {
    /** on-chain job id (also seeds the tie-break, so equal providers are spread across jobs) */
    jobId: bigint | number | string;
    /** hash key (or bigint) of the model */
    modelHash: string | bigint;
    /** nanoTON */
    maxPrice: bigint;
    /** unix seconds, as on-chain */
    deadline: number;
    /** owner addresses the client allowed (≤ 4 on-chain); empty or absent: any eligible provider */
    candidates?: Iterable<string> | null;
    /** the job's JobNetworkTerms.lockRatioBps when known (defaults to the network's current ratio) */
    lockRatioBps?: number;
    /** overrides network.minTimeLeftMs for this job (e.g. a per-model run-time estimate) */
    minTimeLeftMs?: number;
}
