import { it } from 'vitest';
import { Simulation } from './sim.js';
import { checkHistory } from './linearizability.js';
it('prof', () => {
  let ts = 0, tc = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const t0 = performance.now();
    const r = new Simulation({ seed, nodes: 3, steps: 3000 }).run();
    const t1 = performance.now();
    checkHistory(r.history);
    const t2 = performance.now();
    ts += t1 - t0; tc += t2 - t1;
    console.log(seed, (t1-t0).toFixed(0), (t2-t1).toFixed(0), r.history.length);
  }
  console.log({ ts, tc });
});
