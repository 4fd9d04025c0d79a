// Where a volume's replicas are, and how a move gets from one placement to another. Pure.
//
// The placement is replicated state: a `place` entry in the volume's raft log sets it on every
// replica (commands.ts), and snapshots carry it, so whichever replica leads knows the hosts to talk
// to and the old hosts whose replicas still wait to be deleted (`retired`). `at` is the log index
// that set it: replaying an older entry (after a restart) never takes a replica back to an older
// placement.
//
// A move is a sequence of single steps, each decided from the placement and raft's configuration
// as they are now (nextMoveStep), so a move that was interrupted — a leader change, a crash —
// is finished by running it again:
//
//   place old ∪ new → for each new host: create its replica, add it as a learner, wait until it
//   caught up, promote it → remove each old member (the leader hands over first if it is one) →
//   place new, the old hosts retired → delete each retired replica (retried until it answers).

import { rendezvous } from '../../../lib/rendezvous.js';
import type { ConfState } from '../raft/index.js';
import { hostOf } from './member.js';

export interface VolumeHost {
  readonly name: string;
  readonly endpoint: string;
}

export interface Placement {
  readonly hosts: readonly VolumeHost[];
  /** Hosts that left the group and may still hold a replica to delete. */
  readonly retired: readonly VolumeHost[];
  /** The log index of the entry that set it (0: set at create). */
  readonly at: number;
}

export function encodePlacement(p: Placement): Buffer {
  return Buffer.from(JSON.stringify({ hosts: p.hosts, retired: p.retired, at: p.at }));
}

export function decodePlacement(b: Uint8Array): Placement {
  const o = JSON.parse(Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')) as Record<string, unknown>;
  const hosts = (v: unknown): v is VolumeHost[] =>
    Array.isArray(v) && v.every((h) => typeof (h as VolumeHost)?.name === 'string' && typeof (h as VolumeHost).endpoint === 'string');
  if (!hosts(o.hosts) || !hosts(o.retired) || !Number.isSafeInteger(o.at)) throw new Error('volume placement: malformed');
  return { hosts: o.hosts.map(host), retired: o.retired.map(host), at: o.at as number };
}

const host = (h: VolumeHost): VolumeHost => ({ name: h.name, endpoint: h.endpoint });
const names = (hs: readonly VolumeHost[]): Set<string> => new Set(hs.map((h) => h.name));

export type MoveStep =
  /** Propose this placement (as a `place` entry). */
  | { readonly kind: 'place'; readonly hosts: readonly VolumeHost[]; readonly retired: readonly VolumeHost[] }
  /** Make a replica on the host (as a new member) and add it as a learner. */
  | { readonly kind: 'create'; readonly host: VolumeHost }
  /** Wait until the learner caught up, then make it a voter. */
  | { readonly kind: 'promote'; readonly member: string }
  /** This leader leaves the group: hand leadership to `to`, which finishes the move. */
  | { readonly kind: 'handOver'; readonly to: string }
  | { readonly kind: 'remove'; readonly member: string }
  | { readonly kind: 'done' };

/** The next step from `current` (with raft's configuration `conf`) towards replicas on `target`; `self` is the leader. */
export function nextMoveStep(current: Placement, conf: ConfState, self: string, target: readonly VolumeHost[]): MoveStep {
  const want = names(target);
  const have = names(current.hosts);
  const joining = target.filter((h) => !have.has(h.name));
  // Every host taking part is placed first: its replica's raft traffic is refused otherwise.
  if (joining.length > 0) {
    return { kind: 'place', hosts: [...current.hosts, ...joining], retired: current.retired.filter((h) => !want.has(h.name)) };
  }
  const members = [...conf.voters, ...conf.learners];
  for (const h of target) {
    const m = members.find((id) => hostOf(id) === h.name);
    if (m === undefined) return { kind: 'create', host: h };
    if (!conf.voters.includes(m)) return { kind: 'promote', member: m };
  }
  for (const m of members) {
    if (want.has(hostOf(m))) continue;
    if (m !== self) return { kind: 'remove', member: m };
    const to = conf.voters.find((v) => v !== self && want.has(hostOf(v)));
    if (to !== undefined) return { kind: 'handOver', to };
  }
  const leaving = current.hosts.filter((h) => !want.has(h.name));
  const sameOrder = current.hosts.length === target.length && current.hosts.every((h, i) => h.name === target[i]!.name);
  if (leaving.length > 0 || !sameOrder) {
    return { kind: 'place', hosts: target.map(host), retired: [...current.retired.filter((h) => !want.has(h.name)), ...leaving.map(host)] };
  }
  return { kind: 'done' };
}

/**
 * The placement with each host in `down` replaced by a spare (a storage host outside the
 * placement), chosen by rendezvous hashing of the volume id so that rebuilds spread; null when
 * there are not enough spares.
 */
export function rebuildTarget(volumeId: string, current: readonly VolumeHost[], down: ReadonlySet<string>, spares: readonly VolumeHost[]): VolumeHost[] | null {
  const placed = names(current);
  const byName = new Map(spares.filter((h) => !placed.has(h.name)).map((h) => [h.name, h]));
  const free = rendezvous(volumeId, [...byName.keys()]).map((n) => byName.get(n)!);
  const out: VolumeHost[] = [];
  for (const h of current) {
    if (!down.has(h.name)) out.push(h);
    else {
      const spare = free.shift();
      if (!spare) return null;
      out.push(host(spare));
    }
  }
  return out;
}
