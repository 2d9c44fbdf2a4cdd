import { Blockchain, BlockchainTransaction, internal, SandboxContract, SendMessageResult, TreasuryContract } from '@ton/sandbox';
import { Address, beginCell, Cell, Dictionary, toNano, Transaction } from '@ton/core';
import { KeyPair, keyPairFromSeed } from '@ton/crypto';
import { createHash } from 'crypto';
import {
    DEFAULT_PARAMS,
    JobEscrow,
    NetworkParams,
    providerStakeInit,
    registryInit,
    storeClaimJob,
    codeLibrarianInit,
    jobEscrowCode,
    storeClaimReceipt,
    loadJobClaim,
    loadJobTerms,
    openJobMessage,
} from '../../wrappers';
import { NETWORK_IDS } from '../../protocol/network';
import { signReceipt } from '../../protocol/receipt';

/**
 * Test fixture factories for the sandbox suite (in the style of tact-lang/dex): `createNetwork()` deploys a
 * registry with allowlists, and returns closures that create providers and clients and act for them, so each
 * test states only what it is about.
 */

export const NETWORK_ID = NETWORK_IDS.devnet;
export const START_TIME = 1_800_000_000;

export const defaultParams: NetworkParams = DEFAULT_PARAMS;

/** Value a provider owner attaches to ClaimJob: gas for the provider and the job, the rest is returned. */
export const CLAIM_VALUE = toNano('0.05');
export const RELAY_VALUE = toNano('0.05');
export const ACTION_VALUE = toNano('0.05');

export function hash256(label: string): bigint {
    return BigInt('0x' + createHash('sha256').update(label).digest('hex'));
}

export const MEASUREMENT = hash256('measurement:worker-image-v1');
export const MODEL_OCR = hash256('model:ocr');
export const MODEL_VAD = hash256('model:vad');

export function seededKeyPair(label: string): KeyPair {
    return keyPairFromSeed(createHash('sha256').update('seed:' + label).digest());
}

export type Network = Awaited<ReturnType<typeof createNetwork>>;
export type Provider = Awaited<ReturnType<Network['createProvider']>>;
export type Client = Awaited<ReturnType<Network['createClient']>>;

/**
 * `jobCode`: how the registry deploys jobs. 'library' (the default, as on a real network): JobEscrow's code is first
 * published as a masterchain library by a CodeLibrarian, and every job is deployed with a library cell for it;
 * 'inline': every deployment carries the code.
 */
export async function createNetwork(opts: { params?: Partial<NetworkParams>; allow?: boolean; config?: 'slim' | Cell; jobCode?: 'inline' | 'library' } = {}) {
    const blockchain = await Blockchain.create({ ...(opts.config ? { config: opts.config } : {}), autoDeployLibs: true });
    blockchain.now = START_TIME;
    const governance = await blockchain.treasury('governance');
    const treasury = await blockchain.treasury('treasury');
    const params: NetworkParams = { ...defaultParams, ...opts.params };
    const jobCode = opts.jobCode ?? 'library';
    const librarian = blockchain.openContract(await codeLibrarianInit(governance.address, await jobEscrowCode()));
    if (jobCode === 'library') {
        const published = await librarian.send(governance.getSender(), { value: toNano('1') }, { $$type: 'PublishLibrary', queryId: 0n });
        if (!published.transactions.some((t) => t.inMessage?.info.dest?.toString() === librarian.address.toString() && t.description.type === 'generic' && t.description.computePhase.type === 'vm' && t.description.computePhase.success)) {
            throw new Error('the CodeLibrarian did not publish the JobEscrow library');
        }
    }
    const registry = blockchain.openContract(await registryInit(NETWORK_ID, params, treasury.address, governance.address, { jobCode }));
    const deployResult = await registry.send(governance.getSender(), { value: toNano('1') }, null);

    const gov = {
        allowMeasurement: (measurement: bigint) =>
            registry.send(governance.getSender(), { value: ACTION_VALUE }, { $$type: 'AllowMeasurement', queryId: 0n, measurement }),
        revokeMeasurement: (measurement: bigint) =>
            registry.send(governance.getSender(), { value: ACTION_VALUE }, { $$type: 'RevokeMeasurement', queryId: 0n, measurement }),
        allowModel: (modelHash: bigint) =>
            registry.send(governance.getSender(), { value: ACTION_VALUE }, { $$type: 'AllowModel', queryId: 0n, modelHash }),
        revokeModel: (modelHash: bigint) =>
            registry.send(governance.getSender(), { value: ACTION_VALUE }, { $$type: 'RevokeModel', queryId: 0n, modelHash }),
        setParams: (p: Partial<NetworkParams>) =>
            registry.send(governance.getSender(), { value: ACTION_VALUE }, { $$type: 'SetParams', queryId: 0n, params: { ...params, ...p } }),
    };
    if (opts.allow !== false) {
        await gov.allowMeasurement(MEASUREMENT);
        await gov.allowModel(MODEL_OCR);
        await gov.allowModel(MODEL_VAD);
    }

    async function createProvider(
        name: string,
        o: { stake?: bigint; models?: [bigint, bigint][]; measurement?: bigint; register?: boolean } = {},
    ) {
        const owner = await blockchain.treasury('provider:' + name);
        const contract = blockchain.openContract(await providerStakeInit(registry.address, owner.address));
        const keys = seededKeyPair('receipt:' + name);
        const encryptionKey = hash256('x25519:' + name);
        const measurement = o.measurement ?? MEASUREMENT;
        const models = o.models ?? [[MODEL_OCR, toNano('1')], [MODEL_VAD, toNano('0.5')]];
        const p = {
            name,
            owner,
            contract,
            keys,
            measurement,
            stake: (amount: bigint, value = amount + toNano('0.1')) =>
                contract.send(owner.getSender(), { value }, { $$type: 'Stake', queryId: 0n, amount }),
            register: (m: [bigint, bigint][] = models, record: Partial<{ measurement: bigint; receiptKey: bigint; encryptionKey: bigint; attestationHash: bigint; endpoint: string }> = {}) => {
                const dict = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.BigUint(64));
                for (const [h, price] of m) dict.set(h, price);
                return contract.send(owner.getSender(), { value: toNano('0.1') }, {
                    $$type: 'RegisterEnclave',
                    queryId: 0n,
                    record: {
                        $$type: 'EnclaveRecord',
                        receiptKey: record.receiptKey ?? BigInt('0x' + keys.publicKey.toString('hex')),
                        encryptionKey: record.encryptionKey ?? encryptionKey,
                        measurement: record.measurement ?? measurement,
                        attestationHash: record.attestationHash ?? hash256('quote:' + name),
                        endpoint: record.endpoint ?? `https://${name}.example/cocoon`,
                    },
                    models: dict,
                });
            },
            claim: (jobId: bigint, modelHash = MODEL_OCR, value = CLAIM_VALUE) =>
                contract.send(owner.getSender(), { value }, { $$type: 'ClaimJob', queryId: 0n, jobId, modelHash, receipt: null }),
            /**
             * The worker's path: claim `job` with the enclave's receipt attached, so the job goes Open -> Committed in
             * one message chain. `o` forges parts of the receipt (another key, network, job or input; the signed
             * output differs from the sent one).
             */
            claimCommit: async (job: SandboxContract<JobEscrow>, o: ReceiptForgery & { keys?: KeyPair; modelHash?: bigint; value?: bigint } = {}) => {
                const { state, terms, outputCommitment, signature } = await signJobReceipt(job, o.keys ?? keys, measurement, o);
                const receipt = beginCell().store(storeClaimReceipt({ $$type: 'ClaimReceipt', outputCommitment, signature })).endCell();
                const result = await contract.send(owner.getSender(), { value: o.value ?? CLAIM_VALUE }, {
                    $$type: 'ClaimJob', queryId: 0n, jobId: state.jobId, modelHash: o.modelHash ?? terms.modelHash, receipt,
                });
                return { result, outputCommitment };
            },
            requestUnstake: (amount: bigint) =>
                contract.send(owner.getSender(), { value: ACTION_VALUE }, { $$type: 'RequestUnstake', queryId: 0n, amount }),
            withdrawStake: () => contract.send(owner.getSender(), { value: ACTION_VALUE }, { $$type: 'WithdrawStake', queryId: 0n }),
            withdrawEarnings: () =>
                contract.send(owner.getSender(), { value: ACTION_VALUE }, { $$type: 'WithdrawEarnings', queryId: 0n }),
            state: () => contract.getState(),
        };
        if (o.stake !== undefined && o.stake > 0n) await p.stake(o.stake);
        if (o.register !== false && o.stake !== undefined) await p.register();
        return p;
    }

    async function createClient(name: string) {
        const wallet = await blockchain.treasury('client:' + name);
        const resultKey = hash256('result-key:' + name);
        return {
            name,
            wallet,
            resultKey,
            openJob: async (o: {
                maxPrice?: bigint;
                value?: bigint;
                deadline?: number;
                modelHash?: bigint;
                inputCommitment?: bigint;
                candidates?: Address[];
                /** the JobNetworkTerms cell the spec carries; the registry's current one by default */
                network?: Cell;
            } = {}) => {
                const jobId = await registry.getJobCount();
                const maxPrice = o.maxPrice ?? toNano('2');
                const candidates = Dictionary.empty(Dictionary.Keys.Address(), Dictionary.Values.Bool());
                for (const c of o.candidates ?? []) candidates.set(c, true);
                const inputCommitment = o.inputCommitment ?? hash256(`input:${name}:${jobId}`);
                const result = await registry.send(wallet.getSender(), { value: o.value ?? maxPrice + toNano('0.05') }, openJobMessage({
                    maxPrice,
                    deadline: BigInt(o.deadline ?? blockchain.now! + 600),
                    modelHash: o.modelHash ?? MODEL_OCR,
                    inputCommitment,
                    resultKey,
                    candidates,
                    network: o.network ?? (await registry.getJobNetwork()),
                }));
                const job = blockchain.openContract(JobEscrow.fromAddress(await registry.getJobAddress(jobId)));
                return { result, jobId, job, inputCommitment };
            },
            accept: (job: SandboxContract<JobEscrow>) =>
                job.send(wallet.getSender(), { value: ACTION_VALUE }, { $$type: 'AcceptResult', queryId: 0n }),
            cancel: (job: SandboxContract<JobEscrow>) =>
                job.send(wallet.getSender(), { value: ACTION_VALUE }, { $$type: 'CancelJob', queryId: 0n }),
        };
    }

    /** Signs the receipt with `keys` (the enclave's by default) and relays it from `relayer`. */
    async function submitReceipt(job: SandboxContract<JobEscrow>, keys: KeyPair, relayer: SandboxContract<TreasuryContract>, o: ReceiptForgery = {}) {
        const { outputCommitment, signature } = await signJobReceipt(job, keys, undefined, o);
        const result = await job.send(relayer.getSender(), { value: RELAY_VALUE }, {
            $$type: 'SubmitReceipt',
            queryId: 0n,
            outputCommitment,
            signature,
        });
        return { result, outputCommitment };
    }

    const anyone = (name: string) => blockchain.treasury('anyone:' + name);

    const expire = async (job: SandboxContract<JobEscrow>, from: SandboxContract<TreasuryContract>) =>
        job.send(from.getSender(), { value: ACTION_VALUE }, { $$type: 'ExpireJob', queryId: 0n });
    const settle = async (job: SandboxContract<JobEscrow>, from: SandboxContract<TreasuryContract>) =>
        job.send(from.getSender(), { value: ACTION_VALUE }, { $$type: 'Settle', queryId: 0n });

    return {
        blockchain,
        registry,
        librarian,
        jobCode,
        governance,
        treasury,
        params,
        deployResult,
        gov,
        createProvider,
        createClient,
        submitReceipt,
        expire,
        settle,
        anyone,
    };
}

/** What a test may forge in a receipt: another network, job or input; a signed output other than the sent one. */
export interface ReceiptForgery {
    outputCommitment?: bigint;
    signedOutput?: bigint;
    networkId?: number;
    jobAddress?: Address;
    inputCommitment?: bigint;
}

/**
 * `job`'s receipt signed with `keys` over `measurement` (the claim's when not given), as the enclave signs it
 * (protocol/receipt.ts), with the parts `o` forges.
 */
async function signJobReceipt(job: SandboxContract<JobEscrow>, keys: KeyPair, measurement: bigint | undefined, o: ReceiptForgery) {
    const state = await job.getState();
    const terms = loadJobTerms(state.terms!.beginParse());
    const outputCommitment = o.outputCommitment ?? hash256('output:' + job.address.toString());
    const signature = signReceipt(
        {
            networkId: o.networkId ?? NETWORK_ID,
            job: o.jobAddress ?? job.address,
            inputCommitment: o.inputCommitment ?? terms.inputCommitment,
            outputCommitment: o.signedOutput ?? outputCommitment,
            modelHash: terms.modelHash,
            measurement: measurement ?? loadJobClaim(state.claim!.beginParse()).measurement,
        },
        keys.secretKey,
    );
    return { state, terms, outputCommitment, signature };
}

/** The transaction that `address` executed in `result` for a message with opcode `op` (or the first one). */
export function txOn(result: SendMessageResult, address: Address, op?: number): BlockchainTransaction {
    const tx = result.transactions.find((t) => {
        if (t.inMessage?.info.type !== 'internal' || !t.inMessage.info.dest.equals(address)) return false;
        if (op === undefined) return true;
        const body = t.inMessage.body.beginParse();
        return body.remainingBits >= 32 && body.preloadUint(32) === op;
    });
    if (!tx) throw new Error(`no transaction on ${address} for op 0x${op?.toString(16)}`);
    return tx;
}

export function gasUsed(tx: Transaction): bigint {
    const d = tx.description;
    if (d.type !== 'generic' || d.computePhase.type !== 'vm') return 0n;
    return d.computePhase.gasUsed;
}

export function exitCode(tx: Transaction): number | undefined {
    const d = tx.description;
    if (d.type !== 'generic' || d.computePhase.type !== 'vm') return undefined;
    return d.computePhase.exitCode;
}

/** External-out messages (events) emitted in `result`, as [tag, body] pairs. */
/**
 * The longest event body that stays in an external-out message's root cell once the sender's address is filled in
 * (1023 bits − 369 of header: ext_out_msg_info, a 267-bit source, addr_none, lt, time, no StateInit, inline body).
 * A longer body moves to a cell of its own, and the forwarding fee then charges for that cell and its bits.
 */
export const EXT_OUT_INLINE_BODY_BITS = 1023 - 369;

export function events(result: SendMessageResult): { tag: number; body: Cell; from: Address }[] {
    return result.externals.map((e) => ({
        tag: e.body.beginParse().preloadUint(32),
        body: e.body,
        from: e.info.src,
    }));
}

/**
 * Every nanoTON the network took in `result`: each transaction's total fees (gas, storage, the sender's share of
 * forwarding) plus the forwarding fee carried by each internal message it created (credited to validators, not to
 * any transaction). Value conservation tests compare balances against exactly this.
 */
export function totalFees(result: SendMessageResult): bigint {
    let sum = 0n;
    for (const t of result.transactions) {
        sum += t.totalFees.coins;
        for (const m of t.outMessages.values()) {
            if (m.info.type === 'internal') sum += m.info.forwardFee;
        }
    }
    return sum;
}

/**
 * Sends ClaimJob from several provider owners and delivers their messages round-robin, one transaction per
 * provider at a time, so that every OfferClaim is in flight before the job processes the first one: the
 * interleaving a real network produces when providers race for a job.
 */
export async function claimInterleaved(net: Network, contracts: Address[], owners: Address[], jobId: bigint) {
    const iters = [];
    for (let i = 0; i < contracts.length; i++) {
        iters.push(
            await net.blockchain.sendMessageIter(
                internal({
                    from: owners[i],
                    to: contracts[i],
                    value: CLAIM_VALUE,
                    body: beginCell().store(storeClaimJob({ $$type: 'ClaimJob', queryId: 0n, jobId, modelHash: MODEL_OCR, receipt: null })).endCell(),
                }),
                { allowParallel: true },
            ),
        );
    }
    const results = iters.map(() => ({ transactions: [] as BlockchainTransaction[], externals: [] as unknown[] }));
    for (let active = true; active; ) {
        active = false;
        for (let i = 0; i < iters.length; i++) {
            const next = await iters[i].next();
            if (next.done) continue;
            active = true;
            results[i].transactions.push(next.value);
            results[i].externals.push(...next.value.externals);
        }
    }
    return results as unknown as SendMessageResult[];
}
