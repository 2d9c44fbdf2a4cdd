/**
 * Test stand-ins for the parts being built elsewhere (the orchestrator's dispatcher and the worker process), made of
 * the real pieces: a "manual provider" is a real Enclave with a SIMULATED TEE (no hardware protection) registered on
 * chain like scripts/demo.ts does it, which polls the registry for Open jobs naming it, fetches the input envelope
 * from the real API, runs ConfidentialJobRunner (real onnxruntime) BEFORE claiming (as protocol/work.ts has it),
 * claims, uploads the result envelope and posts the enclave's receipt.
 *
 * startSdkNetwork() stands up what the SDK talks to: an in-process devnet with a bootstrapped registry, a private
 * redis-server, the real orchestrator API (createApiServer + BlobStore) whose provider directory is built from
 * these providers' chain state and quotes, and whose blob store can be told to tamper with result blobs.
 */
import * as path from 'path';
import { Address, Dictionary, toNano } from '@ton/core';
import Redis from 'ioredis';
import pino from 'pino';
import { startDevnet, Devnet } from '../../devnet';
import { bootstrapNetwork, BootstrappedNetwork, DevWallet, waitFor } from '../../localnet/bootstrap';
import { ChainClient } from '../../protocol/chain';
import { attestationHash, devVendorKeyPair, SimulatedTee } from '../../protocol/attestation';
import { NetworkFile } from '../../protocol/network-file';
import { bufferToUint256, uint256ToBuffer } from '../../protocol/receipt';
import { createApiServer, ApiServer } from '../../orchestrator/api';
import { ApiBlobStore } from '../../orchestrator/api/server';
import { BlobStore } from '../../orchestrator/blobs';
import { Enclave } from '../../worker/enclave/enclave';
import { InferenceEngine } from '../../worker/inference';
import { ConfidentialJobRunner, postReceipt, SUGGESTED_RECEIPT_VALUE } from '../../worker/job';
import { JobEscrow, JobStatus, loadJobClaim, loadJobTerms, ProviderStake, providerEnclave, Registry } from '../../wrappers';
import { startRedis, RedisServer } from './redis';

const ROOT = path.join(__dirname, '..', '..');

export interface ManualProviderOptions {
    chain: ChainClient;
    registry: Address;
    /** a bootstrapped provider: funded wallet with a deployed stake */
    party: DevWallet & { stakeContract: Address };
    vendorSeed: string;
    /** the allowed worker image measurement (hex) */
    measurement: string;
    engine: InferenceEngine;
    /** orchestrator API base URL */
    api: string;
    /** model hash (hex) → price (nanoTON) */
    prices: Record<string, bigint>;
    /** false: registered on chain but never runs jobs */
    active?: boolean;
    pollMs?: number;
}

export class ManualProvider {
    readonly owner: Address;
    readonly stakeContract: Address;
    readonly enclave: Enclave;
    quote!: Buffer;
    /** jobs this provider committed */
    readonly committed: bigint[] = [];
    paused = false;
    private cursor = 0n;
    private readonly pending = new Set<bigint>();
    private readonly runner: ConfidentialJobRunner;
    private timer: NodeJS.Timeout | undefined;
    private stopped = false;
    private loop: Promise<void> = Promise.resolve();

    constructor(private readonly o: ManualProviderOptions) {
        this.owner = o.party.address;
        this.stakeContract = o.party.stakeContract;
        const measurement = Buffer.from(o.measurement, 'hex');
        // SIMULATED TEE: no hardware protection (test stand-in for a worker)
        const tee = new SimulatedTee({ vendorPrivateKey: devVendorKeyPair(o.vendorSeed).privateKey, measurement });
        this.enclave = new Enclave({ attestation: tee, measurement });
        this.runner = new ConfidentialJobRunner(this.enclave, o.engine);
    }

    private get registry() {
        return this.o.chain.open(Registry.fromAddress(this.o.registry));
    }

    private get stake() {
        return this.o.chain.open(ProviderStake.fromAddress(this.stakeContract));
    }

    /** Attests, registers the enclave record and prices on chain, waits for the registry's approval. */
    async register(): Promise<void> {
        this.quote = (await this.enclave.attest()).quote;
        const prices = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.BigUint(64));
        for (const [h, p] of Object.entries(this.o.prices)) prices.set(BigInt('0x' + h), p);
        await this.stake.send(this.o.party.wallet, { value: toNano('0.1') }, {
            $$type: 'RegisterEnclave',
            queryId: 0n,
            record: {
                $$type: 'EnclaveRecord',
                receiptKey: bufferToUint256(this.enclave.ed25519PublicKey),
                encryptionKey: bufferToUint256(this.enclave.x25519PublicKey),
                measurement: BigInt('0x' + this.o.measurement),
                attestationHash: bufferToUint256(attestationHash(this.quote)),
                endpoint: `manual://${this.o.party.name}`,
            },
            models: prices,
        });
        await waitFor(async () => (await providerEnclave(this.stake)) !== null, `${this.o.party.name}'s enclave approval`);
    }

    /** What the orchestrator's directory would list for this provider (GET /v1/providers item). */
    apiEntry(modelHash: string, quote: Buffer = this.quote) {
        return {
            owner: this.owner.toRawString(),
            stakeContract: this.stakeContract.toRawString(),
            price: String(this.o.prices[modelHash]),
            teeType: 'simulated',
            quote: quote.toString('base64'),
            attestationHash: attestationHash(quote).toString('hex'),
            measurement: this.o.measurement,
            receiptKey: this.enclave.ed25519PublicKey.toString('hex'),
            encryptionKey: this.enclave.x25519PublicKey.toString('hex'),
            endpoint: `manual://${this.o.party.name}`,
            load: 0,
            capacity: 1,
            lastHeartbeatMs: Date.now(),
            healthy: true,
        };
    }

    serves(modelHash: string): boolean {
        return this.o.prices[modelHash] !== undefined;
    }

    /** Starts polling for jobs opened from now on. */
    async start(): Promise<void> {
        if (this.o.active === false) return;
        this.cursor = await this.registry.getJobCount();
        const tick = async () => {
            if (this.stopped) return;
            try {
                await this.poll();
            } catch {
                // a failed read: the next tick retries
            }
            if (!this.stopped) this.timer = setTimeout(() => (this.loop = tick()), this.o.pollMs ?? 200);
        };
        this.loop = tick();
    }

    async stop(): Promise<void> {
        this.stopped = true;
        if (this.timer) clearTimeout(this.timer);
        await this.loop;
    }

    private async poll(): Promise<void> {
        const count = await this.registry.getJobCount();
        for (; this.cursor < count; this.cursor++) this.pending.add(this.cursor);
        if (this.paused) return;
        for (const id of [...this.pending]) {
            const address = await this.registry.getJobAddress(id);
            const job = this.o.chain.open(JobEscrow.fromAddress(address));
            if (!(await this.o.chain.isDeployed(address))) continue;
            const st = await job.getState();
            if (Number(st.status) === JobStatus.Uninitialized) continue;
            this.pending.delete(id);
            if (Number(st.status) !== JobStatus.Open || !st.terms) continue;
            const terms = loadJobTerms(st.terms.beginParse());
            const model = uint256ToBuffer(terms.modelHash).toString('hex');
            const candidates = [...terms.candidates.keys()];
            if (!this.serves(model) || this.o.prices[model] > terms.maxPrice) continue;
            if (candidates.length > 0 && !candidates.some((c) => c.equals(this.owner))) continue;
            await this.run(id, address, terms, model);
        }
    }

    private async run(jobId: bigint, address: Address, terms: ReturnType<typeof loadJobTerms>, model: string): Promise<void> {
        const inputHash = uint256ToBuffer(terms.inputCommitment).toString('hex');
        const res = await fetch(`${this.o.api}/v1/blobs/${inputHash}`);
        if (!res.ok) return;
        const envelope = Buffer.from(await res.arrayBuffer());
        // Run in the enclave first: only a job that ran is claimed.
        const out = await this.runner.run({
            modelHash: uint256ToBuffer(terms.modelHash),
            envelope,
            networkId: Number(terms.network.networkId),
            jobAddress: address,
            clientResultPublicKey: uint256ToBuffer(terms.resultKey),
            inputCommitment: uint256ToBuffer(terms.inputCommitment),
        });
        await this.stake.send(this.o.party.wallet, { value: toNano('0.05') }, { $$type: 'ClaimJob', queryId: 0n, jobId, modelHash: terms.modelHash, receipt: null });
        const job = this.o.chain.open(JobEscrow.fromAddress(address));
        let claimed = false;
        await waitFor(async () => {
            const st = await job.getState();
            if (Number(st.status) === JobStatus.Open) return false;
            claimed = !!st.claim && loadJobClaim(st.claim.beginParse()).provider.equals(this.owner);
            return true;
        }, `the claim of job ${jobId}`);
        if (!claimed) return;
        const up = await fetch(`${this.o.api}/v1/blobs/result`, {
            method: 'PUT',
            headers: { 'Content-Type': 'application/octet-stream', 'X-Content-Sha256': out.outputCommitment.toString('hex') },
            body: out.resultEnvelope,
        });
        if (up.status !== 201 && up.status !== 200) throw new Error(`result upload failed: ${up.status}`);
        await postReceipt(this.o.party.wallet, address, { outputCommitment: out.outputCommitment, signature: out.receiptSignature }, SUGGESTED_RECEIPT_VALUE);
        this.committed.push(jobId);
    }
}

// -------------------------------------------------------------------------------------------------------------
// the whole stand-up

export interface SdkNetworkOptions {
    /** provider names; each gets prices[i] */
    providers: { name: string; prices: Record<string, bigint>; active?: boolean; quote?: 'mismatch' }[];
}

export interface SdkNetwork {
    devnet: Devnet;
    redisServer: RedisServer;
    redis: Redis;
    api: ApiServer;
    net: BootstrappedNetwork;
    chain: ChainClient;
    engine: InferenceEngine;
    providers: ManualProvider[];
    network: NetworkFile;
    /** result blobs (by hash) the API serves altered: one byte flipped */
    tamperResults: { all: boolean };
    /** GET /v1/jobs/:address answers from here (raw address → status object) */
    jobStatuses: Map<string, unknown>;
    close(): Promise<void>;
}

export async function startSdkNetwork(o: SdkNetworkOptions): Promise<SdkNetwork> {
    const redisServer = await startRedis();
    const redis = new Redis(redisServer.url);
    const devnet = await startDevnet({ port: 0 });
    const chain = new ChainClient({ endpoint: devnet.endpoint });
    const net = await bootstrapNetwork({ chain: devnet, providers: o.providers.map((p) => p.name) });
    const store = new BlobStore(redis);
    const tamperResults = { all: false };
    // A blob store that serves altered result blobs when told to: a compromised orchestrator or storage.
    const blobs: ApiBlobStore = {
        put: (b, opts) => store.put(b, opts),
        get: async (hash) => {
            const bytes = await store.get(hash);
            if (bytes && tamperResults.all && bytes.subarray(0, 4).toString('latin1') === 'COCR') {
                const altered = Buffer.from(bytes);
                altered[altered.length - 1] ^= 0x01;
                return altered;
            }
            return bytes;
        },
        has: (h) => store.has(h),
        size: (h) => store.size(h),
        ping: () => store.ping(),
        maxBytes: store.maxBytes,
    };
    const providers: ManualProvider[] = [];
    const jobStatuses = new Map<string, unknown>();
    const mismatchQuotes = new Map<string, Buffer>();
    const api = createApiServer({
        blobs,
        logger: pino({ level: 'silent' }),
        providers: async (model) =>
            providers.filter((p) => p.serves(model)).map((p) => p.apiEntry(model, mismatchQuotes.get(p.owner.toRawString()))),
        jobStatus: async (address) => (jobStatuses.has(address) ? { address, ...(jobStatuses.get(address) as object) } : null),
    });
    const { url } = await api.listen(0);
    const engine = await InferenceEngine.fromCatalogFile(path.join(ROOT, 'worker', 'models', 'catalog.json'));
    for (let i = 0; i < o.providers.length; i++) {
        const spec = o.providers[i];
        const p = new ManualProvider({ chain, registry: net.registry, party: net.providers[i], vendorSeed: net.vendorSeed, measurement: net.measurement, engine, api: url, prices: spec.prices, active: spec.active });
        await p.register();
        if (spec.quote === 'mismatch') {
            // a genuine quote, but of another enclave than the one registered on chain
            const other = new Enclave({ attestation: new SimulatedTee({ vendorPrivateKey: devVendorKeyPair(net.vendorSeed).privateKey, measurement: Buffer.from(net.measurement, 'hex') }), measurement: Buffer.from(net.measurement, 'hex') });
            mismatchQuotes.set(p.owner.toRawString(), (await other.attest()).quote);
        }
        await p.start();
        providers.push(p);
    }
    return {
        devnet,
        redisServer,
        redis,
        api,
        net,
        chain,
        engine,
        providers,
        network: net.networkFile({ api: url }),
        tamperResults,
        jobStatuses,
        async close() {
            for (const p of providers) await p.stop();
            await api.close();
            await engine.close();
            await redis.quit();
            await redisServer.stop();
            await devnet.close();
        },
    };
}
