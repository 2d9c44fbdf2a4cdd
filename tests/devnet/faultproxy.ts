import * as http from 'http';
import { AddressInfo } from 'net';

export type Fault =
    | { kind: 'forward' }
    /** Answer with this status without forwarding. */
    | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
    /** Forward, then answer with this status instead of the real answer (the response was "lost"). */
    | { kind: 'forward-then-status'; status: number }
    /** Cut the connection without an answer. */
    | { kind: 'destroy' }
    /** Pretend success (`{ok:true}`) without forwarding: the message silently disappears. */
    | { kind: 'swallow' };

export interface ProxyRequest {
    method: string;
    params: Record<string, unknown>;
}

/** An HTTP proxy in front of a JSON-RPC endpoint that injects faults chosen per request. */
export class FaultProxy {
    readonly seen: ProxyRequest[] = [];
    readonly forwarded: ProxyRequest[] = [];
    decide: (req: ProxyRequest, index: number) => Fault = () => ({ kind: 'forward' });
    private server?: http.Server;
    endpoint = '';

    constructor(private readonly target: string) {}

    async start(): Promise<this> {
        this.server = http.createServer((req, res) => {
            const chunks: Buffer[] = [];
            req.on('data', (c) => chunks.push(c));
            req.on('end', () => void this.handle(Buffer.concat(chunks).toString('utf8'), req, res));
        });
        await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
        this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/jsonRPC`;
        return this;
    }

    count(method: string, list: ProxyRequest[] = this.seen): number {
        return list.filter((r) => r.method === method).length;
    }

    private async handle(text: string, req: http.IncomingMessage, res: http.ServerResponse) {
        const body = JSON.parse(text || '{}');
        const pr: ProxyRequest = { method: body.method, params: body.params ?? {} };
        this.seen.push(pr);
        const fault = this.decide(pr, this.seen.length - 1);
        const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
            res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
            res.end(JSON.stringify(payload));
        };
        if (fault.kind === 'destroy') {
            req.socket.destroy();
            return;
        }
        if (fault.kind === 'status') {
            send(fault.status, fault.body ?? { ok: false, error: `injected ${fault.status}`, code: fault.status }, fault.headers);
            return;
        }
        if (fault.kind === 'swallow') {
            send(200, { ok: true, result: { '@type': 'ok' }, id: body.id, jsonrpc: '2.0' });
            return;
        }
        this.forwarded.push(pr);
        const upstream = await fetch(this.target, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: text });
        const upstreamText = await upstream.text();
        if (fault.kind === 'forward-then-status') {
            send(fault.status, { ok: false, error: `injected ${fault.status} after forwarding`, code: fault.status });
            return;
        }
        res.writeHead(upstream.status, { 'Content-Type': 'application/json' });
        res.end(upstreamText);
    }

    close(): Promise<void> {
        return new Promise((resolve) => {
            if (!this.server) return resolve();
            this.server.close(() => resolve());
            this.server.closeAllConnections();
        });
    }
}
