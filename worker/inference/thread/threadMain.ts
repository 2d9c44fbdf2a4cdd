/**
 * The inference thread: for each InferenceEngine of the process that placed a model here, an InferenceEngine of its
 * own (sessions created on this thread) that runs whole jobs (pre-processing, models, post-processing). Runs are
 * serialised by each engine's per-model semaphores exactly as inline runs are.
 */
import { parentPort } from 'worker_threads';
import { InferenceEngine } from '../engine';
import { InferenceError } from '../errors';
import type { ThreadError, ThreadRequest, ThreadResponse } from './messages';

const port = parentPort!;
const engines = new Map<number, InferenceEngine>();

function describe(e: unknown): ThreadError {
    if (e instanceof Error) {
        const code = (e as { code?: unknown }).code;
        return { name: e.name, code: typeof code === 'string' ? code : undefined, message: e.message };
    }
    return { name: typeof e, message: String(e) };
}

/** A transferable copy-free view when the Buffer owns its memory; a copy otherwise (a slice of Node's pool). */
function transferable(b: Buffer): { view: Uint8Array; transfer: ArrayBuffer[] } {
    if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer) return { view: b, transfer: [b.buffer] };
    const copy = new Uint8Array(b.byteLength);
    copy.set(b);
    return { view: copy, transfer: [copy.buffer] };
}

function engineOf(id: number): InferenceEngine {
    const e = engines.get(id);
    if (!e) throw new InferenceError('ENGINE_CLOSED', 'the inference engine is closed');
    return e;
}

async function handle(m: ThreadRequest): Promise<{ output?: Buffer }> {
    switch (m.op) {
        case 'open':
            if (!engines.has(m.engine)) engines.set(m.engine, new InferenceEngine(m.catalog, { ...m.options, inferenceThread: 'off' }));
            return {};
        case 'run': {
            const input = Buffer.from(m.input.buffer, m.input.byteOffset, m.input.byteLength);
            try {
                return { output: await engineOf(m.engine).run(m.task, m.modelHash, input) };
            } finally {
                input.fill(0);
            }
        }
        case 'warmup':
            await engineOf(m.engine).warmup(m.modelHashes);
            return {};
        case 'close': {
            const e = engines.get(m.engine);
            engines.delete(m.engine);
            await e?.close();
            return {};
        }
    }
}

port.on('message', async (m: ThreadRequest) => {
    let reply: ThreadResponse;
    let transfer: ArrayBuffer[] = [];
    try {
        const { output } = await handle(m);
        if (output) {
            const t = transferable(output);
            if (t.view !== output) output.fill(0);
            transfer = t.transfer;
            reply = { id: m.id, ok: true, output: t.view, stats: engines.get(m.engine)?.stats() ?? [] };
        } else {
            reply = { id: m.id, ok: true, stats: engines.get(m.engine)?.stats() ?? [] };
        }
    } catch (e) {
        reply = { id: m.id, ok: false, error: describe(e), stats: engines.get(m.engine)?.stats() ?? [] };
    }
    port.postMessage(reply, transfer);
});
