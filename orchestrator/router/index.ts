/** Routing decisions: which provider runs a job (docs/routing.md). */
export { ProviderDirectory, DEFAULT_HEARTBEAT_TTL_MS, DEFAULT_MIN_TIME_LEFT_MS } from './directory';
export type { DirectoryOptions, Outcome, ProviderInput } from './directory';
export { eligibility, providerStateReason, deadlineTooClose, INELIGIBLE_REASONS } from './eligibility';
export { route, Router } from './router';
export type { RankedProvider, RouteOptions, RouteResult } from './router';
export { score, scoreComponents, resolveScoreConfig, DEFAULT_WEIGHTS, DEFAULT_SCORE_CONFIG } from './score';
export type { ScoreComponents, ScoreConfig, ScoreWeights } from './score';
export { hashKey, ownerKey, lockFor, hash32, mix32 } from './keys';
export { jobFromOpened } from './job';
export type {
    Eligibility,
    IneligibleReason,
    ProviderConfigSnapshot,
    ProviderEntry,
    RoutableJob,
    RouteRejectReason,
    RoutingNetwork,
} from './types';
