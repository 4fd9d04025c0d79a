import { quorumValue } from './quorum.js';
import type { NodeId } from './types.js';

/** A read waiting for the leader to confirm it is still the leader. */
export interface PendingRead {
  readonly ctx: string;
  /** The node that asked: the leader itself or a follower that forwarded the read. */
  readonly from: NodeId;
  /** Commit index when the read arrived; the read is served once this is applied. */
  readonly index: number;
  readonly seq: number;
}

/**
 * ReadIndex bookkeeping on the leader (raft thesis §6.4). Every read gets a sequence number;
 * heartbeats carry the highest one registered when they were sent. A heartbeat response proves
 * that the follower had not moved to a newer term after the reads up to that number arrived,
 * so once a majority has answered for seq s every read up to s may be served.
 */
export class ReadIndexTracker {
  private seq = 0;
  private pending: PendingRead[] = [];
  private acked = new Map<NodeId, number>();
  /** Reads that arrived before the leader committed an entry of its own term. */
  private deferred: { ctx: string; from: NodeId }[] = [];

  lastSeq(): number {
    return this.seq;
  }

  register(ctx: string, from: NodeId, index: number): void {
    this.pending.push({ ctx, from, index, seq: ++this.seq });
  }

  defer(ctx: string, from: NodeId): void {
    this.deferred.push({ ctx, from });
  }

  takeDeferred(): { ctx: string; from: NodeId }[] {
    const out = this.deferred;
    this.deferred = [];
    return out;
  }

  ack(from: NodeId, seq: number): void {
    if (seq > (this.acked.get(from) ?? 0)) this.acked.set(from, seq);
  }

  /** Reads confirmed by a majority of voters; the leader's own vote is implicit. */
  takeConfirmed(self: NodeId, voters: readonly NodeId[]): PendingRead[] {
    if (this.pending.length === 0) return [];
    const confirmed = quorumValue(voters, (id) => (id === self ? this.seq : (this.acked.get(id) ?? 0)));
    const n = this.pending.findIndex((r) => r.seq > confirmed);
    return this.pending.splice(0, n === -1 ? this.pending.length : n);
  }

  /** Leadership lost or regained: nothing confirmed under the old term may be served. */
  reset(): void {
    this.pending = [];
    this.deferred = [];
    this.acked.clear();
  }
}
