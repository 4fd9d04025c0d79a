// vxctl evpn status: what each host's control plane sees — BGP sessions, VNIs and their MACs.

import type { Command } from 'commander';
import { table } from './table.js';
import { targets, withTargets, type TargetOptions } from './connect.js';

export function registerEvpnCommands(program: Command): void {
  const evpn = program.command('evpn').description('the BGP EVPN control plane (FRR) of the hosts');
  withTargets(evpn.command('status').description('per host: role in EVPN, BGP sessions, and per VNI the local and remote MACs zebra knows')).action(
    async (o: TargetOptions) => {
      const ts = await targets(o);
      try {
        const hosts = await Promise.all(ts.map(async (t) => ({ name: t.name, cp: (await t.client.host.getHost({})).controlPlane })));
        console.log(
          table(
            ['HOST', 'KIND', 'ROLE', 'ROUTER ID', 'AS', 'FRR', 'DAEMONS', 'STATE'],
            hosts.map(({ name, cp }) => [
              name,
              cp?.kind ?? '?',
              cp ? [cp.vtep ? 'vtep' : '', cp.reflector ? 'reflector' : ''].filter(Boolean).join('+') || '-' : '-',
              cp?.routerId || '-',
              cp?.asn || '-',
              cp?.frrMode || '-',
              cp?.daemons.map((d) => `${d.name}:${d.pid}${d.restarts ? ` (restarted ${d.restarts}x)` : ''}`).join(' ') || '-',
              cp && cp.problems.length > 0 ? `PROBLEMS: ${cp.problems.join('; ')}` : 'ok',
            ]),
          ),
        );
        const sessions = hosts.flatMap(({ name, cp }) =>
          (cp?.sessions ?? []).map((s) => [name, s.peer, s.state, s.prefixesReceived, s.uptimeMs ? `${Math.round(s.uptimeMs / 1000)}s` : '-']),
        );
        if (sessions.length > 0) console.log(`\n${table(['HOST', 'PEER', 'STATE', 'PREFIXES RCVD', 'UP'], sessions)}`);
        const vnis = hosts.flatMap(({ name, cp }) => (cp?.vnis ?? []).map((v) => [name, v.vni, v.localMacs, v.remoteMacs, v.neighbors, v.remoteVteps]));
        if (vnis.length > 0) console.log(`\n${table(['HOST', 'VNI', 'LOCAL MACS', 'REMOTE MACS', 'MAC+IP', 'REMOTE VTEPS'], vnis)}`);
        if (hosts.some(({ cp }) => (cp?.problems.length ?? 0) > 0)) process.exitCode = 1;
      } finally {
        for (const t of ts) t.client.close();
      }
    },
  );
}
