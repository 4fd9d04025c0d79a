import { describe, it } from 'vitest';
import { seedsToRun } from './sim.js';
import { runSeeds, type SeedPlan } from './simrun.js';

// Safety checked after every step, liveness after healing, client histories linearizable.
// Many short runs cover many fault mixes; a few long ones reach deep histories (a leader
// restarted many terms later, membership changed several times, logs compacted repeatedly).
const PLANS: SeedPlan[] = [
  { nodes: 5, seeds: 1000, steps: 4000, firstSeed: 1 },
  { nodes: 5, seeds: 30, steps: 30_000, firstSeed: 1_000_001 },
];

describe('raft simulation, 5 nodes', () => {
  for (const plan of PLANS) {
    it(`${seedsToRun(plan.seeds, plan.firstSeed).length} seeds x ${plan.steps} steps`, () => runSeeds(plan));
  }
});
