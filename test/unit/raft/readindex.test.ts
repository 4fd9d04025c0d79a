import { describe, expect, it } from 'vitest';
import { Cluster, enc } from './cluster.js';

describe('raft ReadIndex', () => {
  it('serves a read at the commit index after a heartbeat round confirms leadership', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.node('a').propose(enc('x'));
    c.stabilize();
    const a = c.node('a');
    expect(a.readIndex('r1')).toBe(true);
    // Not yet: nobody has confirmed that a is still the leader.
    c.flush();
    expect(c.reads.get('a')).toEqual([]);
    c.stabilize();
    expect(c.reads.get('a')).toEqual([{ ctx: 'r1', index: 2 }]);
  });

  it('a leader cut off from the majority never confirms a read', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('a');
    c.node('a').readIndex('r1');
    for (let i = 0; i < 5; i++) c.heartbeat('a');
    expect(c.reads.get('a')).toEqual([]);
  });

  it('waits until the new leader has committed an entry of its own term', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.tick('a', 11);
    c.flush();
    for (let i = 0; i < 4; i++) {
      const q = c.queue;
      c.queue = [];
      for (const m of q) if (m.type !== 'append') c.nodes.get(m.to)?.step(m);
      c.flush();
    }
    const a = c.node('a');
    expect(a.currentRole).toBe('leader');
    expect(a.commitIndex).toBe(0);
    a.readIndex('early');
    c.queue = c.queue.filter((m) => m.type !== 'heartbeat');
    c.flush();
    expect(c.reads.get('a')).toEqual([]);
    c.stabilize(); // the empty entry commits; the deferred read goes through a heartbeat round
    expect(c.reads.get('a')).toEqual([{ ctx: 'early', index: 1 }]);
  });

  it('a follower forwards the read to the leader and gets the index back', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.node('a').propose(enc('x'));
    c.stabilize();
    expect(c.node('b').readIndex('rb')).toBe(true);
    c.stabilize();
    expect(c.reads.get('b')).toEqual([{ ctx: 'rb', index: 2 }]);
    expect(c.reads.get('a')).toEqual([]);
  });

  it('a node that knows no leader refuses at once', () => {
    const c = new Cluster(['a', 'b', 'c']);
    expect(c.node('b').readIndex('r')).toBe(false);
  });

  it('a single voter serves reads without a round trip', () => {
    const c = new Cluster(['a']);
    c.elect('a');
    c.node('a').readIndex('solo');
    c.flush();
    expect(c.reads.get('a')).toEqual([{ ctx: 'solo', index: 1 }]);
  });

  it('drops pending reads when leadership is lost, so no stale index is ever served', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('a');
    c.node('a').readIndex('r');
    c.stabilize();
    c.expireLeases('b', 'c');
    c.elect('b');
    c.heal();
    c.heartbeat('b');
    expect(c.node('a').leader).toBe('b');
    c.heartbeat('b');
    expect(c.reads.get('a')).toEqual([]);
  });
});
