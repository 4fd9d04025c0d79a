import { applyConfChange, isVoter, members } from './conf.js';
import { RaftLog } from './log.js';
import { Progress } from './progress.js';
import { quorumValue, voteResult } from './quorum.js';
import { ReadIndexTracker } from './readindex.js';
import type {
  AppendMessage,
  AppendResponse,
  ConfChange,
  ConfState,
  Entry,
  HardState,
  HeartbeatMessage,
  HeartbeatResponse,
  Message,
  NodeId,
  PersistedState,
  ProposeResult,
  RaftConfig,
  ReadState,
  Ready,
  Role,
  Snapshot,
  SnapshotMessage,
  SoftState,
  VoteMessage,
  VoteResponse,
} from './types.js';

/** A message as built inside the node: `from` is always us and `term` defaults to ours. */
type Unsent<M> = M extends Message ? Omit<M, 'from' | 'term'> & { term?: number } : never;
type Outgoing = Unsent<Message>;

/** What a Ready handed out, so advance() can acknowledge exactly that and nothing newer. */
interface ReadyMark {
  lastEntry: { index: number; term: number } | null;
  snapshotIndex: number | null;
  appliedTo: number;
}

const EMPTY = new Uint8Array(0);

/**
 * One member of a raft group as a pure state machine (the shape of etcd-io/raft's RawNode).
 * Inputs: step, tick, propose, proposeConfChange, readIndex, transferLeader, compact.
 * Outputs: ready() / advance(); see types.ts for the durability contract.
 */
export class RaftNode {
  readonly id: NodeId;
  private readonly cfg: RaftConfig;
  private readonly log: RaftLog;

  private term: number;
  private vote: NodeId | null;
  private lead: NodeId | null = null;
  private role: Role = 'follower';
  private conf: ConfState;
  /** Index of the entry (or snapshot) that defines `conf`. */
  private confIndex: number;

  /** Leader only: replication state of every member, this node included. */
  private progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private leadTransferee: NodeId | null = null;
  private readonly reads = new ReadIndexTracker();

  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** Followers not yet told the current commit index (bcastCommit). */
  private readonly commitUnsent = new Set<NodeId>();
  private randomizedElectionTimeout = 0;
  /** Ticks since this node started: the clock of the read lease. */
  private ticks = 0;
  /** Leader: the tick of the latest heartbeat a majority answered in this term (the lease's start). */
  private leaseFrom = -Infinity;
  /** Leader: a transfer began this term, so a follower may campaign at any moment (no lease). */
  private transferred = false;

  private msgs: Message[] = [];
  private readStates: ReadState[] = [];
  private prevHard: HardState;
  private prevSoft: SoftState;
  private inflightReady: ReadyMark | null = null;

  constructor(config: RaftConfig, persisted: PersistedState) {
    if (config.heartbeatTicks >= config.electionTicks) throw new Error('raft: heartbeatTicks must be < electionTicks');
    const lease = config.leaseTicks ?? 0;
    if (lease > 0 && (!config.checkQuorum || lease >= config.electionTicks)) throw new Error('raft: leaseTicks needs checkQuorum and must be < electionTicks');
    this.id = config.id;
    this.cfg = config;
    const { hardState, snapshot, entries } = persisted;
    this.log = new RaftLog(snapshot, entries, hardState.commit, persisted.applied ?? snapshot.index);
    this.term = hardState.term;
    this.vote = hardState.vote;
    const c = this.log.confAt(this.log.lastIndex());
    this.conf = c.conf;
    this.confIndex = c.index;
    this.prevHard = this.hardState();
    this.prevSoft = this.softState();
    this.resetTimers();
  }

  // ---- inspection -------------------------------------------------------------------------

  get currentTerm(): number {
    return this.term;
  }
  get currentRole(): Role {
    return this.role;
  }
  get leader(): NodeId | null {
    return this.lead;
  }
  get commitIndex(): number {
    return this.log.committed;
  }
  get appliedIndex(): number {
    return this.log.applied;
  }
  get lastIndex(): number {
    return this.log.lastIndex();
  }
  get firstIndex(): number {
    return this.log.firstIndex();
  }
  get confState(): ConfState {
    return this.conf;
  }
  /** Leader only (null otherwise): the highest index every follower is known to hold. */
  get followersMatch(): number | null {
    if (this.role !== 'leader') return null;
    let lowest: number | null = null;
    for (const [id, pr] of this.progress) if (id !== this.id) lowest = Math.min(lowest ?? pr.match, pr.match);
    return lowest;
  }
  /** Leader only (undefined otherwise, or for a non-member): the highest index `id` is known to hold. */
  matchOf(id: NodeId): number | undefined {
    return this.role === 'leader' ? this.progress.get(id)?.match : undefined;
  }
  /** Term of the entry at `index`, undefined when compacted away or absent. */
  termAt(index: number): number | undefined {
    return this.log.term(index);
  }

  // ---- inputs -----------------------------------------------------------------------------

  tick(): void {
    this.ticks++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
  }

  propose(data: Uint8Array): ProposeResult {
    return this.proposeBatch([data]);
  }

  /**
   * Several entries at consecutive indexes from the returned one, sent in one append per
   * follower: proposing them one by one sends an append each, and the acks double that.
   */
  proposeBatch(batch: readonly Uint8Array[]): ProposeResult {
    const refused = this.refuseProposal();
    if (refused) return refused;
    if (batch.length === 0) throw new Error('raft: empty proposal batch');
    const first = batch.map((data) => this.appendEntry({ kind: 'normal', data }))[0]!;
    this.bcastAppend();
    return { ok: true, index: first.index, term: first.term };
  }

  /** One change at a time; it takes effect on every node as soon as it is in that node's log. */
  proposeConfChange(change: ConfChange): ProposeResult {
    const refused = this.refuseProposal();
    if (refused) return refused;
    // Until the leader has committed an entry of its own term, an uncommitted change from a
    // previous leader may still be in some logs; a second change could then form disjoint
    // majorities (Ongaro, "bug in single-server membership changes", 2015).
    if (this.log.term(this.log.committed) !== this.term) return this.refuse('termNotCommitted');
    if (this.confIndex > this.log.committed) return this.refuse('confChangePending');
    const conf = applyConfChange(this.conf, change);
    if (conf === null) return this.refuse('invalidConfChange');
    const e = this.appendEntry({ kind: 'conf', change, conf });
    this.bcastAppend();
    return { ok: true, index: e.index, term: e.term };
  }

  /**
   * Ask for a linearizable read. The answer comes back as a ReadState with the same ctx in a
   * later Ready; it may never come (leadership lost), so callers need their own timeout.
   * Returns false when no leader is known.
   */
  readIndex(ctx: string): boolean {
    // A leader holding the lease answers in the next Ready, without a heartbeat round.
    if (this.role === 'leader') {
      this.handleReadIndex(ctx, this.id);
      return true;
    }
    if (this.lead === null) return false;
    this.send({ type: 'readIndex', to: this.lead, ctx });
    return true;
  }

  /**
   * The index a read may be served at right now, without a heartbeat round: the commit index,
   * while this node is the leader and holds the lease (RaftConfig.leaseTicks); null otherwise
   * (use readIndex). The read is served once the entries up to it are applied.
   */
  leaseRead(): number | null {
    return this.holdsLease() ? this.log.committed : null;
  }

  /** Hand leadership to `to` once its log has caught up; aborted after an election timeout. */
  transferLeader(to: NodeId): boolean {
    if (this.role !== 'leader' || to === this.id || !isVoter(this.conf, to)) return false;
    const pr = this.progress.get(to);
    if (pr === undefined) return false;
    // Its TimeoutNow may arrive late, even after the transfer was given up: from here on a
    // follower may start an election that ignores leases, so this term has none.
    this.transferred = true;
    this.leadTransferee = to;
    this.electionElapsed = 0;
    if (pr.match === this.log.lastIndex()) this.send({ type: 'timeoutNow', to });
    else this.sendAppend(to);
    return true;
  }

  /**
   * The application captured its state machine up to `index` (<= applied) in `data`. Entries
   * up to there are dropped; the returned snapshot (with term and configuration filled in) is
   * what the application persists and what the leader ships to followers that fall behind.
   */
  compact(index: number, data: Uint8Array): Snapshot {
    return this.log.compact(index, data);
  }

  step(m: Message): void {
    if (m.term > this.term) {
      if (m.type === 'vote' && !m.transfer && (this.inLease() || this.startingUp())) return;
      const keepsTerm = (m.type === 'vote' && m.pre) || (m.type === 'voteResp' && m.pre && m.granted);
      if (!keepsTerm) {
        const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      if ((this.cfg.checkQuorum || this.cfg.preVote) && (m.type === 'append' || m.type === 'heartbeat')) {
        // A leader cut off from us while we moved on; with pre-vote it would otherwise never
        // learn the new term, because nobody campaigns against it with a higher one.
        this.send({ type: 'appendResp', to: m.from, index: 0, reject: false, hintIndex: 0, hintTerm: 0 });
      } else if (m.type === 'vote' && m.pre) {
        this.send({ type: 'voteResp', to: m.from, pre: true, granted: false });
      }
      return;
    }

    switch (m.type) {
      case 'vote':
        this.handleVote(m);
        return;
      case 'voteResp':
        this.handleVoteResponse(m);
        return;
      case 'append':
      case 'heartbeat':
      case 'snapshot':
        this.handleFromLeader(m);
        return;
      case 'appendResp':
        this.handleAppendResponse(m);
        return;
      case 'heartbeatResp':
        this.handleHeartbeatResponse(m);
        return;
      case 'timeoutNow':
        if (this.role !== 'leader') this.campaign(false, true);
        return;
      case 'readIndex':
        if (this.role === 'leader') this.handleReadIndex(m.ctx, m.from);
        return;
      case 'readIndexResp':
        this.readStates.push({ ctx: m.ctx, index: m.index });
        return;
    }
  }

  // ---- outputs ----------------------------------------------------------------------------

  /** Whether ready() has something; false while a Ready is out waiting for advance(). */
  hasReady(): boolean {
    if (this.inflightReady !== null) return false;
    return (
      this.msgs.length > 0 ||
      this.readStates.length > 0 ||
      this.log.pendingSnapshot() !== null ||
      this.log.stableIndex() < this.log.lastIndex() ||
      this.log.hasNextCommitted() ||
      !sameHard(this.hardState(), this.prevHard) ||
      !sameSoft(this.softState(), this.prevSoft)
    );
  }

  /** Take the pending outputs. Each ready() must be followed by advance() before the next. */
  ready(): Ready {
    if (this.inflightReady !== null) throw new Error('raft: ready() called again before advance()');
    const hard = this.hardState();
    const soft = this.softState();
    const entries = this.log.unstableEntries();
    const committedEntries = this.log.nextCommitted();
    const snapshot = this.log.pendingSnapshot();
    const last = entries[entries.length - 1];
    const lastApplied = committedEntries[committedEntries.length - 1];
    const rd: Ready = {
      softState: sameSoft(soft, this.prevSoft) ? null : soft,
      hardState: sameHard(hard, this.prevHard) ? null : hard,
      snapshot,
      entries,
      committedEntries,
      messages: this.msgs,
      readStates: this.readStates,
    };
    this.prevHard = hard;
    this.prevSoft = soft;
    this.msgs = [];
    this.readStates = [];
    this.inflightReady = {
      lastEntry: last ? { index: last.index, term: last.term } : null,
      snapshotIndex: snapshot?.index ?? null,
      appliedTo: lastApplied?.index ?? 0,
    };
    return rd;
  }

  /** The last Ready was persisted, its messages sent and its committed entries applied. */
  advance(): void {
    const mark = this.inflightReady;
    if (mark === null) throw new Error('raft: advance() without ready()');
    this.inflightReady = null;
    if (mark.snapshotIndex !== null) {
      this.log.stableSnapshotTo(mark.snapshotIndex);
      this.log.appliedTo(mark.snapshotIndex);
    }
    if (mark.lastEntry !== null) this.log.stableTo(mark.lastEntry.index, mark.lastEntry.term);
    this.log.appliedTo(mark.appliedTo);
    if (this.role === 'leader') {
      // The leader counts its own log only once it is on disk, like any follower's.
      this.progress.get(this.id)?.maybeUpdate(this.log.stableIndex());
      if (this.maybeCommit()) this.bcastCommit();
    }
  }

  // ---- elections --------------------------------------------------------------------------

  private tickElection(): void {
    this.electionElapsed++;
    if (isVoter(this.conf, this.id) && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.campaign(this.cfg.preVote, false);
    }
  }

  private tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const [id, pr] of this.progress) {
      if (pr.state === 'snapshot' && ++pr.snapshotTicks >= 2 * this.cfg.electionTicks) {
        // Snapshot lost or the follower died while installing it: probe again.
        pr.becomeProbe();
        this.sendAppend(id);
      }
    }
    if (this.electionElapsed >= this.cfg.electionTicks) {
      this.electionElapsed = 0;
      if (this.cfg.checkQuorum) {
        if (!this.quorumActive()) {
          // We may be partitioned away; stop accepting writes that could never commit.
          this.becomeFollower(this.term, null);
          return;
        }
        for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
      }
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.cfg.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
    for (const id of this.commitUnsent) this.sendAppend(id);
  }

  private inLease(): boolean {
    return this.cfg.checkQuorum && this.lead !== null && this.electionElapsed < this.cfg.electionTicks;
  }

  /**
   * With leases a node ignores candidates for an election timeout after it starts: it may have
   * answered a leader's heartbeat just before it restarted, and that leader's lease still runs.
   */
  private startingUp(): boolean {
    return (this.cfg.leaseTicks ?? 0) > 0 && this.ticks < this.cfg.electionTicks;
  }

  private holdsLease(): boolean {
    if (this.role !== 'leader' || (this.cfg.leaseTicks ?? 0) === 0 || this.transferred || this.leadTransferee !== null) return false;
    // Like ReadIndex: until an entry of this term commits, the commit index may be stale.
    if (this.log.term(this.log.committed) !== this.term) return false;
    if (this.conf.voters.length === 1 && isVoter(this.conf, this.id)) return true;
    return this.ticks - this.leaseFrom < this.cfg.leaseTicks!;
  }

  private quorumActive(): boolean {
    const active = (id: NodeId): number => (id === this.id || this.progress.get(id)?.recentActive ? 1 : 0);
    return quorumValue(this.conf.voters, active) === 1;
  }

  /** `pre`: ask first whether we could win, so a node that was cut off cannot inflate terms. */
  private campaign(pre: boolean, transfer: boolean): void {
    if (!isVoter(this.conf, this.id)) return;
    if (pre) {
      this.role = 'preCandidate';
      this.lead = null;
      this.resetTimers();
    } else {
      this.reset(this.term + 1);
      this.role = 'candidate';
      this.vote = this.id;
    }
    this.votes.clear();
    this.votes.set(this.id, true);
    if (voteResult(this.conf.voters, this.votes) === 'won') {
      this.winElection(pre, transfer);
      return;
    }
    const term = pre ? this.term + 1 : this.term;
    for (const to of this.conf.voters) {
      if (to === this.id) continue;
      this.send({
        type: 'vote',
        to,
        term,
        pre,
        transfer,
        lastIndex: this.log.lastIndex(),
        lastTerm: this.log.lastTerm(),
      });
    }
  }

  private winElection(pre: boolean, transfer: boolean): void {
    if (pre) this.campaign(false, transfer);
    else this.becomeLeader();
  }

  private handleVote(m: VoteMessage): void {
    const canVote = this.vote === m.from || (this.vote === null && this.lead === null) || (m.pre && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.lastIndex, m.lastTerm)) {
      // A granted pre-vote answers in the candidate's future term so that it counts it.
      this.send({ type: 'voteResp', to: m.from, term: m.term, pre: m.pre, granted: true });
      if (!m.pre) {
        this.vote = m.from;
        this.electionElapsed = 0;
      }
    } else {
      this.send({ type: 'voteResp', to: m.from, pre: m.pre, granted: false });
    }
  }

  private handleVoteResponse(m: VoteResponse): void {
    const expectPre = this.role === 'preCandidate';
    if ((this.role !== 'candidate' && !expectPre) || m.pre !== expectPre) return;
    this.votes.set(m.from, m.granted);
    const result = voteResult(this.conf.voters, this.votes);
    if (result === 'won') this.winElection(expectPre, false);
    else if (result === 'lost') this.becomeFollower(this.term, null);
  }

  /** Move to `term` (forgetting the vote if the term changes) and restart the election clock. */
  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = null;
      this.transferred = false;
    }
    this.leaseFrom = -Infinity;
    this.lead = null;
    this.votes.clear();
    this.progress.clear();
    this.commitUnsent.clear();
    this.leadTransferee = null;
    this.reads.reset();
    this.resetTimers();
  }

  private resetTimers(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.cfg.electionTicks + this.cfg.random(this.cfg.electionTicks);
  }

  private becomeFollower(term: number, lead: NodeId | null): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    for (const id of members(this.conf)) this.progress.set(id, this.newProgress());
    this.progress.get(this.id)?.maybeUpdate(this.log.stableIndex());
    // Committing an entry of our own term commits everything before it (raft §5.4.2) and is
    // what ReadIndex and conf changes wait for.
    this.appendEntry({ kind: 'normal', data: EMPTY });
    this.bcastAppend();
  }

  private newProgress(): Progress {
    return new Progress(this.log.lastIndex() + 1, this.cfg.maxInflight);
  }

  // ---- replication: leader side -----------------------------------------------------------

  private refuseProposal(): ProposeResult | null {
    if (this.role !== 'leader') return this.refuse('notLeader');
    if (this.leadTransferee !== null) return this.refuse('transferring');
    return null;
  }

  private refuse(reason: Exclude<ProposeResult, { ok: true }>['reason']): ProposeResult {
    return { ok: false, reason, leader: this.lead };
  }

  private appendEntry(e: { kind: 'normal'; data: Uint8Array } | { kind: 'conf'; change: ConfChange; conf: ConfState }): Entry {
    const entry: Entry = { ...e, index: this.log.lastIndex() + 1, term: this.term };
    this.log.append([entry]);
    if (entry.kind === 'conf') this.setConf(entry.conf, entry.index);
    return entry;
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  /**
   * A new commit index goes to each follower with the next append it gets anyway — new entries
   * now, or an empty append at the next tick. Sending the empty append at once (as etcd/raft
   * does) had been half of all raft messages under load, each with its acknowledgement and a
   * Ready on the follower. `emptyTo` is told at once (it was paused: probing goes on).
   */
  private bcastCommit(emptyTo?: NodeId): void {
    for (const id of this.progress.keys()) {
      if (id !== this.id && !this.sendAppend(id, id === emptyTo)) this.commitUnsent.add(id);
    }
  }

  private bcastHeartbeat(): void {
    const lease = this.cfg.leaseTicks ?? 0;
    const readSeq = lease > 0 ? this.reads.beat(this.ticks, this.ticks - lease) : this.reads.lastSeq();
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // Never tell a follower to commit past what it is known to hold: beyond `match` its log
      // may still differ from ours.
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'heartbeat', to: id, commit, readSeq });
    }
  }

  /** Send what `to` needs next. With allowEmpty false, send only if there are entries. */
  private sendAppend(to: NodeId, allowEmpty = true): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === undefined) return this.sendSnapshot(to, pr);
    const entries = this.log.slice(pr.next, this.log.lastIndex() + 1, this.cfg.maxEntriesPerAppend, this.cfg.maxBytesPerAppend);
    if (entries.length === 0 && !allowEmpty) return false;
    this.send({ type: 'append', to, prevIndex, prevTerm, entries, commit: this.log.committed });
    this.commitUnsent.delete(to);
    const last = entries[entries.length - 1];
    if (pr.state === 'replicate' && last !== undefined) {
      pr.next = last.index + 1;
      pr.inflights.add(last.index);
    } else if (pr.state === 'probe') {
      pr.probeSent = true;
    }
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): boolean {
    const snapshot = this.log.snapshot();
    this.send({ type: 'snapshot', to, snapshot });
    pr.becomeSnapshot(snapshot.index);
    return true;
  }

  private handleAppendResponse(m: AppendResponse): void {
    const pr = this.progress.get(m.from);
    if (this.role !== 'leader' || pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      const hint = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm) : m.hintIndex;
      if (pr.maybeDecrTo(m.index, hint)) {
        if (pr.state === 'replicate') pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === 'probe') pr.becomeReplicate();
    else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeReplicate();
    else if (pr.state === 'replicate') pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) this.bcastCommit(wasPaused ? m.from : undefined);
    else if (wasPaused) this.sendAppend(m.from);
    // Fill the pipeline: the loop ends when the window is full or nothing is left to send.
    while (this.sendAppend(m.from, false));

    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) {
      this.send({ type: 'timeoutNow', to: m.from });
    }
  }

  private handleHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.progress.get(m.from);
    if (this.role !== 'leader' || pr === undefined) return;
    pr.recentActive = true;
    pr.probeSent = false;
    // Acks may have been lost; free a slot so the pipeline cannot stall forever.
    if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirst();
    if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
    if (isVoter(this.conf, m.from)) {
      this.reads.ack(m.from, m.readSeq);
      const beat = this.reads.takeConfirmedBeat(this.id, this.conf.voters);
      if (beat !== null) this.leaseFrom = Math.max(this.leaseFrom, beat);
      this.serveConfirmedReads();
    }
  }

  /** Returns true when the commit index moved. */
  private maybeCommit(): boolean {
    const index = quorumValue(this.conf.voters, (id) => this.progress.get(id)?.match ?? 0);
    if (!this.log.maybeCommit(index, this.term)) return false;
    this.afterCommit();
    return true;
  }

  private afterCommit(): void {
    for (const r of this.reads.takeDeferred()) this.handleReadIndex(r.ctx, r.from);
    if (!isVoter(this.conf, this.id) && this.log.committed >= this.confIndex) {
      // The change that removed us is committed: the rest of the group carries on without us.
      this.becomeFollower(this.term, null);
    }
  }

  private handleReadIndex(ctx: string, from: NodeId): void {
    // A new leader may not know the latest commit index until it commits in its own term.
    if (this.log.term(this.log.committed) !== this.term) {
      this.reads.defer(ctx, from);
      return;
    }
    if (this.holdsLease()) {
      this.answerRead(ctx, from, this.log.committed);
      return;
    }
    this.reads.register(ctx, from, this.log.committed);
    const alone = this.conf.voters.length === 1 && isVoter(this.conf, this.id);
    if (alone) this.serveConfirmedReads();
    else this.bcastHeartbeat();
  }

  private serveConfirmedReads(): void {
    for (const r of this.reads.takeConfirmed(this.id, this.conf.voters)) this.answerRead(r.ctx, r.from, r.index);
  }

  private answerRead(ctx: string, from: NodeId, index: number): void {
    if (from === this.id) this.readStates.push({ ctx, index });
    else this.send({ type: 'readIndexResp', to: from, ctx, index });
  }

  // ---- replication: follower side ---------------------------------------------------------

  private handleFromLeader(m: AppendMessage | HeartbeatMessage | SnapshotMessage): void {
    if (this.role === 'leader') return; // another leader in our term cannot exist
    if (this.role !== 'follower') this.becomeFollower(this.term, m.from);
    this.lead = m.from;
    this.electionElapsed = 0;
    if (m.type === 'append') this.handleAppend(m);
    else if (m.type === 'heartbeat') {
      this.log.commitTo(m.commit);
      this.send({ type: 'heartbeatResp', to: m.from, readSeq: m.readSeq });
    } else this.handleSnapshot(m);
  }

  private handleAppend(m: AppendMessage): void {
    if (m.prevIndex < this.log.committed) {
      this.ackAppend(m.from, this.log.committed);
      return;
    }
    const lastNew = this.log.maybeAppend(m.prevIndex, m.prevTerm, m.commit, m.entries);
    if (lastNew !== null) {
      // A configuration takes effect when appended, so a truncated conf entry must be undone.
      if (m.entries.some((e) => e.kind === 'conf') || !this.confEntryStillInLog()) this.reloadConf();
      this.ackAppend(m.from, lastNew);
      return;
    }
    const hintIndex = this.log.findConflictByTerm(Math.min(m.prevIndex, this.log.lastIndex()), m.prevTerm);
    this.send({
      type: 'appendResp',
      to: m.from,
      index: m.prevIndex,
      reject: true,
      hintIndex,
      hintTerm: this.log.term(hintIndex) ?? 0,
    });
  }

  private ackAppend(to: NodeId, index: number): void {
    this.send({ type: 'appendResp', to, index, reject: false, hintIndex: 0, hintTerm: 0 });
  }

  private handleSnapshot(m: SnapshotMessage): void {
    const s = m.snapshot;
    if (s.index <= this.log.committed) {
      this.ackAppend(m.from, this.log.committed);
      return;
    }
    if (this.log.matchTerm(s.index, s.term)) {
      // We already hold everything the snapshot covers; just learn that it is committed.
      this.log.commitTo(s.index);
    } else {
      this.log.restore(s);
      this.setConf(s.conf, s.index);
    }
    this.ackAppend(m.from, this.log.committed);
  }

  // ---- membership -------------------------------------------------------------------------

  private confEntryStillInLog(): boolean {
    return this.confIndex <= this.log.snapshot().index || this.log.entryAt(this.confIndex)?.kind === 'conf';
  }

  /** The log changed under a follower: the configuration is that of its latest conf entry. */
  private reloadConf(): void {
    const c = this.log.confAt(this.log.lastIndex());
    this.setConf(c.conf, c.index);
  }

  private setConf(conf: ConfState, index: number): void {
    this.conf = conf;
    this.confIndex = index;
    if (this.role !== 'leader') return;
    // The majority that answered the lease's heartbeats was one of the old configuration.
    this.leaseFrom = -Infinity;
    const all = new Set(members(conf));
    for (const id of this.progress.keys()) if (!all.has(id) && id !== this.id) this.progress.delete(id);
    for (const id of all) if (!this.progress.has(id)) this.progress.set(id, this.newProgress());
    if (this.leadTransferee !== null && !isVoter(conf, this.leadTransferee)) this.leadTransferee = null;
  }

  // ---- plumbing ---------------------------------------------------------------------------

  private send(m: Outgoing): void {
    this.msgs.push({ term: this.term, ...m, from: this.id });
  }

  private hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  private softState(): SoftState {
    return { leader: this.lead, role: this.role };
  }
}

function sameHard(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

function sameSoft(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}
