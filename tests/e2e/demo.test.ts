import { execFile } from 'child_process';
import * as path from 'path';

// The README's promise: `npm run demo -- --json` runs two confidential jobs through the whole network (orchestrator
// and worker processes, Redis, the devnet) and reports them.
describe('npm run demo', () => {
    it('runs an OCR and a VAD job to settlement with every verification passing', async () => {
        const root = path.join(__dirname, '..', '..');
        const stdout = await new Promise<string>((resolve, reject) =>
            execFile(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--swc', 'scripts/demo.ts', '--json'], { cwd: root, timeout: 170_000, maxBuffer: 10 << 20 }, (err, out, errOut) =>
                err ? reject(new Error(`${err.message}\n${out}\n${errOut}`)) : resolve(out),
            ),
        );
        const report = JSON.parse(stdout);
        expect(report.ok).toBe(true);
        expect(report.tee).toMatch(/simulated/);
        expect(report.attestationChecks).toHaveLength(32); // 8 trust-chain checks per provider and model
        const [ocr, vad] = report.jobs;
        for (const job of report.jobs) {
            expect(job.state).toBe('Settled');
            expect(job.verified).toBe(true);
            expect(job.feesNanoTon.clientTotal).toBeGreaterThan(job.feesNanoTon.price);
            expect(Object.keys(job.timingsMs)).toEqual(expect.arrayContaining(['openEscrow', 'routeRunAndCommit', 'settle']));
            // routed by the orchestrator to a worker process, first time right
            expect(job.dispatch).toEqual({ state: 'committed', attempts: 1 });
            expect(job.feesNanoTon.protocolFeeToTreasury).toBeGreaterThan(0);
            expect(job.receiptTx).toMatch(/^[0-9a-f]{64}$/);
        }
        expect(ocr.task).toBe('ocr');
        expect(ocr.text.replace(/\s+/g, ' ').trim()).toBe('CONFIDENTIAL 42');
        expect(vad.task).toBe('vad');
        expect(vad.segments.length).toBeGreaterThan(0);
        // the recording is 0.8 s of silence, speech, 0.8 s of silence
        expect(vad.segments[0].start).toBeGreaterThan(0.5);
        expect(vad.segments[0].start).toBeLessThan(1.1);
    }, 180_000);
});
