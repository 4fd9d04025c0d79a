import { describe, expect, it } from 'vitest';
import { RaftNode } from '../../../agent/sbs/raft/index.js';
import type { AppendMessage, Entry, Message } from '../../../agent/sbs/raft/index.js';
import { Cluster, config, enc } from './cluster.js';

const terms = (n: RaftNode): number[] => {
  const out: number[] = [];
  for (let i = n.firstIndex; i <= n.lastIndex; i++) out.push(n.termAt(i) ?? -1);
  return out;
};

describe('raft log replication', () => {
  it('tells followers a new commit index with the next append they get anyway, or at the next tick: no empty append of its own', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.heartbeat('a');
    const sent: Message[] = [];
    c.drop = (m) => (sent.push(m), false);
    c.node('a').propose(enc('x'));
    c.stabilize();
    expect(c.appliedData('a')).toEqual(['x']);
    expect(c.appliedData('b')).toEqual([]);
    expect(sent.filter((m) => m.type === 'append' && m.entries.length === 0)).toEqual([]);
    c.node('a').propose(enc('y'));
    c.stabilize();
    expect(c.appliedData('b')).toEqual(['x']);
    c.tick('a');
    c.stabilize();
    expect(c.appliedData('b')).toEqual(['x', 'y']);
    expect(c.appliedData('c')).toEqual(['x', 'y']);
  });

  it('replaces a follower’s uncommitted entries from an old term with the new leader’s', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('a');
    for (const x of ['lost1', 'lost2', 'lost3']) c.node('a').propose(enc(x));
    c.stabilize();
    expect(c.node('a').lastIndex).toBe(4);
    c.expireLeases('b', 'c');
    c.elect('b');
    c.node('b').propose(enc('kept'));
    c.stabilize();
    c.heal();
    c.heartbeat('b');
    expect(c.node('a').currentRole).toBe('follower');
    expect(terms(c.node('a'))).toEqual(terms(c.node('b')));
    expect(terms(c.node('a'))).toEqual([1, 2, 2]);
    expect(c.appliedData('a')).toEqual(['kept']);
    // What a persisted must follow: the divergent suffix was overwritten on disk too.
    expect(c.storage.get('a')!.entries.map((e) => e.term)).toEqual([1, 2, 2]);
  });

  it('backs off a whole term per round trip using the rejection hint', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('a');
    for (let i = 0; i < 50; i++) c.node('a').propose(enc(`stale${i}`));
    c.stabilize();
    c.expireLeases('b', 'c');
    c.elect('b');
    expect(c.node('b').currentRole).toBe('leader');
    c.heal();
    let rejections = 0;
    c.drop = (m) => {
      if (m.type === 'appendResp' && m.reject && m.from === 'a') rejections++;
      return false;
    };
    c.heartbeat('b');
    expect(terms(c.node('a'))).toEqual(terms(c.node('b')));
    expect(rejections).toBeLessThanOrEqual(2);
  });

  it('a leader commits an entry of an earlier term only by committing one of its own (raft §5.4.2)', () => {
    // Every log holds [term 1, term 1], only the first committed; a becomes leader in term 2.
    const old: Entry[] = [1, 2].map((index) => ({ kind: 'normal', index, term: 1, data: enc(`e${index}`) }));
    const storage = {
      hardState: { term: 1, vote: null, commit: 1 },
      snapshot: { index: 0, term: 0, conf: { voters: ['a', 'b', 'c'], learners: [] }, data: new Uint8Array() },
      entries: old,
    };
    const a = new RaftNode(config('a', { preVote: false }), storage);
    for (let i = 0; i < 10; i++) a.tick();
    a.step({ type: 'voteResp', from: 'b', to: 'a', term: 2, pre: false, granted: true });
    expect(a.currentRole).toBe('leader');
    expect(a.lastIndex).toBe(3); // its own empty entry
    a.ready();
    a.advance(); // a's log is on disk
    const ack = (index: number): Message => ({ type: 'appendResp', from: 'b', to: 'a', term: 2, index, reject: false, hintIndex: 0, hintTerm: 0 });
    a.step(ack(2));
    expect(a.commitIndex).toBe(1); // index 2 is on a majority, but it is from term 1
    a.step(ack(3));
    expect(a.commitIndex).toBe(3);
  });

  it('Figure 8 of the raft paper: an old-term entry on a majority is not committed, and is then overwritten', () => {
    const c = new Cluster(['s1', 's2', 's3', 's4', 's5'], { preVote: false, checkQuorum: false, maxEntriesPerAppend: 1 });
    const touches = (m: Message, id: string): boolean => m.from === id || m.to === id;
    const winElection = (id: string): void => {
      for (let i = 0; i < 100 && c.node(id).currentRole !== 'leader'; i++) {
        c.tick(id);
        c.stabilize();
      }
      expect(c.node(id).currentRole).toBe('leader');
    };
    const data = (id: string, index: number): string | undefined => {
      const e = c.storage.get(id)!.entries.find((x) => x.index === index);
      return e?.kind === 'normal' ? new TextDecoder().decode(e.data) : undefined;
    };

    // (a) s1 leads term 1 and gets X to s2 only.
    c.elect('s1');
    c.drop = (m) => m.from === 's1' && m.type === 'append' && m.to !== 's2';
    c.node('s1').propose(enc('X'));
    c.stabilize();
    // (b) s1 goes down; s5 wins term 2 with s3 and s4, appends its own entry, reaches nobody.
    c.drop = (m) => touches(m, 's1') || (m.from === 's5' && m.type === 'append');
    winElection('s5');
    // (c) s5 goes down; s1 comes back, wins term 3 and gets X onto s3 (a majority with s1, s2),
    //     but its own term-3 entry not onto s3 or s4.
    c.restart('s1');
    const s3WouldTakeIndex3 = (m: Message): boolean => m.type === 'append' && m.entries.some((e) => e.index === 3) && m.prevIndex <= c.node('s3').lastIndex;
    c.drop = (m) => touches(m, 's5') || (m.from === 's1' && m.to === 's4' && m.type === 'append') || (m.to === 's3' && s3WouldTakeIndex3(m));
    winElection('s1');
    c.stabilize();
    expect(data('s3', 2)).toBe('X');
    expect(c.node('s1').commitIndex).toBe(1); // X is on 3 of 5, but from term 1: not committed
    // (d) s1 goes down; s5 wins term 4 with s3 and s4 and overwrites X, as it may.
    c.restart('s5');
    c.drop = (m) => touches(m, 's1');
    winElection('s5');
    c.stabilize();
    c.heartbeat('s5');
    for (const id of ['s2', 's3', 's4', 's5']) {
      expect(c.node(id).termAt(2)).toBe(2);
      expect(c.appliedData(id)).not.toContain('X');
    }
  });

  it('counts the leader’s own entries only once they are persisted', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    const a = c.node('a');
    a.propose(enc('x'));
    // b and c acknowledge, but a has not handed out its Ready yet: b + c are a majority anyway,
    // so use a two-node view: only b acknowledges.
    a.step({ type: 'appendResp', from: 'b', to: 'a', term: 1, index: 2, reject: false, hintIndex: 0, hintTerm: 0 });
    expect(a.commitIndex).toBe(1);
    a.ready();
    a.advance();
    expect(a.commitIndex).toBe(2);
  });

  it('pipelines up to the inflight window, then batches what accumulated', () => {
    const c = new Cluster(['a', 'b', 'c'], { maxEntriesPerAppend: 4, maxInflight: 3 });
    c.elect('a');
    const a = c.node('a');
    for (let i = 0; i < 20; i++) a.propose(enc(`x${i}`));
    const toB = (ms: readonly Message[]): AppendMessage[] => ms.filter((m): m is AppendMessage => m.type === 'append' && m.to === 'b');
    const rd = a.ready();
    // Optimistic: three appends in flight without waiting for acks, then the window is full.
    expect(toB(rd.messages).map((m) => m.prevIndex)).toEqual([1, 2, 3]);
    a.advance();
    c.queue.push(...rd.messages);
    const sent: AppendMessage[] = [];
    c.drop = (m) => {
      if (m.type === 'append' && m.to === 'b') sent.push(m);
      return false;
    };
    c.stabilize();
    c.heartbeat('a');
    expect(c.appliedData('b')).toHaveLength(20);
    expect(Math.max(...sent.map((m) => m.entries.length))).toBe(4);
  });

  it('sends a batch of proposals in one append per follower, at consecutive indexes', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    const a = c.node('a');
    const res = a.proposeBatch(['p', 'q', 'r'].map(enc));
    expect(res).toEqual({ ok: true, index: 2, term: 1 });
    const rd = a.ready();
    const appends = rd.messages.filter((m): m is AppendMessage => m.type === 'append');
    expect(appends.map((m) => [m.to, m.entries.map((e) => e.index)])).toEqual([
      ['b', [2, 3, 4]],
      ['c', [2, 3, 4]],
    ]);
    a.advance();
    c.queue.push(...rd.messages);
    c.stabilize();
    c.heartbeat('a');
    expect(c.appliedData('c')).toEqual(['p', 'q', 'r']);
    expect(c.node('b').proposeBatch([enc('s')])).toMatchObject({ ok: false, reason: 'notLeader', leader: 'a' });
  });

  it('probes with one append at a time until the follower answers', () => {
    const a = new RaftNode(config('a', { preVote: false }), new Cluster(['a', 'b', 'c']).storage.get('a')!);
    for (let i = 0; i < 10; i++) a.tick();
    a.step({ type: 'voteResp', from: 'b', to: 'a', term: 1, pre: false, granted: true });
    expect(a.ready().messages.filter((m) => m.type === 'append' && m.to === 'b')).toHaveLength(1);
    a.advance();
    a.propose(enc('x'));
    a.propose(enc('y'));
    expect(a.ready().messages.filter((m) => m.type === 'append' && m.to === 'b')).toHaveLength(0);
    a.advance();
    a.step({ type: 'appendResp', from: 'b', to: 'a', term: 1, index: 1, reject: false, hintIndex: 0, hintTerm: 0 });
    const next = a.ready().messages.filter((m): m is AppendMessage => m.type === 'append' && m.to === 'b');
    expect(next.flatMap((m) => m.entries.map((e) => e.index))).toEqual([2, 3]);
  });

  it('limits the bytes per append, but always sends at least one entry', () => {
    const c = new Cluster(['a', 'b', 'c'], { maxBytesPerAppend: 150 });
    c.elect('a');
    c.isolate('b');
    for (let i = 0; i < 6; i++) c.node('a').propose(new Uint8Array(100));
    c.stabilize();
    const sizes: number[] = [];
    c.drop = (m) => {
      if (m.type === 'append' && m.to === 'b' && m.entries.length > 0) sizes.push(m.entries.length);
      return false;
    };
    c.heartbeat('a');
    expect(c.node('b').commitIndex).toBe(7);
    expect(sizes.every((n) => n === 1)).toBe(true);
  });

  it('survives duplicated and reordered appends without losing entries', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    for (let i = 0; i < 6; i++) c.node('a').propose(enc(`x${i}`));
    c.flush();
    const msgs = c.queue;
    c.queue = [...msgs].reverse().concat(msgs);
    c.stabilize();
    c.heartbeat('a');
    for (const id of ['a', 'b', 'c']) expect(c.appliedData(id)).toEqual(['x0', 'x1', 'x2', 'x3', 'x4', 'x5']);
  });

  it('recovers from a crash that loses what was never persisted', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.node('b').step({
      type: 'append',
      from: 'a',
      to: 'b',
      term: 1,
      prevIndex: 1,
      prevTerm: 1,
      entries: [{ kind: 'normal', index: 2, term: 1, data: enc('volatile') }],
      commit: 1,
    });
    expect(c.node('b').lastIndex).toBe(2);
    c.restart('b'); // the Ready holding the entry and its ack was never taken
    expect(c.node('b').lastIndex).toBe(1);
  });

  it('refuses to call ready() twice without advance()', () => {
    const n = new Cluster(['a']).node('a');
    for (let i = 0; i < 10; i++) n.tick();
    n.ready();
    expect(() => n.ready()).toThrow(/advance/);
  });
});
