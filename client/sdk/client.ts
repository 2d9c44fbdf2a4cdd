/**
 * CocoonClient: what an application uses to run a confidential job.
 *
 *   const client = new CocoonClient({ network: readNetworkFile('.cocoon/network.json'), wallet });
 *   const job = await client.submit({ model: 'ocr', input: fs.readFileSync('scan.png') });
 *   const { output } = await job.result();   // verified against the chain, decrypted locally
 *   await job.accept();                      // pays the provider
 *
 * submit(): validate (nothing is paid before every check passed) → verify providers against the chain → seal the
 * input to each candidate enclave's on-chain key → upload the envelope (pinned to its sha256) → OpenJob from the
 * wallet → read the job id from the registry transaction that processed that very message. See docs/sdk.md.
 */
import { Address, beginCell, Dictionary, fromNano, toNano } from '@ton/core';
import pino, { Logger } from 'pino';
import { ChainClient, WalletSender } from '../../protocol/chain';
import { VerifyQuoteOptions } from '../../protocol/attestation';
import { generateX25519KeyPair, MAX_PAYLOAD_BYTES, MAX_RECIPIENTS, sealInput, X25519KeyPair } from '../../protocol/envelope';
import { NetworkFile } from '../../protocol/network-file';
import { openJobMessage, ProviderStake, Registry, storeOpenJob, tactConstant } from '../../wrappers';
import { OrchestratorApi } from './api';
import { findOpenedJob, readJob } from './chainJob';
import { CocoonError } from './errors';
import { JobHandle, JobHandleContext, ProgressEvent } from './jobHandle';
import { resolveModel, ResolvedModel } from './models';
import { listVerifiedProviders, ProviderInfo, ProviderList } from './providers';
import { verifyProvider, VerifiedProvider } from './verifyProvider';

/** The network file fields the client needs. */
export type ClientNetwork = Pick<NetworkFile, 'networkId' | 'endpoint' | 'registry' | 'api' | 'tee'> & Partial<Pick<NetworkFile, 'models'>>;

export interface CocoonClientOptions {
    network: ClientNetwork;
    /** the client's wallet: pays for jobs, receives refunds, accepts and cancels */
    wallet: WalletSender;
    /** quote verification; the simulated TEE's vendor key defaults to network.tee.vendorPublicKey */
    quoteOptions?: VerifyQuoteOptions;
    logger?: Logger;
    /** a ChainClient to reuse (default: one on network.endpoint) */
    chain?: ChainClient;
    /** escrow polling interval (default 250 ms) */
    pollMs?: number;
    /** per API request (default 30 s) */
    apiTimeoutMs?: number;
    /**
     * How long submit() reuses a model's verified provider list (default 10 000 ms; 0: verify on every submit).
     * Safe to cache briefly: the escrow only accepts claims from providers whose measurement and model are allowed
     * at claim time, and result() checks the claim's key against the attestation verified here.
     */
    providerCacheMs?: number;
}

export interface SubmitOptions {
    /** 'ocr' | 'vad' | 'tensor', a name from the network file, or a 64-hex model hash */
    model: string;
    input: Buffer;
    /** nanoTON; default: the highest price among the chosen candidates */
    maxPrice?: bigint;
    /** seconds from now; default 600; at most the registry's maxJobDuration */
    deadlineSeconds?: number;
    /** how many providers may claim (default 2: the cheapest verified healthy ones), or exactly these owners (≤ 4) */
    candidates?: number | Address[];
    /** the result key pair (default: a fresh one); pass one to store it before anything is paid */
    resultKeyPair?: X25519KeyPair;
    onProgress?: (p: ProgressEvent) => void;
}

/** Value the wallet must hold above OpenJob's value: the external message and forwarding fees. */
export const OPEN_NETWORK_FEE_RESERVE = toNano('0.02');
/** MaxCandidates in contracts/constants.tact: the registry refuses more. */
export const MAX_CANDIDATES = Number(tactConstant('MaxCandidates'));
export const DEFAULT_DEADLINE_SECONDS = 600;
export const DEFAULT_CANDIDATES = 2;

export class CocoonClient {
    readonly network: ClientNetwork;
    readonly wallet: WalletSender;
    readonly chain: ChainClient;
    readonly api: OrchestratorApi;
    readonly registryAddress: Address;
    readonly logger: Logger;
    private readonly quoteOptions: VerifyQuoteOptions;
    private readonly pollMs: number;
    private readonly providerCacheMs: number;
    private readonly verifiedCache = new Map<string, { atMs: number; list: ProviderList }>();

    constructor(o: CocoonClientOptions) {
        if (!o || !o.network || !o.wallet) throw new CocoonError('BAD_ARGUMENT', 'CocoonClient needs { network, wallet }');
        this.network = o.network;
        this.wallet = o.wallet;
        this.logger = o.logger ?? pino({ name: 'cocoon-sdk', level: process.env.COCOON_LOG_LEVEL ?? 'silent' });
        this.chain = o.chain ?? new ChainClient({ endpoint: o.network.endpoint });
        this.api = new OrchestratorApi(o.network.api, { timeoutMs: o.apiTimeoutMs });
        try {
            this.registryAddress = Address.parse(o.network.registry);
        } catch {
            throw new CocoonError('BAD_ARGUMENT', `network.registry is not a TON address: ${JSON.stringify(o.network.registry)}`, 'check the network file');
        }
        const tee = o.network.tee;
        this.quoteOptions = { ...(tee?.type === 'simulated' ? { vendorPublicKey: tee.vendorPublicKey } : {}), ...o.quoteOptions };
        if (tee?.type === 'simulated') {
            this.logger.warn({ tee: 'simulated' }, 'simulated TEE network: attestation proves nothing about hardware (no hardware protection); development only');
        }
        this.pollMs = o.pollMs ?? 250;
        this.providerCacheMs = o.providerCacheMs ?? 10_000;
    }

    /** True when this network's providers run the simulated TEE (no hardware protection). */
    get simulatedTee(): boolean {
        return this.network.tee?.type === 'simulated';
    }

    resolveModel(model: string): ResolvedModel {
        return resolveModel(model, this.network.models);
    }

    /**
     * The orchestrator's providers for a model, each verified against the chain (quote ↔ on-chain attestation
     * hash ↔ allowed measurement ↔ enclave keys ↔ model allowed and served). Keys and prices come from the chain.
     */
    async listProviders(model: string): Promise<ProviderList> {
        const resolved = this.resolveModel(model);
        const list = await listVerifiedProviders({ api: this.api, chain: this.chain, registry: this.registryAddress, model: resolved, quoteOptions: this.quoteOptions });
        this.logger.info({ model: resolved.hash, verified: list.verified.length, rejected: list.rejected.length }, 'providers verified');
        if (this.providerCacheMs > 0) this.verifiedCache.set(resolved.hash, { atMs: Date.now(), list });
        return list;
    }

    /** listProviders, reusing a list verified less than providerCacheMs ago (with at least one healthy provider). */
    private async recentProviders(modelHash: string): Promise<ProviderList> {
        const hit = this.verifiedCache.get(modelHash);
        if (hit && Date.now() - hit.atMs < this.providerCacheMs && hit.list.verified.some((p) => p.healthy)) return hit.list;
        return this.listProviders(modelHash);
    }

    private registry() {
        return this.chain.open(Registry.fromAddress(this.registryAddress));
    }

    /** Encrypts, uploads and opens a job; returns its handle once the escrow exists. */
    async submit(o: SubmitOptions): Promise<JobHandle> {
        const startedAtMs = Date.now();
        const report = (stage: string, detail?: Record<string, unknown>) => {
            const now = Date.now();
            o.onProgress?.({ stage, atMs: now, elapsedMs: now - startedAtMs, ...(detail ? { detail } : {}) });
        };

        // ---- validation: nothing leaves the machine and nothing is paid before all of it passed
        const model = this.resolveModel(o.model);
        if (!Buffer.isBuffer(o.input)) throw new CocoonError('BAD_ARGUMENT', 'input must be a Buffer');
        if (o.input.length === 0) throw new CocoonError('EMPTY_INPUT', 'the input is empty', 'pass the bytes of an image (ocr), a 16 kHz WAV (vad) or a tensor JSON (tensor)');
        if (o.input.length > MAX_PAYLOAD_BYTES) {
            throw new CocoonError('INPUT_TOO_LARGE', `the input is ${o.input.length} bytes; an envelope carries at most ${MAX_PAYLOAD_BYTES}`, 'shrink the input (downscale the image, shorten the audio)');
        }
        const deadlineSeconds = o.deadlineSeconds ?? DEFAULT_DEADLINE_SECONDS;
        if (!Number.isInteger(deadlineSeconds) || deadlineSeconds <= 0) throw new CocoonError('BAD_ARGUMENT', `deadlineSeconds must be a positive integer, got ${deadlineSeconds}`);
        if (o.maxPrice !== undefined && (typeof o.maxPrice !== 'bigint' || o.maxPrice <= 0n || o.maxPrice >= 1n << 64n)) {
            throw new CocoonError('BAD_ARGUMENT', `maxPrice must be a positive amount of nanoTON below 2^64, got ${String(o.maxPrice)}`);
        }
        const wanted = o.candidates ?? DEFAULT_CANDIDATES;
        if (typeof wanted === 'number' ? !Number.isInteger(wanted) || wanted < 1 || wanted > MAX_CANDIDATES : !Array.isArray(wanted) || wanted.length < 1 || wanted.length > MAX_CANDIDATES) {
            throw new CocoonError('BAD_ARGUMENT', `candidates must be 1..${MAX_CANDIDATES} (a count or a list of provider owners)`, `the registry accepts at most ${MAX_CANDIDATES} candidates`);
        }
        const registry = this.registry();
        const [params, chainNetworkId] = await Promise.all([registry.getParams(), registry.getNetworkId()]).catch((e) => {
            throw new CocoonError('CHAIN_ERROR', `reading the registry ${this.registryAddress.toString()} failed: ${(e as Error).message}`, 'check the endpoint and registry of the network file');
        });
        if (Number(chainNetworkId) !== this.network.networkId) {
            throw new CocoonError('BAD_ARGUMENT', `the network file says network ${this.network.networkId}, the registry says ${chainNetworkId}`, 'use the network file of this registry');
        }
        if (BigInt(deadlineSeconds) > params.maxJobDuration) {
            throw new CocoonError('BAD_DEADLINE', `a deadline ${deadlineSeconds} s away is beyond the registry's maximum job duration of ${params.maxJobDuration} s`, `pick at most ${params.maxJobDuration} s`);
        }

        // ---- providers
        report('verifying', { model: model.hash });
        const list = await this.recentProviders(model.hash);
        const chosen = this.chooseCandidates(list, wanted, o.maxPrice);
        const maxPrice = o.maxPrice ?? chosen.reduce((m, p) => (p.price > m ? p.price : m), 0n);
        report('providers-verified', { verified: list.verified.length, rejected: list.rejected.length, candidates: chosen.map((p) => p.owner.toString()), simulatedTee: chosen.some((p) => p.teeType === 'simulated') });

        // ---- encrypt for every candidate enclave's on-chain key
        report('encrypting', { recipients: chosen.length, bytes: o.input.length });
        const keys = o.resultKeyPair ?? generateX25519KeyPair();
        const sealed = sealInput({ networkId: this.network.networkId, modelHash: Buffer.from(model.hash, 'hex'), clientResultPublicKey: keys.publicKey, recipients: chosen.map((p) => p.encryptionKey), payload: o.input });
        const commitment = sealed.commitment.toString('hex');

        // ---- can the wallet pay? (before the upload: nothing spent either way)
        const value = maxPrice + tactConstant('OpenJobFee');
        const balance = await this.wallet.getBalance();
        if (balance < value + OPEN_NETWORK_FEE_RESERVE) {
            throw new CocoonError(
                'INSUFFICIENT_FUNDS',
                `the wallet ${this.wallet.address.toString()} holds ${fromNano(balance)} TON; opening this job needs ${fromNano(value)} TON (max price ${fromNano(maxPrice)} + open fee ${fromNano(tactConstant('OpenJobFee'))}) plus about ${fromNano(OPEN_NETWORK_FEE_RESERVE)} TON in network fees`,
                'fund the wallet or lower --max-price',
            );
        }

        // ---- upload the envelope, pinned to its commitment
        report('uploading', { bytes: sealed.envelope.length, inputCommitment: commitment });
        await this.api.uploadInput(sealed.envelope, commitment);

        // ---- open the escrow
        report('opening', { maxPrice: String(maxPrice), value: String(value) });
        const candidates = Dictionary.empty(Dictionary.Keys.Address(), Dictionary.Values.Bool());
        for (const p of chosen) candidates.set(p.owner, true);
        const deadline = Math.floor(Date.now() / 1000) + deadlineSeconds;
        // the network terms (fee, dispute window, slash...) the job will run under: the registry's current ones
        const network = await this.chain.open(Registry.fromAddress(this.registryAddress)).getJobNetwork();
        const body = beginCell()
            .store(storeOpenJob(openJobMessage({ maxPrice, deadline: BigInt(deadline), modelHash: model.value, inputCommitment: BigInt('0x' + commitment), resultKey: BigInt('0x' + keys.publicKey.toString('hex')), candidates, network })))
            .endCell();
        let sent;
        try {
            sent = await this.wallet.transfer([{ to: this.registryAddress, value, body, bounce: true }]);
        } catch (e) {
            throw new CocoonError('OPEN_FAILED', `sending OpenJob failed: ${(e as Error).message}`, 'check the wallet and the endpoint; the envelope is uploaded, so a retry only re-sends OpenJob');
        }
        const opened = await findOpenedJob(this.chain, this.registryAddress, sent.transaction, body, { pollMs: this.pollMs });
        if (opened.event.inputCommitment !== BigInt('0x' + commitment)) {
            throw new CocoonError('OPEN_FAILED', `the JobOpened event of job ${opened.jobId} names another input commitment`, 'report this: the registry did not record what was sent');
        }
        this.logger.info({ jobId: String(opened.jobId), job: opened.address.toRawString(), model: model.hash, inputCommitment: commitment, inputBytes: o.input.length, candidates: chosen.length, maxPrice: String(maxPrice) }, 'job opened');

        const handle = new JobHandle(this.handleContext(model, chosen), {
            jobId: opened.jobId,
            address: opened.address,
            inputCommitment: commitment,
            model,
            deadline,
            candidates: chosen,
            resultKey: keys,
            startedAtMs,
            onProgress: o.onProgress,
        });
        handle.stage('opened', { jobId: String(opened.jobId), job: opened.address.toString(), registryTx: opened.registryTx, maxPrice: String(maxPrice) });
        return handle;
    }

    /**
     * A handle on an existing job (its address or id), e.g. in another process. Pass the result key to read the
     * result (client/sdk/keystore.ts loads the key file `cocoon job run` wrote).
     */
    async job(ref: Address | string | bigint | number, opts: { resultKey?: X25519KeyPair } = {}): Promise<JobHandle> {
        const address = await this.jobAddress(ref);
        const s = await readJob(this.chain, address);
        const model = this.resolveModel(s.modelHash);
        return new JobHandle(this.handleContext(model, []), {
            jobId: s.jobId,
            address,
            inputCommitment: s.inputCommitment,
            model,
            deadline: s.deadline,
            candidates: s.candidates,
            resultKey: opts.resultKey,
        });
    }

    /** A job address from an address or a job id. */
    async jobAddress(ref: Address | string | bigint | number): Promise<Address> {
        if (Address.isAddress(ref)) return ref;
        if (typeof ref === 'bigint' || typeof ref === 'number' || /^\d+$/.test(String(ref))) {
            return this.registry().getJobAddress(BigInt(ref));
        }
        try {
            return Address.parse(String(ref));
        } catch {
            throw new CocoonError('BAD_ARGUMENT', `${JSON.stringify(String(ref).slice(0, 80))} is neither a job address nor a job id`);
        }
    }

    private chooseCandidates(list: ProviderList, wanted: number | Address[], maxPrice?: bigint): ProviderInfo[] {
        const rejectedNote = list.rejected.length ? ` (${list.rejected.length} rejected: ${list.rejected.map((r) => `${r.owner}: ${r.error}`).join('; ').slice(0, 400)})` : '';
        if (Array.isArray(wanted)) {
            const out: ProviderInfo[] = [];
            for (const a of wanted) {
                const p = list.verified.find((v) => v.owner.equals(a));
                if (!p) {
                    const why = list.rejected.find((r) => Address.parse(r.owner).equals(a))?.error ?? 'the orchestrator does not list it for this model';
                    throw new CocoonError('PROVIDER_NOT_ATTESTED', `candidate ${a.toString()} is not a verified provider of model ${list.model.hash}: ${why}`, 'choose verified providers (listProviders) or let the SDK choose');
                }
                if (!out.some((x) => x.owner.equals(p.owner))) out.push(p);
            }
            if (maxPrice !== undefined && out.every((p) => p.price > maxPrice)) {
                throw new CocoonError('PRICE_TOO_LOW', `max price ${fromNano(maxPrice)} TON is below every chosen candidate's price (cheapest: ${fromNano(out.reduce((m, p) => (p.price < m ? p.price : m), out[0].price))} TON)`, 'raise the max price');
            }
            if (out.length > MAX_RECIPIENTS) throw new CocoonError('BAD_ARGUMENT', `at most ${MAX_RECIPIENTS} recipients per envelope`);
            return out;
        }
        if (list.verified.length === 0) {
            throw new CocoonError('NO_PROVIDERS', `no verified provider serves model ${list.model.name ?? list.model.hash}${rejectedNote}`, 'wait for a worker to register, or check the model');
        }
        let pool = list.verified.filter((p) => p.healthy);
        if (pool.length === 0) throw new CocoonError('NO_PROVIDERS', `no verified provider of model ${list.model.name ?? list.model.hash} is healthy (recent heartbeat)`, 'retry when a worker is up');
        if (maxPrice !== undefined) {
            const affordable = pool.filter((p) => p.price <= maxPrice);
            if (affordable.length === 0) {
                const cheapest = pool.reduce((m, p) => (p.price < m ? p.price : m), pool[0].price);
                throw new CocoonError('PRICE_TOO_LOW', `max price ${fromNano(maxPrice)} TON is below every verified provider's price (cheapest: ${fromNano(cheapest)} TON)`, `raise the max price to at least ${fromNano(cheapest)} TON`);
            }
            pool = affordable;
        }
        pool.sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : a.load / Math.max(1, a.capacity) - b.load / Math.max(1, b.capacity)));
        return pool.slice(0, wanted);
    }

    private handleContext(model: ResolvedModel, known: ProviderInfo[]): JobHandleContext {
        const cache = new Map<string, VerifiedProvider>(known.map((p) => [p.owner.toRawString(), p.verification]));
        return {
            chain: this.chain,
            api: this.api,
            wallet: this.wallet,
            logger: this.logger,
            pollMs: this.pollMs,
            attest: async (owner: Address) => {
                const hit = cache.get(owner.toRawString());
                if (hit) return hit;
                // A job opened elsewhere: verify the claimant now from the quote the orchestrator serves.
                const list = await this.api.providers(model.hash);
                const item = list.find((p) => {
                    try {
                        return Address.parse(p.owner).equals(owner);
                    } catch {
                        return false;
                    }
                });
                if (!item) return undefined;
                const stake = this.chain.open(ProviderStake.fromAddress(await this.registry().getProviderAddress(owner)));
                const v = await verifyProvider({ registry: this.registry(), stake, owner, quote: Buffer.from(item.quote, 'base64'), modelHash: model.value, quoteOptions: this.quoteOptions });
                if (v.ok) cache.set(owner.toRawString(), v);
                return v;
            },
        };
    }
}
