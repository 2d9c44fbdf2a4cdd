/**
 * The remaining scripts against the sandbox: a job paid through acceptResult or settleJob, an expired job, the
 * provider's withdrawals, governance (parameters, ownership, revocation) and pruning.
 */
import { Address, fromNano, toNano } from '@ton/core';
import { JobStatus } from '../../wrappers';
import * as deployRegistry from '../../scripts/deployRegistry';
import * as allowMeasurement from '../../scripts/allowMeasurement';
import * as revokeMeasurement from '../../scripts/revokeMeasurement';
import * as allowModel from '../../scripts/allowModel';
import * as revokeModel from '../../scripts/revokeModel';
import * as setParams from '../../scripts/setParams';
import * as transferOwnership from '../../scripts/transferOwnership';
import * as acceptOwnership from '../../scripts/acceptOwnership';
import * as stakeProvider from '../../scripts/stakeProvider';
import * as registerEnclave from '../../scripts/registerEnclave';
import * as requestUnstake from '../../scripts/requestUnstake';
import * as withdrawStake from '../../scripts/withdrawStake';
import * as withdrawEarnings from '../../scripts/withdrawEarnings';
import * as openJob from '../../scripts/openJob';
import * as acceptResult from '../../scripts/acceptResult';
import * as settleJob from '../../scripts/settleJob';
import * as expireJob from '../../scripts/expireJob';
import * as pruneProvider from '../../scripts/pruneProvider';
import { sandboxProvider } from '../helpers/sandboxProvider';
import { createWorld, hex, START_TIME, World } from './helpers';

const fmt = (a: Address) => a.toString({ testOnly: true });
const iso = (t: number) => new Date(t * 1000).toISOString();

let w: World;

async function open(input: bigint, deadline = '10m') {
    const { result } = await w.run(openJob, w.client, [
        '--model', hex(w.modelHash),
        '--input', hex(input),
        '--result-key', hex(w.resultKey),
        '--max-price', '2',
        '--deadline', deadline,
    ]);
    return result.jobId as bigint;
}

beforeAll(async () => {
    w = await createWorld();
    await w.run(deployRegistry, w.governance, ['--treasury', fmt(w.treasury.address), '--network-id', 'devnet']);
    await w.run(allowMeasurement, w.governance, ['--measurement', hex(w.measurement)]);
    await w.run(allowModel, w.governance, ['--model', hex(w.modelHash)]);
    await w.run(allowModel, w.governance, ['--model', w.files.otherModel]);
    await w.run(stakeProvider, w.owner, ['--amount', '20']);
    await w.run(registerEnclave, w.owner, [
        '--receipt-key', w.receiptKeys.publicKey.toString('hex'),
        '--encryption-key', hex(w.encryptionKey),
        '--measurement', hex(w.measurement),
        '--quote', w.files.quote,
        '--models', `${hex(w.modelHash)}=1,${w.files.otherModel}=0.5`,
        '--endpoint', 'https://gpu1.example/cocoon',
    ]);
});

afterAll(() => w?.cleanup());

test('a claimed, committed job: settleJob waits for the dispute window, acceptResult pays the provider', async () => {
    const id = await open(10n);
    expect(await w.reject(acceptResult, w.client, ['--job', String(id)])).toBe(
        `job ${id} is Open: only a Committed job (one with a receipt) can be accepted`,
    );
    await w.claim(id);
    const job = await w.job(id);
    expect(Number(await job.getStatus())).toBe(JobStatus.Claimed);
    expect(await w.reject(expireJob, w.stranger, ['--job', String(id)])).toBe(
        `the deadline of job ${id} has not passed: it can be expired after ${iso(START_TIME + 600)} (in 10m)`,
    );
    await w.submitReceipt(id);
    expect(Number(await job.getStatus())).toBe(JobStatus.Committed);
    expect(await w.reject(settleJob, w.owner, ['--job', String(id)])).toBe(
        `the dispute window of job ${id} is open until ${iso(START_TIME + 3600)} (in 1h): settle after it, or the client accepts earlier (acceptResult)`,
    );
    expect(await w.reject(acceptResult, w.stranger, ['--job', job.address.toString()])).toBe(
        `only the client ${fmt(w.client.address)} of job ${id} can accept it, not ${fmt(w.stranger.address)}`,
    );
    const stake = await w.providerStake();
    const earningsBefore = (await stake.getState()).earnings;
    const { result } = await w.run(acceptResult, w.client, ['--job', String(id)]);
    expect(result.status).toBe(JobStatus.Settled);
    expect(Number(await job.getStatus())).toBe(JobStatus.Settled);
    const state = await stake.getState();
    expect(state.locked).toBe(0n);
    // price 1 TON minus the 2.5 % protocol fee, plus what is left of the gas allowance
    expect(state.earnings - earningsBefore).toBeGreaterThanOrEqual(toNano('0.975'));
    expect(await w.reject(acceptResult, w.client, ['--job', String(id)])).toBe(`job ${id} is already Settled: nothing left to do`);
});

test('withdrawEarnings sends the earnings to the owner', async () => {
    const stake = await w.providerStake();
    const earnings = (await stake.getState()).earnings;
    expect(earnings).toBeGreaterThan(toNano('0.9'));
    const before = (await w.blockchain.getContract(w.owner.address)).balance;
    const { result } = await w.run(withdrawEarnings, w.owner, []);
    expect(result.withdrawn).toBe(earnings);
    const after = (await w.blockchain.getContract(w.owner.address)).balance;
    expect(after - before).toBeGreaterThan(earnings - toNano('0.05'));
    expect((await stake.getState()).earnings).toBeLessThan(toNano('0.01'));
    expect((await stake.getState()).stake).toBe(toNano('20'));
});

test('settleJob after the dispute window', async () => {
    const id = await open(11n);
    await w.claim(id);
    await w.submitReceipt(id);
    w.blockchain.now = START_TIME + 3600 + 1;
    const { result } = await w.run(settleJob, w.stranger, ['--job', String(id)]);
    expect(result.status).toBe(JobStatus.Settled);
    expect(Number(await (await w.job(id)).getStatus())).toBe(JobStatus.Settled);
});

test('expireJob after the deadline slashes the claimed provider and refunds the client', async () => {
    const id = await open(12n);
    await w.claim(id);
    const stake = await w.providerStake();
    const stakeBefore = (await stake.getState()).stake;
    const now = w.blockchain.now!;
    expect(await w.reject(expireJob, w.stranger, ['--job', String(id)])).toBe(
        `the deadline of job ${id} has not passed: it can be expired after ${iso(now + 600)} (in 10m)`,
    );
    w.blockchain.now = now + 601;
    const { result } = await w.run(expireJob, w.stranger, ['--job', String(id)]);
    expect(result.status).toBe(JobStatus.Expired);
    // lock = price 1 TON × 20000 bps = 2 TON, slash 50 % of it
    expect(result.slash).toBe(toNano('1'));
    expect((await stake.getState()).stake).toBe(stakeBefore - toNano('1'));
    expect(await w.reject(expireJob, w.stranger, ['--job', String(id)])).toBe(`job ${id} is already Expired: nothing left to do`);
});

test('requestUnstake --all, then withdrawStake once the cooldown is over', async () => {
    const stake = await w.providerStake();
    const staked = (await stake.getState()).stake;
    await w.run(requestUnstake, w.owner, ['--all']);
    expect((await stake.getState()).pendingUnstake).toBe(staked);
    expect(await w.reject(requestUnstake, w.owner, ['--amount', '1'])).toBe(
        `provider ${fmt(stake.address)} has nothing left to unstake: stake ${fromNano(staked)} TON, already pending ${fromNano(staked)} TON`,
    );
    w.blockchain.now = w.blockchain.now! + 7 * 86400;
    const before = (await w.blockchain.getContract(w.owner.address)).balance;
    const { result } = await w.run(withdrawStake, w.owner, []);
    expect(result.withdrawn).toBe(staked);
    expect((await stake.getState()).stake).toBe(0n);
    expect((await w.blockchain.getContract(w.owner.address)).balance - before).toBeGreaterThan(staked - toNano('0.05'));
    expect(await w.reject(withdrawStake, w.owner, [])).toBe(`nothing to withdraw: provider ${fmt(stake.address)} has no pending unstake (run requestUnstake first)`);
});

test('setParams changes only the given parameters', async () => {
    const registry = w.registry();
    const before = await registry.getParams();
    const { result } = await w.run(setParams, w.governance, ['--fee-bps', '400', '--dispute-window', '2h']);
    const after = await registry.getParams();
    expect(result.version).toBe(2n);
    expect(await registry.getParamsVersion()).toBe(2n);
    expect(after).toEqual({ ...before, protocolFeeBps: 400n, disputeWindow: 7200n });
    expect(await w.reject(setParams, w.governance, ['--fee-bps', '1001'])).toBe('--fee-bps: expected basis points from 0 to 1000 (0 % to 10 %), got "1001"');
    expect(await w.reject(setParams, w.governance, [])).toBe(
        'nothing to change: pass at least one of --min-stake, --cooldown, --fee-bps, --dispute-window, --slash-bps, --max-job-duration, --lock-ratio-bps',
    );
});

test('revokeModel, then pruneProvider makes the provider drop the model', async () => {
    const stake = await w.providerStake();
    expect(await w.reject(pruneProvider, w.stranger, ['--owner', fmt(w.owner.address), '--kind', 'model', '--hash', hex(w.otherModelHash)])).toBe(
        `model 0x${hex(w.otherModelHash)} is still allowed in registry ${fmt(w.registryAddress())}: only a revoked hash can be pruned`,
    );
    await w.run(revokeModel, w.governance, ['--model', w.files.otherModel]);
    expect(await w.registry().getIsModelAllowed(w.otherModelHash)).toBe(false);
    expect((await stake.getModels()).has(w.otherModelHash)).toBe(true);
    await w.run(pruneProvider, w.stranger, ['--owner', fmt(w.owner.address), '--kind', 'model', '--hash', w.files.otherModel]);
    expect((await stake.getModels()).has(w.otherModelHash)).toBe(false);
    expect((await stake.getModels()).has(w.modelHash)).toBe(true);
    expect(await w.reject(revokeModel, w.governance, ['--model', hex(w.otherModelHash)])).toBe(
        `model 0x${hex(w.otherModelHash)} is not allowed in registry ${fmt(w.registryAddress())}: nothing to revoke`,
    );
});

test('revokeMeasurement, then pruneProvider removes the enclave', async () => {
    const stake = await w.providerStake();
    await w.run(revokeMeasurement, w.governance, ['--measurement', hex(w.measurement)]);
    expect(await w.registry().getIsMeasurementAllowed(w.measurement)).toBe(false);
    await w.run(pruneProvider, w.stranger, ['--owner', fmt(w.owner.address), '--kind', 'measurement', '--hash', hex(w.measurement)]);
    expect(await stake.getEnclave()).toBeNull();
    expect(await w.reject(pruneProvider, w.stranger, ['--owner', fmt(w.owner.address), '--kind', 'measurement', '--hash', hex(w.measurement)])).toBe(
        `provider ${fmt(stake.address)} does not advertise measurement 0x${hex(w.measurement)}: nothing to prune`,
    );
});

test('transferOwnership and acceptOwnership hand governance over in two steps', async () => {
    const registry = w.registry();
    expect(await w.reject(acceptOwnership, w.stranger, [])).toBe(
        `registry ${fmt(registry.address)} has no pending owner: the owner has to run transferOwnership first`,
    );
    await w.run(transferOwnership, w.governance, ['--new-owner', fmt(w.stranger.address)]);
    let g = await registry.getGovernance();
    expect(g.owner.equals(w.governance.address)).toBe(true);
    expect(g.pendingOwner!.equals(w.stranger.address)).toBe(true);
    expect(await w.reject(acceptOwnership, w.client, [])).toBe(
        `the wallet ${fmt(w.client.address)} is not the pending owner of registry ${fmt(registry.address)} (the pending owner is ${fmt(w.stranger.address)})`,
    );
    await w.run(acceptOwnership, w.stranger, []);
    g = await registry.getGovernance();
    expect(g.owner.equals(w.stranger.address)).toBe(true);
    expect(g.pendingOwner).toBeNull();
    // the old owner is no longer allowed to govern
    expect(await w.reject(allowModel, w.governance, ['--model', hex(99n)])).toMatch(/is not the governance owner/);
});

test('--help prints the arguments and sends nothing; the registry can also come from COCOON_REGISTRY', async () => {
    const p = sandboxProvider(w.blockchain, w.client);
    expect(await openJob.run(p, ['--help'])).toBeUndefined();
    expect(p.sent).toHaveLength(0);
    expect(p.lines[0]).toMatch(/^openJob: open a job escrow/);
    expect(p.lines[0]).toContain('--max-price <value>');

    process.env.COCOON_REGISTRY = fmt(w.registryAddress());
    try {
        // no --deployments: the registry address comes from the environment alone
        const q = sandboxProvider(w.blockchain, w.client);
        await expect(openJob.run(q, ['--model', hex(w.modelHash), '--input', hex(3n), '--result-key', hex(w.resultKey), '--max-price', '1', '--deadline', '2d'])).rejects.toThrow(
            '--deadline: at most the network\'s max job duration 1d (86400 s), got 172800 s',
        );
        expect(q.sent).toHaveLength(0);
    } finally {
        delete process.env.COCOON_REGISTRY;
    }
});
