// A tiny, fully deterministic harness for unit tests: a perfect FIFO network (unless told to
// drop), durable storage per node that follows the Ready contract, and a list of applied entries.
import { RaftNode } from '../../../agent/sbs/raft/index.js';
import type { Entry, HardState, Message, NodeId, RaftConfig, Ready, Snapshot } from '../../../agent/sbs/raft/index.js';

export interface Storage {
  hardState: HardState;
  snapshot: Snapshot;
  entries: Entry[];
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

export function bootstrap(voters: readonly NodeId[], learners: readonly NodeId[] = []): Storage {
  return {
    hardState: { term: 0, vote: null, commit: 0 },
    snapshot: { index: 0, term: 0, conf: { voters: [...voters], learners: [...learners] }, data: new Uint8Array(0) },
    entries: [],
  };
}

export function config(id: NodeId, overrides: Partial<RaftConfig> = {}): RaftConfig {
  return {
    id,
    electionTicks: 10,
    heartbeatTicks: 1,
    maxEntriesPerAppend: 64,
    maxBytesPerAppend: 1 << 20,
    maxInflight: 8,
    preVote: true,
    checkQuorum: true,
    random: () => 0,
    ...overrides,
  };
}

/** Apply a Ready's persistence part to storage, as the contract orders it. */
export function persist(st: Storage, rd: Ready): void {
  if (rd.snapshot) {
    st.snapshot = rd.snapshot;
    st.entries = [];
  }
  const first = rd.entries[0];
  if (first !== undefined) {
    st.entries.length = Math.max(0, first.index - st.snapshot.index - 1);
    st.entries.push(...rd.entries);
  }
  if (rd.hardState) st.hardState = rd.hardState;
}

export class Cluster {
  readonly nodes = new Map<NodeId, RaftNode>();
  readonly storage = new Map<NodeId, Storage>();
  readonly applied = new Map<NodeId, Entry[]>();
  readonly reads = new Map<NodeId, { ctx: string; index: number }[]>();
  /** Messages waiting for delivery, in send order. */
  queue: Message[] = [];
  /** Messages for which this returns true are dropped. */
  drop: (m: Message) => boolean = () => false;

  constructor(
    readonly ids: readonly NodeId[],
    private readonly overrides: Partial<RaftConfig> = {},
  ) {
    for (const id of ids) this.add(id, bootstrap(ids));
  }

  add(id: NodeId, st: Storage): RaftNode {
    this.storage.set(id, st);
    // Distinct, fixed election timeouts: a times out after 11 ticks, b after 12, ... so tests
    // can let leases (10 ticks) expire without anybody campaigning.
    const offset = (this.ids.indexOf(id) + 1) % 10;
    const random = (n: number): number => offset % n;
    const node = new RaftNode(config(id, { random, ...this.overrides }), { ...st, entries: [...st.entries] });
    this.nodes.set(id, node);
    if (!this.applied.has(id)) this.applied.set(id, []);
    if (!this.reads.has(id)) this.reads.set(id, []);
    return node;
  }

  node(id: NodeId): RaftNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** Restart from storage only: everything not yet persisted is lost, `applied` starts over. */
  restart(id: NodeId): RaftNode {
    const st = this.storage.get(id);
    if (st === undefined) throw new Error(`no storage for ${id}`);
    this.applied.set(id, []);
    return this.add(id, st);
  }

  isolate(id: NodeId): void {
    this.drop = (m) => m.from === id || m.to === id;
  }

  heal(): void {
    this.drop = () => false;
  }

  /** Process every node's Ready once; returns whether anything happened. */
  flush(): boolean {
    let busy = false;
    for (const [id, node] of this.nodes) {
      if (!node.hasReady()) continue;
      busy = true;
      const rd = node.ready();
      persist(this.storage.get(id)!, rd);
      this.queue.push(...rd.messages);
      this.applied.get(id)!.push(...rd.committedEntries);
      this.reads.get(id)!.push(...rd.readStates);
      node.advance();
    }
    return busy;
  }

  /** Deliver messages until the cluster is quiet. */
  stabilize(): void {
    for (let rounds = 0; rounds < 10_000; rounds++) {
      const busy = this.flush();
      if (this.queue.length === 0 && !busy) return;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        if (!this.drop(m)) this.nodes.get(m.to)?.step(m);
      }
    }
    throw new Error('cluster did not stabilize');
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).tick();
  }

  /** Tick `id` until it campaigns, then let the election run its course. */
  elect(id: NodeId): void {
    const n = this.node(id);
    for (let i = 0; i < 20 && n.currentRole === 'follower'; i++) n.tick();
    this.stabilize();
  }

  /** Enough ticks for `ids` to stop trusting their leader, not enough to campaign. */
  expireLeases(...ids: NodeId[]): void {
    for (const id of ids) this.tick(id, 10);
  }

  /** One heartbeat round from the leader. */
  heartbeat(leader: NodeId): void {
    this.tick(leader, 1);
    this.stabilize();
  }

  appliedData(id: NodeId): string[] {
    return this.applied
      .get(id)!
      .filter((e) => e.kind === 'normal' && e.data.byteLength > 0)
      .map((e) => (e.kind === 'normal' ? dec(e.data) : ''));
  }
}
