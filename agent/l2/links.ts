// What a link should look like, how it differs from what the kernel has, and how to make it so.
// The comparison is pure so that status reports and convergence use the same rules.

import type { BridgePortFlags, BridgeVlan, Link, NetHandle, VxlanInfo } from '../net/types.js';

export interface LinkSpec {
  name: string;
  kind: 'bridge' | 'vxlan' | 'veth' | 'tun' | 'vlan';
  mtu: number;
  /** Bridge this link must be a port of. */
  master?: string;
  vxlan?: VxlanInfo;
  port?: BridgePortFlags;
  mac?: string;
  /** For bridges: VLAN filtering on; unset = not compared (bridge-per-subnet). */
  vlanFiltering?: boolean;
  /** For 802.1Q devices. */
  vlan?: { id: number; parent: string };
  /** Exactly these VLANs on the bridge port; unset = not compared. */
  vlans?: BridgeVlan[];
}

const vlanKey = (vs: BridgeVlan[] | undefined): string =>
  (vs ?? [])
    .map((v) => `${v.vid}${v.pvid ? 'P' : ''}${v.untagged ? 'U' : ''}`)
    .sort()
    .join(',');

/** `10PU` = VLAN 10, pvid, untagged; 'none' for no VLAN. */
const describeVlans = (vs: BridgeVlan[] | undefined): string => vlanKey(vs) || 'none';

/** True when the existing link cannot be changed into the spec and must be recreated. */
function needsRecreate(spec: LinkSpec, link: Link): boolean {
  if (link.kind !== spec.kind) return true;
  if (spec.vlanFiltering !== undefined && link.bridge?.vlanFiltering !== spec.vlanFiltering) return true;
  if (spec.vlan && (link.vlan?.id !== spec.vlan.id || link.vlan.parent !== spec.vlan.parent)) return true;
  if (!spec.vxlan) return false;
  const v = link.vxlan;
  return !v || v.vni !== spec.vxlan.vni || v.local !== spec.vxlan.local || v.port !== spec.vxlan.port || v.learning !== spec.vxlan.learning;
}

export function linkProblems(spec: LinkSpec, link: Link | undefined): string[] {
  if (!link) return [`${spec.kind} ${spec.name} is missing`];
  const p: string[] = [];
  if (needsRecreate(spec, link)) p.push(`${spec.name} is a ${link.kind || 'device'} with other settings than the ${spec.kind} vxcloud wants`);
  if (link.mtu !== spec.mtu) p.push(`${spec.name} has MTU ${link.mtu}, want ${spec.mtu}`);
  if (!link.up) p.push(`${spec.name} is down`);
  if (spec.master !== undefined && link.master !== spec.master) p.push(`${spec.name} is not a port of ${spec.master}`);
  if (spec.mac !== undefined && link.mac !== spec.mac) p.push(`${spec.name} has MAC ${link.mac}, want ${spec.mac}`);
  if (spec.port && link.master === spec.master) {
    if (link.port?.learning !== spec.port.learning)
      p.push(`${spec.name} port learning is ${link.port?.learning ? 'on' : 'off'}, want ${spec.port.learning ? 'on' : 'off'}`);
    if (link.port?.neighSuppress !== spec.port.neighSuppress)
      p.push(`${spec.name} neigh_suppress is ${link.port?.neighSuppress ? 'on' : 'off'}, want ${spec.port.neighSuppress ? 'on' : 'off'}`);
  }
  if (spec.vlans && link.master === spec.master && vlanKey(link.vlans) !== vlanKey(spec.vlans)) {
    p.push(`${spec.name} has VLANs ${describeVlans(link.vlans)}, want ${describeVlans(spec.vlans)}`);
  }
  return p;
}

/**
 * Brings one link to its spec: creates it when missing (or of the wrong kind), then fixes MTU,
 * MAC, master, port flags and VLANs and state in the order the kernel needs (a port's flags and
 * VLANs exist only once it has a master). Returns the link as the kernel has it afterwards.
 */
export async function ensureLink(h: NetHandle, spec: LinkSpec, current: Link | undefined, create: () => Promise<void>): Promise<Link> {
  let link = current;
  if (link && needsRecreate(spec, link)) {
    await h.deleteLink(spec.name);
    link = undefined;
  }
  if (!link) {
    await create();
    link = await h.link(spec.name);
    if (!link) throw new Error(`${spec.kind} ${spec.name} was created but the kernel does not list it`);
  }
  if (link.mtu !== spec.mtu) await h.setLink(spec.name, { mtu: spec.mtu });
  if (spec.mac !== undefined && link.mac !== spec.mac) await h.setLink(spec.name, { mac: spec.mac });
  if (spec.master !== undefined && link.master !== spec.master) await h.setLink(spec.name, { master: spec.master });
  if (spec.port || spec.vlans) {
    const after = await h.link(spec.name);
    if (spec.port && (after?.port?.learning !== spec.port.learning || after.port.neighSuppress !== spec.port.neighSuppress)) {
      await h.setBridgePort(spec.name, spec.port);
    }
    if (spec.vlans && vlanKey(after?.vlans) !== vlanKey(spec.vlans)) await h.setBridgeVlans(spec.name, spec.vlans);
  }
  if (!link.up) await h.setLink(spec.name, { up: true });
  return (await h.link(spec.name))!;
}
