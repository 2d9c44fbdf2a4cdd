/** The orchestrator: service, leader lease, dispatch, directory sync, metrics (docs/operations.md). */
export { OrchestratorService } from './service';
export type { OrchestratorServiceOptions, ServiceChain } from './service';
export { LeaderLock, DEFAULT_LEADER_TTL_MS } from './leader';
export type { LeaderLockOptions } from './leader';
export { createServiceMetrics } from './metrics';
export type { ServiceMetrics } from './metrics';
export * from './dispatch';
export * from './providers';
