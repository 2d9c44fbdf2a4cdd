import { Slice } from '@ton/core';
import { JobTerms, loadJobNetworkTerms, loadJobOpened, loadJobSpec } from '../build/Registry/tact_Registry';

/**
 * JobOpened as its consumers read it. On chain the event is `{ jobId, client, spec: ^JobSpec }`, the very cell the
 * job is initialized with (the event costs one cell), whose first ref is the network's JobNetworkTerms; the decoder
 * lifts the fields the orchestrator routes by to the top and assembles the whole JobTerms beside them.
 */
export interface JobOpenedEvent extends Omit<JobTerms, '$$type' | 'network'> {
    $$type: 'JobOpened';
    jobId: bigint;
    terms: JobTerms;
}

/** Decodes a JobOpened body (tag included); throws on a malformed body or terms cell, like the generated loaders. */
export function loadJobOpenedEvent(slice: Slice): JobOpenedEvent {
    const { jobId, client, spec: specCell } = loadJobOpened(slice);
    const ss = specCell.beginParse();
    const { $$type: _s, network: networkCell, ...spec } = loadJobSpec(ss);
    ss.endParse(); // nothing after the fields: a cell with more in it is not a JobSpec
    const ns = networkCell.beginParse();
    const network = loadJobNetworkTerms(ns);
    ns.endParse();
    const terms: JobTerms = { $$type: 'JobTerms', client, ...spec, network };
    return { $$type: 'JobOpened', jobId, client, ...spec, terms };
}
