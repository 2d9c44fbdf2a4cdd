import { Cell, Slice } from '@ton/core';
import { JobTerms, loadJobNetworkTerms, loadJobOpened, loadJobSpec, loadOpenJob } from '../build/Registry/tact_Registry';

/**
 * JobOpened as its consumers read it. On chain the event is `{ jobId, client }`; the job's terms are the JobSpec of
 * the OpenJob message the same registry transaction processed (the event does not carry a third copy of it), whose
 * first ref is the network's JobNetworkTerms. The decoder lifts the fields the orchestrator routes by to the top and
 * assembles the whole JobTerms beside them.
 */
export interface JobOpenedEvent extends Omit<JobTerms, '$$type' | 'network'> {
    $$type: 'JobOpened';
    jobId: bigint;
    terms: JobTerms;
}

/**
 * Decodes a JobOpened body (tag included) together with the body of the inbound message of the registry
 * transaction that emitted it (the OpenJob); throws on a malformed body, a missing or malformed OpenJob, or a spec
 * cell with anything after its fields, like the generated loaders.
 */
export function loadJobOpenedEvent(slice: Slice, openJob: Cell | Slice | null | undefined): JobOpenedEvent {
    const { jobId, client } = loadJobOpened(slice);
    if (!openJob) throw new Error('JobOpened: the terms are in the transaction\'s inbound OpenJob, which was not given');
    const os = openJob instanceof Cell ? openJob.beginParse() : openJob;
    const { spec: specCell } = loadOpenJob(os);
    const ss = specCell.beginParse();
    const { $$type: _s, network: networkCell, ...spec } = loadJobSpec(ss);
    ss.endParse(); // nothing after the fields: a cell with more in it is not a JobSpec (the registry refuses it too)
    const ns = networkCell.beginParse();
    const network = loadJobNetworkTerms(ns);
    ns.endParse();
    const terms: JobTerms = { $$type: 'JobTerms', client, ...spec, network };
    return { $$type: 'JobOpened', jobId, client, ...spec, terms };
}
