import { describe, expect, it } from 'vitest';
import { Cluster, dec, enc } from './cluster.js';

describe('raft snapshots', () => {
  it('compacts the log up to an applied index and fills in term and configuration', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    for (let i = 0; i < 5; i++) c.node('a').propose(enc(`x${i}`));
    c.stabilize();
    const a = c.node('a');
    const s = a.compact(4, enc('image@4'));
    expect(s).toMatchObject({ index: 4, term: 1, conf: { voters: ['a', 'b', 'c'], learners: [] } });
    expect(a.firstIndex).toBe(5);
    expect(a.termAt(4)).toBe(1);
    expect(a.termAt(3)).toBeUndefined();
  });

  it('refuses to compact past what the state machine has applied', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.node('a').propose(enc('x'));
    expect(() => c.node('a').compact(2, enc('too early'))).toThrow(/cannot compact/);
  });

  it('sends a snapshot to a follower that needs compacted entries, then replicates after it', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('c');
    for (let i = 0; i < 10; i++) c.node('a').propose(enc(`x${i}`));
    c.stabilize();
    c.node('a').compact(8, enc('image@8'));
    c.heal();

    let installed: string | null = null;
    c.drop = (m) => {
      if (m.type === 'snapshot' && m.to === 'c') installed = dec(m.snapshot.data);
      return false;
    };
    c.heartbeat('a');
    expect(installed).toBe('image@8');
    const st = c.storage.get('c')!;
    expect(st.snapshot.index).toBe(8);
    expect(st.entries.map((e) => e.index)).toEqual([9, 10, 11]);
    // After the snapshot, c applies only what follows it.
    expect(c.appliedData('c')).toEqual(['x7', 'x8', 'x9']);
    expect(c.node('c').commitIndex).toBe(11);

    c.node('a').propose(enc('after'));
    c.stabilize();
    c.heartbeat('a');
    expect(c.appliedData('c')).toEqual(['x7', 'x8', 'x9', 'after']);
  });

  it('sends the snapshot again when the first one was lost', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.isolate('c');
    for (let i = 0; i < 4; i++) c.node('a').propose(enc(`x${i}`));
    c.stabilize();
    c.node('a').compact(4, enc('image@4'));
    let sent = 0;
    c.drop = (m) => m.type === 'snapshot' && ++sent === 1;
    c.heartbeat('a');
    expect(sent).toBe(1);
    expect(c.node('c').commitIndex).toBe(1);
    for (let i = 0; i < 20; i++) c.heartbeat('a');
    expect(sent).toBe(2);
    expect(c.node('c').commitIndex).toBe(5);
  });

  it('hands the snapshot out in a Ready before any entry after it is applied', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    c.node('a').propose(enc('x'));
    c.stabilize();
    c.heartbeat('a');
    const snapshot = c.node('a').compact(2, enc('image@2'));
    const b = c.node('b');
    b.step({ type: 'snapshot', from: 'a', to: 'b', term: 1, snapshot: { ...snapshot, index: 5, term: 1 } });
    const rd = b.ready();
    expect(rd.snapshot?.index).toBe(5);
    expect(rd.committedEntries).toEqual([]);
    expect(rd.messages).toMatchObject([{ type: 'appendResp', index: 5, reject: false }]);
    b.advance();
    expect(b.appliedIndex).toBe(5);
  });

  it('ignores a stale snapshot that is behind its commit index', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    for (let i = 0; i < 3; i++) c.node('a').propose(enc(`x${i}`));
    c.stabilize();
    c.heartbeat('a');
    const b = c.node('b');
    b.step({ type: 'snapshot', from: 'a', to: 'b', term: 1, snapshot: { index: 2, term: 1, conf: b.confState, data: enc('old') } });
    const rd = b.ready();
    expect(rd.snapshot).toBeNull();
    expect(rd.messages).toMatchObject([{ type: 'appendResp', index: 4 }]);
    b.advance();
  });

  it('restarts from a snapshot plus the entries after it', () => {
    const c = new Cluster(['a', 'b', 'c']);
    c.elect('a');
    for (let i = 0; i < 4; i++) c.node('a').propose(enc(`x${i}`));
    c.stabilize();
    c.heartbeat('a');
    const st = c.storage.get('b')!;
    const s = c.node('b').compact(3, enc('image@3'));
    st.snapshot = s;
    st.entries = st.entries.filter((e) => e.index > 3);
    const b = c.restart('b');
    expect(b.firstIndex).toBe(4);
    expect(b.appliedIndex).toBe(3);
    c.stabilize();
    expect(c.appliedData('b')).toEqual(['x2', 'x3']);
  });
});
