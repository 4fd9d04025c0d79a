import { describe, expect, it } from 'vitest';
import { ReplicaWaiters, type Waiter } from '../../../agent/sbs/volume/waiters.js';

/** A waiter that records how it ended. */
function waiter(deadline = Infinity): Waiter & { outcome: () => string } {
  let outcome = 'waiting';
  return {
    deadline,
    resolve: () => (outcome = 'resolved'),
    reject: (e) => (outcome = `rejected: ${e.message}`),
    outcome: () => outcome,
  };
}

describe('replica waiters', () => {
  it('resolves a proposal when its entry is applied, and rejects it when another term took the index', () => {
    const w = new ReplicaWaiters();
    const [a, b] = [waiter(), waiter()];
    w.proposed(5, 2, a);
    w.proposed(6, 2, b);
    w.entryApplied(5, 2, () => new Error('lost'));
    w.entryApplied(6, 3, () => new Error('lost'));
    w.entryApplied(7, 3, () => new Error('nobody waits here'));
    expect([a.outcome(), b.outcome()]).toEqual(['resolved', 'rejected: lost']);
  });

  it('sends queued reads with a round, and serves them once the answered index is applied', () => {
    const w = new ReplicaWaiters();
    const [r1, r2, late] = [waiter(), waiter(), waiter()];
    w.queueRead(r1);
    w.queueRead(r2);
    expect(w.readsQueued).toBe(true);
    w.roundSent('c1', 0);
    expect([w.readsQueued, w.roundsUnderWay]).toEqual([false, 1]);
    w.queueRead(late); // arrives mid-round: waits for the next one
    w.roundAnswered('c1', 10);
    expect(w.roundsUnderWay).toBe(0);
    w.released(9);
    expect(r1.outcome()).toBe('waiting');
    w.released(10);
    expect([r1.outcome(), r2.outcome(), late.outcome()]).toEqual(['resolved', 'resolved', 'waiting']);
    w.afterApplied(12, late);
    w.released(12);
    expect(late.outcome()).toBe('resolved');
  });

  it('queues the reads of a lost round again, first', () => {
    const w = new ReplicaWaiters();
    const [old, fresh] = [waiter(), waiter()];
    w.queueRead(old);
    w.roundSent('c1', 1000);
    w.queueRead(fresh);
    w.requeueLostRounds(1100, 200);
    expect(w.roundsUnderWay).toBe(1);
    w.requeueLostRounds(1300, 200);
    expect(w.roundsUnderWay).toBe(0);
    w.roundSent('c2', 1300);
    w.roundAnswered('c1', 5); // the lost round's answer, late: nobody waits on it any more
    w.released(5);
    expect([old.outcome(), fresh.outcome()]).toEqual(['waiting', 'waiting']);
    w.roundAnswered('c2', 6);
    w.released(6);
    expect([old.outcome(), fresh.outcome()]).toEqual(['resolved', 'resolved']);
  });

  it('expires every kind of waiter at its deadline, and only then', () => {
    const w = new ReplicaWaiters();
    const proposal = waiter(100);
    const queued = waiter(100);
    const inRound = waiter(100);
    const applying = waiter(100);
    const patient = waiter(500);
    w.proposed(1, 1, proposal);
    w.queueRead(inRound);
    w.roundSent('c1', 0);
    w.queueRead(queued);
    w.afterApplied(9, applying);
    w.afterApplied(9, patient);
    w.expire(99, () => new Error('no quorum'));
    expect([proposal, queued, inRound, applying].map((x) => x.outcome())).toEqual(['waiting', 'waiting', 'waiting', 'waiting']);
    w.expire(100, () => new Error('no quorum'));
    expect([proposal, queued, inRound, applying].map((x) => x.outcome())).toEqual(Array(4).fill('rejected: no quorum'));
    w.released(9);
    expect(patient.outcome()).toBe('resolved');
  });

  it('fails everything at once when the replica closes', () => {
    const w = new ReplicaWaiters();
    const all = [waiter(), waiter(), waiter(), waiter()];
    w.proposed(1, 1, all[0]!);
    w.queueRead(all[1]!);
    w.roundSent('c1', 0);
    w.queueRead(all[2]!);
    w.afterApplied(3, all[3]!);
    w.failAll(new Error('closed'));
    expect(all.map((x) => x.outcome())).toEqual(Array(4).fill('rejected: closed'));
    w.released(100);
    w.entryApplied(1, 1, () => new Error('x'));
    expect(all.map((x) => x.outcome())).toEqual(Array(4).fill('rejected: closed'));
  });
});
