import * as fs from 'fs';
import { NetworkProvider } from '@ton/blueprint';
import { Dictionary, fromNano } from '@ton/core';
import { EnclaveRecord, tactConstant } from '../wrappers';
import { hex256, parseEndpoint, parseHash256, parseModelPrices, providerEnclave, quote, REGISTER_VALUE, queryId, runScript, sha256File } from './lib';

function parseKey(name: string, value: string): bigint {
    const k = parseHash256(name, value);
    if (k === 0n) throw new Error(`--${name}: the key must not be zero`);
    return k;
}

function parseQuoteFile(name: string, value: string): { hash: bigint; file: string } {
    const file = value.trim();
    let ok = false;
    try {
        ok = fs.statSync(file).isFile();
    } catch {
        ok = false;
    }
    if (!ok) throw new Error(`--${name}: expected the path of the attestation quote file, got ${quote(value)} (no such file)`);
    return { hash: sha256File(file), file };
}

/**
 * Provider: record the enclave (keys, measurement, sha256 of the attestation quote, endpoint) and the models it
 * serves with their prices. The provider contract asks the registry, which approves the record only when the
 * measurement and every model are allowed; the script checks that first.
 *
 *   npx blueprint run registerEnclave --testnet --tonconnect -- --receipt-key <hex> --encryption-key <hex> \
 *     --measurement <hex> --quote quote.bin --models <modelhash>=0.5,<modelhash>=1 --endpoint https://gpu1.example/cocoon
 */
export async function run(provider: NetworkProvider, argv: string[] = []) {
    const maxModels = Number(tactConstant('MaxModelsPerProvider'));
    const maxEndpoint = Number(tactConstant('MaxEndpointBytes'));
    return runScript(
        provider,
        argv,
        {
            name: 'registerEnclave',
            summary: "record the enclave and its models in the sender's provider contract (approved by the registry)",
            options: [
                { name: 'receipt-key', help: "the enclave's Ed25519 public key that signs receipts (64 hex characters)" },
                { name: 'encryption-key', help: "the enclave's X25519 public key clients encrypt inputs to (64 hex characters)" },
                { name: 'measurement', help: 'the TEE image measurement (64 hex characters), allowed in the registry' },
                { name: 'quote', help: 'path of the attestation quote file; its sha256 is recorded on-chain' },
                { name: 'attestation-hash', help: 'sha256 of the quote as 64 hex characters, instead of --quote' },
                { name: 'models', help: `comma-separated <model hash or .onnx path>=<price per job in TON>, 1 to ${maxModels} entries` },
                { name: 'endpoint', help: `where clients and orchestrators reach the worker, at most ${maxEndpoint} bytes` },
            ],
        },
        async (ctx) => {
            const a = ctx.args;
            const receiptKey = await a.required('receipt-key', parseKey);
            const encryptionKey = await a.required('encryption-key', parseKey);
            const measurement = await a.required('measurement', parseHash256);
            if (a.has('quote') && a.has('attestation-hash')) throw new Error('--quote and --attestation-hash: give one of them, not both');
            const attestation = a.has('attestation-hash')
                ? { hash: a.optional('attestation-hash', parseHash256)!, file: undefined }
                : await a.required('quote', parseQuoteFile);
            const models = await a.required('models', (n, v) => parseModelPrices(n, v, { max: maxModels }));
            const endpoint = await a.required('endpoint', (n, v) => parseEndpoint(n, v, maxEndpoint));

            const registry = await ctx.registry();
            const at = `registry ${ctx.fmt(registry.address)}`;
            if (!(await registry.getIsMeasurementAllowed(measurement))) {
                throw new Error(`measurement ${hex256(measurement)} is not allowed in ${at}: the registry would reject the enclave (governance runs allowMeasurement)`);
            }
            for (const hash of models.keys()) {
                if (!(await registry.getIsModelAllowed(hash))) {
                    throw new Error(`model ${hex256(hash)} is not allowed in ${at}: the registry would reject the enclave (governance runs allowModel)`);
                }
            }
            const me = ctx.sender();
            const stake = await ctx.providerStake(registry, me);
            if (!(await ctx.provider.isContractDeployed(stake.address))) {
                throw new Error(`the provider contract ${ctx.fmt(stake.address)} of ${ctx.fmt(me)} is not deployed: run stakeProvider first`);
            }
            await ctx.requireBalance(REGISTER_VALUE, 'registerEnclave');

            const record: EnclaveRecord = { $$type: 'EnclaveRecord', receiptKey, encryptionKey, measurement, attestationHash: attestation.hash, endpoint };
            const dict = Dictionary.empty(Dictionary.Keys.BigUint(256), Dictionary.Values.BigUint(64));
            for (const [h, price] of models) dict.set(h, price);
            await stake.send(ctx.provider.sender(), { value: REGISTER_VALUE }, { $$type: 'RegisterEnclave', queryId: queryId(), record, models: dict });
            await ctx.waitFor(`the registry to approve the enclave of ${ctx.fmt(stake.address)} (a rejection leaves the old record: look for EnclaveRejected)`, async () => {
                const e = await providerEnclave(stake);
                if (!e || e.receiptKey !== receiptKey || e.encryptionKey !== encryptionKey || e.measurement !== measurement) return false;
                if (e.attestationHash !== attestation.hash || e.endpoint !== endpoint) return false;
                const served = await stake.getModels();
                return served.size === models.size && [...models].every(([h, p]) => served.get(h) === p);
            });
            const state = await stake.getState();
            const { minProviderStake } = await registry.getParams();
            const note = state.stake - state.pendingUnstake < minProviderStake ? `; stake ${fromNano(state.stake)} TON is below the minimum ${fromNano(minProviderStake)} TON to claim jobs` : '';
            return ctx.done(
                `provider ${ctx.fmt(stake.address)}: enclave registered (receipt key ${hex256(receiptKey).slice(0, 10)}…, measurement ${hex256(measurement).slice(0, 10)}…, attestation ${hex256(attestation.hash).slice(0, 10)}…${attestation.file ? ` = sha256 of ${attestation.file}` : ''}, ${models.size} model${models.size === 1 ? '' : 's'}, endpoint ${endpoint})${note}`,
                { registry: registry.address, provider: stake.address, owner: me, record, models },
            );
        },
    );
}
