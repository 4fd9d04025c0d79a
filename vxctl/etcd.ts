// vxctl etcd status: what each host's etcd control plane sees — its lease, the members
// registered under the prefix, and per VNI the remote VTEPs and MACs it programs.

import type { Command } from 'commander';
import { table } from './table.js';
import { targets, withTargets, type TargetOptions } from './connect.js';

export function registerEtcdCommands(program: Command): void {
  const etcd = program.command('etcd').description('the etcd control plane of the hosts');
  withTargets(etcd.command('status').description('per host: lease, members seen under the prefix, and per VNI the remote VTEPs, MACs and IPs it programs')).action(async (o: TargetOptions) => {
      const ts = await targets(o);
      try {
        const hosts = await Promise.all(ts.map(async (t) => ({ name: t.name, cp: (await t.client.host.getHost({})).controlPlane })));
        console.log(
          table(
            ['HOST', 'KIND', 'ENDPOINTS', 'PREFIX', 'LEASE', 'TTL', 'MEMBERS', 'KEYS', 'REVISION', 'STATE'],
            hosts.map(({ name, cp }) => {
              const e = cp?.etcd;
              return [
                name,
                cp?.kind ?? '?',
                e?.endpoints.join(',') || '-',
                e?.prefix || '-',
                e?.leaseId || '-',
                e ? `${e.leaseSeconds}s` : '-',
                e?.members.map((m) => m.name).join(',') || '-',
                e?.keys ?? '-',
                e?.revision ?? '-',
                cp && cp.problems.length > 0 ? `PROBLEMS: ${cp.problems.join('; ')}` : 'ok',
              ];
            }),
          ),
        );
        const members = hosts.flatMap(({ name, cp }) => (cp?.etcd?.members ?? []).map((m) => [name, m.name, m.vtep, m.vnis.join(',') || '-', m.macs]));
        if (members.length > 0) console.log(`\n${table(['SEEN BY', 'MEMBER', 'VTEP', 'VNIS', 'MACS'], members)}`);
        const vnis = hosts.flatMap(({ name, cp }) => (cp?.kind === 'etcd' ? cp.vnis : []).map((v) => [name, v.vni, v.localMacs, v.remoteVteps, v.remoteMacs, v.neighbors]));
        if (vnis.length > 0) console.log(`\n${table(['HOST', 'VNI', 'LOCAL NICS', 'REMOTE VTEPS', 'REMOTE MACS', 'REMOTE IPS'], vnis)}`);
        if (hosts.some(({ cp }) => (cp?.problems.length ?? 0) > 0)) process.exitCode = 1;
      } finally {
        for (const t of ts) t.client.close();
      }
    });
}
