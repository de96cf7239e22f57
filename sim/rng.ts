/**
 * Deterministic randomness. Every draw is keyed (seed, purpose, pool, ordinal), not taken from one shared
 * stream, so two policies that launch the k-th instance of a pool get the same interruption draw for it even
 * though they launched different numbers of instances elsewhere (common random numbers across policies).
 */

/** 32-bit FNV-1a of a string. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: small, fast, good enough for simulation draws. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A uniform draw in [0, 1) fixed by its key. */
export function keyedUniform(seed: number, ...key: (string | number)[]): number {
  return mulberry32(hashString(`${seed}|${key.join('|')}`))();
}

/** A generator fixed by its key, for several draws that belong together. */
export function keyedRng(seed: number, ...key: (string | number)[]): () => number {
  return mulberry32(hashString(`${seed}|${key.join('|')}`));
}

/** Exp(1) from a uniform draw. */
export function exponential(u: number): number {
  return -Math.log(1 - u);
}
