/** Dispatch: intake of chain events, routing of attempts to workers, outcomes, dead letters, expiry. */
export { Dispatcher } from './dispatcher';
export type { DispatcherOptions } from './dispatcher';
export { createIntakeHandler } from './intake';
export type { IntakeOptions } from './intake';
export { Expirer } from './expirer';
export type { ExpirerOptions, ExpiryResult } from './expirer';
export { OutcomeWaiters } from './outcomes';
export { QueueSet } from './queues';
export type { DeadLetter, ExpiryItem } from './queues';
export { DispatchStatus, dispatchView } from './status';
export type { DispatchView, JobStatusView, QueuesView, RecentJob } from './status';
export type { DispatchResult, DispatchState, DispatchStateName } from './types';
