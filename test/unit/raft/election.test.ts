import { describe, expect, it } from 'vitest';
import { RaftNode } from '../../../agent/sbs/raft/index.js';
import type { Message } from '../../../agent/sbs/raft/index.js';
import { bootstrap, Cluster, config, enc, persist } from './cluster.js';

describe('raft election', () => {
  it('elects the first node to time out; everyone learns the leader and commits its empty entry', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    expect(c.node('a').currentRole).toBe('leader');
    expect(c.node('a').currentTerm).toBe(1);
    for (const id of ['b', 'c']) {
      expect(c.node(id).leader).toBe('a');
      expect(c.node(id).commitIndex).toBe(1);
    }
  });

  it('a single voter elects itself and commits on its own', () => {
    const c = new Cluster(['a']);
    c.elect('a');
    expect(c.node('a').currentRole).toBe('leader');
    c.node('a').propose(enc('x'));
    c.stabilize();
    expect(c.appliedData('a')).toEqual(['x']);
  });

  it('commits proposals on all nodes', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    expect(c.node('a').propose(enc('x')).ok).toBe(true);
    c.stabilize();
    c.heartbeat('a');
    for (const id of ['a', 'b', 'c']) expect(c.appliedData(id)).toEqual(['x']);
  });

  it('refuses proposals on followers and names the leader', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    expect(c.node('b').propose(enc('x'))).toEqual({ ok: false, reason: 'notLeader', leader: 'a' });
  });

  it('does not elect a candidate whose log lacks committed entries', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.drop = (m) => m.to === 'c';
    c.node('a').propose(enc('x'));
    c.stabilize();
    c.heartbeat('a');
    expect(c.node('a').commitIndex).toBe(2);
    // c missed the entry; a goes away; only b may win.
    c.drop = (m) => m.from === 'a' || m.to === 'a';
    c.expireLeases('b', 'c');
    c.elect('c');
    expect(c.node('c').currentRole).not.toBe('leader');
    c.elect('b');
    expect(c.node('b').currentRole).toBe('leader');
  });

  it('pre-vote: a node cut off from the group campaigns without raising its term, and rejoins without disrupting', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('c');
    for (let i = 0; i < 5; i++) c.tick('c', 13); // c's election timeout is 13 ticks
    c.stabilize();
    expect(c.node('c').currentTerm).toBe(1);
    expect(c.node('c').currentRole).toBe('preCandidate');
    c.heal();
    c.heartbeat('a');
    expect(c.node('a').currentRole).toBe('leader');
    expect(c.node('a').currentTerm).toBe(1);
    expect(c.node('c').leader).toBe('a');
  });

  it('without pre-vote the same node inflates its term and forces a new election on return', () => {
    const c = new Cluster(['a', 'b', 'c'], { preVote: false });
    c.elect('a');
    c.isolate('c');
    for (let i = 0; i < 5; i++) c.tick('c', 13);
    c.stabilize();
    expect(c.node('c').currentTerm).toBe(6);
    c.heal();
    c.heartbeat('a');
    expect(c.node('a').currentRole).toBe('follower');
  });

  it('check-quorum: a leader that hears from no majority for an election timeout steps down', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('a');
    for (let i = 0; i < 9; i++) c.heartbeat('a');
    expect(c.node('a').currentRole).toBe('leader');
    for (let i = 0; i < 11; i++) c.heartbeat('a');
    expect(c.node('a').currentRole).toBe('follower');
    expect(c.node('a').leader).toBeNull();
  });

  it('check-quorum lease: followers that hear from a leader ignore vote requests from a higher term', () => {
    const c = new Cluster(['a', 'b', 'c'], { preVote: false });
    c.elect('a');
    c.node('b').step({ type: 'vote', from: 'c', to: 'b', term: 5, pre: false, lastIndex: 9, lastTerm: 9, transfer: false });
    expect(c.node('b').currentTerm).toBe(1);
    expect(c.node('b').hasReady()).toBe(false);
  });

  it('a node restarted from its persisted state never votes twice in a term', () => {
    const st = bootstrap(['a', 'b', 'c']);
    let b = new RaftNode(config('b'), st);
    const ask = (from: string): Message => ({ type: 'vote', from, to: 'b', term: 5, pre: false, lastIndex: 0, lastTerm: 0, transfer: false });
    b.step(ask('a'));
    const rd = b.ready();
    expect(rd.hardState).toEqual({ term: 5, vote: 'a', commit: 0 });
    expect(rd.messages).toMatchObject([{ type: 'voteResp', to: 'a', granted: true, term: 5 }]);
    persist(st, rd);
    b.advance();

    b = new RaftNode(config('b'), st);
    b.step(ask('c'));
    expect(b.ready().messages).toMatchObject([{ type: 'voteResp', to: 'c', granted: false }]);

    // The same question again (a retransmission) still gets a yes: it is the same vote.
    b.advance();
    b.step(ask('a'));
    expect(b.ready().messages).toMatchObject([{ type: 'voteResp', to: 'a', granted: true }]);
  });

  it('the vote is in the same Ready as the message that grants it, so it is persisted before it is sent', () => {
    const b = new RaftNode(config('b'), bootstrap(['a', 'b', 'c']));
    b.step({ type: 'vote', from: 'a', to: 'b', term: 1, pre: false, lastIndex: 0, lastTerm: 0, transfer: false });
    const rd = b.ready();
    expect(rd.hardState?.vote).toBe('a');
    expect(rd.messages.some((m) => m.type === 'voteResp' && m.granted)).toBe(true);
  });

  it('reports role and leader changes as soft state', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.tick('a', 11);
    const rd = c.node('a').ready();
    expect(rd.softState).toEqual({ leader: null, role: 'preCandidate' });
    expect(rd.hardState).toBeNull(); // pre-vote changes neither term nor vote
    c.node('a').advance();
  });
});
