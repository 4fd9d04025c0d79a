// Small statistics shared by the benches: each reports medians, which a single slow repetition
// (a periodic reconcile, a busy neighbour on the machine) does not move.

export function median(xs: number[]): number {
  if (xs.length === 0) throw new Error('median of no samples');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Every sample, so a reader sees the spread behind a median. */
export const samples = (xs: number[], digits = 1): string => `[${xs.map((x) => x.toFixed(digits)).join(' ')}]`;

/** The nearest-rank percentile `p` (0..100) of the samples. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}
