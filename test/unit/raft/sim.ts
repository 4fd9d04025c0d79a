// Deterministic simulation of a raft group: one seeded PRNG drives a lossy, duplicating,
// reordering network, partitions, crashes that lose everything not yet persisted, snapshots,
// and clients doing puts and linearizable gets on a small key-value store. The safety checker
// runs after every step; at the end the faults are healed and liveness is checked.
import { RaftNode } from '../../../agent/sbs/raft/index.js';
import type { ConfChange, Entry, HardState, Message, NodeId, Ready, Snapshot } from '../../../agent/sbs/raft/index.js';
import { config } from './cluster.js';
import type { Operation } from './linearizability.js';
import { digestBytes, mix, prng } from './prng.js';
import { SafetyChecker, SafetyViolation } from './safety.js';

export interface SimOptions {
  seed: number;
  nodes: number;
  steps: number;
  /**
   * Deliberately broken storage, to prove that the checks can fail:
   * - forgetVoteOnRestart: term is durable but the vote is not (the bug of the reference code);
   * - fsyncLies: writes acknowledged to raft are only sometimes durable, a crash loses the rest.
   */
  fault?: 'forgetVoteOnRestart' | 'fsyncLies' | 'leaderClockStalls';
}

export interface SimResult {
  history: Operation[];
  /** Highest term reached: a rough measure of how much turmoil the run had. */
  terms: number;
  committed: number;
  ackedPuts: number;
  completedGets: number;
  /** Gets a leader answered from its lease, without a heartbeat round. */
  leaseReads: number;
  /** Messages delivered, by type (rejected appends count as appendReject). */
  delivered: Record<string, number>;
  confChanges: number;
}

/**
 * Drawn per seed, so that the seeds cover calm and stormy runs alike. Message rates are
 * fractions of messages; crash and partition rates are percentages of steps.
 */
interface Chaos {
  dropRate: number;
  duplicateRate: number;
  maxLatency: number;
  /** Share of messages delayed by up to 400 steps: these arrive long out of order. */
  lateRate: number;
  crashRate: number;
  partitionRate: number;
  /** Leaders add and remove members (voters stay within N-1..N+1). */
  membership: boolean;
  /** Small batches and windows make followers acknowledge a leader's log piece by piece. */
  maxEntriesPerAppend: number;
  maxInflight: number;
  /** Without them, deposed leaders linger and candidates disrupt: more paths get exercised. */
  preVote: boolean;
  checkQuorum: boolean;
  /** Per node, the chance that a chosen tick happens: clocks run at different speeds. */
  clockRates: number[];
  /**
   * Leader leases for reads. Their clock assumption holds here: every running node ticks at
   * the same steps (clockRates unused), however late messages arrive.
   */
  lease: boolean;
}

const KEYS = ['x', 'y', 'z'];
/** Clients with one operation outstanding each; bounds the concurrency the checker explores. */
const CLIENTS = 6;
/** Steps after which a client gives up on an operation (a put's outcome becomes unknown). */
const CLIENT_TIMEOUT = 250;
const enc = new TextEncoder();
const dec = new TextDecoder();

/** What survives a crash. */
interface Disk {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
  /** digests[i] chains every entry up to entries[i]; the snapshot carries its own. */
  digests: number[];
}

/** Lost on a crash; rebuilt from the snapshot and replayed entries. */
interface Machine {
  kv: Map<string, string>;
  applied: number;
  digest: number;
}

interface SimNode {
  id: NodeId;
  raft: RaftNode | null;
  disk: Disk;
  /** With the fsyncLies fault: what a crash reverts the disk to. */
  synced: Disk;
  machine: Machine;
  /** A Ready persisted and sent, whose entries are not yet applied. */
  pending: Ready | null;
}

interface SnapshotImage {
  kv: [string, string][];
  digest: number;
}

function entryDigest(e: Entry): number {
  const body = e.kind === 'normal' ? digestBytes(e.data) : digestBytes(enc.encode(`${e.change.type}:${e.change.node}`));
  return mix(mix(e.index, e.term), body);
}

function diskTermAt(d: Disk, i: number): number | undefined {
  if (i === d.snapshot.index) return d.snapshot.term;
  return d.entries[i - d.snapshot.index - 1]?.term;
}

function diskDigestAt(d: Disk, i: number): number {
  if (i === d.snapshot.index) return decodeImage(d.snapshot.data).digest;
  const v = d.digests[i - d.snapshot.index - 1];
  if (v === undefined) throw new Error(`disk has no entry ${i}`);
  return v;
}

function cloneDisk(d: Disk): Disk {
  return { ...d, entries: [...d.entries], digests: [...d.digests] };
}

function encodeImage(m: Machine): Uint8Array {
  const img: SnapshotImage = { kv: [...m.kv], digest: m.digest };
  return enc.encode(JSON.stringify(img));
}

function decodeImage(data: Uint8Array): SnapshotImage {
  if (data.byteLength === 0) return { kv: [], digest: 0 };
  return JSON.parse(dec.decode(data)) as SnapshotImage;
}

interface PendingPut {
  op: Operation;
  deadline: number;
  node: NodeId;
  index: number;
  term: number;
}

interface PendingGet {
  op: Operation;
  deadline: number;
  node: NodeId;
  ctx: string;
  /** Known once the ReadState arrived. */
  readIndex: number | null;
}

export class Simulation {
  private readonly rand: () => number;
  private readonly checker = new SafetyChecker();
  private readonly nodes: SimNode[] = [];
  /** Messages in flight with the step at which they arrive. */
  private network: { m: Message; at: number }[] = [];
  private now = 0;
  /** Partition group of each node; messages between groups are lost. */
  private group = new Map<NodeId, number>();
  private chaos: Chaos;
  /** Logical time of client calls and returns: several may happen in one step, all distinct. */
  private clock = 0;
  private nextOp = 0;
  private readonly history: Operation[] = [];
  private puts: PendingPut[] = [];
  private gets: PendingGet[] = [];
  private ackedPutIndex = 0;
  private ackedPuts = 0;
  private completedGets = 0;
  private leaseReads = 0;
  private readonly delivered: Record<string, number> = {};
  private confChanges = 0;
  /** Index of the last change each leader proposed, by leader and term. */
  private readonly lastConfProposal = new Map<string, number>();
  /** Smallest voter set seen in force anywhere: a commit reached at least a majority of it. */
  private minVoters: number;

  constructor(private readonly opts: SimOptions) {
    this.rand = prng(opts.seed);
    this.minVoters = opts.nodes;
    this.chaos = {
      dropRate: this.rand() * 0.15,
      duplicateRate: this.rand() * 0.1,
      maxLatency: 2 + this.int(20),
      lateRate: this.rand() * 0.1,
      crashRate: 0.1 + this.rand() * 0.8,
      partitionRate: 0.1 + this.rand() * 0.5,
      membership: this.rand() < 0.5,
      maxEntriesPerAppend: this.pick([1, 2, 4, 64]) ?? 4,
      maxInflight: this.pick([1, 2, 4, 16]) ?? 4,
      preVote: this.rand() < 0.75,
      checkQuorum: this.rand() < 0.75,
      clockRates: [],
      lease: false,
    };
    this.chaos.lease = this.chaos.checkQuorum && this.rand() < 0.5;
    if (opts.fault === 'leaderClockStalls') this.chaos = { ...this.chaos, checkQuorum: true, lease: true };
    const ids = Array.from({ length: opts.nodes }, (_, i) => `n${i + 1}`);
    // With membership changes, one more node starts outside the group, waiting to be added.
    const spare = this.chaos.membership ? [`n${opts.nodes + 1}`] : [];
    for (const id of [...ids, ...spare]) {
      this.chaos.clockRates.push(0.5 + this.rand() * 0.5);
      const voters = ids.includes(id) ? ids : [];
      const disk: Disk = {
        hardState: { term: 0, vote: null, commit: 0 },
        snapshot: { index: 0, term: 0, conf: { voters, learners: [] }, data: new Uint8Array(0) },
        entries: [],
        digests: [],
      };
      const n: SimNode = { id, raft: null, disk, synced: cloneDisk(disk), machine: { kv: new Map(), applied: 0, digest: 0 }, pending: null };
      this.nodes.push(n);
      this.start(n);
      this.group.set(id, 0);
    }
  }

  private int(n: number): number {
    return Math.floor(this.rand() * n);
  }

  private pick<T>(xs: readonly T[]): T | undefined {
    return xs[this.int(xs.length)];
  }

  // ---- node lifecycle -----------------------------------------------------------------------

  private start(n: SimNode): void {
    const d = n.disk;
    const hardState = this.opts.fault === 'forgetVoteOnRestart' ? { ...d.hardState, vote: null } : d.hardState;
    const { maxEntriesPerAppend, maxInflight, preVote, checkQuorum, lease } = this.chaos;
    const leaseTicks = lease ? 5 : 0; // half the election timeout, as the replica does
    const cfg = config(n.id, { heartbeatTicks: 2, maxEntriesPerAppend, maxInflight, preVote, checkQuorum, leaseTicks, random: (k) => this.int(k) });
    n.raft = new RaftNode(cfg, {
      hardState,
      snapshot: d.snapshot,
      entries: [...d.entries],
    });
    const img = decodeImage(d.snapshot.data);
    n.machine = { kv: new Map(img.kv), applied: d.snapshot.index, digest: img.digest };
    n.pending = null;
  }

  private crash(n: SimNode): void {
    n.raft = null;
    if (this.opts.fault === 'fsyncLies') n.disk = cloneDisk(n.synced);
    n.pending = null;
    // The clients see their connection drop: puts stay in the history with an unknown outcome.
    this.puts = this.puts.filter((p) => p.node !== n.id);
    this.gets = this.gets.filter((g) => g.node !== n.id);
  }

  // ---- the Ready loop, split in two so that inputs can arrive between ready() and advance() ----

  /** Persist the Ready (log first, then hard state) and send its messages. */
  private persistAndSend(n: SimNode, raft: RaftNode): void {
    const rd = raft.ready();
    this.writeLog(n, rd);
    if (rd.hardState) n.disk.hardState = rd.hardState;
    if (this.opts.fault === 'fsyncLies' && this.rand() < 0.5) n.synced = cloneDisk(n.disk);
    for (const m of rd.messages) {
      if (m.type === 'voteResp' && m.granted && !m.pre) this.checker.vote(m.from, m.term, m.to);
      if (this.rand() < this.chaos.dropRate) continue;
      this.network.push({ m, at: this.now + this.latency() });
      if (this.rand() < this.chaos.duplicateRate) this.network.push({ m, at: this.now + this.latency() });
    }
    this.checkConf(n, raft);
    for (const rs of rd.readStates) {
      const g = this.gets.find((x) => x.node === n.id && x.ctx === rs.ctx);
      if (g) g.readIndex = rs.index;
    }
    n.pending = rd;
  }

  /** The snapshot and entries of a Ready; a torn write may stop right after this. */
  private writeLog(n: SimNode, rd: Ready): void {
    const d = n.disk;
    if (rd.snapshot) {
      d.snapshot = rd.snapshot;
      d.entries = [];
      d.digests = [];
      this.checker.persisted(n.id, rd.snapshot.index, rd.snapshot.term, decodeImage(rd.snapshot.data).digest);
    }
    const first = rd.entries[0];
    if (first !== undefined) {
      const keep = first.index - d.snapshot.index - 1;
      d.entries.length = keep;
      d.digests.length = keep;
      for (const e of rd.entries) {
        const digest = mix(diskDigestAt(d, e.index - 1), entryDigest(e));
        d.entries.push(e);
        d.digests.push(digest);
        this.checker.persisted(n.id, e.index, e.term, digest);
      }
    }
  }

  /**
   * Right after a Ready is persisted the disk holds the node's whole log, so the configuration
   * in force must be the one of the latest conf entry on disk (it takes effect when appended and
   * is undone when truncated), or else the snapshot's.
   */
  private checkConf(n: SimNode, raft: RaftNode): void {
    const d = n.disk;
    let conf = d.snapshot.conf;
    for (let i = d.entries.length - 1; i >= 0; i--) {
      const e = d.entries[i];
      if (e?.kind === 'conf') {
        conf = e.conf;
        break;
      }
    }
    const actual = raft.confState;
    if (conf.voters.join() !== actual.voters.join() || conf.learners.join() !== actual.learners.join()) {
      throw new SafetyViolation(`${n.id} runs configuration ${JSON.stringify(actual)} but its log says ${JSON.stringify(conf)}`);
    }
  }

  /** Apply the persisted Ready and acknowledge it. */
  private applyAndAdvance(n: SimNode, raft: RaftNode): void {
    const rd = n.pending;
    if (rd === null) return;
    if (rd.snapshot) {
      const img = decodeImage(rd.snapshot.data);
      n.machine = { kv: new Map(img.kv), applied: rd.snapshot.index, digest: img.digest };
      this.checker.applied(n.id, rd.snapshot.index, img.digest);
    }
    for (const e of rd.committedEntries) {
      const mm = n.machine;
      if (e.index !== mm.applied + 1) throw new SafetyViolation(`${n.id} applies ${e.index} after ${mm.applied}`);
      mm.digest = mix(mm.digest, entryDigest(e));
      mm.applied = e.index;
      this.checker.applied(n.id, e.index, mm.digest);
      if (e.kind === 'normal' && e.data.byteLength > 0) {
        const [opId, key, value] = dec.decode(e.data).split('|') as [string, string, string];
        mm.kv.set(key, value);
        this.completePut(n.id, e, Number(opId));
      }
    }
    n.pending = null;
    raft.advance();
    this.serveGets(n);
  }

  private completePut(node: NodeId, e: Entry, opId: number): void {
    const i = this.puts.findIndex((p) => p.node === node && p.index === e.index);
    const p = this.puts[i];
    if (p === undefined) return;
    this.puts.splice(i, 1);
    // A different entry at our index means our proposal was overwritten: it never took effect.
    if (p.op.id === opId && p.term === e.term) {
      p.op.ret = ++this.clock;
      this.ackedPuts++;
      this.ackedPutIndex = Math.max(this.ackedPutIndex, e.index);
    } else {
      this.history.splice(this.history.indexOf(p.op), 1);
    }
  }

  private serveGets(n: SimNode): void {
    this.gets = this.gets.filter((g) => {
      if (g.node !== n.id || g.readIndex === null || n.machine.applied < g.readIndex) return true;
      g.op.output = n.machine.kv.get(g.op.key) ?? null;
      g.op.ret = ++this.clock;
      this.history.push(g.op);
      this.completedGets++;
      return false;
    });
  }

  // ---- clients ------------------------------------------------------------------------------

  private idleClient(): boolean {
    return this.puts.length + this.gets.length < CLIENTS;
  }

  private expireClients(): void {
    this.puts = this.puts.filter((p) => p.deadline > this.now);
    this.gets = this.gets.filter((g) => g.deadline > this.now);
  }

  private put(n: SimNode): void {
    const raft = n.raft;
    if (raft === null || !this.idleClient()) return;
    // Now and then several clients' writes go in together, as a replica batches them (proposeBatch).
    const size = Math.min(1 + this.int(3), CLIENTS - this.puts.length - this.gets.length);
    const call = ++this.clock;
    const ops: Operation[] = [];
    for (let i = 0; i < size; i++) {
      const id = this.nextOp++;
      ops.push({ id, key: this.pick(KEYS) ?? 'x', kind: 'put', input: `v${id}`, output: null, call, ret: Infinity });
    }
    const data = ops.map((op) => enc.encode(`${op.id}|${op.key}|${op.input as string}`));
    const r = size === 1 ? raft.propose(data[0]!) : raft.proposeBatch(data);
    if (!r.ok) return;
    for (const [i, op] of ops.entries()) {
      this.history.push(op);
      this.puts.push({ op, deadline: this.now + CLIENT_TIMEOUT, node: n.id, index: r.index + i, term: r.term });
    }
  }

  private get(n: SimNode): void {
    const raft = n.raft;
    if (raft === null || !this.idleClient()) return;
    const id = this.nextOp++;
    const ctx = `r${id}`;
    const call = ++this.clock;
    const lease = this.chaos.lease ? raft.leaseRead() : null;
    if (lease === null && !raft.readIndex(ctx)) return;
    if (lease !== null) this.leaseReads++;
    const op: Operation = { id, key: this.pick(KEYS) ?? 'x', kind: 'get', input: null, output: null, call, ret: Infinity };
    this.gets.push({ op, deadline: this.now + CLIENT_TIMEOUT, node: n.id, ctx, readIndex: lease });
    if (lease !== null) this.serveGets(n);
  }

  // ---- one step -----------------------------------------------------------------------------

  /** Mostly a few steps; now and then very late, which reorders messages. */
  private latency(): number {
    return this.rand() < this.chaos.lateRate ? this.int(400) : 1 + this.int(this.chaos.maxLatency);
  }

  private deliverDue(): void {
    const due = this.network.filter((x) => x.at <= this.now);
    if (due.length === 0) return;
    this.network = this.network.filter((x) => x.at > this.now);
    for (const { m } of due) {
      if (this.group.get(m.from) !== this.group.get(m.to)) continue;
      const kind = m.type === 'appendResp' && m.reject ? 'appendReject' : m.type;
      this.delivered[kind] = (this.delivered[kind] ?? 0) + 1;
      this.nodes.find((n) => n.id === m.to)?.raft?.step(m);
    }
  }

  /** Heal, split at random, or cut the leader off: the fault that makes a deposed leader. */
  private repartition(): void {
    const r = this.rand();
    const leader = this.nodes.find((n) => n.raft?.currentRole === 'leader');
    for (const n of this.nodes) {
      if (r < 0.4) this.group.set(n.id, 0);
      else if (r < 0.7 || leader === undefined) this.group.set(n.id, this.int(2));
      else this.group.set(n.id, n === leader ? 1 : 0);
    }
  }

  /**
   * One step: deliver the messages due, then one random event. The weights set the pace: a
   * node ticks about once per fifteen steps, so a heartbeat round trip (two latencies and a few
   * Ready halves) fits inside an election timeout, while crashes and partitions come every few
   * election timeouts.
   */
  step(): void {
    this.now++;
    this.deliverDue();
    this.expireClients();
    if (this.chaos.lease && this.now % (5 * this.nodes.length) === 0) {
      for (const n of this.nodes) {
        // The broken clock assumption: a leader's clock stops (a stalled process that does not
        // catch up on the time it lost), so its lease never runs out.
        if (this.opts.fault === 'leaderClockStalls' && n.raft?.currentRole === 'leader') continue;
        n.raft?.tick();
      }
    }
    const r = this.rand() * 100;
    const n = this.pick(this.nodes);
    const raft = n?.raft ?? null;
    if (n === undefined) return;
    if (raft === null) {
      if (r < 3) this.start(n);
    } else if (r < 20) {
      if (!this.chaos.lease && this.rand() < (this.chaos.clockRates[this.nodes.indexOf(n)] ?? 1)) raft.tick();
    } else if (r < 75) this.io(n, raft);
    else if (r < 86) this.put(this.client(n));
    else if (r < 96) this.get(this.client(n));
    else if (r < 98) this.compact(n, raft);
    else if (r < 98 + this.chaos.crashRate) {
      // Half the crashes hit in the middle of writing a Ready: log written, hard state not.
      if (n.pending === null && raft.hasReady() && this.rand() < 0.5) this.writeLog(n, raft.ready());
      this.crash(n);
    } else if (r < 99 + this.chaos.partitionRate * 0.5) this.repartition();
    else if (r < 99.5 && raft.currentRole === 'leader') {
      const to = this.pick(this.nodes)?.id;
      if (to !== undefined) raft.transferLeader(to);
    } else if (r < 100 && raft.currentRole === 'leader' && this.chaos.membership) this.changeMembership(raft);
  }

  private changeMembership(raft: RaftNode): void {
    const { voters, learners } = raft.confState;
    const options: ConfChange[] = [];
    if (voters.length < this.opts.nodes + 1) {
      for (const { id } of this.nodes) {
        if (voters.includes(id)) continue;
        options.push({ type: 'addVoter', node: id });
        if (!learners.includes(id)) options.push({ type: 'addLearner', node: id });
      }
    }
    if (voters.length > this.opts.nodes - 1) for (const id of voters) options.push({ type: 'removeNode', node: id });
    const change = this.pick(options);
    if (change === undefined) return;
    const r = raft.proposeConfChange(change);
    if (!r.ok) return;
    this.confChanges++;
    // One change at a time, and only once the leader has committed in its own term: then every
    // earlier change is committed, except one this leader made itself, which we remember.
    const key = `${raft.id}/${r.term}`;
    const previous = this.lastConfProposal.get(key);
    if (raft.termAt(raft.commitIndex) !== raft.currentTerm) {
      throw new SafetyViolation(`leader ${raft.id} changed the configuration before committing in its term ${r.term}`);
    }
    if (previous !== undefined && previous > raft.commitIndex) {
      throw new SafetyViolation(`leader ${raft.id} proposed a configuration change at ${r.index} with another one uncommitted`);
    }
    this.lastConfProposal.set(key, r.index);
  }

  /** Advance the node's Ready loop by one half: apply the pending Ready, or take a new one. */
  private io(n: SimNode, raft: RaftNode): void {
    if (n.pending !== null) this.applyAndAdvance(n, raft);
    else if (raft.hasReady()) this.persistAndSend(n, raft);
  }

  /** Clients mostly follow the leader hint of the node they reached, like a real client would. */
  private client(n: SimNode): SimNode {
    const lead = n.raft?.leader;
    if (lead === null || lead === undefined || this.rand() < 0.2) return n;
    const target = this.nodes.find((x) => x.id === lead);
    return target?.raft ? target : n;
  }

  private compact(n: SimNode, raft: RaftNode): void {
    if (n.machine.applied - raft.firstIndex < 4 + this.int(16)) return;
    const s = raft.compact(n.machine.applied, encodeImage(n.machine));
    const d = n.disk;
    const drop = s.index - d.snapshot.index;
    d.entries = d.entries.slice(drop);
    d.digests = d.digests.slice(drop);
    d.snapshot = s;
  }

  /** Every safety property, after every step. */
  check(): void {
    for (const n of this.nodes) {
      const raft = n.raft;
      if (raft === null) continue;
      const view = {
        id: n.id,
        term: raft.currentTerm,
        commit: raft.commitIndex,
        snapshotIndex: raft.firstIndex - 1,
        termAt: (i: number) => raft.termAt(i),
      };
      this.checker.commit(view);
      const voters = raft.confState.voters.length;
      if (voters > 0 && voters < this.minVoters) this.minVoters = voters;
      if (raft.currentRole === 'leader') {
        this.checker.leader(n.id, raft.currentTerm);
        this.checker.leaderComplete(view);
        this.checker.leaderAppendOnly({ ...view, lastIndex: raft.lastIndex });
      }
    }
    const disks = this.nodes.map((n) => ({
      id: n.id,
      snapshotIndex: n.disk.snapshot.index,
      termAt: (i: number) => diskTermAt(n.disk, i),
    }));
    this.checker.durable(disks, Math.floor(this.minVoters / 2) + 1);
  }

  // ---- the whole run ------------------------------------------------------------------------

  run(): SimResult {
    for (let i = 0; i < this.opts.steps; i++) {
      this.step();
      this.check();
    }
    this.heal();
    return {
      history: this.history,
      terms: Math.max(...this.nodes.map((n) => n.raft?.currentTerm ?? 0)),
      committed: this.checker.highestCommitted,
      ackedPuts: this.ackedPuts,
      completedGets: this.completedGets,
      leaseReads: this.leaseReads,
      delivered: this.delivered,
      confChanges: this.confChanges,
    };
  }

  /** Repair everything, run a reliable network, and require that the group converges. */
  private heal(): void {
    for (const n of this.nodes) {
      this.group.set(n.id, 0);
      if (n.raft === null) this.start(n);
    }
    this.chaos = { ...this.chaos, dropRate: 0, duplicateRate: 0, lateRate: 0 };
    for (let round = 0; round < 400; round++) {
      for (const n of this.nodes) {
        n.raft?.tick();
        this.drain(n);
      }
      const batch = this.network;
      this.network = [];
      for (const { m } of batch) this.nodes.find((x) => x.id === m.to)?.raft?.step(m);
      for (const n of this.nodes) this.drain(n);
      this.check();
      if (this.converged()) return;
    }
    const state = this.nodes.map(
      (n) => `${n.id}:${n.raft?.currentRole}/t${n.raft?.currentTerm}/c${n.raft?.commitIndex}/a${n.machine.applied}/l${n.raft?.lastIndex}`,
    );
    throw new SafetyViolation(`no convergence after healing: ${state.join(' ')}`);
  }

  private drain(n: SimNode): void {
    const raft = n.raft;
    if (raft === null) return;
    this.applyAndAdvance(n, raft);
    while (raft.hasReady()) {
      this.persistAndSend(n, raft);
      this.applyAndAdvance(n, raft);
    }
  }

  private converged(): boolean {
    const leader = this.nodes.find((n) => n.raft?.currentRole === 'leader')?.raft;
    if (!leader || leader.commitIndex < leader.lastIndex || leader.commitIndex < this.ackedPutIndex) return false;
    const { voters, learners } = leader.confState;
    const members = this.nodes.filter((n) => voters.includes(n.id) || learners.includes(n.id));
    const digest = members[0]?.machine.digest;
    return members.every((n) => n.machine.applied === leader.commitIndex && n.machine.digest === digest);
  }
}

/** Seeds to run: RAFT_SEED=123 replays one seed, otherwise `count` seeds from `first`. */
export function seedsToRun(count: number, first = 1): number[] {
  const one = process.env.RAFT_SEED;
  if (one !== undefined && one !== '') return [Number(one)];
  return Array.from({ length: count }, (_, i) => first + i);
}
