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
  /** Heartbeat rounds sent for the lease and the tick each left at, oldest first. */
  private beats: { seq: number; tick: number }[] = [];
  /** Reads that arrived before the leader committed an entry of its own term. */
  private deferred: { ctx: string; from: NodeId }[] = [];

  lastSeq(): number {
    return this.seq;
  }

  register(ctx: string, from: NodeId, index: number): void {
    this.pending.push({ ctx, from, index, seq: ++this.seq });
  }

  /**
   * A heartbeat round for the lease leaves at `tick`: its number goes out with it. Rounds sent
   * before `oldestUseful` are forgotten: confirmed now, they would give a lease already over (and
   * with no voter to answer, a single-voter group, they would pile up).
   */
  beat(tick: number, oldestUseful: number): number {
    while (this.beats.length > 0 && this.beats[0]!.tick < oldestUseful) this.beats.shift();
    this.beats.push({ seq: ++this.seq, tick });
    return this.seq;
  }

  /**
   * The tick of the latest heartbeat round a majority of voters has answered (null if none
   * since the last call): no other leader can have been elected before it.
   */
  takeConfirmedBeat(self: NodeId, voters: readonly NodeId[]): number | null {
    const confirmed = this.confirmedSeq(self, voters);
    let tick: number | null = null;
    while (this.beats.length > 0 && this.beats[0]!.seq <= confirmed) tick = this.beats.shift()!.tick;
    return tick;
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
    const confirmed = this.confirmedSeq(self, voters);
    const n = this.pending.findIndex((r) => r.seq > confirmed);
    return this.pending.splice(0, n === -1 ? this.pending.length : n);
  }

  private confirmedSeq(self: NodeId, voters: readonly NodeId[]): number {
    return quorumValue(voters, (id) => (id === self ? this.seq : (this.acked.get(id) ?? 0)));
  }

  /** Leadership lost or regained: nothing confirmed under the old term may be served. */
  reset(): void {
    this.pending = [];
    this.beats = [];
    this.deferred = [];
    this.acked.clear();
  }
}
