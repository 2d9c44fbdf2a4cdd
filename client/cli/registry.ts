import { Command } from './command';
import { attestVerify } from './commands/attest';
import { devnet } from './commands/devnet';
import { jobStatus, providerStatus, registryStatus } from './commands/status';

/**
 * Every `cocoon` subcommand, in the order `cocoon --help` lists them. Each lives in commands/<area>.ts.
 */
export const commands: Command[] = [attestVerify, devnet, registryStatus, providerStatus, jobStatus];
