// Shared driver for the simulation test files (one per group size, so vitest runs them in
// parallel). A failure names its seed; replay it alone with
//   RAFT_SEED=<seed> npx vitest run test/unit/raft/sim
import { expect } from 'vitest';
import { checkHistory } from './linearizability.js';
import { seedsToRun, Simulation } from './sim.js';

export function runSeeds(nodes: number, seeds: number, steps: number): void {
  const delivered: Record<string, number> = {};
  let acked = 0;
  let confChanges = 0;
  const toRun = seedsToRun(seeds);
  for (const seed of toRun) {
    try {
      const r = new Simulation({ seed, nodes, steps }).run();
      const lin = checkHistory(r.history);
      if (!lin.ok) throw new Error(`history of key ${lin.key} is not linearizable`);
      acked += r.ackedPuts;
      confChanges += r.confChanges;
      for (const [k, v] of Object.entries(r.delivered)) delivered[k] = (delivered[k] ?? 0) + v;
    } catch (e) {
      throw new Error(`N=${nodes} seed ${seed} failed (replay with RAFT_SEED=${seed}): ${(e as Error).message}`, { cause: e });
    }
  }
  if (toRun.length === 1) return;
  // The runs must actually exercise what we claim to test.
  expect(acked).toBeGreaterThan(seeds * 10);
  expect(confChanges).toBeGreaterThan(seeds / 10);
  for (const kind of ['snapshot', 'timeoutNow', 'readIndex', 'readIndexResp', 'appendReject']) {
    expect(delivered[kind] ?? 0, kind).toBeGreaterThan(0);
  }
}
