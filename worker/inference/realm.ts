/**
 * Typed arrays across JS realms, for onnxruntime-node inside a sandboxed realm (jest's node environment, vm
 * contexts).
 *
 * The native binding allocates output typed arrays in Node's main realm, and onnxruntime-common then checks them
 * with `data instanceof Float32Array` against the constructors of the realm it was loaded in. Under jest these
 * differ (jest only shares Uint8Array/ArrayBuffer), and every run fails with "A float32 tensor's data must be type
 * of function Float32Array()". When, and only when, the realms differ, the sandbox's typed-array constructors
 * get a Symbol.hasInstance that also accepts the same-named main-realm arrays. In a normal Node process this is a
 * no-op. It works whatever was loaded first, because `instanceof` consults Symbol.hasInstance at check time.
 */
import { runInThisContext } from 'vm';

const TYPED_ARRAYS = [
    'Float32Array',
    'Float64Array',
    'Int8Array',
    'Uint8Array',
    'Uint8ClampedArray',
    'Int16Array',
    'Uint16Array',
    'Int32Array',
    'Uint32Array',
    'BigInt64Array',
    'BigUint64Array',
] as const;

const PATCHED = Symbol.for('cocoon.typedArrayRealmBridge');
const ordinaryHasInstance = Function.prototype[Symbol.hasInstance];

export function bridgeTypedArrayRealms(): void {
    const g = globalThis as unknown as Record<string, (abstract new (...args: never[]) => unknown) & { [PATCHED]?: true }>;
    for (const name of TYPED_ARRAYS) {
        const inner = g[name];
        let outer: unknown;
        try {
            outer = runInThisContext(name);
        } catch {
            continue;
        }
        if (typeof inner !== 'function' || typeof outer !== 'function' || inner === outer || inner[PATCHED]) continue;
        Object.defineProperty(inner, Symbol.hasInstance, {
            configurable: true,
            value(x: unknown): boolean {
                return ordinaryHasInstance.call(inner, x) || ordinaryHasInstance.call(outer as () => void, x);
            },
        });
        Object.defineProperty(inner, PATCHED, { value: true });
    }
}

bridgeTypedArrayRealms();
