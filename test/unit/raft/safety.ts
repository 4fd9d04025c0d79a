// Raft's safety properties (Figure 3 of the paper) as an observer that the simulator feeds after
// every step. Each check is incremental so that it can run at every step of thousands of seeds.
import type { NodeId } from '../../../agent/sbs/raft/index.js';

export class SafetyViolation extends Error {
  override name = 'SafetyViolation';
}

/** The part of a node's log the checker looks at. */
export interface LogView {
  readonly id: NodeId;
  readonly term: number;
  readonly commit: number;
  /** Index up to which the log was replaced by a snapshot. */
  readonly snapshotIndex: number;
  termAt(index: number): number | undefined;
}

export class SafetyChecker {
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly voteOf = new Map<string, NodeId>();
  /** Last entry seen in the log of each leader, by term and id. */
  private readonly leaderLast = new Map<string, { index: number; term: number }>();
  /** Chain digest of the log prefix ending at (index, term), from whichever disk held it first. */
  private readonly prefixOf = new Map<string, number>();
  /** Term of the committed entry at each index (where some node could still tell). */
  private readonly committedTerm = new Map<number, number>();
  /** term -> highest index known committed by the time some node was in that term. */
  private readonly committedBy = new Map<number, number>();
  private maxCommitted = 0;
  /** State digest after applying each index. */
  private readonly appliedDigest = new Map<number, number>();

  get highestCommitted(): number {
    return this.maxCommitted;
  }

  /** Election safety: at most one leader per term. */
  leader(id: NodeId, term: number): void {
    const other = this.leaderOfTerm.get(term);
    if (other === undefined) this.leaderOfTerm.set(term, id);
    else if (other !== id) throw new SafetyViolation(`two leaders in term ${term}: ${other} and ${id}`);
  }

  /** Leader append-only: while a node leads a term its log only grows. */
  leaderAppendOnly(n: LogView & { lastIndex: number }): void {
    const key = `${n.term}/${n.id}`;
    const prev = this.leaderLast.get(key);
    if (prev !== undefined && prev.index > n.snapshotIndex && (n.lastIndex < prev.index || n.termAt(prev.index) !== prev.term)) {
      throw new SafetyViolation(`leader ${n.id} of term ${n.term} dropped or rewrote entry ${prev.index}`);
    }
    const t = n.termAt(n.lastIndex);
    if (t !== undefined) this.leaderLast.set(key, { index: n.lastIndex, term: t });
  }

  /** A node grants at most one vote per term, restarts included. */
  vote(voter: NodeId, term: number, candidate: NodeId): void {
    const key = `${term}/${voter}`;
    const prev = this.voteOf.get(key);
    if (prev === undefined) this.voteOf.set(key, candidate);
    else if (prev !== candidate) throw new SafetyViolation(`${voter} voted for ${prev} and ${candidate} in term ${term}`);
  }

  /** Log matching: entries with the same index and term have identical prefixes. */
  persisted(node: NodeId, index: number, term: number, prefixDigest: number): void {
    const key = `${index}/${term}`;
    const prev = this.prefixOf.get(key);
    if (prev === undefined) this.prefixOf.set(key, prefixDigest);
    else if (prev !== prefixDigest) throw new SafetyViolation(`log matching: ${node} holds a different prefix ending at ${key}`);
  }

  /** Nodes never disagree on committed entries; also records what is committed. */
  commit(n: LogView): void {
    const known = this.committedTerm.get(Math.min(n.commit, this.maxCommitted));
    const ours = n.termAt(Math.min(n.commit, this.maxCommitted));
    if (known !== undefined && ours !== undefined && known !== ours) {
      throw new SafetyViolation(`${n.id} committed term ${ours} at ${Math.min(n.commit, this.maxCommitted)}, others term ${known}`);
    }
    for (let i = this.maxCommitted + 1; i <= n.commit; i++) {
      const t = n.termAt(i);
      if (t !== undefined) this.committedTerm.set(i, t);
    }
    if (n.commit > this.maxCommitted) this.maxCommitted = n.commit;
    if (n.commit > (this.committedBy.get(n.term) ?? 0)) this.committedBy.set(n.term, n.commit);
  }

  /** Leader completeness: a leader of term t holds every entry committed in a term before t. */
  leaderComplete(n: LogView): void {
    let mustHave = 0;
    for (const [term, index] of this.committedBy) if (term < n.term && index > mustHave) mustHave = index;
    if (mustHave <= n.snapshotIndex) return;
    const expected = this.committedTerm.get(mustHave);
    const actual = n.termAt(mustHave);
    if (expected !== undefined && actual !== expected) {
      throw new SafetyViolation(`leader ${n.id} of term ${n.term} lacks committed entry ${mustHave} (term ${expected}, has ${actual})`);
    }
  }

  /** State machine safety: every node reaches the same state after applying the same index. */
  applied(node: NodeId, index: number, stateDigest: number): void {
    const prev = this.appliedDigest.get(index);
    if (prev === undefined) this.appliedDigest.set(index, stateDigest);
    else if (prev !== stateDigest) throw new SafetyViolation(`${node} applied a different entry at ${index}`);
  }

  /**
   * Committed entries are never lost: at every moment a majority of the disks still holds the
   * highest committed entry (in their log or under their snapshot).
   */
  durable(disks: readonly { id: NodeId; snapshotIndex: number; termAt(i: number): number | undefined }[], quorum: number): void {
    const index = this.maxCommitted;
    const term = this.committedTerm.get(index);
    if (index === 0 || term === undefined) return;
    const holders = disks.filter((d) => d.snapshotIndex >= index || d.termAt(index) === term).length;
    if (holders < quorum) {
      throw new SafetyViolation(`committed entry ${index} (term ${term}) is on ${holders} disks, fewer than a quorum of ${quorum}`);
    }
  }
}
