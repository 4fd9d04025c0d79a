// Moving a volume's replicas: the steps of placement.ts carried out on the leader, and the way a
// move reaches the leader from whichever replica was asked.

import type { Logger } from 'pino';
import { hostOf, newIncarnation } from './member.js';
import { nextMoveStep, type VolumeHost } from './placement.js';
import { NotLeaderError, type Replica, type ReplicaSpec } from './replica.js';

/** What a move asks of other storage hosts (the Raft service; a fake in unit tests). */
export interface MoveHosts {
  /** Makes a replica on `host` joining as `member`; resolves with the member id it has (an earlier attempt's, if any). */
  create(host: VolumeHost, spec: ReplicaSpec, member: string): Promise<string>;
  /** Deletes the replica on `host` (none there is fine). */
  remove(host: VolumeHost, id: string): Promise<void>;
  /** Asks the leader on `host` to carry out the move; rejects with NotLeaderError if it does not lead. */
  forward(host: VolumeHost, id: string, target: readonly VolumeHost[]): Promise<void>;
}

const RETRY_MS = 200;

/**
 * On the leader: runs the move's steps until done (null) or until this leader handed over
 * because it leaves the group (the member it handed to, which must finish the move). The
 * retired replicas are left to deleteRetired.
 */
export async function runMove(r: Replica, target: readonly VolumeHost[], hosts: MoveHosts, deadline: number, log: Logger): Promise<string | null> {
  for (;;) {
    if (r.state().role !== 'leader') throw new NotLeaderError(r.state().leader);
    if (Date.now() > deadline) throw new Error(`volume ${r.spec.id}: the move did not finish in time`);
    const step = nextMoveStep(r.placement, r.confState, r.self, target);
    log.debug({ volume: r.spec.id, step }, 'move step');
    switch (step.kind) {
      case 'place':
        await r.submit({ op: 'place', placement: { hosts: step.hosts, retired: step.retired, at: 0 } });
        break;
      case 'create': {
        const member = await hosts.create(step.host, r.spec, newIncarnation(step.host.name));
        await r.changeConf({ type: 'addLearner', node: member });
        break;
      }
      case 'promote':
        await r.caughtUp(step.member, deadline);
        await r.changeConf({ type: 'addVoter', node: step.member });
        break;
      case 'remove':
        await r.changeConf({ type: 'removeNode', node: step.member });
        break;
      case 'handOver':
        await r.handOver(step.to, deadline);
        return step.to;
      case 'done':
        return null;
    }
  }
}

/** Deletes the replicas of hosts that left the group; those that cannot be reached stay retired. */
export async function deleteRetired(r: Replica, hosts: MoveHosts, log: Logger): Promise<void> {
  const p = r.placement;
  const gone = new Set<string>();
  for (const h of p.retired) {
    try {
      await hosts.remove(h, r.spec.id);
      gone.add(h.name);
    } catch (e) {
      log.info({ volume: r.spec.id, host: h.name, err: (e as Error).message }, 'retired replica not deleted yet');
    }
  }
  if (gone.size === 0) return;
  await r.submit({ op: 'place', placement: { hosts: p.hosts, retired: p.retired.filter((h) => !gone.has(h.name)), at: 0 } });
  log.info({ volume: r.spec.id, hosts: [...gone] }, 'retired replicas deleted');
}

/**
 * On the leader, one move at a time (`exclusive`): the move to its end with the retired replicas
 * deleted (null), or the member leadership was handed to, which must finish it.
 */
export function moveHere(
  r: Replica,
  target: readonly VolumeHost[],
  hosts: MoveHosts,
  deadline: number,
  log: Logger,
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<string | null> {
  return exclusive(async () => {
    const handedTo = await runMove(r, target, hosts, deadline, log);
    if (handedTo === null) await deleteRetired(r, hosts, log);
    return handedTo;
  });
}

/**
 * Moves the volume of replica `r` to `target`, here if this replica leads, else on the leader;
 * retried across leader changes until `deadline`. `exclusive` runs the local part one move at a
 * time; forwarding happens outside it, since the leader may hand the move back to this host.
 */
export async function moveVolume(
  r: Replica,
  target: readonly VolumeHost[],
  hosts: MoveHosts,
  deadline: number,
  log: Logger,
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<void> {
  let last: Error = new Error('no leader');
  for (;;) {
    try {
      const s = r.state();
      if (s.role === 'leader') {
        const to = await moveHere(r, target, hosts, deadline, log, exclusive);
        if (to === null) return;
        await forwardTo(r, hostOf(to), target, hosts);
        return;
      }
      if (s.leader !== null) {
        await forwardTo(r, s.leader, target, hosts);
        return;
      }
    } catch (e) {
      if (!(e instanceof NotLeaderError)) throw e;
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`volume ${r.spec.id}: could not reach the leader to move it: ${last.message}`);
    await new Promise((ok) => setTimeout(ok, RETRY_MS));
  }
}

function forwardTo(r: Replica, leader: string, target: readonly VolumeHost[], hosts: MoveHosts): Promise<void> {
  const peer = [...r.spec.hosts, ...target].find((h) => h.name === leader);
  if (!peer) return Promise.reject(new NotLeaderError(null));
  return hosts.forward(peer, r.spec.id, target);
}
