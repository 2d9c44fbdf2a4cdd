/** Deterministic float32 values in [-1, 1) (an LCG): benchmark inputs that are the same on every run. */
export function pseudoRandom(n: number, seed: number): Float32Array {
    const x = new Float32Array(n);
    let s = seed >>> 0;
    for (let i = 0; i < n; i++) {
        s = (s * 1103515245 + 12345) >>> 0;
        x[i] = s / 0x80000000 - 1;
    }
    return x;
}
