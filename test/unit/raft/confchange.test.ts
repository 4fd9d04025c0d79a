import { describe, expect, it } from 'vitest';
import { bootstrap, Cluster, enc } from './cluster.js';

/** A cluster of `ids` where `joining` nodes exist but start outside any configuration. */
function withJoining(ids: string[], joining: string[]): Cluster {
  const c = new Cluster([...ids, ...joining]);
  for (const id of joining) c.add(id, bootstrap([]));
  for (const id of ids) c.add(id, bootstrap(ids));
  return c;
}

describe('raft membership changes', () => {
  it('adds a voter: it catches up, and from then on the quorum counts it', () => {
    const c = withJoining(['a', 'b', 'c'], ['d']);
    c.elect('a');
    const r = c.node('a').proposeConfChange({ type: 'addVoter', node: 'd' });
    expect(r.ok).toBe(true);
    // In force on the leader as soon as it is appended, before it commits.
    expect(c.node('a').confState.voters).toEqual(['a', 'b', 'c', 'd']);
    c.stabilize();
    c.heartbeat('a');
    expect(c.node('d').confState.voters).toEqual(['a', 'b', 'c', 'd']);
    expect(c.node('d').commitIndex).toBe(c.node('a').commitIndex);

    // With four voters a and b alone are no majority.
    c.drop = (m) => m.to === 'c' || m.to === 'd';
    c.node('a').propose(enc('x'));
    c.stabilize();
    expect(c.appliedData('a')).toEqual([]);
    c.heal();
    c.heartbeat('a');
    expect(c.appliedData('a')).toEqual(['x']);
  });

  it('allows one change at a time, and none before the leader has committed in its term', () => {
    const c = withJoining(['a', 'b', 'c'], ['d', 'e']);
    c.tick('a', 11);
    c.flush();
    // a wins its pre-vote and vote but its empty entry is not committed yet.
    for (let i = 0; i < 4; i++) {
      const q = c.queue;
      c.queue = [];
      for (const m of q) if (m.type !== 'append') c.nodes.get(m.to)?.step(m);
      c.flush();
    }
    expect(c.node('a').currentRole).toBe('leader');
    expect(c.node('a').proposeConfChange({ type: 'addVoter', node: 'd' })).toMatchObject({ ok: false, reason: 'termNotCommitted' });
    c.stabilize();
    expect(c.node('a').proposeConfChange({ type: 'addVoter', node: 'd' }).ok).toBe(true);
    expect(c.node('a').proposeConfChange({ type: 'addVoter', node: 'e' })).toMatchObject({ ok: false, reason: 'confChangePending' });
    c.stabilize();
    expect(c.node('a').proposeConfChange({ type: 'addVoter', node: 'e' }).ok).toBe(true);
  });

  it('rejects changes that make no sense', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    expect(c.node('a').proposeConfChange({ type: 'addVoter', node: 'b' })).toMatchObject({ reason: 'invalidConfChange' });
    expect(c.node('a').proposeConfChange({ type: 'removeNode', node: 'z' })).toMatchObject({ reason: 'invalidConfChange' });
  });

  it('removes a follower: the group carries on without it, and it cannot disrupt the group', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.node('a').proposeConfChange({ type: 'removeNode', node: 'c' });
    c.stabilize();
    c.heartbeat('a');
    expect(c.node('a').confState.voters).toEqual(['a', 'b']);
    expect(c.node('b').confState.voters).toEqual(['a', 'b']);
    // c is no longer replicated to, so it may never learn that it was removed ...
    c.drop = (m) => m.to === 'c';
    c.node('a').propose(enc('x'));
    c.stabilize();
    c.heartbeat('a');
    expect(c.appliedData('b')).toEqual(['x']);
    // ... and when it times out, its pre-votes find no support: the leader keeps its term.
    c.heal();
    c.tick('c', 13);
    c.stabilize();
    expect(c.node('a').currentRole).toBe('leader');
    expect(c.node('a').currentTerm).toBe(1);
  });

  it('a leader that removes itself steps down once the change commits; the rest elect a new leader', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.node('a').proposeConfChange({ type: 'removeNode', node: 'a' });
    expect(c.node('a').currentRole).toBe('leader');
    c.stabilize();
    expect(c.node('a').currentRole).toBe('follower');
    c.expireLeases('b', 'c');
    c.elect('b');
    expect(c.node('b').currentRole).toBe('leader');
    expect(c.node('b').confState.voters).toEqual(['b', 'c']);
  });

  it('undoes a configuration whose entry is truncated from the log', () => {
    const c = withJoining(['a', 'b', 'c'], ['d']);
    c.elect('a');
    c.isolate('a');
    c.node('a').proposeConfChange({ type: 'addVoter', node: 'd' });
    c.stabilize();
    // Only a has the change; b now leads without it and overwrites a's log.
    c.expireLeases('b', 'c');
    c.elect('b');
    c.node('b').propose(enc('y'));
    c.stabilize();
    c.heal();
    c.heartbeat('b');
    expect(c.node('a').confState.voters).toEqual(['a', 'b', 'c']);
    expect(c.node('a').termAt(c.node('a').lastIndex)).toBe(2);
  });

  it('learners receive the log but do not vote or count; promotion makes them voters', () => {
    const c = withJoining(['a', 'b', 'c'], ['l']);
    c.elect('a');
    c.node('a').proposeConfChange({ type: 'addLearner', node: 'l' });
    c.stabilize();
    c.node('a').propose(enc('x'));
    c.stabilize();
    c.heartbeat('a');
    expect(c.appliedData('l')).toEqual(['x']);
    expect(c.node('l').confState).toEqual({ voters: ['a', 'b', 'c'], learners: ['l'] });
    c.isolate('l');
    c.tick('l', 50);
    expect(c.node('l').currentRole).toBe('follower');
    c.heal();
    c.node('a').proposeConfChange({ type: 'addVoter', node: 'l' });
    c.stabilize();
    expect(c.node('a').confState).toEqual({ voters: ['a', 'b', 'c', 'l'], learners: [] });
  });
});
