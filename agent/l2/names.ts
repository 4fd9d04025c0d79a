// Kernel names derived from object ids. Every name vxcloud makes starts with "vx" so that its
// objects can be told apart from the host's own, and fits IFNAMSIZ (15 bytes + NUL).

import { createHash } from 'node:crypto';

export const IFNAMSIZ = 15;

/** Prefixes of every link kind vxcloud creates in a host's namespace. */
export const PREFIX = {
  bridge: 'vxbr',
  vxlan: 'vxlan',
  veth: 'vxn',
  tap: 'vxt',
  vpcBridge: 'vxvpc',
  svi: 'vxsv',
  tapVtep: 'vxtep',
  shadowBridge: 'vxsb',
  shadowPort: 'vxsd',
} as const;

/** 40 bits of SHA-256: a collision between two ids on one host is checked for at Put time. */
function digest(id: string): string {
  return createHash('sha256').update(id).digest('hex').slice(0, 10);
}

/** The bridge of a subnet (bridge-per-subnet mode). VNIs are unique on a host, so no hash. */
export function subnetBridge(vni: number): string {
  return `${PREFIX.bridge}${vni}`;
}

/** The VLAN-filtering bridge of a VPC (VLAN-aware mode): `vxvpc` + 40 bits, 15 bytes. */
export function vpcBridge(vpcId: string): string {
  return `${PREFIX.vpcBridge}${digest(vpcId)}`;
}

/**
 * The 802.1Q device of a subnet's VLAN on its VPC bridge (VLAN-aware mode). It carries no address:
 * the bridge looks up neighbours for ARP suppression on the VLAN's upper device, so the subnet's
 * neighbour table lives there.
 */
export function subnetSvi(vni: number): string {
  return `${PREFIX.svi}${vni}`;
}

export function vxlanDevice(vni: number): string {
  return `${PREFIX.vxlan}${vni}`;
}

/** Under EVPN with the tap transport, the bridge and spare port that hold what zebra reads (agent/l2/vtep.ts). */
export const shadowBridge = (vni: number): string => `${PREFIX.shadowBridge}${vni}`;
export const shadowPort = (vni: number): string => `${PREFIX.shadowPort}${vni}`;

/** A subnet's VTEP under the TAP transport: a TAP the agent encapsulates for. */
export function tapVtepDevice(vni: number): string {
  return `${PREFIX.tapVtep}${vni}`;
}

/** Host-side interface of a NIC: the veth end on the bridge or the TAP device. */
export function nicDevice(kind: 'veth' | 'tap', nicId: string): string {
  return `${kind === 'veth' ? PREFIX.veth : PREFIX.tap}${digest(nicId)}`;
}

export function isVxcloudLink(name: string): boolean {
  return Object.values(PREFIX).some((p) => name.startsWith(p) && /^[0-9a-f]+$/.test(name.slice(p.length)));
}

/**
 * A locally administered MAC for a bridge of ours. A bridge without a fixed MAC takes its lowest
 * port's, and each change of it flushes the bridge's neighbour entries.
 */
export function bridgeMac(seed: string): string {
  const h = createHash('sha256').update(seed).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
