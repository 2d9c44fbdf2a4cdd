/**
 * Messages between InferenceEngines and the process's inference thread (inferenceThread.ts ↔ threadMain.ts). Both
 * ends are the same enclave process, so plaintext inputs and outputs cross this boundary: they are moved
 * (transferred), never logged, and wiped by whichever side holds the last copy. Every request names the engine it is
 * for: the thread hosts one engine per InferenceEngine that placed a model there.
 */
import type { ModelCatalog } from '../catalog';
import type { ModelStats } from '../sessions';

export type ThreadRequest =
    /** Creates the engine's twin on the thread (the catalog is structured-cloned: its Map survives the trip). */
    | { op: 'open'; id: number; engine: number; catalog: ModelCatalog; options: Record<string, unknown> }
    | { op: 'run'; id: number; engine: number; task: string; modelHash: string; input: Uint8Array }
    | { op: 'warmup'; id: number; engine: number; modelHashes: string[] }
    /** Releases the engine's sessions on the thread and forgets it. */
    | { op: 'close'; id: number; engine: number };

/** Errors keep their class name, code and message: the message stays inside the enclave like the inline path's. */
export interface ThreadError {
    name: string;
    code?: string;
    message: string;
}

export type ThreadResponse =
    | { id: number; ok: true; output?: Uint8Array; stats: ModelStats[] }
    | { id: number; ok: false; error: ThreadError; stats: ModelStats[] };
