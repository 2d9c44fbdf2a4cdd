/**
 * The off-chain protocol between orchestrators and workers, over one Redis (docs/operations.md).
 *
 * Everything here is public metadata: job ids, addresses, hashes, prices, timings, error codes. Job plaintext never
 * appears in Redis — inputs and results travel as envelopes in the blob store (orchestrator/blobs), addressed by
 * their sha256, which is also their on-chain commitment.
 *
 * Flow of one job:
 *   chain JobOpened ─► leader's watcher ─► `dispatch` queue (BullMQ job id = `job-<jobId>`: idempotent intake)
 *   dispatcher (any orchestrator) ─► route() ─► SET assignment key = attemptId ─► the chosen provider's
 *     `work-<owner>` queue (job id = attemptId)
 *   worker ─► checks the assignment (fencing) ─► fetches the input envelope ─► enclave: decrypt, infer, seal, sign
 *     ─► claims on chain ─► uploads the result envelope ─► posts the receipt ─► completes with a WorkOutcome and
 *     PUBLISHes the attemptId on OUTCOME_CHANNEL
 *   dispatcher ─► on success: done; on failure: next attempt, preferring providers that have not failed this job
 *     (bounded, with backoff; orchestrator/dispatch/dispatcher.ts has the rule); when none is left: the
 *     `dead-letter` queue with the reason.
 *
 * The worker runs the job in its enclave BEFORE it claims: a job whose envelope is missing, corrupt or not
 * decryptable by this enclave is refused without taking the stake lock, and a worker killed during inference
 * leaves the job Open for the next candidate. After the claim only two short chain messages remain.
 */
import { Address } from '@ton/core';

/*
 * Key layout and Redis Cluster. Every operation that touches several keys at once (MULTI/EXEC, Lua, MGET, a
 * pipeline, BullMQ's scripts) touches keys of ONE hash slot, so the same layout runs on a single node and on a
 * Redis Cluster. The `{…}` part of a key is its hash tag: keys with the same tag share a slot.
 *   - each BullMQ queue is its own tag (its name is `{dispatch}`, `{work-0_<hex>}`…): BullMQ's scripts only touch
 *     one queue's keys, and the queues spread over the cluster, one provider's work queue per slot;
 *   - `{chain}`: the chain watcher's keys (cursor, processed ids, followed set: orchestrator/watcher), the provider
 *     set and the job-address index, which the watcher commits in ONE MULTI with its cursor (exactly once);
 *   - `{workers}`: the live-worker ZSET and every worker's heartbeat hash (one MULTI per heartbeat; the dispatcher
 *     reads both in one pipeline);
 *   - untagged single keys spread by their own hash: assignments (one per job), blobs, the leader lease.
 * Pub/sub channels are not keys (a cluster broadcasts them to every node).
 */

/** BullMQ key prefix of every Cocoon queue (keys look like `cocoon:{dispatch}:…`). */
export const QUEUE_PREFIX = 'cocoon';
/** One BullMQ job per on-chain job: routes it, re-routes it, dead-letters it. Consumed by every orchestrator. */
export const DISPATCH_QUEUE = '{dispatch}';
/** Jobs no provider could complete, with the reason (BullMQ job id = `job-<jobId>`). */
export const DEAD_LETTER_QUEUE = '{dead-letter}';
/** Jobs the leader must expire on chain once their deadline passed (delayed BullMQ jobs, id = `expire-<jobId>`). */
export const EXPIRY_QUEUE = '{expiry}';
/**
 * Revocations the leader applies on chain (PruneProvider) to every provider still advertising the revoked
 * measurement or model (id = `prune-<tx hash>-<event index>`: one per revocation event).
 */
export const PRUNE_QUEUE = '{prune}';

/** Hash tag of the keys the chain watcher commits together (see above). */
export const CHAIN_TAG = '{chain}';
/** Hash tag of the worker registry: live set and heartbeat hashes. */
export const WORKERS_TAG = '{workers}';

/** Redis keys outside BullMQ. All take the same prefix. */
export const KEYS = {
    /** ZSET owner(raw) → last heartbeat (ms since epoch). Slot: {workers}. */
    workers: `cocoon:${WORKERS_TAG}:live`,
    /** HASH of a worker's public facts (WorkerHeartbeat fields, strings). Slot: {workers}. */
    worker: (owner: string) => `cocoon:${WORKERS_TAG}:worker:${ownerKeyOf(owner)}`,
    /** SET of provider owners (raw) the network knows from chain events or heartbeats. Slot: {chain}. */
    providers: `cocoon:${CHAIN_TAG}:providers`,
    /** STRING: the attemptId currently allowed to run job `jobId` (fencing token), expires after the deadline. */
    assignment: (jobId: string | bigint) => `cocoon:assign:${jobId}`,
    /** STRING: jobId of an escrow address (raw), for status lookups by address. Slot: {chain}. */
    jobByAddress: (address: string) => `cocoon:${CHAIN_TAG}:jobaddr:${address}`,
    /** STRING (lock): the orchestrator instance id that leads the chain watcher. */
    leader: 'cocoon:leader',
} as const;

/** The chain watcher's default key prefix: in the {chain} slot, with KEYS.providers and KEYS.jobByAddress. */
export const WATCHER_KEY_PREFIX = `cocoon:${CHAIN_TAG}:watcher:`;

/** The hash tag Redis Cluster hashes `key` by: the first non-empty `{…}`, else the whole key. */
export function hashTagOf(key: string): string {
    const open = key.indexOf('{');
    if (open >= 0) {
        const close = key.indexOf('}', open + 1);
        if (close > open + 1) return key.slice(open + 1, close);
    }
    return key;
}

/** PUBLISHed by a worker with the attemptId when a work item finished (completed or failed). */
export const OUTCOME_CHANNEL = 'cocoon:outcomes';
/** PUBLISHed by the leader with a provider owner (raw) when chain events changed that provider. */
export const PROVIDER_CHANGED_CHANNEL = 'cocoon:provider-changed';
/** PUBLISHed by the leader when registry parameters or allowlists changed (payload: event name). */
export const REGISTRY_CHANGED_CHANNEL = 'cocoon:registry-changed';

/** Owner addresses are keyed by their raw form, `0:<64 hex>`. */
export function ownerKeyOf(owner: Address | string): string {
    return typeof owner === 'string' ? Address.parse(owner).toRawString() : owner.toRawString();
}

/**
 * A provider's queue is `{work-<workchain>_<64 hex>}`: BullMQ queue names may not contain ':', and the braces make
 * the name the queue's hash tag (one slot per provider on a cluster).
 */
export function workQueueName(owner: Address | string): string {
    return `{work-${ownerKeyOf(owner).replace(':', '_')}}`;
}

/** The owner (raw) of a work queue name, or null when the name is not a work queue's. */
export function ownerOfWorkQueue(name: string): string | null {
    const m = /^\{work-(-?\d+)_([0-9a-f]{64})\}$/.exec(name);
    return m ? `${m[1]}:${m[2]}` : null;
}

export function dispatchJobId(jobId: string | bigint): string {
    return `job-${jobId}`;
}

/** Attempt n (1-based) of job jobId; also the BullMQ job id in the provider's queue. */
export function attemptId(jobId: string | bigint, attempt: number): string {
    return `job-${jobId}-a${attempt}`;
}

/** The JobOpened facts the dispatcher needs (strings: BullMQ data is JSON). */
export interface OpenedJob {
    /** on-chain job id, decimal */
    jobId: string;
    /** escrow address, raw */
    job: string;
    /** client address, raw */
    client: string;
    /** 64 hex */
    modelHash: string;
    /** 64 hex: sha256 of the input envelope = its blob hash */
    inputCommitment: string;
    /** nanoTON, decimal */
    maxPrice: string;
    /** unix seconds */
    deadline: number;
    /** candidate owners (raw); empty: any eligible provider */
    candidates: string[];
    /** ms since epoch when the orchestrator saw the event */
    seenAtMs: number;
}

export interface AttemptRecord {
    attempt: number;
    attemptId: string;
    /** provider owner, raw */
    owner: string;
    routedAtMs: number;
    /** set once the attempt finished */
    outcome?: 'committed' | 'failed' | 'abandoned';
    /** failure code and message (WorkFailure) */
    error?: string;
}

/** Data of a `dispatch` queue job. */
export interface DispatchJobData extends OpenedJob {
    attempts: AttemptRecord[];
}

/** Data of a `work-<owner>` queue job: everything the worker needs besides what it reads from the chain. */
export interface WorkItem {
    jobId: string;
    /** escrow address, raw */
    job: string;
    modelHash: string;
    inputCommitment: string;
    maxPrice: string;
    deadline: number;
    attempt: number;
    attemptId: string;
    /** the price the directory expects this provider to charge (nanoTON), for logs and checks */
    price: string;
    /** orchestrator instance that routed it */
    routedBy: string;
    routedAtMs: number;
}

/** The return value of a completed work item. */
export interface WorkOutcome {
    status: 'committed';
    jobId: string;
    attemptId: string;
    owner: string;
    /** 64 hex = sha256(result envelope) = result blob hash = on-chain outputCommitment */
    outputCommitment: string;
    /** wall time per stage on the worker (`claim`: ClaimJob with the receipt, until the escrow is Committed) */
    timingsMs: Partial<Record<'fetch' | 'enclave' | 'upload' | 'claim', number>>;
    /** hash (hex) of the provider wallet's transaction that claimed the job and committed its output */
    claimTx?: string;
}

/**
 * Why a work item failed: the worker fails the BullMQ job with `${code}: ${message}`. `retryable` says whether
 * another provider may succeed (the dispatcher re-routes) or not (the job is dead-lettered at once).
 */
export type WorkFailureCode =
    /** another attempt holds the assignment: this one is stale */
    | 'SUPERSEDED'
    /** the escrow is no longer Open (claimed by someone else, cancelled, expired) */
    | 'JOB_NOT_OPEN'
    /** the claim did not win on chain */
    | 'CLAIM_LOST'
    /** the input envelope is not in the blob store */
    | 'INPUT_MISSING'
    /** the input is bad for every provider (wrong commitment, bad media, too large...) */
    | 'INPUT_REJECTED'
    /** this enclave cannot open the envelope (not a recipient) */
    | 'NOT_A_RECIPIENT'
    /** the worker does not serve the model, or its price is above the job's max */
    | 'NOT_SERVED'
    /** too little time is left before the deadline to run and commit */
    | 'DEADLINE_TOO_CLOSE'
    /** the worker is shutting down and did not start the job */
    | 'DRAINING'
    /** anything else on the worker (chain errors, enclave failure) */
    | 'WORKER_ERROR';

export const NON_RETRYABLE_FAILURES: ReadonlySet<WorkFailureCode> = new Set(['INPUT_REJECTED', 'JOB_NOT_OPEN', 'SUPERSEDED']);

/** `CODE: message` → { code, message }; unknown shapes map to WORKER_ERROR. */
export function parseWorkFailure(reason: string | undefined): { code: WorkFailureCode; message: string } {
    const m = /^([A-Z_]+): ([\s\S]*)$/.exec(reason ?? '');
    const codes: WorkFailureCode[] = ['SUPERSEDED', 'JOB_NOT_OPEN', 'CLAIM_LOST', 'INPUT_MISSING', 'INPUT_REJECTED', 'NOT_A_RECIPIENT', 'NOT_SERVED', 'DEADLINE_TOO_CLOSE', 'DRAINING', 'WORKER_ERROR'];
    if (m && (codes as string[]).includes(m[1])) return { code: m[1] as WorkFailureCode, message: m[2] };
    return { code: 'WORKER_ERROR', message: reason ?? 'unknown failure' };
}

/** What a worker publishes about itself (KEYS.worker hash; every field a string there). */
export interface WorkerHeartbeat {
    owner: string;
    /** ProviderStake address, raw */
    stakeContract: string;
    /** unique per worker process */
    instance: string;
    load: number;
    capacity: number;
    endpoint: string;
    /** model hash (hex) → price (nanoTON, decimal) */
    models: Record<string, string>;
    teeType: string;
    /** the attestation quote, base64 (public: clients verify it against the on-chain attestation hash) */
    quote: string;
    attestationHash: string;
    startedAtMs: number;
    heartbeatAtMs: number;
    /** true once the worker stopped taking new work (SIGTERM) */
    draining: boolean;
}

export const HEARTBEAT_INTERVAL_MS = 2_000;
/** A worker without a heartbeat for this long is not routed to, and its running attempts are abandoned. */
export const HEARTBEAT_TTL_MS = 10_000;

export function encodeHeartbeat(h: WorkerHeartbeat): Record<string, string> {
    return {
        owner: h.owner,
        stakeContract: h.stakeContract,
        instance: h.instance,
        load: String(h.load),
        capacity: String(h.capacity),
        endpoint: h.endpoint,
        models: JSON.stringify(h.models),
        teeType: h.teeType,
        quote: h.quote,
        attestationHash: h.attestationHash,
        startedAtMs: String(h.startedAtMs),
        heartbeatAtMs: String(h.heartbeatAtMs),
        draining: h.draining ? '1' : '0',
    };
}

export function decodeHeartbeat(f: Record<string, string>): WorkerHeartbeat | null {
    if (!f || !f.owner || !f.stakeContract) return null;
    let models: Record<string, string> = {};
    try {
        models = JSON.parse(f.models ?? '{}');
    } catch {
        models = {};
    }
    return {
        owner: f.owner,
        stakeContract: f.stakeContract,
        instance: f.instance ?? '',
        load: Number(f.load ?? 0),
        capacity: Number(f.capacity ?? 1),
        endpoint: f.endpoint ?? '',
        models,
        teeType: f.teeType ?? '',
        quote: f.quote ?? '',
        attestationHash: f.attestationHash ?? '',
        startedAtMs: Number(f.startedAtMs ?? 0),
        heartbeatAtMs: Number(f.heartbeatAtMs ?? 0),
        draining: f.draining === '1',
    };
}
