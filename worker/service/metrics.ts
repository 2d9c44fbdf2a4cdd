/** Prometheus metrics of a worker process (registered only when the caller passes a prom-client Registry). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface WorkerMetrics {
    /** work items finished, by outcome (committed | failure code) */
    items: Counter<'outcome'>;
    /** wall time of each pipeline stage */
    stageSeconds: Histogram<'stage'>;
    running: Gauge;
    draining: Gauge;
}

export function createWorkerMetrics(registry: Registry): WorkerMetrics {
    return {
        items: new Counter({ name: 'cocoon_worker_items_total', help: 'Work items finished, by outcome (committed or failure code)', labelNames: ['outcome'], registers: [registry] }),
        stageSeconds: new Histogram({
            name: 'cocoon_worker_stage_seconds',
            help: 'Wall time of each work item stage (fetch, enclave, claim, upload, receipt)',
            labelNames: ['stage'],
            buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
            registers: [registry],
        }),
        running: new Gauge({ name: 'cocoon_worker_running_jobs', help: 'Work items running now', registers: [registry] }),
        draining: new Gauge({ name: 'cocoon_worker_draining', help: '1 once the worker stopped taking new work', registers: [registry] }),
    };
}
