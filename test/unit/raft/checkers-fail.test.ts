// The checks must be able to fail: feed them injected violations and broken storage.
import { describe, expect, it } from 'vitest';
import { checkHistory, type Operation } from './linearizability.js';
import { SafetyChecker, SafetyViolation, type LogView } from './safety.js';
import { Simulation } from './sim.js';

const view = (id: string, term: number, commit: number, terms: number[], snapshotIndex = 0): LogView => ({
  id,
  term,
  commit,
  snapshotIndex,
  termAt: (i) => (i === 0 ? 0 : terms[i - 1]),
});

describe('safety checker flags injected violations', () => {
  it('two leaders in one term', () => {
    const s = new SafetyChecker();
    s.leader('a', 3);
    s.leader('a', 3);
    expect(() => s.leader('b', 3)).toThrow(SafetyViolation);
  });

  it('a leader rewriting its own log', () => {
    const s = new SafetyChecker();
    s.leaderAppendOnly({ ...view('a', 2, 0, [1, 2, 2]), lastIndex: 3 });
    s.leaderAppendOnly({ ...view('a', 2, 0, [1, 2, 2, 2]), lastIndex: 4 });
    expect(() => s.leaderAppendOnly({ ...view('a', 2, 0, [1, 2, 2, 3]), lastIndex: 4 })).toThrow(/rewrote entry 4/);
  });

  it('two votes by one node in one term', () => {
    const s = new SafetyChecker();
    s.vote('b', 3, 'a');
    expect(() => s.vote('b', 3, 'c')).toThrow(/voted for a and c/);
  });

  it('same index and term with different prefixes', () => {
    const s = new SafetyChecker();
    s.persisted('a', 5, 2, 111);
    expect(() => s.persisted('b', 5, 2, 222)).toThrow(/log matching/);
  });

  it('two nodes committing different entries at one index', () => {
    const s = new SafetyChecker();
    s.commit(view('a', 2, 3, [1, 1, 2]));
    expect(() => s.commit(view('b', 3, 3, [1, 1, 3]))).toThrow(/committed term/);
  });

  it('a leader missing an entry committed in an earlier term', () => {
    const s = new SafetyChecker();
    s.commit(view('a', 2, 3, [1, 2, 2]));
    expect(() => s.leaderComplete(view('b', 3, 1, [1, 2]))).toThrow(/lacks committed entry 3/);
  });

  it('a stale leader of an older term is not required to have newer commits', () => {
    const s = new SafetyChecker();
    s.commit(view('a', 5, 3, [1, 5, 5]));
    expect(() => s.leaderComplete(view('b', 4, 1, [1]))).not.toThrow();
  });

  it('two nodes reaching different states at one index', () => {
    const s = new SafetyChecker();
    s.applied('a', 4, 42);
    expect(() => s.applied('b', 4, 43)).toThrow(/different entry/);
  });

  it('a committed entry held by fewer than a quorum of disks', () => {
    const s = new SafetyChecker();
    s.commit(view('a', 1, 2, [1, 1]));
    const disk = (id: string, terms: number[]) => ({ id, snapshotIndex: 0, termAt: (i: number) => terms[i - 1] });
    expect(() => s.durable([disk('a', [1, 1]), disk('b', [1, 1]), disk('c', [1])], 2)).not.toThrow();
    expect(() => s.durable([disk('a', [1, 1]), disk('b', [1]), disk('c', [1])], 2)).toThrow(/fewer than a quorum/);
  });
});

describe('the simulator catches broken storage', () => {
  /** The first seed in 1..limit whose run fails, with the failure. */
  const firstFailure = (fault: 'forgetVoteOnRestart' | 'fsyncLies' | 'leaderClockStalls', limit: number): { seed: number; error: string } | null => {
    for (let seed = 1; seed <= limit; seed++) {
      try {
        const r = new Simulation({ seed, nodes: 3, steps: 4000, fault }).run();
        if (!checkHistory(r.history).ok) return { seed, error: 'not linearizable' };
      } catch (e) {
        return { seed, error: (e as Error).message };
      }
    }
    return null;
  };

  it('a node that forgets its vote on restart (term and vote kept in memory only) is caught voting twice', () => {
    const found = firstFailure('forgetVoteOnRestart', 300);
    expect(found?.error).toMatch(/voted for .* and .* in term|two leaders/);
  });

  it('acknowledging writes that were not fsynced is caught losing committed entries', () => {
    const found = firstFailure('fsyncLies', 50);
    expect(found).not.toBeNull();
  });

  it("a leader whose clock stops (the lease's clock assumption broken) is caught serving stale reads", () => {
    const found = firstFailure('leaderClockStalls', 300);
    expect(found?.error).toBe('not linearizable');
  });
});

describe('linearizability checker flags a broken simulator history', () => {
  /** In a simulator history: a get g, and puts p0 then p1 on its key both finished before g. */
  const staleCandidate = (history: Operation[]): { g: Operation; p0: Operation } | undefined => {
    const puts = history.filter((op) => op.kind === 'put' && op.ret !== Infinity);
    return history
      .filter((g) => g.kind === 'get' && g.ret !== Infinity)
      .flatMap((g) =>
        puts
          .filter((p1) => p1.key === g.key && p1.ret < g.call)
          .flatMap((p1) => puts.filter((p0) => p0.key === g.key && p0.ret < p1.call).map((p0) => ({ g, p0 }))),
      )[0];
  };

  it('a history made stale on purpose is rejected', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const r = new Simulation({ seed, nodes: 3, steps: 4000 }).run();
      const history: Operation[] = r.history.map((op) => ({ ...op }));
      const stale = staleCandidate(history);
      if (stale === undefined) continue;
      expect(checkHistory(history).ok).toBe(true);
      stale.g.output = stale.p0.input; // the get now returns a value overwritten before it began
      expect(checkHistory(history).ok).toBe(false);
      return;
    }
    expect.fail('no simulator history with a get after two sequential puts');
  });
});
