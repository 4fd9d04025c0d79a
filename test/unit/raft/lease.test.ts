import { describe, expect, it } from 'vitest';
import { RaftNode } from '../../../agent/sbs/raft/index.js';
import { ReadIndexTracker } from '../../../agent/sbs/raft/readindex.js';
import { Cluster, config, enc } from './cluster.js';

// electionTicks 10, heartbeatTicks 1 (cluster.ts); the lease is half the election timeout.
const LEASE = { leaseTicks: 5 };

/** A cluster whose leader `a` holds a fresh lease (it has committed in its term, then a heartbeat round). */
function leased(): Cluster {
  const c = new Cluster(['a', 'b', 'c'], LEASE);
  // Followers ignore candidates while starting up (an election timeout): let that pass.
  for (const id of ['b', 'c']) c.tick(id, 10);
  c.elect('a');
  c.node('a').propose(enc('x'));
  c.stabilize();
  c.heartbeat('a');
  return c;
}

describe('raft leader lease', () => {
  it('answers at the commit index without a heartbeat round while the lease runs', () => {
    const c = leased();
    const a = c.node('a');
    expect(a.leaseRead()).toBe(2);
    // readIndex takes the same shortcut: the answer is in the next Ready, with no message sent.
    a.readIndex('r1');
    c.flush();
    expect(c.reads.get('a')).toEqual([{ ctx: 'r1', index: 2 }]);
    expect(c.queue.filter((m) => m.type === 'heartbeat')).toEqual([]);
  });

  it('runs out leaseTicks after the last heartbeat a majority answered', () => {
    const c = leased();
    c.isolate('a');
    c.tick('a', 4);
    c.stabilize();
    expect(c.node('a').leaseRead()).toBe(2);
    c.tick('a', 1);
    c.stabilize();
    expect(c.node('a').leaseRead()).toBeNull();
    // Falls back to ReadIndex, which a cut-off leader can never confirm.
    c.node('a').readIndex('r1');
    c.tick('a', 3);
    c.stabilize();
    expect(c.reads.get('a')).toEqual([]);
  });

  it('is renewed by heartbeats a majority answers', () => {
    const c = leased();
    for (let i = 0; i < 20; i++) c.heartbeat('a');
    expect(c.node('a').leaseRead()).toBe(2);
  });

  it('is not held by followers, nor by a new leader before it commits in its term', () => {
    const c = leased();
    expect(c.node('b').leaseRead()).toBeNull();
    // b wins an election but its first entry cannot commit: appends are lost.
    c.drop = (m) => m.from === 'a' || m.to === 'a' || m.type === 'append';
    c.expireLeases('b', 'c');
    c.elect('b');
    expect(c.node('b').currentRole).toBe('leader');
    c.heartbeat('b');
    expect(c.node('b').leaseRead()).toBeNull();
    c.drop = (m) => m.from === 'a' || m.to === 'a';
    c.heartbeat('b');
    c.heartbeat('b');
    expect(c.node('b').leaseRead()).toBe(3);
  });

  it('is given up for the rest of the term once a leader transfer starts', () => {
    const c = leased();
    c.node('a').transferLeader('b');
    expect(c.node('a').leaseRead()).toBeNull();
    c.tick('a', 10); // the transfer times out; a stays leader without a lease
    c.stabilize();
    for (let i = 0; i < 3; i++) c.heartbeat('a');
    if (c.node('a').currentRole === 'leader') expect(c.node('a').leaseRead()).toBeNull();
  });

  it('followers that acknowledged it ignore other candidates until it has run out', () => {
    const c = leased();
    // c is cut off from a and campaigns; b heard from a within the election timeout.
    c.drop = (m) => (m.from === 'a' && m.to === 'c') || (m.from === 'c' && m.to === 'a');
    c.tick('c', 13);
    c.stabilize();
    expect(c.node('a').currentRole).toBe('leader');
    expect(c.node('c').currentRole).not.toBe('leader');
  });

  it('a restarted node ignores candidates for an election timeout', () => {
    const n = new RaftNode(config('b', LEASE), {
      hardState: { term: 1, vote: null, commit: 0 },
      snapshot: { index: 0, term: 0, conf: { voters: ['a', 'b', 'c'], learners: [] }, data: new Uint8Array(0) },
      entries: [],
    });
    const vote = { type: 'vote', from: 'c', to: 'b', term: 2, lastIndex: 5, lastTerm: 1, pre: false, transfer: false } as const;
    const answers = (): unknown[] => {
      if (!n.hasReady()) return [];
      const rd = n.ready();
      n.advance();
      return rd.messages.filter((m) => m.type === 'voteResp');
    };
    n.step(vote);
    expect(answers()).toEqual([]);
    for (let i = 0; i < 10; i++) n.tick();
    n.step(vote);
    expect(answers()).toEqual([expect.objectContaining({ type: 'voteResp', to: 'c', granted: true })]);
  });

  it('forgets heartbeat rounds too old to start a lease (nobody may ever answer them)', () => {
    const t = new ReadIndexTracker();
    const seqs: number[] = [];
    for (let tick = 0; tick < 1000; tick++) seqs.push(t.beat(tick, tick - 5));
    // An answer to a round long gone starts no lease: the round was dropped, not kept.
    t.ack('b', seqs[10]!);
    expect(t.takeConfirmedBeat('a', ['a', 'b'])).toBeNull();
    t.ack('b', seqs[998]!);
    expect(t.takeConfirmedBeat('a', ['a', 'b'])).toBe(998);
  });

  it('refuses a lease without checkQuorum or as long as an election timeout', () => {
    const nodeWith = (o: object) => () =>
      new RaftNode(config('a', o), {
        hardState: { term: 0, vote: null, commit: 0 },
        snapshot: { index: 0, term: 0, conf: { voters: ['a'], learners: [] }, data: new Uint8Array(0) },
        entries: [],
      });
    expect(nodeWith({ leaseTicks: 5, checkQuorum: false })).toThrow(/leaseTicks/);
    expect(nodeWith({ leaseTicks: 10 })).toThrow(/leaseTicks/);
  });
});
