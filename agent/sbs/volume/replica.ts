// One replica of a volume: a raft group member driven over durable storage.
//
//   <dir>/volume.json     spec (id, initial size, placement) — written by the store, and again
//                         when a `place` entry is applied
//   <dir>/member          this replica's raft member id (member.ts) — written by the store
//   <dir>/wal/            raft entries and hard state (storage/wal.ts)
//   <dir>/data.img        the state machine: a sparse file that applied entries update
//   <dir>/snapshot.json   the index data.img is known to reflect at least (storage/snapshot.ts)
//
// Driver (one at a time, woken by every input): propose the writes that queued meanwhile, as one
// batch → ready() → send a leader's appends → persist (received snapshot, entries, hard state;
// fdatasync) while applying the committed entries to data.img → send the other messages → serve
// reads → advance() → compact when the log grew past a threshold.
//
// Writes resolve once their entry is committed and applied here, so an acknowledged write is on a
// majority's disks and every later read sees it; flush and FUA have nothing left to wait for.
// Reads are linearizable: on the leader, within its lease (half an election timeout after a
// majority answered a heartbeat), as soon as it has applied up to its commit index; otherwise via
// ReadIndex, a batch of reads waiting for one leader round trip and for this replica to apply up
// to the index it returns. Ticks follow a monotonic clock (see tick()), which the lease needs.

import { randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { BlockDeviceError } from '../backend/block-device.js';
import { SparseFileDevice } from '../backend/sparse-file.js';
import { RaftNode, type ConfChange, type ConfState, type Entry, type Message, type Role, type Snapshot, type SnapshotMessage } from '../raft/index.js';
import { fsyncDir, writeFileAtomic } from '../../../lib/atomic-file.js';
import { readSnapshotMeta, writeSnapshotMeta, type SnapshotMeta } from '../storage/snapshot.js';
import { Wal } from '../storage/wal.js';
import { decodeCommand, encodeCommand, type VolumeCommand } from './commands.js';
import { hostOf } from './member.js';
import { decodePlacement, encodePlacement, type Placement, type VolumeHost } from './placement.js';
import { ReplicaWaiters } from './waiters.js';
import { WriterFollower } from './follow-writer.js';

export type { VolumeHost };

export interface ReplicaSpec {
  readonly id: string;
  readonly sizeBytes: number;
  readonly hosts: readonly VolumeHost[];
  /** The owning tenant; '' (or absent, in specs written before tenants) for none. */
  readonly tenant?: string;
  /** Placement.retired and Placement.at (placement.ts); absent until the volume first moved. */
  readonly retired?: readonly VolumeHost[];
  readonly placedAt?: number;
}

const placementOf = (spec: ReplicaSpec): Placement => ({ hosts: spec.hosts, retired: spec.retired ?? [], at: spec.placedAt ?? 0 });

/** How a replica reaches its peers (transport.ts over gRPC; a fake in tests). */
export interface PeerTransport {
  /** Fire and forget: raft retries what is lost. */
  send(volumeId: string, to: VolumeHost, messages: readonly Message[]): void;
  /** Streams the image at `path` (live data file) and delivers `message` after it. */
  sendSnapshot(volumeId: string, to: VolumeHost, message: SnapshotMessage, path: string): Promise<void>;
  /** Proposes commands on the leader, in order; resolves once all are applied there. */
  propose(volumeId: string, to: VolumeHost, commands: readonly Uint8Array[], timeoutMs: number): Promise<void>;
}

export interface ReplicaOptions {
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  /** Take a snapshot (and drop log segments) once this many bytes were applied since the last. */
  readonly compactBytes: number;
  /** Writes and reads that cannot complete in this time (no leader, no quorum) fail with EIO. */
  readonly requestTimeoutMs: number;
}

export const DEFAULT_REPLICA_OPTIONS: ReplicaOptions = {
  tickMs: 50,
  electionTicks: 20,
  heartbeatTicks: 2,
  compactBytes: 64 * 1024 * 1024,
  requestTimeoutMs: 20_000,
};

export class NotLeaderError extends Error {
  constructor(readonly leader: string | null) {
    super(leader ? `not the leader; the leader is ${leader}` : 'no leader elected');
    this.name = 'NotLeaderError';
  }
}

export interface ReplicaState {
  readonly role: Role;
  /** The leader's host. */
  readonly leader: string | null;
  readonly term: number;
  readonly commit: number;
  readonly applied: number;
  readonly sizeBytes: number;
}

/** A write waiting to be forwarded to the leader (a follower's client). */
interface Forward {
  readonly data: Uint8Array;
  readonly deadline: number;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

interface Proposal {
  readonly data: Uint8Array;
  /** In the log at `index`: from now on it waits to be applied. */
  readonly accepted: (index: number, term: number) => void;
  readonly reject: (e: Error) => void;
}

/**
 * Entries and bytes per append: a follower that fell behind catches up in large steps, each
 * within one raft link frame (a single entry is at most 2 MiB).
 */
const MAX_APPEND_ENTRIES = 256;
const MAX_APPEND_BYTES = 1024 * 1024;
const MAX_INFLIGHT_APPENDS = 8;
const MAX_READ_ROUNDS = 4;
/** Forwarded batches in flight to the leader, and the bytes of one (under the leader's 4 MiB message limit). */
const MAX_FORWARDS = 2;
const MAX_FORWARD_BYTES = 3 * 1024 * 1024;
const LAGGARD_LOG_FACTOR = 4;
/** Applied writes go to the page cache synchronously (SparseFileDevice.writeNow), this much between turns of the event loop. */
const SYNC_APPLY_BYTES = 64 * 1024;
/** A learner this close to the leader's commit index has caught up and may vote. */
const CAUGHT_UP_LAG = 64;

export class Replica {
  private peers: Map<string, VolumeHost>;
  private running = false;
  private closed = false;
  private failure: Error | null = null;
  private timer: NodeJS.Timeout;
  /** Monotonic time up to which raft has been ticked. */
  private tickedTo = performance.now();
  private appliedBytes = 0;
  /**
   * The compaction under way, beside the driver: syncing 64 MiB of data file had stopped the
   * volume for a tenth of a second each time (most of the 1 MiB write stream's p99).
   */
  private compacting: Promise<void> | null = null;
  private readonly waiters = new ReplicaWaiters();
  /** Proposed while the driver was busy: they go to raft together, as one append per follower. */
  private unsent: Proposal[] = [];
  /** Writes for the leader: they leave together, as one forwarded batch, while fewer than MAX_FORWARDS are under way. */
  private forwards: Forward[] = [];
  private forwarding = 0;
  private readSeq = 0;
  /** A snapshot image received from the leader, waiting for its raft message to come out of Ready. */
  private staged: { index: number; path: string } | null = null;
  private snapshotsSending = new Set<string>();
  private snapshotReceiving = false;
  /** Leader only: when each member was last heard from (monotonic ms), from when this node led. */
  private heard = new Map<string, number>();
  /** Leader only: whether its clients' writes come through a follower (follow-writer.ts). */
  private readonly writers = new WriterFollower(performance.now());
  private wasLeader = false;

  private constructor(
    private current: ReplicaSpec,
    readonly self: string,
    readonly dir: string,
    private node: RaftNode,
    private device: SparseFileDevice,
    private wal: Wal,
    private snapIndex: number,
    private readonly transport: PeerTransport,
    private readonly log: Logger,
    private readonly opts: ReplicaOptions,
  ) {
    this.peers = new Map(current.hosts.map((h) => [h.name, h]));
    this.timer = setInterval(() => this.tick(), opts.tickMs);
    this.timer.unref();
  }

  static async open(
    dir: string,
    self: string,
    spec: ReplicaSpec,
    transport: PeerTransport,
    log: Logger,
    opts: ReplicaOptions = DEFAULT_REPLICA_OPTIONS,
  ): Promise<Replica> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const meta: SnapshotMeta = (await readSnapshotMeta(join(dir, 'snapshot.json'))) ?? {
      index: 0,
      term: 0,
      conf: { voters: spec.hosts.map((h) => h.name), learners: [] },
    };
    const { wal, hardState, entries } = await Wal.open(join(dir, 'wal'), meta);
    const dataPath = join(dir, 'data.img');
    const exists = await stat(dataPath).then(
      () => true,
      () => false,
    );
    const device = await SparseFileDevice.open(dataPath, exists ? {} : { size: spec.sizeBytes });
    const node = new RaftNode(
      {
        id: self,
        electionTicks: opts.electionTicks,
        heartbeatTicks: opts.heartbeatTicks,
        maxEntriesPerAppend: MAX_APPEND_ENTRIES,
        maxBytesPerAppend: MAX_APPEND_BYTES,
        // Appends in flight per follower. Each holds a whole batch of writes, so a few keep the
        // pipe full; many 1 MiB appends queued on a stream only delay the acknowledgements behind
        // them (64 held a write back 20 s on a loaded machine).
        maxInflight: MAX_INFLIGHT_APPENDS,
        preVote: true,
        checkQuorum: true,
        // Half the election timeout: followers ignore other candidates for a whole one after
        // hearing from us, which leaves half of it for clock drift and tick granularity.
        leaseTicks: Math.floor(opts.electionTicks / 2),
        random: (n) => randomInt(n),
      },
      // data.img may be ahead of the snapshot: replaying from it is harmless (writes are idempotent).
      // A snapshot's data is the placement, which a follower that needs the snapshot lacks.
      { hardState, snapshot: { ...meta, data: encodePlacement(placementOf(spec)) }, entries, applied: meta.index },
    );
    const r = new Replica(spec, self, dir, node, device, wal, meta.index, transport, log.child({ volume: spec.id }), opts);
    r.schedule();
    return r;
  }

  // ---- inputs -----------------------------------------------------------------------------

  step(messages: readonly Message[]): void {
    this.assertOpen();
    const now = performance.now();
    for (const m of messages) {
      if (m.to !== this.self) throw new Error(`raft message for ${m.to} delivered to ${this.self}`);
      if (m.type === 'snapshot') throw new Error('snapshots come through InstallSnapshot');
      this.heard.set(m.from, now);
      this.node.step(m);
    }
    this.schedule();
  }

  get spec(): ReplicaSpec {
    return this.current;
  }

  get placement(): Placement {
    return placementOf(this.current);
  }

  get confState(): ConfState {
    return this.node.confState;
  }

  /**
   * Leader only: the voters other than this one not heard from for `ms` (counted from when this
   * node became leader at the earliest).
   */
  silentVoters(ms: number): string[] {
    if (this.node.currentRole !== 'leader') return [];
    const now = performance.now();
    return this.node.confState.voters.filter((v) => v !== this.self && now - (this.heard.get(v) ?? now) >= ms);
  }

  /** Proposes a command, here or on the leader; resolves once applied (on the leader). */
  async submit(command: VolumeCommand): Promise<void> {
    const data = encodeCommand(command);
    this.writers.wrote(1);
    const deadline = Date.now() + this.opts.requestTimeoutMs;
    for (;;) {
      this.assertOpen();
      try {
        await this.proposeLocal(data, deadline);
        return;
      } catch (e) {
        if (!(e instanceof NotLeaderError)) throw e;
        const leader = e.leader === null ? undefined : this.peers.get(hostOf(e.leader));
        if (leader) {
          try {
            await new Promise<void>((resolve, reject) => {
              this.forwards.push({ data, deadline, resolve, reject });
              this.forward();
            });
            // Applied on the leader; our own reads catch up through ReadIndex.
            return;
          } catch (fe) {
            this.log.debug({ err: fe, leader: leader.name }, 'forwarded write failed; retrying');
          }
        }
      }
      if (Date.now() > deadline)
        throw new BlockDeviceError('EIO', `volume ${this.spec.id}: no leader could take the write within ${this.opts.requestTimeoutMs} ms`);
      await sleep(this.opts.tickMs * 2);
    }
  }

  /**
   * Sends the queued writes to the leader as one batch. Each is a write the client has not been
   * answered for, and writes are idempotent, so a batch that failed part-way is simply sent again.
   */
  private forward(): void {
    if (this.forwarding >= MAX_FORWARDS || this.forwards.length === 0) return;
    // The leader as known now: writes queued under an earlier one go to its successor.
    const leader = this.node.leader === null ? undefined : this.peers.get(hostOf(this.node.leader));
    if (!leader || this.node.currentRole === 'leader') {
      // No leader to forward to (or this replica leads now): submit() tries again.
      for (const f of this.forwards.splice(0)) f.reject(new NotLeaderError(this.node.leader));
      return;
    }
    let bytes = 0;
    let n = 0;
    while (n < this.forwards.length && (n === 0 || bytes + this.forwards[n]!.data.length <= MAX_FORWARD_BYTES)) bytes += this.forwards[n++]!.data.length;
    const batch = this.forwards.splice(0, n);
    this.forwarding++;
    this.transport
      .propose(
        this.spec.id,
        leader,
        batch.map((f) => f.data),
        Math.max(1, Math.min(...batch.map((f) => f.deadline)) - Date.now()),
      )
      .then(
        () => batch.forEach((f) => f.resolve()),
        (e: Error) => batch.forEach((f) => f.reject(e)),
      )
      .finally(() => {
        this.forwarding--;
        this.forward();
      });
  }

  /** Writes a follower on `host` forwarded to this leader. */
  forwardedFrom(host: string, writes: number): void {
    this.writers.forwardedFrom(host, writes);
  }

  /** Leader only (NotLeaderError otherwise): propose and wait for the entry to be applied here. */
  proposeLocal(data: Uint8Array, deadline = Date.now() + this.opts.requestTimeoutMs): Promise<number> {
    this.assertOpen();
    if (this.node.currentRole !== 'leader') return Promise.reject(new NotLeaderError(this.node.leader));
    return new Promise<number>((resolve, reject) => {
      this.unsent.push({
        data,
        accepted: (index, term) => this.waiters.proposed(index, term, { resolve: () => resolve(index), reject, deadline }),
        reject,
      });
      this.schedule();
    });
  }

  /**
   * Leader only: `host` lost its replica (data wiped) and it was re-created empty as `member`, a
   * new incarnation (member.ts). The old member is removed — our progress for it claims entries
   * the host no longer has, and counting it in a quorum would be a lie — and the new one added as
   * a voter, starting from zero (it then gets a snapshot).
   */
  async rejoin(host: string, member: string): Promise<void> {
    const conf = this.node.confState;
    const old = [...conf.voters, ...conf.learners].find((m) => hostOf(m) === host && m !== member);
    if (old !== undefined) await this.changeConf({ type: 'removeNode', node: old });
    if (!this.node.confState.voters.includes(member)) await this.changeConf({ type: 'addVoter', node: member });
    this.log.info({ host, member, replaces: old ?? null }, 'peer rejoined from scratch as a new member');
  }

  /** Leader only: one membership change, resolved once applied here. */
  async changeConf(change: ConfChange): Promise<void> {
    const deadline = Date.now() + this.opts.requestTimeoutMs;
    for (;;) {
      this.assertOpen();
      const res = this.node.proposeConfChange(change);
      if (res.ok) {
        this.schedule();
        await new Promise<void>((resolve, reject) => this.waiters.proposed(res.index, res.term, { resolve, reject, deadline }));
        this.log.info({ change }, 'membership changed');
        return;
      }
      if (res.reason === 'notLeader') throw new NotLeaderError(this.node.leader);
      if (res.reason === 'invalidConfChange') throw new Error(`${change.type} ${change.node}: not possible in the current configuration`);
      if (Date.now() > deadline) throw new Error(`${change.type} ${change.node}: ${res.reason} for ${this.opts.requestTimeoutMs} ms`);
      await sleep(this.opts.tickMs);
    }
  }

  /** Leader only: resolves once `member` holds the log up to near the commit index (a learner catching up). */
  async caughtUp(member: string, deadline: number): Promise<void> {
    for (;;) {
      this.assertOpen();
      const match = this.node.matchOf(member);
      if (match === undefined) throw new NotLeaderError(this.node.leader);
      if (match + CAUGHT_UP_LAG >= this.node.commitIndex) return;
      if (Date.now() > deadline) throw new Error(`${member} did not catch up (at ${match} of ${this.node.commitIndex})`);
      await sleep(this.opts.tickMs);
    }
  }

  /** Leader only: hands leadership to `member`; resolves once this node no longer leads. */
  async handOver(member: string, deadline: number): Promise<void> {
    while (this.node.currentRole === 'leader') {
      this.assertOpen();
      if (Date.now() > deadline) throw new Error(`leadership did not pass to ${member}`);
      this.node.transferLeader(member);
      this.schedule();
      await sleep(this.opts.electionTicks * this.opts.tickMs);
    }
  }

  /** A linearizable read of the data file. */
  async read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    this.assertOpen();
    this.catchUpTicks(); // the lease is judged on the time now, not at the last timer
    const index = this.node.leaseRead();
    if (index === null || index > this.node.appliedIndex) {
      await new Promise<void>((resolve, reject) => {
        const waiter = { resolve, reject, deadline: Date.now() + this.opts.requestTimeoutMs };
        if (index === null) {
          this.waiters.queueRead(waiter);
          this.kickReads();
        } else {
          this.waiters.afterApplied(index, waiter);
          this.schedule();
        }
      });
    }
    return this.device.read(offset, length, into);
  }

  state(): ReplicaState {
    return {
      role: this.node.currentRole,
      leader: this.node.leader === null ? null : hostOf(this.node.leader),
      term: this.node.currentTerm,
      commit: this.node.commitIndex,
      applied: this.node.appliedIndex,
      sizeBytes: this.device.size,
    };
  }

  get size(): number {
    return this.device.size;
  }

  get error(): Error | null {
    return this.failure;
  }

  /**
   * A leader streams its image: the chunks go to a staging file, then the snapshot message is
   * stepped in; the file replaces data.img when the message comes out of Ready (installSnapshot).
   */
  async receiveSnapshot(message: SnapshotMessage, sizeBytes: number, chunks: AsyncIterable<{ offset: number; data: Uint8Array }>): Promise<void> {
    this.assertOpen();
    if (message.to !== this.self) throw new Error(`snapshot for ${message.to} delivered to ${this.self}`);
    if (this.snapshotReceiving) throw new Error('a snapshot is already being received');
    this.snapshotReceiving = true;
    const path = join(this.dir, `data.img.incoming-${message.snapshot.index}`);
    try {
      await rm(path, { force: true });
      const img = await SparseFileDevice.open(path, { size: sizeBytes });
      try {
        for await (const c of chunks) await img.write(c.offset, Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength), { fua: false });
        await img.flush();
      } finally {
        await img.close();
      }
      this.assertOpen();
      if (this.staged) await rm(this.staged.path, { force: true });
      this.staged = { index: message.snapshot.index, path };
      this.node.step(message);
      this.schedule();
    } catch (e) {
      await rm(path, { force: true });
      throw e;
    } finally {
      this.snapshotReceiving = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const err = new BlockDeviceError('ESHUTDOWN', `volume ${this.spec.id} is closing`);
    this.failAll(err);
    await waitUntil(() => !this.running, 10_000);
    await this.compacting;
    await this.device.close();
    await this.wal.close();
    if (this.staged) await rm(this.staged.path, { force: true });
  }

  // ---- driver -----------------------------------------------------------------------------

  /**
   * Ticks raft once per tickMs of monotonic time elapsed, however late the timer fires: a
   * leader whose event loop stalled must see its lease run out on time, not tick by tick later.
   */
  private catchUpTicks(): void {
    const now = performance.now();
    while (now - this.tickedTo >= this.opts.tickMs) {
      this.tickedTo += this.opts.tickMs;
      this.node.tick();
    }
  }

  private tick(): void {
    if (this.closed) return;
    this.catchUpTicks();
    const leading = this.node.currentRole === 'leader';
    if (!leading) this.heard.clear();
    else for (const v of this.node.confState.voters) if (!this.heard.has(v)) this.heard.set(v, performance.now());
    if (leading !== this.wasLeader) this.writers.reset(performance.now());
    this.wasLeader = leading;
    const writer = leading ? this.writers.decide(performance.now()) : null;
    const to = writer === null ? undefined : this.node.confState.voters.find((v) => hostOf(v) === writer);
    if (to !== undefined) {
      this.log.info({ to }, "handing leadership to the follower its clients' writes come through");
      this.node.transferLeader(to);
    }
    const now = Date.now();
    this.waiters.requeueLostRounds(now, 20 * this.opts.tickMs);
    this.waiters.expire(
      now,
      () => new BlockDeviceError('EIO', `volume ${this.spec.id}: no quorum within ${this.opts.requestTimeoutMs} ms (leader: ${this.node.leader ?? 'none'})`),
    );
    this.kickReads();
    this.schedule();
  }

  private kickReads(): void {
    if (!this.waiters.readsQueued || this.waiters.roundsUnderWay >= MAX_READ_ROUNDS || this.closed) return;
    const ctx = `${this.self}:${++this.readSeq}`;
    if (!this.node.readIndex(ctx)) return; // no leader yet: the next tick tries again
    this.waiters.roundSent(ctx, Date.now());
    this.schedule();
  }

  private schedule(): void {
    if (this.running || this.closed || this.failure) return;
    if (this.unsent.length === 0 && !this.node.hasReady()) return;
    this.running = true;
    setImmediate(() => void this.drive());
  }

  private async drive(): Promise<void> {
    try {
      while (!this.closed && (this.proposeUnsent(), this.node.hasReady())) {
        const rd = this.node.ready();
        // A leader's appends and heartbeats promise nothing about its own disk (the core counts
        // the leader's log only once advance() reports it stable), so they leave before our
        // fsync and the followers' fsyncs overlap it (raft thesis §10.2.1). Votes and
        // acknowledgements wait for the fsync, as types.ts requires.
        const early = rd.messages.filter((m) => m.type === 'append' || m.type === 'heartbeat');
        this.dispatch(early);
        if (rd.snapshot) await this.installSnapshot(rd.snapshot);
        // Committed entries are on a majority's disks already: applying them need not wait for
        // ours (data.img running ahead of the log is fine, see compact()).
        const applied = this.apply(rd.committedEntries).then(
          () => null,
          (e: unknown) => e as Error,
        );
        try {
          await this.wal.save(rd.hardState, rd.entries, rd.snapshot ? { index: rd.snapshot.index, term: rd.snapshot.term } : null);
        } catch (e) {
          await applied;
          throw e;
        }
        this.dispatch(early.length === 0 ? rd.messages : rd.messages.filter((m) => m.type !== 'append' && m.type !== 'heartbeat'));
        const applyError = await applied;
        if (applyError) throw applyError;
        for (const s of rd.readStates) this.waiters.roundAnswered(s.ctx, s.index);
        this.node.advance();
        this.waiters.released(this.node.appliedIndex);
        if (this.appliedBytes >= this.opts.compactBytes && !this.compacting) {
          this.compacting = this.compact().then(
            () => void (this.compacting = null),
            (e: unknown) => {
              this.compacting = null;
              this.fail(e as Error);
            },
          );
        }
      }
    } catch (e) {
      this.fail(e as Error);
    } finally {
      this.running = false;
    }
    this.kickReads();
    this.schedule();
  }

  private proposeUnsent(): void {
    if (this.unsent.length === 0) return;
    const batch = this.unsent;
    this.unsent = [];
    const res = this.node.proposeBatch(batch.map((p) => p.data));
    if (!res.ok) {
      // Leadership moved since proposeLocal: the callers forward to the new leader.
      for (const p of batch) p.reject(new NotLeaderError(res.leader));
      return;
    }
    for (const [i, p] of batch.entries()) p.accepted(res.index + i, res.term);
  }

  private dispatch(messages: readonly Message[]): void {
    const byPeer = new Map<string, Message[]>(); // by host: its members share the channel
    for (const m of messages) {
      const to = this.peers.get(hostOf(m.to));
      if (!to) continue;
      if (m.type === 'snapshot') this.shipSnapshot(to, m);
      else byPeer.set(to.name, [...(byPeer.get(to.name) ?? []), m]);
    }
    for (const [name, ms] of byPeer) this.transport.send(this.spec.id, this.peers.get(name)!, ms);
  }

  private shipSnapshot(to: VolumeHost, m: SnapshotMessage): void {
    if (this.snapshotsSending.has(to.name)) return; // raft re-sends while a slow stream runs
    this.snapshotsSending.add(to.name);
    this.log.info({ to: to.name, index: m.snapshot.index }, 'sending snapshot');
    this.transport
      .sendSnapshot(this.spec.id, to, m, join(this.dir, 'data.img'))
      .then(
        () => this.log.info({ to: to.name, index: m.snapshot.index }, 'snapshot sent'),
        (e: unknown) => this.log.warn({ err: e, to: to.name }, 'sending snapshot failed'),
      )
      .finally(() => this.snapshotsSending.delete(to.name));
  }

  private async apply(entries: readonly Entry[]): Promise<void> {
    for (const e of entries) {
      if (e.kind === 'normal' && e.data.length > 0) {
        const c = decodeCommand(e.data);
        if (c.op === 'place') await this.place({ ...c.placement, at: e.index });
        else await this.execute(c);
        this.appliedBytes += e.data.length;
      }
      // A proposal whose index another leader's entry took can never commit, so proposing it
      // again (submit does, on the leader) cannot apply it twice.
      this.waiters.entryApplied(e.index, e.term, () => new NotLeaderError(this.node.leader));
    }
  }

  private async execute(c: VolumeCommand): Promise<void> {
    switch (c.op) {
      case 'write': {
        const data = Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength);
        // Large writes in slices, so that heartbeats and reads are served in between.
        for (let at = 0; at < data.length; at += SYNC_APPLY_BYTES) {
          if (at > 0) await yieldToLoop();
          this.device.writeNow(c.offset + at, data.subarray(at, at + SYNC_APPLY_BYTES));
        }
        return;
      }
      case 'trim':
        return this.device.trim(c.offset, c.length, { fua: false });
      case 'zero':
        return this.device.writeZeroes(c.offset, c.length, { fua: false, noHole: c.noHole });
      case 'grow': {
        if (c.size <= this.device.size) return;
        const old = this.device;
        this.device = await SparseFileDevice.open(join(this.dir, 'data.img'), { size: c.size });
        await old.close();
        return;
      }
      case 'place':
        throw new Error('placements are applied by place()');
    }
  }

  /** A newer placement: the hosts raft talks to and admits, kept in volume.json. */
  private async place(p: Placement): Promise<void> {
    if (p.at <= (this.current.placedAt ?? 0)) return;
    this.current = { ...this.current, hosts: p.hosts, retired: p.retired, placedAt: p.at };
    this.peers = new Map(p.hosts.map((h) => [h.name, h]));
    await writeFileAtomic(join(this.dir, 'volume.json'), JSON.stringify(this.current, null, 2) + '\n');
    this.log.info({ hosts: p.hosts.map((h) => h.name), retired: p.retired.map((h) => h.name), at: p.at }, 'placement applied');
  }

  /** The received image becomes data.img; then its metadata, then (by the caller) the WAL's restore record. */
  private async installSnapshot(s: Snapshot): Promise<void> {
    await this.compacting; // it syncs the data file this replaces
    const staged = this.staged;
    if (!staged || staged.index !== s.index) throw new Error(`snapshot ${s.index} came out of raft without its image`);
    this.staged = null;
    const dataPath = join(this.dir, 'data.img');
    const old = this.device;
    await rename(staged.path, dataPath);
    await fsyncDir(this.dir);
    this.device = await SparseFileDevice.open(dataPath);
    await old.close();
    await writeSnapshotMeta(join(this.dir, 'snapshot.json'), { index: s.index, term: s.term, conf: s.conf });
    this.snapIndex = s.index;
    this.appliedBytes = 0;
    if (s.data.length > 0) await this.place(decodePlacement(s.data));
    this.log.info({ index: s.index }, 'installed snapshot');
  }

  /**
   * data.img reflects at least `applied`: make that durable, record it, and drop the log up to it
   * — on a leader, only up to what every follower holds: a follower that is merely slow would
   * otherwise need a snapshot, which streams the whole image. One that lags by more than
   * LAGGARD_LOG_FACTOR compactions' worth (down, or wiped) gets the snapshot.
   */
  private async compact(): Promise<void> {
    const lowest = this.node.followersMatch;
    const keep = lowest !== null && this.appliedBytes < LAGGARD_LOG_FACTOR * this.opts.compactBytes;
    const index = keep ? Math.min(this.node.appliedIndex, lowest) : this.node.appliedIndex;
    if (index <= this.snapIndex) return;
    const bytes = this.appliedBytes;
    await this.device.flush();
    // The placement may be newer than `index`; its `at` keeps older entries from undoing it.
    const snap = this.node.compact(index, encodePlacement(this.placement));
    await writeSnapshotMeta(join(this.dir, 'snapshot.json'), { index: snap.index, term: snap.term, conf: snap.conf });
    await this.wal.compact(snap.index);
    this.snapIndex = snap.index;
    this.appliedBytes -= bytes;
    this.log.debug({ index }, 'compacted');
  }

  /** Storage failed: this replica cannot keep raft's promises any more; it stops taking part. */
  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.log.error({ err: e }, 'replica stopped: storage failure');
    this.failAll(new BlockDeviceError('EIO', `volume ${this.spec.id}: replica failed: ${e.message}`));
  }

  private failAll(err: Error): void {
    for (const p of this.unsent) p.reject(err);
    this.unsent = [];
    for (const f of this.forwards) f.reject(err);
    this.forwards = [];
    this.waiters.failAll(err);
  }

  private assertOpen(): void {
    if (this.closed) throw new BlockDeviceError('ESHUTDOWN', `volume ${this.spec.id} is closed`);
    if (this.failure) throw new BlockDeviceError('EIO', `volume ${this.spec.id}: replica failed: ${this.failure.message}`);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitUntil(cond: () => boolean, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond() && Date.now() < until) await sleep(5);
}
