import { Address, beginCell, Cell, contractAddress } from '@ton/core';
import { CodeLibrarian } from '../build/CodeLibrarian/tact_CodeLibrarian';
import { JobEscrow } from '../build/Registry/tact_JobEscrow';
import { tactConstant } from './constants';

/**
 * JobEscrow's code as a masterchain library. A registry deployed with `jobCode: 'library'` deploys every job with
 * a library cell (an exotic cell of 8 + 256 bits naming the code by hash) instead of the code, which the network
 * resolves from the public libraries that masterchain accounts publish: here, a CodeLibrarian
 * (contracts/code_librarian.tact). How to run one: docs/operations.md, scripts/publishJobCodeLibrary.ts.
 */

/** Registry.jobCodeKind: how a registry deploys its jobs (JobCodeInline, JobCodeLibrary in constants.tact). */
export const JobCodeKind = { inline: Number(tactConstant('JobCodeInline')), library: Number(tactConstant('JobCodeLibrary')) };

/** The compiled JobEscrow code, the same cell the registry embeds. */
export async function jobEscrowCode(): Promise<Cell> {
    return (await JobEscrow.fromInit(new Address(0, Buffer.alloc(32)), 0n, 0n, new Address(0, Buffer.alloc(32)), null, null, 0n, 0n)).init!.code;
}

/** The library cell that stands for `code`: exotic type 2, then the code's representation hash. */
export function libraryCellOf(code: Cell): Cell {
    return beginCell().storeUint(2, 8).storeBuffer(code.hash()).endCell({ exotic: true });
}

/** A CodeLibrarian for `code` owned by `owner`, at its masterchain address (a library is public only from there). */
export async function codeLibrarianInit(owner: Address, code: Cell): Promise<CodeLibrarian> {
    const init = (await CodeLibrarian.fromInit(owner, code)).init!;
    return new CodeLibrarian(contractAddress(-1, init), init);
}
