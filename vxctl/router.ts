// vxctl router list|show: routers on the route hosts with their legs, DHCP leases and NAT rules
// (with the packets each rule translated), as the agents read them back from the kernel.

import type { Command } from 'commander';
import { NatProtocol, NatType, type NatRule, type Router } from '../gen/vxcloud/agent/v1/router.js';
import type { Status } from '../gen/vxcloud/agent/v1/network.js';
import { table } from './table.js';
import { targets, withTargets, type TargetOptions } from './connect.js';

const state = (s: Status | undefined): string => (s?.ready ? 'ready' : `NOT READY: ${(s?.problems ?? []).join('; ')}`);
const TYPES: Record<number, string> = { [NatType.NAT_TYPE_DNAT]: 'dnat', [NatType.NAT_TYPE_SNAT]: 'snat', [NatType.NAT_TYPE_DNAT_AND_SNAT]: 'dnat_and_snat' };
const PROTOCOLS: Record<number, string> = {
  [NatProtocol.NAT_PROTOCOL_UNSPECIFIED]: 'any',
  [NatProtocol.NAT_PROTOCOL_TCP]: 'tcp',
  [NatProtocol.NAT_PROTOCOL_UDP]: 'udp',
};
const endpoint = (ip: string, port: number): string => (port ? `${ip}:${port}` : ip);
const expiry = (unix: number): string => (unix === 0 ? 'never' : new Date(unix * 1000).toISOString());

/** Routers (and their rules) of every target host that has them. */
async function collect(o: TargetOptions, id?: string): Promise<{ host: string; router: Router; rules: NatRule[] }[]> {
  const ts = await targets(o);
  try {
    const per = await Promise.all(
      ts.map(async (t) => {
        const routers = (await t.client.router.listRouters({ parentId: '' })).routers.filter((r) => id === undefined || r.spec!.id === id);
        return Promise.all(
          routers.map(async (router) => ({ host: t.name, router, rules: (await t.client.router.listNatRules({ parentId: router.spec!.id })).rules })),
        );
      }),
    );
    return per.flat();
  } finally {
    for (const t of ts) t.client.close();
  }
}

export function registerRouterCommands(program: Command): void {
  const router = program.command('router').description('routers on the route hosts');
  withTargets(router.command('list').description('routers, one line each')).action(async (o: TargetOptions) => {
    const rows = await collect(o);
    console.log(
      table(
        ['HOST', 'ID', 'NAME', 'VPC', 'SUBNETS', 'EXTERNAL', 'SNAT', 'LEASES', 'NAT RULES', 'DNSMASQ', 'STATE'],
        rows.map(({ host, router: r, rules }) => [
          host,
          r.spec!.id,
          r.spec!.name,
          r.spec!.vpcId,
          r.spec!.subnetIds.join(','),
          r.spec!.externalNetwork ? `${r.spec!.externalNetwork} ${r.spec!.externalIp}` : '-',
          r.spec!.snat ? 'yes' : 'no',
          r.observed!.leases.length,
          rules.length,
          r.observed!.dhcpPid ? `pid ${r.observed!.dhcpPid}` : '-',
          state(r.status),
        ]),
      ),
    );
  });
  withTargets(router.command('show <id>').description('a router: legs, DHCP leases, NAT rules with packet counters')).action(
    async (id: string, o: TargetOptions) => {
      const rows = await collect(o, id);
      if (rows.length === 0) throw new Error(`no router "${id}" on the hosts asked`);
      for (const { host, router: r, rules } of rows) {
        const ob = r.observed!;
        console.log(
          `router ${r.spec!.id} on ${host}: namespace ${ob.namespace}, forwarding ${ob.forwarding ? 'on' : 'off'}, dnsmasq ${ob.dhcpPid ? `pid ${ob.dhcpPid}` : 'not running'} (${ob.dhcpRestarts} restarts), ${state(r.status)}`,
        );
        console.log('\nLEGS');
        console.log(
          table(
            ['SUBNET', 'IFNAME', 'HOST IF', 'BRIDGE', 'MAC', 'ADDRESSES', 'UP', 'DHCP'],
            ob.legs.map((l) => [
              l.subnetId || '(external)',
              l.ifname,
              l.hostIfname,
              l.bridge,
              l.mac,
              l.addresses.join(' '),
              l.up ? 'yes' : 'no',
              l.dhcp ? 'on' : 'off',
            ]),
          ),
        );
        console.log('\nLEASES');
        console.log(
          table(
            ['SUBNET', 'MAC', 'IP', 'HOSTNAME', 'EXPIRES'],
            ob.leases.map((l) => [l.subnetId, l.mac, l.ip, l.hostname || '-', expiry(l.expiresUnix)]),
          ),
        );
        console.log('\nNAT RULES');
        console.log(
          table(
            ['ID', 'TYPE', 'PROTO', 'EXTERNAL', 'INTERNAL', 'PACKETS', 'BYTES', 'STATE'],
            rules.map((n) => [
              n.spec!.id,
              TYPES[n.spec!.type] ?? '?',
              PROTOCOLS[n.spec!.protocol] ?? '?',
              endpoint(n.spec!.externalIp, n.spec!.externalPort),
              endpoint(n.spec!.internalIp, n.spec!.internalPort),
              n.observed!.packets,
              n.observed!.bytes,
              state(n.status),
            ]),
          ),
        );
      }
    },
  );
}
