import { Command } from './command';
import { attestVerify } from './commands/attest';
import { devnet } from './commands/devnet';
import { jobAccept, jobCancel, jobResult, jobRun } from './commands/job';
import { orchestratorCommand } from './commands/orchestrator';
import { up } from './commands/up';
import {
    registryAcceptOwnership,
    registryAllowMeasurement,
    registryAllowModel,
    registryDeploy,
    registryRevokeMeasurement,
    registryRevokeModel,
    registrySetParams,
    registryTransferOwnership,
} from './commands/governance';
import { providerRegister, providerStake, providerUnstake, providerWithdraw } from './commands/provider';
import { jobStatus, providerStatus, registryStatus } from './commands/status';
import { workerCommand } from './commands/worker';

/**
 * Every `cocoon` subcommand, in the order `cocoon --help` lists them. Each lives in commands/<area>.ts.
 */
export const commands: Command[] = [
    up,
    jobRun,
    jobResult,
    jobAccept,
    jobCancel,
    attestVerify,
    devnet,
    registryStatus,
    registryDeploy,
    registryAllowMeasurement,
    registryAllowModel,
    registryRevokeMeasurement,
    registryRevokeModel,
    registrySetParams,
    registryTransferOwnership,
    registryAcceptOwnership,
    providerStatus,
    providerStake,
    providerRegister,
    providerUnstake,
    providerWithdraw,
    jobStatus,
    orchestratorCommand,
    workerCommand,
];
