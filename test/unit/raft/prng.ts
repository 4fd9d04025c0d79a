/** mulberry32: tiny, fast and good enough to drive a simulation reproducibly from one seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 32-bit mixing step, used to chain entry digests into one number per log prefix. */
export function mix(h: number, x: number): number {
  const m = Math.imul(h ^ x, 0x9e3779b1);
  return (m ^ (m >>> 15)) >>> 0;
}

export function digestBytes(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (const x of b) h = Math.imul(h ^ x, 0x01000193);
  return h >>> 0;
}
