// Values that cross the boundary of the raft core. The core is a pure state machine: it never
// touches a disk, a socket or a clock. The application feeds it inputs (RaftNode.step, tick,
// propose, ...) and drains its outputs with ready()/advance().
//
// Durability contract, for every Ready returned by RaftNode.ready():
//   1. Persist `snapshot` (if any; it replaces the whole persisted log), then `entries` (an entry
//      at index i replaces any persisted entry at index >= i), then `hardState` — and fsync.
//   2. Only then send `messages`: a vote granted or an append acknowledged in them is a promise
//      that the vote and the entries are on stable storage.
//   3. Apply `snapshot` and then `committedEntries` to the state machine; serve `readStates`.
//   4. Call advance().
// A node restarted from what was persisted must never vote twice in a term, which holds only
// because `vote` is part of the persisted hard state and is fsynced before the vote response.

export type NodeId = string;

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/** Voting and non-voting members of a group. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** One membership change at a time (raft thesis §4.1); promoting a learner is an addVoter. */
export interface ConfChange {
  readonly type: 'addVoter' | 'addLearner' | 'removeNode';
  readonly node: NodeId;
}

export interface NormalEntry {
  readonly kind: 'normal';
  readonly index: number;
  readonly term: number;
  /** Opaque to the core; empty for the entry a new leader appends to commit its term. */
  readonly data: Uint8Array;
}

export interface ConfEntry {
  readonly kind: 'conf';
  readonly index: number;
  readonly term: number;
  readonly change: ConfChange;
  /** The configuration in force from this entry on; it takes effect as soon as it is appended. */
  readonly conf: ConfState;
}

export type Entry = NormalEntry | ConfEntry;

/** Must be fsynced before any message of the same Ready is sent. */
export interface HardState {
  readonly term: number;
  readonly vote: NodeId | null;
  readonly commit: number;
}

/** Volatile; reported so the application can route clients to the leader. */
export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

/** State machine image up to and including `index`. */
export interface Snapshot {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
  /**
   * Opaque, and carried whole in a snapshot message. For a large volume make it a small
   * handle (say, a snapshot file id) that the transport streams, rather than the image itself.
   */
  readonly data: Uint8Array;
}

/** What a node restarts from: exactly what the application persisted, nothing more. */
export interface PersistedState {
  readonly hardState: HardState;
  /** A brand-new group starts from index 0, term 0 and the initial configuration. */
  readonly snapshot: Snapshot;
  /** Entries after snapshot.index, contiguous. */
  readonly entries: readonly Entry[];
  /** Highest index the state machine already reflects; defaults to snapshot.index. */
  readonly applied?: number;
}

/** A linearizable read may be served once the state machine has applied `index`. */
export interface ReadState {
  readonly ctx: string;
  readonly index: number;
}

export interface Ready {
  /** Present only when leader or role changed since the previous Ready. */
  readonly softState: SoftState | null;
  /** Present only when term, vote or commit changed since the previous Ready. */
  readonly hardState: HardState | null;
  /** A snapshot received from the leader, to persist and install. */
  readonly snapshot: Snapshot | null;
  /** Entries to persist. */
  readonly entries: readonly Entry[];
  /** Entries to apply, in order. */
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
}

interface Envelope {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** Vote request. `pre` asks "would you vote for me?" without anybody changing term. */
export interface VoteMessage extends Envelope {
  readonly type: 'vote';
  readonly pre: boolean;
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Campaign started by a leader transfer: voters must not ignore it because of a live lease. */
  readonly transfer: boolean;
}

export interface VoteResponse extends Envelope {
  readonly type: 'voteResp';
  readonly pre: boolean;
  readonly granted: boolean;
}

export interface AppendMessage extends Envelope {
  readonly type: 'append';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * Accepted: `index` is the last index known to match the leader.
 * Rejected: `index` is the rejected prevIndex and (hintIndex, hintTerm) the follower's best
 * guess of where the logs may agree, so the leader can skip a whole term per round trip.
 */
export interface AppendResponse extends Envelope {
  readonly type: 'appendResp';
  readonly index: number;
  readonly reject: boolean;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

export interface HeartbeatMessage extends Envelope {
  readonly type: 'heartbeat';
  readonly commit: number;
  /** Highest read request the leader had registered when it sent this heartbeat. */
  readonly readSeq: number;
}

export interface HeartbeatResponse extends Envelope {
  readonly type: 'heartbeatResp';
  readonly readSeq: number;
}

export interface SnapshotMessage extends Envelope {
  readonly type: 'snapshot';
  readonly snapshot: Snapshot;
}

/** Leader transfer: the target campaigns at once, skipping pre-vote. */
export interface TimeoutNowMessage extends Envelope {
  readonly type: 'timeoutNow';
}

/** A follower forwarding a linearizable read to its leader. */
export interface ReadIndexMessage extends Envelope {
  readonly type: 'readIndex';
  readonly ctx: string;
}

export interface ReadIndexResponse extends Envelope {
  readonly type: 'readIndexResp';
  readonly ctx: string;
  readonly index: number;
}

export type Message =
  | VoteMessage
  | VoteResponse
  | AppendMessage
  | AppendResponse
  | HeartbeatMessage
  | HeartbeatResponse
  | SnapshotMessage
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponse;

export interface RaftConfig {
  readonly id: NodeId;
  /** Followers wait a random number of ticks in [electionTicks, 2*electionTicks) before campaigning. */
  readonly electionTicks: number;
  /** Must be well below electionTicks. */
  readonly heartbeatTicks: number;
  readonly maxEntriesPerAppend: number;
  readonly maxBytesPerAppend: number;
  /** Append messages in flight to one follower before the leader waits for acknowledgements. */
  readonly maxInflight: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /**
   * Leader lease for reads (raft thesis §6.4.1), in ticks; 0 or absent: every read waits for a
   * heartbeat round (ReadIndex). With checkQuorum a follower that heard from its leader ignores
   * other candidates for electionTicks ticks, so once a majority answered a heartbeat sent at
   * tick t, no other leader can exist before t + electionTicks on their clocks. The leader then
   * answers reads from its commit index until t + leaseTicks on its own clock. Safe only while
   * every node's ticks follow real time at about the same rate and never run early or late by
   * more than the margin electionTicks - leaseTicks leaves (the replica ticks from a monotonic
   * clock and uses half the election timeout). Requires checkQuorum.
   */
  readonly leaseTicks?: number;
  /** Integer in [0, n). Injected so that a simulation is reproducible from its seed. */
  readonly random: (n: number) => number;
}

export type RejectReason = 'notLeader' | 'transferring' | 'confChangePending' | 'termNotCommitted' | 'invalidConfChange';

export type ProposeResult =
  { readonly ok: true; readonly index: number; readonly term: number } | { readonly ok: false; readonly reason: RejectReason; readonly leader: NodeId | null };
