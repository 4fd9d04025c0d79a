// The VLAN-aware layout: one VLAN-filtering bridge per VPC on the host; each subnet is a VLAN on
// it, bound to the subnet's VNI by the per-VNI VTEP whose pvid (untagged both ways) is that VLAN,
// so on the wire it is the same one-VNI-per-subnet as bridge-per-subnet. NICs are access ports.

import type { BridgeVlan, Link, NetHandle } from '../net/types.js';
import type { NicRecord, SubnetRecord } from '../state/model.js';
import { overlayMtu, type L2Context } from './context.js';
import { ensureLink, linkProblems, type LinkSpec } from './links.js';
import { bridgeMac, subnetSvi, vpcBridge } from './names.js';
import { nicHostLink } from './nic.js';
import { ensureVtep, removeVtep, vtepLink, vtepProblems } from './vtep.js';

/** VLAN ids on a bridge are 1..4094. */
const VLAN_IDS = 4094;

/**
 * The subnet's VLAN on its VPC bridge: `vlan` when given, else one derived from the VNI. The VLAN
 * never leaves the host (the wire carries the VNI), so a derived one needs no coordination and no
 * storage, and stays the same across restarts; a clash with another subnet of the VPC is refused.
 */
export function subnetVlan(s: SubnetRecord): number {
  return s.vlan !== 0 ? s.vlan : (s.vni % VLAN_IDS) + 1;
}

const vlanSource = (s: SubnetRecord): string => (s.vlan !== 0 ? `VLAN ${s.vlan}` : `VLAN ${subnetVlan(s)} (derived from VNI ${s.vni})`);

/** Why `s` cannot share its VPC bridge with `vpcSubnets`, if it cannot. */
export function vlanConflict(s: SubnetRecord, vpcSubnets: SubnetRecord[]): string | undefined {
  const vlan = subnetVlan(s);
  const other = vpcSubnets.find((o) => o.id !== s.id && o.vpc_id === s.vpc_id && subnetVlan(o) === vlan);
  if (!other) return undefined;
  return `subnet "${s.id}" would use ${vlanSource(s)}, which subnet "${other.id}" of VPC "${s.vpc_id}" uses as ${vlanSource(other)}: set vlan to a free VLAN in 1..4094`;
}

/** Untagged in and out on the subnet's VLAN. */
export function accessPort(vid: number): BridgeVlan[] {
  return [{ vid, pvid: true, untagged: true }];
}

export interface VlanSubnetLinks {
  bridge: LinkSpec;
  vxlan: LinkSpec;
  svi: LinkSpec;
}

/**
 * A fixed MAC for the VPC bridge. Left alone, a bridge takes its lowest port's MAC, its 802.1Q
 * devices follow, and each change flushes their neighbours — permanent ones too. Locally
 * administered, from the VPC id and the host's underlay address so that no two bridges share it.
 */
export function vpcBridgeMac(vpcId: string, ctx: L2Context): string {
  return bridgeMac(`${vpcId}@${ctx.underlayAddress}`);
}

export function vpcBridgeLink(vpcId: string, ctx: L2Context): LinkSpec {
  return { name: vpcBridge(vpcId), kind: 'bridge', mtu: overlayMtu(ctx), vlanFiltering: true, mac: vpcBridgeMac(vpcId, ctx) };
}

export function vlanSubnetLinks(s: SubnetRecord, ctx: L2Context): VlanSubnetLinks {
  const mtu = overlayMtu(ctx);
  const bridge = vpcBridgeLink(s.vpc_id, ctx);
  const vlan = subnetVlan(s);
  return {
    bridge,
    vxlan: vtepLink(s, ctx, bridge.name, accessPort(vlan)),
    // No VLAN on the bridge itself, so this device neither sends nor receives: it only holds
    // the neighbour entries that neigh_suppress answers ARP from.
    svi: { name: subnetSvi(s.vni), kind: 'vlan', mtu, vlan: { id: vlan, parent: bridge.name } },
  };
}

export function vlanNicHostLink(n: NicRecord, s: SubnetRecord, ctx: L2Context): LinkSpec {
  return { ...nicHostLink(n, s, ctx), master: vpcBridge(s.vpc_id), vlans: accessPort(subnetVlan(s)) };
}

export function vlanSubnetProblems(s: SubnetRecord, links: Map<string, Link>, vpcSubnets: SubnetRecord[], ctx: L2Context): string[] {
  const conflict = vlanConflict(s, vpcSubnets);
  const { bridge, vxlan, svi } = vlanSubnetLinks(s, ctx);
  return [...(conflict ? [conflict] : []), ...[bridge, svi].flatMap((l) => linkProblems(l, links.get(l.name))), ...vtepProblems(vxlan, links, s, ctx)];
}

export async function convergeVlanSubnet(h: NetHandle, links: Map<string, Link>, s: SubnetRecord, vpcSubnets: SubnetRecord[], ctx: L2Context): Promise<void> {
  // Two subnets on one VLAN would be one L2 domain: build neither rather than merge them.
  const conflict = vlanConflict(s, vpcSubnets);
  if (conflict) throw new Error(conflict);
  const { bridge, vxlan, svi } = vlanSubnetLinks(s, ctx);
  await ensureLink(h, bridge, links.get(bridge.name), () => h.createBridge(bridge.name, { mtu: bridge.mtu, vlanFiltering: true }));
  // Read again: rebuilding the bridge released its ports and took its 802.1Q devices with it.
  await ensureVtep(h, vxlan, await h.link(vxlan.name), s, ctx);
  await ensureLink(h, svi, await h.link(svi.name), () => h.createVlan(svi.name, { parent: bridge.name, id: svi.vlan!.id, mtu: svi.mtu }));
}

/** `remaining`: the VPC's other subnets on this host; the VPC bridge goes with the last one. */
export async function removeVlanSubnet(h: NetHandle, s: SubnetRecord, remaining: SubnetRecord[], ctx: L2Context): Promise<void> {
  const { bridge, svi } = vlanSubnetLinks(s, ctx);
  await h.deleteLink(svi.name);
  await removeVtep(h, s, ctx);
  if (!remaining.some((o) => o.id !== s.id && o.vpc_id === s.vpc_id)) await h.deleteLink(bridge.name);
}
