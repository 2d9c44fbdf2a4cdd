import { execFile } from 'child_process';
import * as path from 'path';
import { toNano } from '@ton/core';
import { startDevnet, Devnet } from '../../devnet';
import { deployNetwork, DevnetNetwork, fakeAddress, MEASUREMENT, MODEL } from '../orchestrator/devnet-network';

const ROOT = path.join(__dirname, '..', '..');

function cocoon(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) =>
        execFile(process.execPath, ['bin/cocoon.js', ...args], { cwd: ROOT, timeout: 90_000 }, (err, stdout, stderr) =>
            resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
        ),
    );
}

describe('cocoon registry|provider|job status (read-only, over the TON HTTP API)', () => {
    let devnet: Devnet;
    let net: DevnetNetwork;
    const owner = fakeAddress('status:provider');
    const client = fakeAddress('status:client');

    beforeAll(async () => {
        devnet = await startDevnet({ port: 0 });
        net = await deployNetwork(devnet, 'status');
        await net.allowMeasurement(MEASUREMENT);
        await net.allowModel(MODEL);
        await devnet.fund(owner, toNano('100'));
        await devnet.fund(client, toNano('100'));
        const p = await net.provider('status:provider');
        await net.stake(p, toNano('20'));
        await net.registerEnclave(p, 'status:provider');
        await net.openJob(client, 0n);
        await devnet.waitIdle();
    }, 120_000);

    afterAll(async () => {
        await devnet?.close();
    });

    it('shows the registry, a provider and a job as JSON, and explains bad input with exit code 2', async () => {
        const common = ['--endpoint', devnet.endpoint, '--registry', net.registry.address.toString()];
        const p = await net.provider('status:provider');
        const [reg, prov, job, badAddress, notDeployed, missing, noJob] = await Promise.all([
            cocoon(['registry', 'status', ...common, '--json']),
            cocoon(['provider', 'status', ...common, '--owner', p.owner.toString(), '--json']),
            cocoon(['job', 'status', ...common, '--job', '0', '--json']),
            cocoon(['registry', 'status', '--endpoint', devnet.endpoint, '--registry', 'not-an-address']),
            cocoon(['registry', 'status', '--endpoint', devnet.endpoint, '--registry', fakeAddress('nothing here').toString()]),
            cocoon(['provider', 'status', ...common]),
            cocoon(['job', 'status', ...common, '--job', '99']),
        ]);

        expect(reg.code).toBe(0);
        const r = JSON.parse(reg.stdout);
        expect(r.allowlists).toEqual({ measurements: 1, models: 1 });
        expect(r.jobCount).toBe(1);
        expect(r.params.protocolFeeBps).toBe('250');

        expect(prov.code).toBe(0);
        const s = JSON.parse(prov.stdout);
        expect(s.stake).toBe(toNano('20').toString());
        expect(s.enclave.measurement).toBe(MEASUREMENT.toString(16).padStart(64, '0'));
        expect(s.models).toEqual([{ model: MODEL.toString(16).padStart(64, '0'), price: toNano('1').toString() }]);

        expect(job.code).toBe(0);
        const j = JSON.parse(job.stdout);
        expect(j.state).toBe('Open');
        expect(j.model).toBe(MODEL.toString(16).padStart(64, '0'));

        expect(badAddress.code).toBe(2);
        expect(badAddress.stderr).toMatch(/--registry is not a TON address/);
        expect(notDeployed.code).toBe(2);
        expect(notDeployed.stderr).toMatch(/no registry is deployed at/);
        expect(missing.code).toBe(2);
        expect(missing.stderr).toMatch(/missing --owner/);
        expect(noJob.code).toBe(2);
        expect(noJob.stderr).toMatch(/no job #99 is deployed/);
    }, 120_000);

    it('has --help with an example for each command', async () => {
        const helps = await Promise.all([['registry', 'status'], ['provider', 'status'], ['job', 'status']].map((c) => cocoon([...c, '--help'])));
        for (const h of helps) {
            expect(h.code).toBe(0);
            expect(h.stdout).toMatch(/Example:\n  cocoon (registry|provider|job) status/);
        }
    }, 120_000);
});
