import type { ConfState, Entry, Snapshot } from './types.js';

/**
 * The node's view of its log: the latest snapshot, then every entry after it. Entries up to
 * `stableIndex` are known to be on disk; the rest are waiting to be handed out in a Ready.
 * Indexes and terms start at 1; index 0 / term 0 is the empty log before any entry.
 */
export class RaftLog {
  private snap: Snapshot;
  private entries: Entry[];
  private stable: number;
  /** Received from a leader and not yet persisted by the application. */
  private unstableSnapshot: Snapshot | null = null;
  committed: number;
  applied: number;

  constructor(snapshot: Snapshot, entries: readonly Entry[], committed: number, applied: number) {
    this.snap = snapshot;
    this.entries = [...entries];
    this.entries.forEach((e, i) => {
      if (e.index !== snapshot.index + 1 + i) throw new Error(`raft log: entry ${e.index} is not contiguous`);
    });
    this.stable = this.lastIndex();
    this.committed = Math.max(committed, snapshot.index);
    this.applied = Math.max(applied, snapshot.index);
    if (this.committed > this.lastIndex()) throw new Error(`raft log: commit ${committed} beyond last index`);
    if (this.applied > this.committed) throw new Error(`raft log: applied ${applied} beyond commit`);
  }

  firstIndex(): number {
    return this.snap.index + 1;
  }

  lastIndex(): number {
    return this.snap.index + this.entries.length;
  }

  lastTerm(): number {
    return this.term(this.lastIndex()) ?? 0;
  }

  stableIndex(): number {
    return this.stable;
  }

  /** The term of the entry at `index`, or undefined when it was compacted away or does not exist. */
  term(index: number): number | undefined {
    if (index === this.snap.index) return this.snap.term;
    return this.entries[index - this.snap.index - 1]?.term;
  }

  entryAt(index: number): Entry | undefined {
    return this.entries[index - this.snap.index - 1];
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  pendingSnapshot(): Snapshot | null {
    return this.unstableSnapshot;
  }

  /** Raft §5.4.1: a candidate's log is at least as up to date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const ours = this.lastTerm();
    return lastTerm > ours || (lastTerm === ours && lastIndex >= this.lastIndex());
  }

  /**
   * Append entries sent by a leader after (prevIndex, prevTerm). Returns the index of the last
   * new entry, or null when our log does not contain prevIndex at prevTerm.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: readonly Entry[]): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    // Only conflicting entries are replaced: a delayed, shorter append must not truncate entries
    // that a later append already added.
    const conflict = entries.findIndex((e) => !this.matchTerm(e.index, e.term));
    if (conflict !== -1) this.append(entries.slice(conflict));
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Append, truncating any existing suffix that starts at the first new index. */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    if (first.index <= this.committed) {
      throw new Error(`raft log: entry ${first.index} would overwrite committed index ${this.committed}`);
    }
    if (first.index > this.lastIndex() + 1) throw new Error(`raft log: gap before entry ${first.index}`);
    this.entries.length = first.index - this.firstIndex();
    this.stable = Math.min(this.stable, first.index - 1);
    for (const e of entries) this.entries.push(e);
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    if (index > this.lastIndex()) throw new Error(`raft log: commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Leader rule (raft §5.4.2): only an entry of the current term is committed by counting. */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  /**
   * The last index j <= index whose term is <= term. A follower rejecting an append uses it to
   * tell the leader where the logs may agree; the leader uses it to pick the next probe.
   */
  findConflictByTerm(index: number, term: number): number {
    for (let i = Math.min(index, this.lastIndex()); i >= this.snap.index; i--) {
      const t = this.term(i);
      if (t !== undefined && t <= term) return i;
    }
    return Math.min(index, this.snap.index);
  }

  /** Entries in [lo, hi), stopping early at maxCount entries or maxBytes (always at least one). */
  slice(lo: number, hi: number, maxCount: number, maxBytes: number): Entry[] {
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = Math.max(lo, this.firstIndex()); i < hi && i <= this.lastIndex(); i++) {
      const e = this.entries[i - this.firstIndex()];
      if (e === undefined) break;
      bytes += entrySize(e);
      if (out.length > 0 && (out.length >= maxCount || bytes > maxBytes)) break;
      out.push(e);
    }
    return out;
  }

  unstableEntries(): Entry[] {
    return this.entries.slice(this.stable - this.snap.index);
  }

  /** Mark entries up to index as persisted, unless they were replaced since the Ready was taken. */
  stableTo(index: number, term: number): void {
    if (this.matchTerm(index, term) && index > this.stable) this.stable = index;
  }

  stableSnapshotTo(index: number): void {
    if (this.unstableSnapshot?.index === index) this.unstableSnapshot = null;
  }

  hasNextCommitted(): boolean {
    return this.unstableSnapshot === null && this.committed > this.applied;
  }

  /** Committed entries not yet applied; none while a snapshot waits to be installed first. */
  nextCommitted(): Entry[] {
    if (!this.hasNextCommitted()) return [];
    return this.entries.slice(this.applied - this.snap.index, this.committed - this.snap.index);
  }

  appliedTo(index: number): void {
    if (index > this.committed) throw new Error(`raft log: applied ${index} beyond commit ${this.committed}`);
    if (index > this.applied) this.applied = index;
  }

  /** Replace the whole log by a snapshot from the leader. */
  restore(s: Snapshot): void {
    this.snap = s;
    this.entries = [];
    this.stable = s.index;
    this.committed = s.index;
    this.unstableSnapshot = s;
  }

  /**
   * Drop entries up to `index`, which the application has captured in `data`. Returns the
   * snapshot the application must persist (term and configuration are filled in from the log);
   * at or below the current snapshot there is nothing to drop and that one is returned.
   */
  compact(index: number, data: Uint8Array): Snapshot {
    if (index <= this.snap.index) return this.snap;
    if (index > this.applied || index > this.stable) {
      throw new Error(`raft log: cannot compact to ${index}: applied ${this.applied}, stable ${this.stable}`);
    }
    const term = this.term(index);
    if (term === undefined) throw new Error(`raft log: no entry at ${index}`);
    const conf = this.confAt(index).conf;
    this.entries = this.entries.slice(index - this.snap.index);
    this.snap = { index, term, conf, data };
    return this.snap;
  }

  /** The configuration in force at `index`: that of the latest configuration entry up to it. */
  confAt(index: number): { index: number; conf: ConfState } {
    for (let i = Math.min(index, this.lastIndex()); i > this.snap.index; i--) {
      const e = this.entries[i - this.firstIndex()];
      if (e?.kind === 'conf') return { index: i, conf: e.conf };
    }
    return { index: this.snap.index, conf: this.snap.conf };
  }
}

/** Conf entries are small; counting them as a fixed size keeps the batching limit simple. */
export function entrySize(e: Entry): number {
  return e.kind === 'normal' ? e.data.byteLength + 16 : 64;
}
