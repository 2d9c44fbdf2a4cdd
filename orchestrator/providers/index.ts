/** The provider directory kept in step with the chain and the workers' heartbeats. */
export { DirectorySync } from './sync';
export type { DirectorySyncOptions, ProviderView, SyncChain, WorkerHealth } from './sync';
export { knownProviderOwners } from './known';
