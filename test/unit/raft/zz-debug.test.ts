import { it } from 'vitest';
import { Simulation } from './sim.js';
it('dbg', () => {
  const sim = new Simulation({ seed: Number(process.env.SEED ?? 3), nodes: 3, steps: 0 });
  const s = sim as any;
  for (let i = 0; i < 3000; i++) {
    sim.step(); sim.check();
    if (i % 200 === 0) console.log(i, s.network.length, s.nodes.map((n: any) => n.raft ? `${n.id}:${n.raft.currentRole[0]}t${n.raft.currentTerm}c${n.raft.commitIndex}l${n.raft.lastIndex}p${n.pending?1:0}g${s.group.get(n.id)}` : `${n.id}:down`).join(' '));
  }
});
