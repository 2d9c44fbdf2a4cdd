/**
 * Prometheus metrics of one OrchestratorService, on a registry of its own (served by the API's /metrics together
 * with the API's and the watcher's metrics). Label values are bounded: queue names are the fixed ones plus the
 * `work` aggregate, never an address or a job id.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ServiceMetrics {
    registry: Registry;
    /** jobs per queue and BullMQ state; `work` sums every provider's work queue */
    queueDepth: Gauge<'queue' | 'state'>;
    /** dispatch jobs this instance is handling now, by state (routing, running) */
    dispatchInFlight: Gauge<'state'>;
    /** dispatch jobs that stopped, by final state (committed, dead, finished) */
    dispatchFinished: Counter<'state'>;
    /** attempts by outcome (committed, failed, abandoned) */
    attempts: Counter<'outcome'>;
    /** time of one route() decision */
    routeSeconds: Histogram;
    /** time from routing an attempt to its outcome */
    attemptSeconds: Histogram<'outcome'>;
    /** now − block time of the newest event the watcher handed over (leader only) */
    chainLagSeconds: Gauge;
    /** workers by heartbeat health: healthy, stale, draining */
    workers: Gauge<'health'>;
    /** providers in the directory */
    directoryProviders: Gauge;
    /** 1 while this instance leads (runs the watcher and the expirer) */
    leader: Gauge;
    /** ExpireJob / Settle sent by the expirer, by action and result */
    expirer: Counter<'action' | 'result'>;
    /** providers checked by the pruner after a revocation, by result (pruned, clean, unconfirmed, send_failed) */
    pruner: Counter<'kind' | 'result'>;
}

export function createServiceMetrics(registry: Registry = new Registry()): ServiceMetrics {
    const registers = [registry];
    return {
        registry,
        queueDepth: new Gauge({ name: 'cocoon_queue_jobs', help: 'Jobs per queue and state (work = all provider work queues).', labelNames: ['queue', 'state'], registers }),
        dispatchInFlight: new Gauge({ name: 'cocoon_dispatch_in_flight', help: 'Dispatch jobs this instance is handling, by state.', labelNames: ['state'], registers }),
        dispatchFinished: new Counter({ name: 'cocoon_dispatch_finished_total', help: 'Dispatch jobs that stopped, by final state.', labelNames: ['state'], registers }),
        attempts: new Counter({ name: 'cocoon_dispatch_attempts_total', help: 'Work attempts by outcome.', labelNames: ['outcome'], registers }),
        routeSeconds: new Histogram({
            name: 'cocoon_dispatch_route_seconds',
            help: 'Time of one routing decision (directory scan).',
            buckets: [0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05],
            registers,
        }),
        attemptSeconds: new Histogram({
            name: 'cocoon_dispatch_attempt_seconds',
            help: 'Time from routing an attempt to its outcome.',
            labelNames: ['outcome'],
            buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600],
            registers,
        }),
        chainLagSeconds: new Gauge({ name: 'cocoon_watcher_chain_lag_seconds', help: 'Now minus the block time of the newest event handled (leader only).', registers }),
        workers: new Gauge({ name: 'cocoon_workers', help: 'Workers by heartbeat health.', labelNames: ['health'], registers }),
        directoryProviders: new Gauge({ name: 'cocoon_directory_providers', help: 'Providers in the routing directory.', registers }),
        leader: new Gauge({ name: 'cocoon_orchestrator_leader', help: '1 while this instance leads (watcher + expirer).', registers }),
        expirer: new Counter({ name: 'cocoon_expirer_actions_total', help: 'Housekeeping messages sent by the expirer.', labelNames: ['action', 'result'], registers }),
        pruner: new Counter({ name: 'cocoon_pruner_providers_total', help: 'Providers checked by the pruner after a revocation, by result.', labelNames: ['kind', 'result'], registers }),
    };
}
