/** The Cocoon client SDK: run confidential jobs on a Cocoon network. docs/sdk.md. */
export { CocoonClient, DEFAULT_CANDIDATES, DEFAULT_DEADLINE_SECONDS, MAX_CANDIDATES, OPEN_NETWORK_FEE_RESERVE } from './client';
export type { ClientNetwork, CocoonClientOptions, SubmitOptions } from './client';
export { JobHandle, CLIENT_ACTION_VALUE } from './jobHandle';
export type { JobEventName, ProgressEvent, WaitState } from './jobHandle';
export type { JobSnapshot, JobStateName } from './chainJob';
export type { JobResult } from './result';
export type { ProviderInfo, ProviderList, RejectedProvider } from './providers';
export { CocoonError, isCocoonError } from './errors';
export type { CocoonErrorCode } from './errors';
export { resolveModel } from './models';
export type { ResolvedModel, ModelTask } from './models';
export { OrchestratorApi } from './api';
export type { ApiProvider, ApiDispatchStatus } from './api';
export { defaultKeysDir, jobKeyFile, loadResultKey, saveJobResultKey, savePendingResultKey } from './keystore';
export type { ResultKeyRecord } from './keystore';
export { checkClaimKey, verifyProvider } from './verifyProvider';
export type { VerifiedProvider, ProviderCheck } from './verifyProvider';
