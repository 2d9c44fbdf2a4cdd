/**
 * `cocoon job run|result|accept|cancel` as a user runs them: child processes of the cocoon binary against a real
 * devnet, the real orchestrator API on a real redis-server, and a manual provider (a real enclave with a SIMULATED
 * TEE — no hardware protection — and real onnxruntime) from tests/helpers/manualProvider.ts.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Address, toNano } from '@ton/core';
import { writeNetworkFile } from '../../protocol/network-file';
import { SHIPPED_MODEL_HASHES } from '../../worker/inference';
import { runCocoon } from '../helpers/cli';
import { startSdkNetwork, SdkNetwork } from '../helpers/manualProvider';

const { ocr: OCR, tensor: TENSOR } = SHIPPED_MODEL_HASHES;

describe('cocoon job run|result|accept|cancel', () => {
    let s: SdkNetwork;
    let home: string;
    let env: NodeJS.ProcessEnv;

    const cocoon = (args: string[]) => runCocoon(args, { env });

    beforeAll(async () => {
        s = await startSdkNetwork({ providers: [{ name: 'provider-1', prices: { [OCR]: toNano('0.2'), [TENSOR]: toNano('0.05') } }] });
        home = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-cli-job-'));
        const networkFile = path.join(home, 'network.json');
        writeNetworkFile(networkFile, s.network);
        fs.writeFileSync(path.join(home, 'x.json'), JSON.stringify({ inputs: { x: { dtype: 'float32', shape: [1, 64], data: new Array(64).fill(0.5) } } }));
        env = { ...process.env, HOME: home, COCOON_NETWORK: networkFile, COCOON_WALLET_SEED: '', COCOON_KEYS_DIR: '' };
        delete env.COCOON_WALLET_SEED;
        delete env.COCOON_KEYS_DIR;
    }, 120_000);

    afterAll(async () => {
        await s?.close();
        if (home) fs.rmSync(home, { recursive: true, force: true });
    });

    it('job run --json: OCR end to end, verified, settled, with fees, timings and a 0600 result key file', async () => {
        const r = await cocoon(['job', 'run', '--model', 'ocr', '--input', 'demo/assets/ocr-confidential.png', '--json']);
        expect(r.stderr).toBe('');
        expect(r.code).toBe(0);
        const j = JSON.parse(r.stdout);
        expect(j).toMatchObject({ ok: true, state: 'Settled', model: 'ocr', provider: s.providers[0].owner.toString(), price: toNano('0.2').toString() });
        expect(j.output.text).toContain('CONFIDENTIAL 42');
        expect(j.verifications).toHaveLength(6);
        expect(j.feesNanoTon.price).toBe(Number(toNano('0.2')));
        expect(j.feesNanoTon.network).toBeGreaterThan(0);
        expect(j.feesNanoTon.network).toBeLessThan(Number(toNano('0.05')));
        expect(Object.keys(j.timingsMs)).toEqual(expect.arrayContaining(['verifyProviders', 'encrypt', 'upload', 'open', 'claim', 'run', 'verifyResult', 'settle', 'total']));
        const keyFile = path.join(home, '.cocoon', 'keys', `${Address.parse(j.job).toRawString().replace(':', '_')}.json`);
        expect(j.resultKeyFile).toBe(keyFile);
        expect(fs.statSync(keyFile).mode & 0o777).toBe(0o600);
        expect(JSON.parse(fs.readFileSync(keyFile, 'utf8'))).toMatchObject({ job: Address.parse(j.job).toRawString(), jobId: String(j.jobId), model: OCR });
        expect(fs.readdirSync(path.dirname(keyFile)).filter((f) => f.startsWith('pending-'))).toEqual([]);
    }, 90_000);

    it('--no-accept, then job result / cancel (refused) / accept by job id; bad input is explained', async () => {
        const run = await cocoon(['job', 'run', '--model', 'tensor', '--input', path.join(home, 'x.json'), '--candidates', '1', '--no-accept', '--json', '--out', path.join(home, 'y.json')]);
        expect(run.code).toBe(0);
        const j = JSON.parse(run.stdout);
        expect(j.state).toBe('Committed');
        expect(j.output.outputs.y.shape).toEqual([1, 16]);
        expect(JSON.parse(fs.readFileSync(path.join(home, 'y.json'), 'utf8'))).toEqual(j.output);

        const [result, cancel, usage, unknown] = await Promise.all([
            cocoon(['job', 'result', '--job', j.job, '--json']),
            cocoon(['job', 'cancel', '--job', j.job, '--json']),
            cocoon(['job', 'run', '--model', 'ocr']),
            cocoon(['job', 'run', '--model', 'gpt-9', '--input', 'demo/assets/ocr-confidential.png', '--json']),
        ]);
        expect(result.code).toBe(0);
        expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, state: 'Committed', output: j.output });
        expect(cancel.code).toBe(1);
        expect(JSON.parse(cancel.stdout)).toMatchObject({ ok: false, error: { code: 'WRONG_STATE', message: expect.stringMatching(/is Committed: only an Open job can be cancelled/) } });
        expect(usage.code).toBe(2);
        expect(usage.stderr).toMatch(/missing --input/);
        expect(unknown.code).toBe(1);
        expect(JSON.parse(unknown.stdout)).toMatchObject({ ok: false, error: { code: 'UNKNOWN_MODEL' } });

        const accept = await cocoon(['job', 'accept', '--job', String(j.jobId), '--json']);
        expect(accept.code).toBe(0);
        expect(JSON.parse(accept.stdout)).toMatchObject({ ok: true, jobId: j.jobId, state: 'Settled', verifications: expect.arrayContaining(['sha256(result) equals the on-chain output commitment']) });
    }, 90_000);

    it('prints human progress on stderr and the result on stdout without --json; --help has an example', async () => {
        const [text, help] = await Promise.all([
            cocoon(['job', 'run', '--model', 'tensor', '--input', path.join(home, 'x.json'), '--candidates', '1']),
            cocoon(['job', 'run', '--help']),
        ]);
        expect(text.code).toBe(0);
        expect(text.stderr).toMatch(/WARNING: simulated TEE: no hardware protection/);
        for (const stage of [/verifying providers of tensor/, /encrypting \d+ bytes for 1 enclave/, /uploading the/, /opened job \d+/, /claimed by/, /committed \(output/, /verified \(6 checks\)/, /settled/]) {
            expect(text.stderr).toMatch(stage);
        }
        expect(text.stdout).toMatch(/— TENSOR — Settled/);
        expect(text.stdout).toMatch(/tensor y: float32\[1×16\]/);
        expect(text.stdout).toMatch(/client paid .* TON = price 0.05 TON \+/);
        expect(help.code).toBe(0);
        expect(help.stdout).toMatch(/Example:\n {2}cocoon job run --model ocr --input demo\/assets\/ocr-confidential.png/);
    }, 90_000);
});
