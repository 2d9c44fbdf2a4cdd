/** Prometheus metrics of one API server, on a registry of its own (docs/orchestrator-api.md#metrics). */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface ApiMetrics {
    registry: Registry;
    requests: Counter<'route' | 'method' | 'status'>;
    duration: Histogram<'route' | 'method'>;
    bytesStored: Counter<'kind'>;
    bytesServed: Counter;
    uploads: Counter<'kind' | 'outcome'>;
    uploadsInFlight: Gauge;
}

export function createApiMetrics(registry: Registry = new Registry()): ApiMetrics {
    return {
        registry,
        requests: new Counter({
            name: 'cocoon_api_requests_total',
            help: 'HTTP requests by route template, method and status (499: the client went away first).',
            labelNames: ['route', 'method', 'status'],
            registers: [registry],
        }),
        duration: new Histogram({
            name: 'cocoon_api_request_duration_seconds',
            help: 'HTTP request latency, from the request line to the end of the response.',
            labelNames: ['route', 'method'],
            buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
            registers: [registry],
        }),
        bytesStored: new Counter({
            name: 'cocoon_api_blob_bytes_stored_total',
            help: 'Envelope bytes written to the blob store (new or repaired blobs; idempotent re-uploads excluded).',
            labelNames: ['kind'],
            registers: [registry],
        }),
        bytesServed: new Counter({
            name: 'cocoon_api_blob_bytes_served_total',
            help: 'Envelope bytes returned by GET /v1/blobs/:hash.',
            registers: [registry],
        }),
        uploads: new Counter({
            name: 'cocoon_api_blob_uploads_total',
            help: 'Accepted uploads by kind and outcome (created, existed, repaired).',
            labelNames: ['kind', 'outcome'],
            registers: [registry],
        }),
        uploadsInFlight: new Gauge({
            name: 'cocoon_api_uploads_in_flight',
            help: 'Uploads whose body is being received or stored.',
            registers: [registry],
        }),
    };
}
