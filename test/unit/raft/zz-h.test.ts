import { it } from 'vitest';
import { Simulation } from './sim.js';
it('h', () => {
  const r = new Simulation({ seed: 16, nodes: 3, steps: 3000 }).run();
  for (const k of ['x','y','z']) {
    const ops = r.history.filter(o => o.key === k);
    const pend = ops.filter(o => o.ret === Infinity);
    // max concurrency
    const ev = ops.flatMap(o => [[o.call, 1], [o.ret, -1]]).sort((a,b)=>a[0]-b[0]);
    let c = 0, m = 0; for (const [,d] of ev) { c += d; m = Math.max(m, c); }
    console.log(k, ops.length, 'pending', pend.length, 'maxconc', m, pend.map(p=>p.kind+p.call).join(' '));
  }
});
