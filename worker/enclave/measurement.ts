/**
 * The worker image measurement a SIMULATED TEE reports (no hardware protection): sha256 over the worker's code
 * bundle (protocol/attestation/simulated.ts MEASURED_DIRS) and its static configuration. Governance allows this
 * value in the registry; a worker started from the same checkout with the same configuration reports it again.
 */
import * as path from 'path';
import { computeWorkerMeasurement } from '../../protocol/attestation';

/** The repository root (what the measured paths are relative to). */
export const WORKER_ROOT = path.join(__dirname, '..', '..');

/** The static configuration that enters the measurement. Change a field and the image is a different one. */
export interface WorkerImageConfig {
    tee: 'simulated' | 'tdx';
    /** the model catalog, relative to the repository root */
    catalog: string;
    executionProvider: 'cpu' | 'cuda';
}

export const DEFAULT_WORKER_IMAGE: WorkerImageConfig = { tee: 'simulated', catalog: 'worker/models/catalog.json', executionProvider: 'cpu' };

/** hex measurement of this checkout under `config` */
export function simulatedWorkerMeasurement(config: WorkerImageConfig = DEFAULT_WORKER_IMAGE): string {
    return computeWorkerMeasurement(WORKER_ROOT, config);
}
