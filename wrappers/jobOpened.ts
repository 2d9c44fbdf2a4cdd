import { Slice } from '@ton/core';
import { JobTerms, loadJobOpened, loadJobTerms } from '../build/Registry/tact_Registry';

/**
 * JobOpened as its consumers read it. On chain the event is `{ jobId, terms: ^JobTerms }` (the registry emits the
 * terms cell it initializes the job with, which costs one cell instead of a copy of the fields); the decoder lifts
 * the fields the orchestrator routes by to the top and keeps the whole JobTerms beside them.
 */
export interface JobOpenedEvent extends Omit<JobTerms, '$$type' | 'network'> {
    $$type: 'JobOpened';
    jobId: bigint;
    terms: JobTerms;
}

/** Decodes a JobOpened body (tag included); throws on a malformed body or terms cell, like the generated loaders. */
export function loadJobOpenedEvent(slice: Slice): JobOpenedEvent {
    const { jobId, terms: cell } = loadJobOpened(slice);
    const cs = cell.beginParse();
    const terms = loadJobTerms(cs);
    cs.endParse(); // nothing after the terms: a cell with more in it is not a JobTerms
    const { $$type: _t, network: _n, ...fields } = terms;
    return { $$type: 'JobOpened', jobId, ...fields, terms };
}
