/** Shapes the dispatch side stores in BullMQ (JSON) beyond protocol/work.ts. */
import type { DispatchJobData, WorkOutcome } from '../../protocol/work';

/**
 * A dispatch job's data: the protocol's DispatchJobData plus the dispatcher's bookkeeping. The extra fields are
 * optional, so a job added by any intake that follows protocol/work.ts is valid as it is.
 */
export interface DispatchState extends DispatchJobData {
    /** routing rounds that found no eligible provider (drives their backoff) */
    noProviderRounds?: number;
    /** routing rounds in a row that found eligible providers, all at capacity (drives the short busy retry) */
    busyRounds?: number;
    /** why the job is waiting, for status pages (e.g. `NO_ELIGIBLE_PROVIDER: STALE_HEARTBEAT×2`) */
    note?: string;
}

/** Where a job is in dispatch (GET /v1/jobs/:address → dispatch.state). */
export type DispatchStateName = 'queued' | 'routing' | 'running' | 'committed' | 'dead' | 'finished';

/** A dispatch job's return value once it stops. */
export interface DispatchResult {
    /** committed: a provider committed a result; dead: dead-lettered; finished: stopped for another reason (see reason) */
    state: 'committed' | 'dead' | 'finished';
    reason?: string;
    attemptId?: string;
    owner?: string;
    outputCommitment?: string;
}

export type { WorkOutcome };
