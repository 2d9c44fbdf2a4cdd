/** Adapter from the decoded JobOpened event (orchestrator/watcher) to the router's job type. */
import type { Address } from '@ton/core';
import type { RoutableJob } from './types';

/** The JobOpened fields the router needs (structurally the Tact-generated type). */
export interface JobOpenedLike {
    jobId: bigint;
    maxPrice: bigint;
    deadline: bigint;
    modelHash: bigint;
    candidates: { keys(): Address[] };
}

export function jobFromOpened(ev: JobOpenedLike, extra: Pick<RoutableJob, 'lockRatioBps' | 'minTimeLeftMs'> = {}): RoutableJob {
    return {
        jobId: ev.jobId,
        modelHash: ev.modelHash,
        maxPrice: ev.maxPrice,
        deadline: Number(ev.deadline),
        candidates: ev.candidates.keys().map((a) => a.toRawString()),
        ...extra,
    };
}
