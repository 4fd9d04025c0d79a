// Shared driver for the simulation test files (one per group size, so vitest runs them in
// parallel). A failure names its seed; replay it alone with
//   RAFT_SEED=<seed> npx vitest run test/unit/raft/sim3   (or sim5)
import { expect } from 'vitest';
import { checkHistory } from './linearizability.js';
import { seedsToRun, Simulation } from './sim.js';

export interface SeedPlan {
  nodes: number;
  seeds: number;
  steps: number;
  /** Distinct ranges keep long runs from replaying the first steps of short ones. */
  firstSeed: number;
}

export function runSeeds({ nodes, seeds, steps, firstSeed }: SeedPlan): void {
  const delivered: Record<string, number> = {};
  let acked = 0;
  let confChanges = 0;
  let leaseReads = 0;
  const toRun = seedsToRun(seeds, firstSeed);
  for (const seed of toRun) {
    try {
      const r = new Simulation({ seed, nodes, steps }).run();
      const lin = checkHistory(r.history);
      if (!lin.ok) throw new Error(`history of key ${lin.key} is not linearizable`);
      acked += r.ackedPuts;
      confChanges += r.confChanges;
      leaseReads += r.leaseReads;
      for (const [k, v] of Object.entries(r.delivered)) delivered[k] = (delivered[k] ?? 0) + v;
    } catch (e) {
      const replay = `RAFT_SEED=${seed} npx vitest run test/unit/raft/sim${nodes}`;
      throw new Error(`N=${nodes} seed ${seed} (${steps} steps) failed; replay with ${replay}: ${(e as Error).message}`, { cause: e });
    }
  }
  if (toRun.length === 1) return;
  // The runs must actually exercise what we claim to test.
  expect(acked).toBeGreaterThan(seeds * 10);
  expect(confChanges).toBeGreaterThan(seeds / 20);
  expect(leaseReads).toBeGreaterThan(seeds);
  for (const kind of ['snapshot', 'timeoutNow', 'readIndex', 'readIndexResp', 'appendReject']) {
    expect(delivered[kind] ?? 0, kind).toBeGreaterThan(0);
  }
}
