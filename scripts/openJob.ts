import { NetworkProvider } from '@ton/blueprint';
import { Address, Dictionary, fromNano } from '@ton/core';
import { JobEscrow, JobStatus, loadJobTerms, openJobMessage, tactConstant } from '../wrappers';
import {
    formatDuration,
    hex256,
    OPEN_JOB_FEE,
    parseAddressList,
    parseDuration,
    parseHash256,
    parseHashOrFile,
    parseTon,
    providerEnclave,
    queryId,
    runScript,
    when,
} from './lib';

/** Shortest deadline accepted: the message must still find the job's deadline in the future when it lands. */
export const MIN_DEADLINE_SECONDS = 60;

/**
 * Client: open a job escrow through the registry, paying max price + fee (the unused part is refunded when the job
 * ends). The input is uploaded separately, encrypted; on-chain goes only its commitment (sha256 of the envelope).
 *
 *   npx blueprint run openJob --testnet --tonconnect -- --model <hash> --input <commitment hex or envelope file> \
 *     --result-key <x25519 hex> --max-price 1.5 --deadline 10m [--candidates <owner>,<owner>]
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    const maxCandidates = Number(tactConstant('MaxCandidates'));
    return runScript(
        provider,
        argv,
        {
            name: 'openJob',
            summary: 'open a job escrow for a model, paying up to --max-price',
            options: [
                { name: 'model', help: 'model hash (64 hex characters) or the .onnx file whose sha256 it is; must be allowed in the registry' },
                { name: 'input', help: 'input commitment: sha256 of the encrypted input envelope as 64 hex characters, or the envelope file' },
                { name: 'result-key', help: "the client's X25519 public key for the encrypted result (64 hex characters)" },
                { name: 'max-price', help: 'the most the job may cost in TON, e.g. 1.5' },
                { name: 'deadline', help: 'time from now until which a receipt is accepted, seconds or 10m/1h' },
                { name: 'candidates', help: `comma-separated provider owner addresses allowed to claim, at most ${maxCandidates} (default: any provider)` },
            ],
        },
        async (ctx) => {
            const a = ctx.args;
            const model = await a.required('model', parseHashOrFile);
            const input = await a.required('input', parseHashOrFile);
            const resultKey = await a.required('result-key', (n, v) => {
                const k = parseHash256(n, v);
                if (k === 0n) throw new Error(`--${n}: the key must not be zero`);
                return k;
            });
            const maxPrice = await a.required('max-price', parseTon);
            const seconds = await a.required('deadline', (n, v) => parseDuration(n, v, { min: MIN_DEADLINE_SECONDS }));
            const candidates = a.optional('candidates', (n, v) => parseAddressList(n, v, { max: maxCandidates }), [] as Address[]);

            const registry = await ctx.registry();
            const at = `registry ${ctx.fmt(registry.address)}`;
            if (!(await registry.getIsModelAllowed(model.hash))) {
                throw new Error(`model ${hex256(model.hash)}${model.file ? ` (sha256 of ${model.file})` : ''} is not allowed in ${at}: no provider could claim the job`);
            }
            const params = await registry.getParams();
            if (BigInt(seconds) > params.maxJobDuration) {
                throw new Error(`--deadline: at most the network's max job duration ${formatDuration(Number(params.maxJobDuration))} (${params.maxJobDuration} s), got ${seconds} s`);
            }
            for (const owner of candidates) {
                const stake = await ctx.providerStake(registry, owner);
                const who = `candidate ${ctx.fmt(owner)}`;
                if (!(await ctx.provider.isContractDeployed(stake.address))) throw new Error(`--candidates: ${who} has no provider contract in ${at}`);
                if (!(await providerEnclave(stake))) throw new Error(`--candidates: ${who} has no approved enclave`);
                const price = (await stake.getModels()).get(model.hash);
                if (price === undefined) throw new Error(`--candidates: ${who} does not serve model ${hex256(model.hash)}`);
                if (price > maxPrice) throw new Error(`--candidates: ${who} charges ${fromNano(price)} TON for the model, above --max-price ${fromNano(maxPrice)} TON`);
            }
            const value = maxPrice + OPEN_JOB_FEE;
            await ctx.requireBalance(value, `a job with max price ${fromNano(maxPrice)} TON`);

            const me = ctx.sender();
            const now = ctx.now();
            const deadline = now + seconds;
            const dict = Dictionary.empty(Dictionary.Keys.Address(), Dictionary.Values.Bool());
            for (const c of candidates) dict.set(c, true);
            const countBefore = await registry.getJobCount();
            await registry.send(
                ctx.provider.sender(),
                { value },
                openJobMessage({
                    queryId: queryId(),
                    maxPrice,
                    deadline: BigInt(deadline),
                    modelHash: model.hash,
                    inputCommitment: input.hash,
                    resultKey,
                    candidates: dict,
                    // the network terms the job runs under (fee, dispute window, slash): the registry's current ones
                    network: await registry.getJobNetwork(),
                }),
            );
            // jobs are numbered by the registry: find ours among those opened since (other clients open jobs too)
            const job = await ctx.waitFor('the registry to open the job', async () => {
                const count = await registry.getJobCount();
                for (let id = countBefore; id < count; id++) {
                    const address = await registry.getJobAddress(id);
                    if (!(await ctx.provider.isContractDeployed(address))) continue;
                    const state = await ctx.provider.open(JobEscrow.fromAddress(address)).getState();
                    if (!state.terms || Number(state.status) !== JobStatus.Open) continue;
                    const t = loadJobTerms(state.terms.beginParse());
                    if (t.client.equals(me) && t.inputCommitment === input.hash && t.modelHash === model.hash && Number(t.deadline) === deadline) {
                        return { id, address };
                    }
                }
                return undefined;
            });
            return ctx.done(
                `job ${job.id} opened at ${ctx.fmt(job.address)} (model ${hex256(model.hash).slice(0, 10)}…, max price ${fromNano(maxPrice)} TON, deadline ${when(deadline, now)}, ${candidates.length === 0 ? 'any provider' : `${candidates.length} candidate${candidates.length === 1 ? '' : 's'}`})`,
                { registry: registry.address, jobId: job.id, job: job.address, deadline, maxPrice, modelHash: model.hash, inputCommitment: input.hash },
            );
        },
    );
}
