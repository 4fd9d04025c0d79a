// EVPN labs for tests and benchmarks: VTEP hosts (compute) followed by route reflectors
// (management), every agent running its own FRR; helpers to place objects and read what zebra
// put into the kernel.

import { NicKind, NicSpec } from '../../gen/vxcloud/agent/v1/network.js';
import { frrRunDir, waitFor } from '../../lab/lab.js';
import type { LabHost } from '../../lab/labfile.js';
import { startLab, type TestLab } from './lab.js';

export interface EvpnLabOptions {
  vteps: number;
  reflectors: number;
  reconcileIntervalSeconds?: number;
  /** VTEP hosts with the tap transport. */
  tapHosts?: string[];
}

export async function startEvpnLab(o: EvpnLabOptions): Promise<TestLab> {
  const t = await startLab({
    hosts: o.vteps + o.reflectors,
    controlPlane: 'evpn',
    roles: (i) => (i > o.vteps ? ['management'] : ['compute']),
    reconcileIntervalSeconds: o.reconcileIntervalSeconds ?? 10,
    ...(o.tapHosts ? { tapHosts: o.tapHosts } : {}),
  });
  try {
    await waitSessions(
      t,
      t.lab.hosts.slice(0, o.vteps).map((h) => h.name),
      o.reflectors,
    );
  } catch (e) {
    await t.down();
    throw e;
  }
  return t;
}

export const host = (t: TestLab, name: string): LabHost => t.lab.hosts.find((h) => h.name === name)!;

/** Waits until each VTEP has `count` established sessions to the reflectors. */
export async function waitSessions(t: TestLab, vteps: string[], count: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(`${count} established BGP sessions on ${vteps.join(', ')}`, timeoutMs, async () => {
    for (const v of vteps) {
      const cp = (await t.client(v).host.getHost({}, 5000)).controlPlane;
      if ((cp?.sessions ?? []).filter((s) => s.state === 'Established').length !== count) return false;
    }
    return true;
  });
}

/** A VPC and one subnet of it on each of `hosts`. */
export async function putSubnet(t: TestLab, hosts: string[], s: { vpc: string; id: string; cidr: string; vni: number }): Promise<void> {
  for (const h of hosts) {
    const c = t.client(h).network;
    await c.putVpc({ vpc: { id: s.vpc, name: s.vpc, tenant: s.vpc, cidr: '198.18.0.0/15' } });
    await c.putSubnet({ subnet: { id: s.id, vpcId: s.vpc, name: s.id, cidr: s.cidr, vni: s.vni, vlan: 0, gateway: '' } });
  }
}

export interface NicPlace {
  host: string;
  id: string;
  subnet: string;
  mac: string;
  /** CIDR form, e.g. 198.18.1.10/24. */
  ip: string;
  /** An appliance NIC without port security or groups (the default: the tenant's default group). */
  unfiltered?: boolean;
}

export const nicNamespace = (t: TestLab, n: { id: string }): string => `${t.lab.name}-${n.id}`;
export const addr = (cidr: string): string => cidr.split('/')[0]!;

export async function putNic(t: TestLab, n: NicPlace): Promise<void> {
  await t.client(n.host).network.putNic({
    // fromPartial: fields this harness does not use keep their defaults as the API grows.
    nic: NicSpec.fromPartial({
      id: n.id,
      subnetId: n.subnet,
      kind: NicKind.NIC_KIND_VETH,
      mac: n.mac,
      ip: n.ip,
      namespace: nicNamespace(t, n),
      createNamespace: true,
      ifname: 'eth0',
      ...(n.unfiltered ? { filter: { portSecurityDisabled: true, securityGroupIds: [], allowedAddresses: [] } } : {}),
    }),
  });
}

export interface FdbRow {
  mac: string;
  dst?: string;
  flags: string[];
}

/** `bridge fdb show dev DEV` inside a host. */
export async function fdb(t: TestLab, hostName: string, dev: string): Promise<FdbRow[]> {
  const { stdout } = await t.exec(host(t, hostName).namespace, ['bridge', '-j', 'fdb', 'show', 'dev', dev]);
  return (JSON.parse(stdout) as { mac: string; dst?: string; flags?: string[] }[]).map((r) => ({ mac: r.mac, dst: r.dst, flags: r.flags ?? [] }));
}

/** Neighbour entries of a bridge inside a host: `ip neigh show dev DEV`. */
export async function neighbors(t: TestLab, hostName: string, dev: string): Promise<{ dst: string; lladdr?: string; state?: string[]; flags?: string[] }[]> {
  const { stdout } = await t.exec(host(t, hostName).namespace, ['ip', '-j', 'neigh', 'show', 'dev', dev]);
  return JSON.parse(stdout) as { dst: string; lladdr?: string; state?: string[] }[];
}

/** The PID in a managed FRR daemon's pid file on a lab host. */
export async function daemonPid(t: TestLab, hostName: string, daemon: 'zebra' | 'bgpd'): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const dir = frrRunDir(host(t, hostName).configFile.replace(/\/agent\.yaml$/, ''));
  return Number((await readFile(`${dir}/${daemon}/process.pid`, 'utf8')).trim());
}

/** Pings until one succeeds or the time is up; returns when the first reply came. */
export async function pingUntil(t: TestLab, ns: string, ip: string, timeoutMs: number): Promise<void> {
  await waitFor(`${ns} to reach ${ip}`, timeoutMs, async () => {
    await t.exec(ns, ['ping', '-c', '1', '-W', '1', ip], 3000);
    return true;
  });
}
