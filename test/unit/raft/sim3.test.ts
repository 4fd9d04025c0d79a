import { describe, it } from 'vitest';
import { seedsToRun } from './sim.js';
import { runSeeds } from './simrun.js';

// Safety checked after every step, liveness after healing, client histories linearizable.
const SEEDS = 2500;
const STEPS = 4000;

describe('raft simulation, 3 nodes', () => {
  it(`${seedsToRun(SEEDS).length} seeds x ${STEPS} steps`, () => runSeeds(3, SEEDS, STEPS));
});
