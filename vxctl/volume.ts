// vxctl volume list|show: block volumes as their storage hosts report them — placement, health,
// raft state per replica — and where each export is reached, including, in a lab, the unix socket
// that works from this machine's namespace (the lab's underlay is not routed here).

import { status as grpcStatus } from '@grpc/grpc-js';
import type { Command } from 'commander';
import type { Volume } from '../gen/vxcloud/agent/v1/volume.js';
import { nbdClientCertDir, nbdSocketPath } from '../lab/lab.js';
import { table } from './table.js';
import { targets, withTargets, type Target, type TargetOptions } from './connect.js';

const MiB = 1024 * 1024;
const size = (bytes: number): string => (bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} B`);

/** Hosts without storage do not serve the volume API: they hold no volume. */
const notStorage = (e: unknown): boolean => (e as { code?: number }).code === grpcStatus.UNIMPLEMENTED;

async function withTargetsDo<T>(o: TargetOptions, f: (ts: Target[]) => Promise<T>): Promise<T> {
  const ts = await targets(o);
  try {
    return await f(ts);
  } finally {
    for (const t of ts) t.client.close();
  }
}

/** Every volume once (each replica host lists it), as the first host that has it describes it. */
async function volumes(ts: Target[]): Promise<Volume[]> {
  const seen = new Map<string, Volume>();
  for (const t of ts) {
    const list = await t.client.volume.listVolumes({}).catch((e: unknown) => {
      if (notStorage(e)) return { volumes: [] };
      throw e;
    });
    for (const v of list.volumes) if (!seen.has(v.id)) seen.set(v.id, v);
  }
  return [...seen.values()].sort((a, b) => a.id.localeCompare(b.id));
}

/** In a lab: the URI that reaches host's export of `id` from this machine (over TLS when the export needs it). */
function fromHere(t: Target | undefined, v: Volume): string {
  if (!t?.lab) return '-';
  const socket = nbdSocketPath(t.lab, t.name);
  return v.exportUri.startsWith('nbds://')
    ? `nbds+unix:///${v.id}?socket=${socket}&tls-certificates=${nbdClientCertDir(t.lab)}`
    : `nbd+unix:///${v.id}?socket=${socket}`;
}

export function registerVolumeCommands(program: Command): void {
  const volume = program.command('volume').description('block volumes on the storage hosts');
  withTargets(volume.command('list').description('volumes, one line each')).action(async (o: TargetOptions) => {
    const rows = await withTargetsDo(o, volumes);
    console.log(
      table(
        ['ID', 'TENANT', 'SIZE', 'HOSTS', 'STATUS', 'LEADER'],
        rows.map((v) => [v.id, v.tenant || '-', size(v.sizeBytes), v.hosts.map((h) => h.name).join(','), v.status, v.leader || '-']),
      ),
    );
  });
  withTargets(volume.command('show <id>').description('a volume: each replica with its raft state, and where its export is reached')).action(
    async (id: string, o: TargetOptions) => {
      await withTargetsDo(o, async (ts) => {
        const v = (await volumes(ts)).find((x) => x.id === id);
        if (!v) throw new Error(`no storage host of ${ts.map((t) => t.name).join(', ')} has volume "${id}"`);
        console.log(`${v.id}: ${size(v.sizeBytes)}, tenant ${v.tenant || '-'}, ${v.status}, leader ${v.leader || '-'}\n`);
        // Each replica host names its own export (its NBD address and TLS setting).
        const exports = await Promise.all(
          v.replicaStatus.map(async (r) => {
            const t = ts.find((x) => x.name === r.host!.name);
            return t ? ((await t.client.volume.getVolume({ id }).catch(() => undefined))?.exportUri ?? '-') : '-';
          }),
        );
        console.log(
          table(
            ['HOST', 'ROLE', 'TERM', 'COMMIT', 'APPLIED', 'HEALTHY', 'EXPORT', 'FROM THIS MACHINE'],
            v.replicaStatus.map((r, i) => {
              const host = r.host!.name;
              return [
                host,
                r.role,
                r.term,
                r.commitIndex,
                r.appliedIndex,
                r.healthy ? 'yes' : `no ${r.detail}`,
                exports[i]!,
                fromHere(
                  ts.find((t) => t.name === host),
                  v,
                ),
              ];
            }),
          ),
        );
      });
    },
  );
}
