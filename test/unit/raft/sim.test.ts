import { describe, expect, it } from 'vitest';
import { checkHistory } from './linearizability.js';
import { seedsToRun, Simulation } from './sim.js';

// Thousands of seeded runs of 3- and 5-node groups under drops, duplicates, reordering,
// partitions, crashes and snapshots. A failure names its seed; replay it alone with
//   RAFT_SEED=<seed> npx vitest run test/unit/raft/sim.test.ts
const PLAN = [
  { nodes: 3, seeds: 1200, steps: 4000 },
  { nodes: 5, seeds: 600, steps: 4000 },
];

describe('raft simulation', () => {
  for (const { nodes, seeds, steps } of PLAN) {
    it(`N=${nodes}: safety at every step, liveness after healing, linearizable clients (${seeds} seeds x ${steps} steps)`, () => {
      const delivered: Record<string, number> = {};
      let acked = 0;
      for (const seed of seedsToRun(seeds)) {
        try {
          const r = new Simulation({ seed, nodes, steps }).run();
          const lin = checkHistory(r.history);
          if (!lin.ok) throw new Error(`history of key ${lin.key} is not linearizable`);
          acked += r.ackedPuts;
          for (const [k, v] of Object.entries(r.delivered)) delivered[k] = (delivered[k] ?? 0) + v;
        } catch (e) {
          throw new Error(`N=${nodes} seed ${seed} failed (replay with RAFT_SEED=${seed}): ${(e as Error).message}`, { cause: e });
        }
      }
      if (seedsToRun(seeds).length === 1) return;
      // The runs must actually exercise the paths we claim to test.
      expect(acked).toBeGreaterThan(seeds * 10);
      for (const kind of ['snapshot', 'timeoutNow', 'readIndex', 'readIndexResp', 'appendReject']) {
        expect(delivered[kind] ?? 0, kind).toBeGreaterThan(0);
      }
    });
  }
});
