// FRR's configuration for one host, rendered from its roles and the control-plane settings, and
// the checks that FRR took it, read from FRR's own JSON. Pure: every value that reaches the text
// was validated by the config parser (addresses, prefixes, integers), and nothing else does.

import type { Role } from '../config/config.js';
import type { BgpTimers, ControlPlaneConfig } from '../config/control-plane.js';

/** Compute and route hosts carry VNIs (VTEPs); management hosts reflect routes between them. */
export interface FrrRoles {
  vtep: boolean;
  reflector: boolean;
}

export function frrRoles(roles: readonly Role[]): FrrRoles {
  return { vtep: roles.includes('compute') || roles.includes('route'), reflector: roles.includes('management') };
}

export interface FrrPlan {
  asn: number;
  routerId: string;
  roles: FrrRoles;
  /** Reflectors this VTEP peers with (never itself). */
  reflectors: string[];
  /** Reflectors: prefixes VTEP sessions are accepted from. */
  listenRanges: string[];
  clusterId: string;
  timers: BgpTimers;
  coalesceTimeMs: number;
}

/** Peer groups: a VTEP's sessions to the reflectors, and a reflector's sessions to its clients. */
export const RR_GROUP = 'RR';
export const CLIENT_GROUP = 'VTEPS';

/**
 * The plan for a host. `underlayPrefix` (the underlay interface's network) is where reflectors
 * accept VTEPs from unless the config names ranges.
 */
export function frrPlan(cp: ControlPlaneConfig, roles: readonly Role[], underlayAddress: string, underlayPrefix: string): FrrPlan {
  return {
    asn: cp.asn,
    routerId: underlayAddress,
    roles: frrRoles(roles),
    reflectors: cp.reflectors.filter((r) => r !== underlayAddress),
    listenRanges: cp.listenRanges.length > 0 ? cp.listenRanges : [underlayPrefix],
    clusterId: cp.clusterId !== '' ? cp.clusterId : cp.reflectors[0]!,
    timers: cp.timers,
    coalesceTimeMs: cp.coalesceTimeMs,
  };
}

/** zebra is needed wherever VNIs are (it reads them from the kernel and installs FDB entries). */
export function needsZebra(p: FrrPlan): boolean {
  return p.roles.vtep;
}

/** True when FRR has nothing to do on this host (e.g. a storage-only host). */
export function frrIdle(p: FrrPlan): boolean {
  return !p.roles.vtep && !p.roles.reflector;
}

export function renderFrrConfig(p: FrrPlan): string {
  const vtep = p.roles.vtep && p.reflectors.length > 0;
  const l: string[] = ['frr defaults datacenter'];
  // bgpd runs without zebra (-Z) on a pure reflector; keep the running config saying so, or a
  // reload would turn RIB installation back on.
  if (!needsZebra(p)) l.push('bgp no-rib');
  l.push(
    '!',
    `router bgp ${p.asn}`,
    ` bgp router-id ${p.routerId}`,
    ' no bgp default ipv4-unicast',
    ` coalesce-time ${p.coalesceTimeMs}`,
    ` timers bgp ${p.timers.keepaliveSeconds} ${p.timers.holdSeconds}`,
  );
  if (p.roles.reflector) {
    l.push(` bgp cluster-id ${p.clusterId}`, ` neighbor ${CLIENT_GROUP} peer-group`, ` neighbor ${CLIENT_GROUP} remote-as internal`);
    for (const r of p.listenRanges) l.push(` bgp listen range ${r} peer-group ${CLIENT_GROUP}`);
  }
  if (vtep) {
    l.push(
      ` neighbor ${RR_GROUP} peer-group`,
      ` neighbor ${RR_GROUP} remote-as internal`,
      ` neighbor ${RR_GROUP} update-source ${p.routerId}`,
      ` neighbor ${RR_GROUP} timers connect ${p.timers.connectRetrySeconds}`,
    );
    for (const r of p.reflectors) l.push(` neighbor ${r} peer-group ${RR_GROUP}`);
  }
  l.push(' !', ' address-family l2vpn evpn');
  if (p.roles.reflector) l.push(`  neighbor ${CLIENT_GROUP} activate`, `  neighbor ${CLIENT_GROUP} route-reflector-client`);
  if (vtep) l.push(`  neighbor ${RR_GROUP} activate`);
  if (p.roles.vtep) l.push('  advertise-all-vni');
  l.push(' exit-address-family', 'exit', '!');
  return l.join('\n') + '\n';
}

// ---- reading FRR back ----

/** `show bgp peer-group json`, the fields we check. */
export type PeerGroupsJson = Record<string, { remoteAs?: number; type?: string; addressFamiliesConfigured?: string[]; members?: Record<string, unknown> }>;

/** `show bgp l2vpn evpn summary json`; `{}` until bgpd has an EVPN peer. */
export interface EvpnSummaryJson {
  routerId?: string;
  as?: number;
  peers?: Record<string, { state?: string; pfxRcd?: number; pfxSnt?: number; peerUptimeMsec?: number; dynamicPeer?: boolean }>;
}

/** What in FRR's running state differs from the plan; [] when the config took. */
export function configProblems(p: FrrPlan, groups: PeerGroupsJson, summary: EvpnSummaryJson): string[] {
  const problems: string[] = [];
  const group = (name: string, members: string[]): void => {
    const g = groups[name];
    if (!g) return void problems.push(`peer group ${name} is missing`);
    if (g.remoteAs !== p.asn) problems.push(`peer group ${name} has AS ${String(g.remoteAs)}, want ${p.asn}`);
    if (!(g.addressFamiliesConfigured ?? []).includes('L2VPN EVPN')) problems.push(`peer group ${name} is not active for l2vpn evpn`);
    const have = Object.keys(g.members ?? {});
    for (const m of members) if (!have.includes(m)) problems.push(`reflector ${m} is not a member of ${name}`);
  };
  if (p.roles.reflector) group(CLIENT_GROUP, []);
  if (p.roles.vtep && p.reflectors.length > 0) group(RR_GROUP, p.reflectors);
  if (summary.routerId !== undefined && summary.routerId !== p.routerId) problems.push(`router-id is ${summary.routerId}, want ${p.routerId}`);
  if (summary.as !== undefined && summary.as !== p.asn) problems.push(`AS is ${summary.as}, want ${p.asn}`);
  return problems;
}

export interface BgpSession {
  peer: string;
  state: string;
  prefixesReceived: number;
  uptimeMs: number;
}

export interface VniCounts {
  vni: number;
  localMacs: number;
  remoteMacs: number;
  /** MAC+IP (ARP/ND) entries zebra knows for the VNI. */
  neighbors: number;
  remoteVteps: number;
}

/** `show evpn vni json`: one object per VNI, keyed by VNI. */
export type EvpnVniJson = Record<string, { vni?: number; numArpNd?: number; numRemoteVteps?: number | string }>;
/** `show evpn mac vni all json`: per VNI, MACs keyed by address. */
export type EvpnMacJson = Record<string, { macs?: Record<string, { type?: string }> }>;

export function sessions(summary: EvpnSummaryJson): BgpSession[] {
  return Object.entries(summary.peers ?? {})
    .map(([peer, s]) => ({ peer, state: s.state ?? 'unknown', prefixesReceived: s.pfxRcd ?? 0, uptimeMs: s.peerUptimeMsec ?? 0 }))
    .sort((a, b) => a.peer.localeCompare(b.peer, 'en', { numeric: true }));
}

export function vniCounts(vnis: EvpnVniJson, macs: EvpnMacJson): VniCounts[] {
  return Object.entries(vnis)
    .map(([key, v]) => {
      const m = Object.values(macs[key]?.macs ?? {});
      return {
        vni: v.vni ?? Number(key),
        localMacs: m.filter((x) => x.type === 'local').length,
        remoteMacs: m.filter((x) => x.type === 'remote').length,
        neighbors: v.numArpNd ?? 0,
        remoteVteps: typeof v.numRemoteVteps === 'number' ? v.numRemoteVteps : 0,
      };
    })
    .sort((a, b) => a.vni - b.vni);
}
