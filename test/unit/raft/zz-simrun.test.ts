import { it } from 'vitest';
import { Simulation } from './sim.js';
import { checkHistory } from './linearizability.js';
it('sim', () => {
  const N = Number(process.env.N ?? 3), seeds = Number(process.env.SEEDS ?? 50), steps = Number(process.env.STEPS ?? 1500);
  const t0 = Date.now();
  let fails = 0; let tot: Record<string, number> = {};
  for (let seed = 1; seed <= seeds; seed++) {
    try {
      const r = new Simulation({ seed, nodes: N, steps }).run();
      const add = (k: string, v: number) => tot[k] = (tot[k] ?? 0) + v / seeds;
      add('terms', r.terms); add('committed', r.committed); add('acked', r.ackedPuts); add('gets', r.completedGets);
      for (const [k, v] of Object.entries(r.delivered)) add(k, v);
      const c = checkHistory(r.history);
      if (!c.ok) { console.log('seed', seed, 'NOT LINEARIZABLE', c.key); fails++; }
    } catch (e) { fails++; if (fails < 6) console.log('seed', seed, (e as Error).stack?.split('\n').slice(0,6).join('\n')); }
  }
  console.log({fails, ms: Date.now()-t0}, tot);
});
