// What the leader of a volume does on its own, once a second: delete the replicas of hosts that
// left the group once they answer again, and — with storage.rebuildAfterSeconds — rebuild the
// replica of a host silent for that long on a spare storage host (add the new one, then remove
// the silent one, as a move does; mover.ts).

import type { Logger } from 'pino';
import { hostOf } from './member.js';
import { deleteRetired, runMove } from './mover.js';
import { rebuildTarget, type VolumeHost } from './placement.js';
import type { Replica } from './replica.js';
import { MOVE_TIMEOUT_MS, type VolumeStore } from './store.js';

/** The deployment's storage hosts, from the registry's inventory (everyone, without one). */
export interface StorageHosts {
  has(name: string): boolean;
  /** Storage hosts that are up, with the endpoint other agents reach them at. */
  live(): VolumeHost[];
  /** The hosts the registry records for a volume (undefined: not known there). */
  placed(volumeId: string): readonly string[] | undefined;
}

const PERIOD_MS = 1000;
const RETIRED_RETRY_MS = 10_000;
const NO_SPARE_REPORT_MS = 60_000;

export function startUpkeep(
  store: VolumeStore,
  hosts: StorageHosts,
  /** Records a volume's new hosts in the registry. */
  placed: (id: string, hosts: string[]) => Promise<void>,
  rebuildAfterMs: number,
  log: Logger,
): { stop(): void } {
  const lastRetired = new Map<string, number>();
  const lastNoSpare = new Map<string, number>();

  const rebuild = async (r: Replica): Promise<void> => {
    const silent = r.silentVoters(rebuildAfterMs);
    if (silent.length === 0) return;
    const down = new Set(silent.map(hostOf));
    const target = rebuildTarget(
      r.spec.id,
      r.spec.hosts,
      down,
      hosts.live().filter((h) => !down.has(h.name)),
    );
    if (!target) {
      if (Date.now() - (lastNoSpare.get(r.spec.id) ?? 0) >= NO_SPARE_REPORT_MS) {
        lastNoSpare.set(r.spec.id, Date.now());
        log.warn({ volume: r.spec.id, down: [...down] }, 'hosts silent past rebuildAfterSeconds, but no spare storage host is up to rebuild on');
      }
      return;
    }
    log.warn({ volume: r.spec.id, down: [...down], to: target.map((h) => h.name) }, 'rebuilding replicas of silent hosts');
    await runMove(r, target, store.moveHosts, Date.now() + MOVE_TIMEOUT_MS, log);
    await placed(
      r.spec.id,
      target.map((h) => h.name),
    );
    log.info({ volume: r.spec.id, hosts: target.map((h) => h.name) }, 'rebuilt');
    // The silent hosts' replicas are deleted when they answer again (below, every few seconds).
  };

  const visit = async (r: Replica): Promise<void> => {
    if (rebuildAfterMs > 0) await rebuild(r);
    if (r.placement.retired.length > 0 && Date.now() - (lastRetired.get(r.spec.id) ?? 0) >= RETIRED_RETRY_MS) {
      lastRetired.set(r.spec.id, Date.now());
      await deleteRetired(r, store.moveHosts, log);
    }
  };

  const timer = setInterval(() => {
    for (const r of store.all()) {
      const id = r.spec.id;
      if (store.isMoving(id) || r.state().role !== 'leader' || r.error) continue;
      store.moving(id, () => visit(r)).catch((e: unknown) => log.warn({ volume: id, err: (e as Error).message }, 'volume upkeep failed; retrying'));
    }
  }, PERIOD_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
