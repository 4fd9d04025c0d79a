// Deterministic FDB entries for benchmarks and tests: unicast, locally administered MACs
// (02:…) spread over remote VTEPs in 192.0.2.0/24. Reusable by later (agent-API level) benches.

import type { FdbEntry } from '../../agent/net/types.js';

export function fdbEntries(count: number, opts: { seed?: number; vteps?: number } = {}): FdbEntry[] {
  const seed = opts.seed ?? 0;
  const vteps = opts.vteps ?? 16;
  const out: FdbEntry[] = [];
  for (let i = 0; i < count; i++) {
    const n = i + seed * 0x1000000;
    const b = [0x02, (n >>> 32) & 0xff, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
    out.push({ mac: b.map((x) => x.toString(16).padStart(2, '0')).join(':'), dst: `192.0.2.${20 + (i % vteps)}` });
  }
  return out;
}

/** The same entries as `bridge -batch` lines. */
export function bridgeBatch(dev: string, entries: FdbEntry[]): string {
  return entries.map((e) => `fdb replace ${e.mac} dev ${dev} dst ${e.dst} self permanent\n`).join('');
}
