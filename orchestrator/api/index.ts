/** The orchestrator's HTTP API: envelopes in and out, providers, job status, health, metrics. docs/orchestrator-api.md. */
export { createApiServer, ApiError, toJson } from './server';
export type { ApiBlobStore, ApiServer, ApiServerOptions, ApiErrorCode, JobStatusSource, ProvidersSource } from './server';
export { createApiMetrics } from './metrics';
export type { ApiMetrics } from './metrics';
