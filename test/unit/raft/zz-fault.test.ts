import { it } from 'vitest';
import { Simulation } from './sim.js';
import { checkHistory } from './linearizability.js';
it('fault', () => {
  for (const fault of ['forgetVoteOnRestart', 'fsyncLies'] as const) {
    let caught = 0, nonlin = 0; const msgs = new Map<string, number>();
    for (let seed = 1; seed <= 200; seed++) {
      try { const r = new Simulation({ seed, nodes: 3, steps: 3000, fault }).run(); if (!checkHistory(r.history).ok) nonlin++; }
      catch (e) { caught++; const k = (e as Error).message.replace(/[0-9]+/g,'#').slice(0,50); msgs.set(k, (msgs.get(k)??0)+1); }
    }
    console.log(fault, caught, nonlin, msgs);
  }
});
