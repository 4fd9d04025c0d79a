// vxctl registry status: what each host's agent sees of the deployment registry — its liveness
// lease, the inventory (up or down), and under the registry control plane, per VNI the remote
// VTEPs and MACs it programs.

import type { Command } from 'commander';
import { table } from './table.js';
import { targets, withTargets, type TargetOptions } from './connect.js';

export function registerRegistryCommands(program: Command): void {
  const registry = program.command('registry').description('the deployment registry (etcd) as the hosts see it');
  withTargets(registry.command('status').description('per host: lease, the inventory it sees, and per VNI the remote VTEPs, MACs and IPs it programs')).action(
    async (o: TargetOptions) => {
      const ts = await targets(o);
      try {
        const hosts = await Promise.all(ts.map(async (t) => ({ name: t.name, h: await t.client.host.getHost({}) })));
        console.log(
          table(
            ['HOST', 'PLANE', 'ENDPOINTS', 'PREFIX', 'LEASE', 'TTL', 'UP', 'KEYS', 'REVISION', 'STATE'],
            hosts.map(({ name, h }) => {
              const r = h.registry;
              const problems = [...(r?.problems ?? []), ...(h.controlPlane?.problems ?? [])];
              return [
                name,
                h.controlPlane?.kind ?? '?',
                r?.endpoints.join(',') || '-',
                r?.prefix || '-',
                r?.leaseId || '-',
                r ? `${r.leaseSeconds}s` : '-',
                r?.members
                  .filter((m) => m.up)
                  .map((m) => m.name)
                  .join(',') || '-',
                r?.keys ?? '-',
                r?.revision ?? '-',
                !r ? 'no registry' : problems.length > 0 ? `PROBLEMS: ${problems.join('; ')}` : 'ok',
              ];
            }),
          ),
        );
        const members = hosts.flatMap(({ name, h }) =>
          (h.registry?.members ?? []).map((m) => [name, m.name, m.up ? 'up' : 'DOWN', m.vtep, m.vnis.join(',') || '-', m.macs]),
        );
        if (members.length > 0) console.log(`\n${table(['SEEN BY', 'HOST', 'STATE', 'VTEP', 'VNIS', 'NICS'], members)}`);
        const vnis = hosts.flatMap(({ name, h }) =>
          (h.controlPlane?.kind === 'registry' ? h.controlPlane.vnis : []).map((v) => [name, v.vni, v.localMacs, v.remoteVteps, v.remoteMacs, v.neighbors]),
        );
        if (vnis.length > 0) console.log(`\n${table(['HOST', 'VNI', 'LOCAL NICS', 'REMOTE VTEPS', 'REMOTE MACS', 'REMOTE IPS'], vnis)}`);
        if (hosts.some(({ h }) => (h.registry?.problems.length ?? 0) + (h.controlPlane?.problems.length ?? 0) > 0)) process.exitCode = 1;
      } finally {
        for (const t of ts) t.client.close();
      }
    },
  );
}
