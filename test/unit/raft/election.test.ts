import { describe, expect, it } from 'vitest';
import { Cluster, enc } from './cluster.js';

describe('raft election', () => {
  it('elects the first node to time out and replicates its empty entry', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    expect(c.node('a').currentRole).toBe('leader');
    expect(c.node('a').currentTerm).toBe(1);
    for (const id of ['b', 'c']) {
      expect(c.node(id).leader).toBe('a');
      expect(c.node(id).commitIndex).toBe(1);
    }
  });

  it('commits proposals on all nodes', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    const r = c.node('a').propose(enc('x'));
    expect(r.ok).toBe(true);
    c.stabilize();
    c.heartbeat('a');
    for (const id of ['a', 'b', 'c']) expect(c.appliedData(id)).toEqual(['x']);
  });
});
