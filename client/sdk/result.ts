/**
 * Checking and opening a committed job's result. Nothing the orchestrator says is taken on trust:
 *
 *   sha256(result blob) == the escrow's outputCommitment
 *   the receipt, rebuilt from chain state (network, escrow, input and output commitments, model, the claim's
 *     measurement), verifies under the receipt key recorded at claim time, with the signature from the very
 *     SubmitReceipt transaction that committed the job
 *   that key (and measurement) is the one the provider's attestation vouched for (checkClaimKey)
 *   the claimant was one of the job's candidates
 *   the envelope opens with the client's result key and is bound to this escrow, network and model
 *
 * Only then is the plaintext returned. It is never logged.
 */
import { createHash } from 'crypto';
import { Address } from '@ton/core';
import { ChainClient } from '../../protocol/chain';
import { EnvelopeError, openResult } from '../../protocol/envelope';
import { receiptHash, ReceiptFields, uint256ToBuffer, verifyReceipt } from '../../protocol/receipt';
import { OrchestratorApi } from './api';
import { findPostedReceipt, JobSnapshot } from './chainJob';
import { CocoonError } from './errors';
import { checkClaimKey, VerifiedProvider } from './verifyProvider';

export interface JobResult {
    /** the parsed JSON result (OCR {text, lines}, VAD {segments, durationSec}, tensor {outputs}); null if not JSON */
    output: unknown;
    /** the decrypted result bytes */
    bytes: Buffer;
    /** the provider that ran the job (owner) */
    provider: Address;
    /** what the provider charges (nanoTON) */
    price: bigint;
    /** 64 hex */
    outputCommitment: string;
    /** hash (hex) of the receipt the enclave signed */
    receiptHash: string;
    /** the escrow transaction that accepted the receipt */
    receiptTx: string;
    /** every check that passed, in order */
    verifications: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function verifyAndOpenResult(o: {
    chain: ChainClient;
    api: OrchestratorApi;
    job: JobSnapshot;
    resultPrivateKey: Buffer;
    resultPublicKey: Buffer;
    attested: (owner: Address) => Promise<VerifiedProvider | undefined>;
    blobWaitMs?: number;
}): Promise<JobResult> {
    const { job } = o;
    const checks: string[] = [];
    const ok = (what: string) => checks.push(what);
    if (!job.outputCommitment || !job.claim) throw new CocoonError('WRONG_STATE', `job ${job.jobId} has no committed result (it is ${job.state})`, 'wait for it with waitFor("committed")');
    if (job.resultKey !== o.resultPublicKey.toString('hex')) {
        throw new CocoonError('NO_RESULT_KEY', `the result key given is not the one job ${job.jobId} was opened with`, 'use the key file written when this job was submitted');
    }
    ok('escrow is Committed with an output commitment');

    // 1. the blob, against the chain's commitment (the worker uploads before it posts the receipt; allow for lag)
    let bytes: Buffer | null = null;
    const until = Date.now() + (o.blobWaitMs ?? 10_000);
    for (;;) {
        bytes = await o.api.blob(job.outputCommitment);
        if (bytes || Date.now() > until) break;
        await sleep(250);
    }
    if (!bytes) throw new CocoonError('API_ERROR', `the orchestrator API has no result blob ${job.outputCommitment}`, 'the worker may not have uploaded it: retry later; the result is bound to the chain, so any copy of it works');
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== job.outputCommitment) {
        throw new CocoonError('RESULT_MISMATCH', `the result blob hashes to ${actual}, but the escrow committed to ${job.outputCommitment}`, 'do not accept this job; the blob was altered in transit or storage: fetch it again, or from another source');
    }
    ok('sha256(result) equals the on-chain output commitment');

    // 2. the receipt, rebuilt from the chain and checked with the claim's key
    const posted = await findPostedReceipt(o.chain, job.address);
    if (!posted) throw new CocoonError('BAD_RECEIPT', `no accepted SubmitReceipt found in the transactions of ${job.address.toString()}`, 'retry shortly (the API node may lag); do not accept before the receipt is found');
    const fields: ReceiptFields = {
        networkId: job.networkId,
        job: job.address,
        inputCommitment: job.terms.inputCommitment,
        outputCommitment: BigInt('0x' + job.outputCommitment),
        modelHash: job.terms.modelHash,
        measurement: job.claim.measurement,
    };
    if (posted.outputCommitment !== fields.outputCommitment || !verifyReceipt(fields, posted.signature, uint256ToBuffer(job.claim.receiptKey))) {
        throw new CocoonError('BAD_RECEIPT', `the receipt of job ${job.jobId} does not verify under the claim's receipt key`, 'do not accept this job; let it expire for a full refund');
    }
    ok("receipt signed by the enclave key recorded at claim (rebuilt from chain state)");

    // 3. the claimant is a candidate and its claim carries the attested key
    const provider = job.claim.provider;
    if (job.candidates.length > 0 && !job.candidates.some((c) => c.equals(provider))) {
        throw new CocoonError('BAD_RECEIPT', `job ${job.jobId} was claimed by ${provider.toString()}, which is not one of its candidates`, 'do not accept this job');
    }
    ok("claimed by one of the job's candidates");
    const attested = await o.attested(provider);
    if (!attested || !attested.ok) {
        throw new CocoonError('PROVIDER_NOT_ATTESTED', `the provider that claimed job ${job.jobId} (${provider.toString()}) does not pass the attestation checks now${attested?.error ? `: ${attested.error}` : ''}`, 'do not accept this job; let it expire for a full refund');
    }
    try {
        checkClaimKey(attested, job.claim.receiptKey);
    } catch (e) {
        throw new CocoonError('BAD_RECEIPT', (e as Error).message);
    }
    if (attested.enclave!.measurement !== job.claim.measurement) {
        throw new CocoonError('BAD_RECEIPT', `the claim names measurement ${uint256ToBuffer(job.claim.measurement).toString('hex')}, not the attested one`, 'do not accept this job; let it expire for a full refund');
    }
    ok('the claim carries the attested receipt key and measurement');

    // 4. decrypt
    let plaintext: Buffer;
    try {
        plaintext = openResult(bytes, { networkId: job.networkId, job: job.address, modelHash: Buffer.from(job.modelHash, 'hex') }, o.resultPrivateKey);
    } catch (e) {
        const code = e instanceof EnvelopeError ? e.code : 'error';
        throw new CocoonError('DECRYPT_FAILED', `the result envelope of job ${job.jobId} does not open with the result key (${code})`, 'check that this is the key file of this job');
    }
    ok("result decrypts with the client's result key and is bound to this escrow");

    let output: unknown = null;
    try {
        output = JSON.parse(plaintext.toString('utf8'));
    } catch {
        output = null;
    }
    return {
        output,
        bytes: plaintext,
        provider,
        price: job.claim.price,
        outputCommitment: job.outputCommitment,
        receiptHash: receiptHash(fields).toString('hex'),
        receiptTx: posted.tx,
        verifications: checks,
    };
}
