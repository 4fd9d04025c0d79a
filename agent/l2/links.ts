// What a link should look like, how it differs from what the kernel has, and how to make it so.
// One pure diff yields both: the problems a status reports and the fixes convergence applies.

import type { BridgePortFlags, BridgeVlan, Link, LinkChange, NetHandle, VxlanInfo } from '../net/types.js';

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
  /** For TAPs: the transmit queue at creation (not compared). */
  txQueueLen?: number;
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

/**
 * One difference between a link and its spec, and the change that removes it. In the order the
 * kernel needs them applied: a port's flags and VLANs exist only once it has its master, and a
 * link comes up last, fully configured.
 */
export type LinkFix = { problem: string } & (
  { change: 'create' | 'recreate' } | { change: 'set'; set: LinkChange } | { change: 'port'; port: BridgePortFlags } | { change: 'vlans'; vlans: BridgeVlan[] }
);

/** A difference found by reading the kernel, and its repair; none where something else owns it (a DHCP lease, say). */
export interface Fix {
  problem: string;
  fix?: () => Promise<void>;
}

const onOff = (b: boolean | undefined): string => (b ? 'on' : 'off');

/** What differs between `spec` and the kernel's `link`: the problems a status reports are these fixes' problems. */
export function linkDiff(spec: LinkSpec, link: Link | undefined): LinkFix[] {
  if (!link) return [{ change: 'create', problem: `${spec.kind} ${spec.name} is missing` }];
  if (needsRecreate(spec, link))
    return [{ change: 'recreate', problem: `${spec.name} is a ${link.kind || 'device'} with other settings than the ${spec.kind} vxcloud wants` }];
  const fixes: LinkFix[] = [];
  if (link.mtu !== spec.mtu) fixes.push({ change: 'set', set: { mtu: spec.mtu }, problem: `${spec.name} has MTU ${link.mtu}, want ${spec.mtu}` });
  if (spec.mac !== undefined && link.mac !== spec.mac)
    fixes.push({ change: 'set', set: { mac: spec.mac }, problem: `${spec.name} has MAC ${link.mac}, want ${spec.mac}` });
  if (spec.master !== undefined && link.master !== spec.master) {
    fixes.push({ change: 'set', set: { master: spec.master }, problem: `${spec.name} is not a port of ${spec.master}` });
  } else {
    const port = spec.port;
    if (port && link.port?.learning !== port.learning)
      fixes.push({ change: 'port', port, problem: `${spec.name} port learning is ${onOff(link.port?.learning)}, want ${onOff(port.learning)}` });
    if (port && link.port?.neighSuppress !== port.neighSuppress)
      fixes.push({ change: 'port', port, problem: `${spec.name} neigh_suppress is ${onOff(link.port?.neighSuppress)}, want ${onOff(port.neighSuppress)}` });
    if (spec.vlans && vlanKey(link.vlans) !== vlanKey(spec.vlans))
      fixes.push({ change: 'vlans', vlans: spec.vlans, problem: `${spec.name} has VLANs ${describeVlans(link.vlans)}, want ${describeVlans(spec.vlans)}` });
  }
  if (!link.up) fixes.push({ change: 'set', set: { up: true }, problem: `${spec.name} is down` });
  return fixes;
}

export function linkProblems(spec: LinkSpec, link: Link | undefined): string[] {
  return linkDiff(spec, link).map((f) => f.problem);
}

/**
 * Brings one link to its spec by applying linkDiff's fixes, `create` making it when it is missing
 * (or of the wrong kind), until none is left: a port's flags and VLANs show only once its master
 * is set, so a second pass may find them. Returns the link as the kernel has it afterwards.
 */
export async function ensureLink(h: NetHandle, spec: LinkSpec, current: Link | undefined, create: () => Promise<void>): Promise<Link> {
  let link = current;
  for (let pass = 0; pass < 3; pass++) {
    const fixes = linkDiff(spec, link);
    if (fixes.length === 0) return link!;
    for (const f of fixes) {
      switch (f.change) {
        case 'recreate':
          await h.deleteLink(spec.name);
          await create();
          break;
        case 'create':
          await create();
          break;
        case 'set':
          await h.setLink(spec.name, f.set);
          break;
        case 'port':
          await h.setBridgePort(spec.name, f.port);
          break;
        case 'vlans':
          await h.setBridgeVlans(spec.name, f.vlans);
          break;
      }
    }
    link = await h.link(spec.name);
    if (!link) throw new Error(`${spec.kind} ${spec.name} was ${fixes[0]!.change === 'set' ? 'changed' : 'created'} but the kernel does not list it`);
  }
  const left = linkProblems(spec, link);
  if (left.length > 0) throw new Error(`${spec.name} does not take its settings: ${left.join('; ')}`);
  return link!;
}
