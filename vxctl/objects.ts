// vxctl host | vpc | subnet | nic | sg: what the agents hold and what their kernels have, as tables.

import { status as grpcStatus } from '@grpc/grpc-js';
import type { Command } from 'commander';
import { DataplaneMode, type TransportCounters } from '../gen/vxcloud/agent/v1/host.js';
import { NicKind, type NicFilter, type Status } from '../gen/vxcloud/agent/v1/network.js';
import { table } from './table.js';
import { targets, withTargets, type Target, type TargetOptions } from './connect.js';

async function eachHost<T>(o: TargetOptions, f: (t: Target) => Promise<T[]>): Promise<[string, T][]> {
  const ts = await targets(o);
  try {
    const per = await Promise.all(ts.map(async (t) => (await f(t)).map((x): [string, T] => [t.name, x])));
    return per.flat();
  } finally {
    for (const t of ts) t.client.close();
  }
}

/** For `show` across hosts: a host that lacks the object is left out, not an error. */
async function present<T>(p: Promise<T>): Promise<T[]> {
  try {
    return [await p];
  } catch (e) {
    if ((e as { code?: number }).code === grpcStatus.NOT_FOUND) return [];
    throw e;
  }
}

const groupsOf = (f: NicFilter | undefined): string =>
  f?.portSecurityDisabled ? 'unfiltered' : (f?.securityGroupIds ?? []).length > 0 ? f!.securityGroupIds.join(',') : 'default';
const state = (s: Status | undefined): string => (s?.ready ? 'ready' : `NOT READY: ${(s?.problems ?? []).join('; ')}`);
const MODES: Record<number, string> = {
  [DataplaneMode.DATAPLANE_MODE_BRIDGE_PER_SUBNET]: 'bridge-per-subnet',
  [DataplaneMode.DATAPLANE_MODE_VLAN_AWARE_BRIDGE]: 'vlan-aware-bridge',
};

export function registerObjectCommands(program: Command): void {
  registerSecurityGroupCommands(program);
  withTargets(program.command('host').description('show hosts: roles, underlay, capabilities, data-plane mode')).action(async (o: TargetOptions) => {
    const rows = await eachHost(o, async (t) => [await t.client.host.getHost({})]);
    console.log(
      table(
        ['HOST', 'ROLES', 'UNDERLAY', 'MTU', 'MODE', 'TRANSPORT', 'VLAN FILTERING', 'FIREWALL', 'OBJECTS READY', 'KERNEL'],
        rows.map(([, h]) => [
          h.name,
          h.roles.join(','),
          `${h.underlayInterface} ${h.underlayAddress}`,
          h.underlayMtu,
          MODES[h.dataplaneMode] ?? '?',
          h.transport,
          h.capabilities?.bridgeVlanFiltering ? 'yes' : 'no',
          h.firewall,
          `${h.objectsReady}/${h.objectsDesired}`,
          h.versions?.kernel ?? '',
        ]),
      ),
    );
  });

  withTargets(
    program.command('transport').description("the tap transport's counters on each host: frames, datagrams, ARP/ND answered, drops by reason"),
  ).action(async (o: TargetOptions) => {
    const rows = await eachHost(o, async (t) => [await t.client.host.getHost({})]);
    const drops = (c: TransportCounters): string =>
      Object.entries(c)
        .filter(([k, v]) => k.startsWith('drop') && v > 0)
        .map(
          ([k, v]) =>
            `${k
              .slice(4)
              .replace(/[A-Z]/g, (x) => `-${x.toLowerCase()}`)
              .slice(1)} ${v}`,
        )
        .join(', ') || '0';
    console.log(
      table(
        ['HOST', 'TRANSPORT', 'TAP IN', 'TAP OUT', 'ENCAPSULATED', 'DECAPSULATED', 'COALESCED', 'ARP ANSWERED', 'ND ANSWERED', 'DROPPED'],
        rows.map(([, h]) => {
          const c = h.transportCounters;
          return c
            ? [h.name, h.transport, c.tapFramesIn, c.tapFramesOut, c.encapsulated, c.decapsulated, c.coalesced, c.arpAnswered, c.ndAnswered, drops(c)]
            : [h.name, h.transport, '-', '-', '-', '-', '-', '-', '-', '-'];
        }),
      ),
    );
  });

  const vpc = program.command('vpc').description('VPCs on the hosts');
  withTargets(vpc.command('list')).action(async (o: TargetOptions) => {
    const rows = await eachHost(o, async (t) => (await t.client.network.listVpcs({ parentId: '' })).vpcs);
    console.log(
      table(
        ['HOST', 'ID', 'NAME', 'TENANT', 'CIDR', 'STATE'],
        rows.map(([h, v]) => [h, v.spec!.id, v.spec!.name, v.spec!.tenant, v.spec!.cidr, state(v.status)]),
      ),
    );
  });
  withTargets(vpc.command('show <id>')).action(async (id: string, o: TargetOptions) => {
    const rows = await eachHost(o, (t) => present(t.client.network.getVpc({ id })));
    console.log(
      table(
        ['HOST', 'ID', 'CIDR', 'DEVICES', 'STATE'],
        rows.map(([h, v]) => [h, v.spec!.id, v.spec!.cidr, v.status!.devices.join(' '), state(v.status)]),
      ),
    );
  });

  const subnet = program.command('subnet').description('subnets on the hosts');
  withTargets(subnet.command('list').option('--vpc <id>', 'only subnets of this VPC', '')).action(async (o: TargetOptions & { vpc: string }) => {
    const rows = await eachHost(o, async (t) => (await t.client.network.listSubnets({ parentId: o.vpc })).subnets);
    console.log(
      table(
        ['HOST', 'ID', 'NAME', 'VPC', 'CIDR', 'VNI', 'BRIDGE', 'VXLAN', 'MTU', 'STATE'],
        rows.map(([h, s]) => [
          h,
          s.spec!.id,
          s.spec!.name,
          s.spec!.vpcId,
          s.spec!.cidr,
          s.spec!.vni,
          s.observed!.bridge,
          s.observed!.vxlanDevice,
          s.observed!.mtu,
          state(s.status),
        ]),
      ),
    );
  });
  withTargets(subnet.command('show <id>')).action(async (id: string, o: TargetOptions) => {
    const rows = await eachHost(o, async (t) => {
      const [s] = await present(t.client.network.getSubnet({ id }));
      if (!s) return [];
      const [vt] = await present(t.client.network.getVtepTable({ id }));
      return [{ s, vt }];
    });
    console.log(
      table(
        ['HOST', 'ID', 'CIDR', 'VNI', 'GATEWAY', 'FLOOD VTEPS', 'FDB', 'NEIGHBOURS', 'STATE'],
        rows.map(([h, { s, vt }]) => [
          h,
          s.spec!.id,
          s.spec!.cidr,
          s.spec!.vni,
          s.spec!.gateway || '(first host)',
          vt ? vt.spec!.floodVteps.join(' ') : '-',
          vt?.observed?.fdbEntries ?? 0,
          vt?.observed?.neighborEntries ?? 0,
          state(s.status),
        ]),
      ),
    );
  });

  const nic = program.command('nic').description('NICs on the hosts');
  const nicRows = (rows: [string, Awaited<ReturnType<Target['client']['network']['getNic']>>][]): string =>
    table(
      ['HOST', 'ID', 'SUBNET', 'KIND', 'MAC', 'IP', 'NAMESPACE', 'HOST IF', 'SECURITY GROUPS', 'STATE'],
      rows.map(([h, n]) => [
        h,
        n.spec!.id,
        n.spec!.subnetId,
        n.spec!.kind === NicKind.NIC_KIND_TAP ? 'tap' : 'veth',
        n.spec!.mac,
        n.spec!.ip,
        n.spec!.namespace ? `${n.spec!.namespace}/${n.spec!.ifname}` : '-',
        n.observed!.hostIfname,
        groupsOf(n.spec!.filter),
        state(n.status),
      ]),
    );
  withTargets(nic.command('list').option('--subnet <id>', 'only NICs of this subnet', '')).action(async (o: TargetOptions & { subnet: string }) => {
    console.log(nicRows(await eachHost(o, async (t) => (await t.client.network.listNics({ parentId: o.subnet })).nics)));
  });
  withTargets(nic.command('show <id>').description('a NIC, and the packets each rule at its port admitted or dropped')).action(
    async (id: string, o: TargetOptions) => {
      const rows = await eachHost(o, (t) => present(t.client.network.getNic({ id })));
      console.log(nicRows(rows));
      const counters = rows.flatMap(([h, n]) => n.observed!.ruleCounters.map((c) => [h, c.direction, c.ruleId, c.packets, c.bytes]));
      if (counters.length > 0) console.log(`\n${table(['HOST', 'DIRECTION', 'RULE', 'PACKETS', 'BYTES'], counters)}`);
    },
  );
}

/** Groups are the registry's: any one host answers for all of them. */
function registerSecurityGroupCommands(program: Command): void {
  const sg = program.command('sg').description('security groups and their rules (from the registry, through the first host)');
  const first = async <T>(o: TargetOptions, f: (t: Target) => Promise<T>): Promise<T> => {
    const ts = await targets(o);
    try {
      return await f(ts[0]!);
    } finally {
      for (const t of ts) t.client.close();
    }
  };
  withTargets(sg.command('list').description('groups, one line each')).action(async (o: TargetOptions) => {
    const { groups } = await first(o, (t) => t.client.securityGroups.listSecurityGroups({ parentId: '' }));
    console.log(
      table(
        ['ID', 'TENANT', 'NAME', 'RULES', 'MEMBERS'],
        groups.map((g) => [g.spec!.id, g.spec!.tenant, g.spec!.name, g.ruleIds.length, g.memberNicIds.join(',') || '-']),
      ),
    );
  });
  withTargets(sg.command('show <id>').description('a group: its rules and its member NICs')).action(async (id: string, o: TargetOptions) => {
    const [g, { rules }] = await first(o, (t) =>
      Promise.all([t.client.securityGroups.getSecurityGroup({ id }), t.client.securityGroups.listSecurityGroupRules({ parentId: id })]),
    );
    console.log(`${g.spec!.id} (${g.spec!.name}) of tenant ${g.spec!.tenant}; members: ${g.memberNicIds.join(', ') || 'none'}\n`);
    console.log(
      table(
        ['RULE', 'DIRECTION', 'PROTOCOL', 'PORTS', 'PEER'],
        rules.map(({ spec: r }) => [
          r!.id,
          r!.direction,
          r!.protocol,
          r!.portMin === 0 ? 'all' : r!.portMin === r!.portMax ? r!.portMin : `${r!.portMin}-${r!.portMax}`,
          r!.remoteGroupId !== '' ? `group ${r!.remoteGroupId}` : r!.cidr || 'anywhere',
        ]),
      ),
    );
  });
}
