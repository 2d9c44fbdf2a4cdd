import { Address, beginCell, Cell, Dictionary } from '@ton/core';
import { OpenJob, storeJobSpec } from '../build/Registry/tact_Registry';

/** What a client asks for when it opens a job (OpenJob's JobSpec, flat). */
export interface OpenJobFields {
    queryId?: bigint;
    /** the registry's current JobNetworkTerms cell (its `jobNetwork` getter): the terms the client agrees to */
    network: Cell;
    modelHash: bigint;
    inputCommitment: bigint;
    resultKey: bigint;
    maxPrice: bigint;
    deadline: bigint;
    candidates?: Dictionary<Address, boolean>;
}

/** The JobSpec cell: the job keeps it as it is, and the JobOpened event references it. */
export function jobSpecCell(f: OpenJobFields): Cell {
    return beginCell()
        .store(
            storeJobSpec({
                $$type: 'JobSpec',
                network: f.network,
                modelHash: f.modelHash,
                inputCommitment: f.inputCommitment,
                resultKey: f.resultKey,
                maxPrice: f.maxPrice,
                deadline: f.deadline,
                candidates: f.candidates ?? Dictionary.empty(Dictionary.Keys.Address(), Dictionary.Values.Bool()),
            }),
        )
        .endCell();
}

/** The OpenJob message for `f` (send it to the registry with the max price + OpenJobFee attached). */
export function openJobMessage(f: OpenJobFields): OpenJob {
    return { $$type: 'OpenJob', queryId: f.queryId ?? 0n, spec: jobSpecCell(f) };
}
