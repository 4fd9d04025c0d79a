// What a replica's callers wait on, in one place with one deadline rule (as raft's
// ReadIndexTracker keeps the core's side of reads): proposals until their entry is applied, reads
// until a ReadIndex round answers and the index it names is applied. No I/O, no timers: the
// replica's driver tells it what happened and when.

export interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  /** Date.now() after which expire() rejects it. */
  readonly deadline: number;
}

export class ReplicaWaiters {
  /** By log index: the term the proposal went in with tells whether the entry applied is it. */
  private readonly proposals = new Map<number, { term: number; waiter: Waiter }>();
  /** Reads waiting for the next ReadIndex round. */
  private queued: Waiter[] = [];
  /** ReadIndex rounds under way, by ctx: a few overlap so that reads arriving mid-round need not wait for it. */
  private readonly rounds = new Map<string, { waiters: Waiter[]; sent: number }>();
  /** Reads (and lease reads) waiting for an index to be applied. */
  private applyWaits: { index: number; waiters: Waiter[] }[] = [];

  /** A proposal in the log at `index` in `term`: settled when that index is applied. */
  proposed(index: number, term: number, w: Waiter): void {
    this.proposals.set(index, { term, waiter: w });
  }

  /**
   * The entry at `index` of `term` was applied: a proposal there resolves if it is that entry, and
   * is rejected with `lost()` if another leader's entry took its index (it can never commit).
   */
  entryApplied(index: number, term: number, lost: () => Error): void {
    const p = this.proposals.get(index);
    if (!p) return;
    this.proposals.delete(index);
    if (p.term === term) p.waiter.resolve();
    else p.waiter.reject(lost());
  }

  /** A read for the next ReadIndex round. */
  queueRead(w: Waiter): void {
    this.queued.push(w);
  }

  /** A read that may go once `index` is applied. */
  afterApplied(index: number, w: Waiter): void {
    this.applyWaits.push({ index, waiters: [w] });
  }

  get readsQueued(): boolean {
    return this.queued.length > 0;
  }

  get roundsUnderWay(): number {
    return this.rounds.size;
  }

  /** The queued reads go with the round `ctx` just sent. */
  roundSent(ctx: string, now: number): void {
    this.rounds.set(ctx, { waiters: this.queued, sent: now });
    this.queued = [];
  }

  /** Round `ctx` answered with `index`: its reads wait for that index to be applied. */
  roundAnswered(ctx: string, index: number): void {
    const round = this.rounds.get(ctx);
    if (!round) return;
    this.rounds.delete(ctx);
    this.applyWaits.push({ index, waiters: round.waiters });
  }

  /** Rounds sent before `now - lostAfterMs` were lost (leader change, dropped message): their reads queue again. */
  requeueLostRounds(now: number, lostAfterMs: number): void {
    for (const [ctx, round] of this.rounds) {
      if (now - round.sent <= lostAfterMs) continue;
      this.queued.unshift(...round.waiters);
      this.rounds.delete(ctx);
    }
  }

  /** Everything waiting for an index up to `applied` goes. */
  released(applied: number): void {
    const ready = this.applyWaits.filter((a) => a.index <= applied);
    this.applyWaits = this.applyWaits.filter((a) => a.index > applied);
    for (const a of ready) for (const w of a.waiters) w.resolve();
  }

  /** Rejects, with `err()`, every waiter whose deadline passed, wherever it waits. */
  expire(now: number, err: () => Error): void {
    const timedOut = (w: Waiter): boolean => {
      if (w.deadline > now) return false;
      w.reject(err());
      return true;
    };
    this.queued = this.queued.filter((w) => !timedOut(w));
    for (const [index, p] of this.proposals) if (timedOut(p.waiter)) this.proposals.delete(index);
    for (const a of this.applyWaits) a.waiters = a.waiters.filter((w) => !timedOut(w));
    for (const round of this.rounds.values()) round.waiters = round.waiters.filter((w) => !timedOut(w));
  }

  /** Rejects every waiter with `err` (the replica closed or failed). */
  failAll(err: Error): void {
    for (const p of this.proposals.values()) p.waiter.reject(err);
    this.proposals.clear();
    for (const w of this.queued) w.reject(err);
    this.queued = [];
    for (const round of this.rounds.values()) for (const w of round.waiters) w.reject(err);
    this.rounds.clear();
    for (const a of this.applyWaits) for (const w of a.waiters) w.reject(err);
    this.applyWaits = [];
  }
}
