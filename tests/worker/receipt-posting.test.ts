/**
 * The worker's receipt on chain (sandbox): a provider registers its REAL enclave's Ed25519 key as the receipt key,
 * a client opens a job whose inputCommitment is the real envelope's sha256 and whose resultKey is its real X25519
 * key, the provider claims it, ConfidentialJobRunner runs it with the real model, and postReceipt sends the
 * enclave's receipt from the provider wallet. The escrow commits it; a receipt from another enclave is refused;
 * the client checks the on-chain commitment, decrypts, accepts, and the job settles.
 */
import * as crypto from 'crypto';
import { Address, Contract, ContractProvider, Dictionary, toNano } from '@ton/core';
import { Blockchain, SendMessageResult } from '@ton/sandbox';
import '@ton/test-utils';
import { generateX25519KeyPair, envelopeCommitment, openResult, sealInput } from '../../protocol/envelope';
import { bufferToUint256, uint256ToBuffer } from '../../protocol/receipt';
import { Enclave } from '../../worker/enclave/enclave';
import { InferenceEngine, SHIPPED_MODEL_HASHES } from '../../worker/inference';
import { ConfidentialJobRunner, JobReceiptTarget, postReceipt, SUGGESTED_RECEIPT_VALUE, submitReceiptBody } from '../../worker/job';
import { ExitCode, JobEscrow, JobStatus, loadJobClaim, loadJobTerms, loadSubmitReceipt, openJobMessage, tactConstant } from '../../wrappers';
import { createNetwork, MEASUREMENT, Network, NETWORK_ID } from '../contracts/fixtures';

const SubmitReceiptOp = 0x7c0c3003;
const MLP = BigInt('0x' + SHIPPED_MODEL_HASHES.tensor);
const PRICE = toNano('1');

let engine: InferenceEngine;

beforeAll(async () => {
    engine = await InferenceEngine.fromCatalogFile();
    await engine.warmup([SHIPPED_MODEL_HASHES.tensor]);
});

afterAll(async () => {
    await engine?.close();
});

/**
 * Runs `fn` (which sends through a plain @ton/core Sender) and then lets the sandbox process the queued messages,
 * returning what happened: a sandbox Sender only enqueues; opened contracts' send* methods drain the queue.
 */
async function drained(blockchain: Blockchain, at: Address, fn: () => Promise<void>): Promise<SendMessageResult> {
    const harness = blockchain.openContract({
        address: at,
        async sendAction(_provider: ContractProvider, action: () => Promise<void>) {
            await action();
        },
    } as Contract & { sendAction(provider: ContractProvider, action: () => Promise<void>): Promise<void> });
    return harness.sendAction(fn);
}

function tensorRequest(rows: number): Buffer {
    const x = Float32Array.from({ length: rows * 64 }, (_, i) => Math.sin(i));
    return Buffer.from(JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [rows, 64], data: Buffer.from(x.buffer).toString('base64') } }, outputEncoding: 'base64' }));
}

async function setup(net: Network) {
    await net.gov.allowModel(MLP);
    const enclave = new Enclave({ measurement: uint256ToBuffer(MEASUREMENT) });
    const other = new Enclave({ measurement: uint256ToBuffer(MEASUREMENT) }); // a second candidate's enclave
    const provider = await net.createProvider('alice', { stake: toNano('100'), register: false });
    const registered = await provider.register([[MLP, PRICE]], { receiptKey: bufferToUint256(enclave.ed25519PublicKey) });
    expect(registered.transactions).toHaveTransaction({ to: provider.contract.address, success: true });

    // The client: a real X25519 result key and a real envelope for both candidates.
    const clientKeys = generateX25519KeyPair();
    const client = await net.createClient('c1');
    const payload = tensorRequest(8);
    const sealed = sealInput({
        networkId: NETWORK_ID,
        modelHash: uint256ToBuffer(MLP),
        clientResultPublicKey: clientKeys.publicKey,
        recipients: [enclave.x25519PublicKey, other.x25519PublicKey],
        payload,
    });
    const jobId = await net.registry.getJobCount();
    const opened = await net.registry.send(client.wallet.getSender(), { value: toNano('2.05') }, openJobMessage({
        maxPrice: toNano('2'),
        deadline: BigInt(net.blockchain.now! + 600),
        modelHash: MLP,
        inputCommitment: bufferToUint256(sealed.commitment),
        resultKey: bufferToUint256(clientKeys.publicKey),
        network: await net.registry.getJobNetwork(),
    }));
    const job = net.blockchain.openContract(JobEscrow.fromAddress(await net.registry.getJobAddress(jobId)));
    expect(opened.transactions).toHaveTransaction({ to: job.address, deploy: true, success: true });

    const claimed = await provider.claim(jobId, MLP);
    expect(claimed.transactions).toHaveTransaction({ from: provider.contract.address, to: job.address, success: true });
    expect(await job.getStatus()).toBe(BigInt(JobStatus.Claimed));
    return { enclave, other, provider, client, clientKeys, sealed, payload, job };
}

/** The worker's view: everything from the escrow's state, the envelope from the blob store. */
async function jobFromChain(job: { address: Address; getState(): Promise<{ terms: import('@ton/core').Cell | null }> }, envelope: Buffer) {
    const terms = loadJobTerms((await job.getState()).terms!.beginParse());
    return {
        modelHash: terms.modelHash,
        envelope,
        networkId: terms.network.networkId,
        jobAddress: job.address,
        clientResultPublicKey: terms.resultKey,
        inputCommitment: terms.inputCommitment,
    };
}

describe('posting enclave receipts to the escrow', () => {
    let net: Network;

    beforeEach(async () => {
        net = await createNetwork();
    });

    test('the real enclave receipt commits the job; another enclave is refused; the client accepts and it settles', async () => {
        const { enclave, other, provider, client, clientKeys, sealed, payload, job } = await setup(net);
        const claim = loadJobClaim((await job.getState()).claim!.beginParse());
        expect(claim.receiptKey).toBe(bufferToUint256(enclave.ed25519PublicKey));

        const work = await jobFromChain(job, sealed.envelope);
        const res = await new ConfidentialJobRunner(enclave, engine).run(work);
        expect(res.receipt.measurement).toBe(claim.measurement);
        expect(res.receipt.inputCommitment).toBe(bufferToUint256(sealed.commitment));

        // The second candidate's enclave can run the same envelope, but its key is not the claim's: refused.
        const foreign = await new ConfidentialJobRunner(other, engine).run(work);
        const relayer = await net.anyone('relayer');
        const refused = await net.blockchain
            .openContract(JobReceiptTarget.at(job.address))
            .sendReceipt(relayer.getSender(), { outputCommitment: foreign.outputCommitment, signature: foreign.receiptSignature }, SUGGESTED_RECEIPT_VALUE);
        expect(refused.transactions).toHaveTransaction({ from: relayer.address, to: job.address, op: SubmitReceiptOp, success: false, exitCode: ExitCode.ErrBadSignature });
        // The right signature with another output commitment: refused too.
        const swapped = await drained(net.blockchain, job.address, () =>
            postReceipt(provider.owner.getSender(), job.address, { outputCommitment: foreign.outputCommitment, signature: res.receiptSignature }, SUGGESTED_RECEIPT_VALUE),
        );
        expect(swapped.transactions).toHaveTransaction({ to: job.address, op: SubmitReceiptOp, exitCode: ExitCode.ErrBadSignature });
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Claimed));

        // The provider wallet posts the real receipt.
        const posted = await drained(net.blockchain, job.address, () =>
            postReceipt(provider.owner.getSender(), job.address.toString(), { outputCommitment: res.outputCommitment, signature: res.receiptSignature }, SUGGESTED_RECEIPT_VALUE),
        );
        expect(posted.transactions).toHaveTransaction({ from: provider.owner.address, to: job.address, op: SubmitReceiptOp, success: true });
        const state = await job.getState();
        expect(state.status).toBe(BigInt(JobStatus.Committed));
        expect(state.outputCommitment).toBe(bufferToUint256(res.outputCommitment));

        // The client: the fetched result matches the on-chain commitment and decrypts to the model output.
        expect(bufferToUint256(envelopeCommitment(res.resultEnvelope))).toBe(state.outputCommitment);
        const plain = openResult(res.resultEnvelope, { networkId: NETWORK_ID, job: job.address, modelHash: uint256ToBuffer(MLP) }, clientKeys.privateKey);
        expect(JSON.parse(plain.toString('utf8'))).toEqual(JSON.parse((await engine.run('tensor', MLP, payload)).toString('utf8')));

        const earningsBefore = (await provider.state()).earnings;
        const settled = await client.accept(job);
        expect(settled.transactions).toHaveTransaction({ from: job.address, to: provider.contract.address, success: true });
        expect(await job.getStatus()).toBe(BigInt(JobStatus.Settled));
        const after = await provider.state();
        expect(after.locked).toBe(0n);
        const fee = (PRICE * net.params.protocolFeeBps) / 10000n;
        // the price net of the fee, plus the claim's unused gas credit and whatever the finish allowance leaves over;
        // the fee to the treasury
        const { credit } = loadJobClaim(state.claim!.beginParse());
        expect(credit).toBeGreaterThan(0n);
        expect(after.earnings - earningsBefore).toBeGreaterThanOrEqual(PRICE - fee + credit);
        expect(after.earnings - earningsBefore).toBeLessThan(PRICE - fee + credit + tactConstant('ProviderFinishAllowance'));
        expect(settled.transactions).toHaveTransaction({ from: job.address, to: net.treasury.address, value: fee });
    });

    test('the posted message is exactly SubmitReceipt with the runner outputs; bad arguments are refused before sending', async () => {
        const sig = crypto.randomBytes(64);
        const out = crypto.randomBytes(32);
        const msg = loadSubmitReceipt(submitReceiptBody({ outputCommitment: out, signature: sig, queryId: 9n }).beginParse());
        expect(msg.outputCommitment).toBe(bufferToUint256(out));
        expect(msg.signature.equals(sig)).toBe(true);
        expect(msg.queryId).toBe(9n);
        const sent: unknown[] = [];
        const sender = { address: undefined, send: async (args: unknown) => void sent.push(args) };
        await expect(postReceipt(sender, new Address(0, Buffer.alloc(32)), { outputCommitment: out, signature: sig.subarray(0, 63) }, toNano('0.05'))).rejects.toThrow(/64 bytes/);
        await expect(postReceipt(sender, new Address(0, Buffer.alloc(32)), { outputCommitment: 1n << 256n, signature: sig }, toNano('0.05'))).rejects.toThrow(/uint256/);
        await expect(postReceipt(sender, new Address(0, Buffer.alloc(32)), { outputCommitment: out, signature: sig }, 0n)).rejects.toThrow(/positive/);
        expect(sent).toHaveLength(0);
        await postReceipt(sender, new Address(0, Buffer.alloc(32)), { outputCommitment: out, signature: sig }, toNano('0.05'));
        expect(sent).toHaveLength(1);
        expect(sent[0]).toMatchObject({ value: toNano('0.05'), bounce: true });
    });
});
