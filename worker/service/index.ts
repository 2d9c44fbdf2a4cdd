/**
 * The worker process: WorkerService (registration, heartbeats, the BullMQ consumer of `work-<owner>`) and its parts.
 * `cocoon worker` (client/cli/commands/worker.ts) builds one from flags / a network file.
 */
export { WorkerService } from './service';
export type { WorkerServiceOptions, StopOptions } from './service';
export { WorkPipeline } from './pipeline';
export type { PipelineDeps, Stage } from './pipeline';
export { Heartbeat } from './heartbeat';
export type { HeartbeatFacts, HeartbeatOptions } from './heartbeat';
export { ensureEnclaveRegistered, desiredRecord, RegistrationError } from './registration';
export type { RegistrationInput, RegistrationResult } from './registration';
export { BlobClient } from './blobs';
export { WorkFailure, failureOfJobError, asWorkFailure } from './failures';
export { createWorkerMetrics } from './metrics';
export type { WorkerMetrics } from './metrics';
export * from './config';
