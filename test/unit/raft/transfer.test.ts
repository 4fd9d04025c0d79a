import { describe, expect, it } from 'vitest';
import { Cluster, enc } from './cluster.js';

describe('raft leader transfer', () => {
  it('hands leadership to an up-to-date follower at once', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    expect(c.node('a').transferLeader('c')).toBe(true);
    c.stabilize();
    expect(c.node('c').currentRole).toBe('leader');
    expect(c.node('c').currentTerm).toBe(2);
    expect(c.node('a').leader).toBe('c');
  });

  it('catches a lagging target up first, and refuses proposals meanwhile', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('c');
    for (let i = 0; i < 5; i++) c.node('a').propose(enc(`x${i}`));
    c.stabilize();
    c.heal();
    c.node('a').transferLeader('c');
    expect(c.node('a').propose(enc('during'))).toMatchObject({ ok: false, reason: 'transferring' });
    c.stabilize();
    expect(c.node('c').currentRole).toBe('leader');
    expect(c.node('c').lastIndex).toBeGreaterThanOrEqual(6);
  });

  it('gives up after an election timeout when the target does not answer', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.drop = (m) => m.to === 'c' || m.from === 'c';
    c.node('a').propose(enc('x'));
    c.stabilize();
    c.node('a').transferLeader('c');
    for (let i = 0; i < 10; i++) c.heartbeat('a');
    expect(c.node('a').currentRole).toBe('leader');
    expect(c.node('a').propose(enc('y')).ok).toBe(true);
  });

  it('does not transfer to a non-voter or to itself', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    expect(c.node('a').transferLeader('a')).toBe(false);
    expect(c.node('a').transferLeader('zz')).toBe(false);
    expect(c.node('b').transferLeader('c')).toBe(false);
  });
});
