/**
 * How a leader replicates to one follower.
 * - probe: we do not know where the logs agree; send one append per round trip and back off.
 * - replicate: the follower is in sync; advance nextIndex optimistically and pipeline appends,
 *   bounded by the inflight window.
 * - snapshot: the entries it needs are compacted; wait for it to install the snapshot we sent.
 */
export type ProgressState = 'probe' | 'replicate' | 'snapshot';

/** Last indexes of the appends in flight, oldest first. */
export class Inflights {
  private readonly lasts: number[] = [];

  constructor(private readonly max: number) {}

  add(lastIndex: number): void {
    this.lasts.push(lastIndex);
  }

  /** The follower acknowledged everything up to `index`. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.lasts.length && (this.lasts[n] ?? 0) <= index) n++;
    this.lasts.splice(0, n);
  }

  /** Make room for one more append when acknowledgements may have been lost. */
  freeFirst(): void {
    this.lasts.shift();
  }

  full(): boolean {
    return this.lasts.length >= this.max;
  }

  reset(): void {
    this.lasts.length = 0;
  }
}

export class Progress {
  /** Highest index known to be replicated on the follower. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In probe state: an append is outstanding, wait for its answer (or a heartbeat response). */
  probeSent = false;
  /** In snapshot state: the index of the snapshot sent. */
  pendingSnapshot = 0;
  /** Ticks spent in snapshot state; a lost snapshot message must not stall the follower forever. */
  snapshotTicks = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;

  constructor(next: number, maxInflight: number) {
    this.next = next;
    this.inflights = new Inflights(maxInflight);
  }

  becomeProbe(): void {
    this.next = this.state === 'snapshot' ? Math.max(this.match + 1, this.pendingSnapshot + 1) : this.match + 1;
    this.enter('probe');
  }

  becomeReplicate(): void {
    this.next = this.match + 1;
    this.enter('replicate');
  }

  becomeSnapshot(index: number): void {
    this.enter('snapshot');
    this.pendingSnapshot = index;
  }

  private enter(state: ProgressState): void {
    this.state = state;
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotTicks = 0;
    this.inflights.reset();
  }

  /** The follower acknowledged `index`. Returns false for a stale (duplicate or reordered) ack. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * The follower rejected an append at prevIndex `rejected`; `hint` is the highest index where
   * the logs may agree. Returns false when the rejection is stale.
   */
  maybeDecrTo(rejected: number, hint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
