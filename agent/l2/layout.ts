// How subnets and NICs are laid onto bridges on this host. The reconciler picks one layout at start
// and goes through it for everything that depends on the data-plane mode; both put one VNI per
// subnet on the wire, so hosts in different modes interoperate.

import type { Link, NetHandle } from '../net/types.js';
import type { NicRecord, SubnetRecord } from '../state/model.js';
import type { L2Context } from './context.js';
import type { LinkSpec } from './links.js';
import { nicHostLink } from './nic.js';
import { shadowDevices } from './vtep.js';
import { convergeSubnet, removeSubnet, subnetLinks, subnetProblems, subnetTableDevices, type TableDevices } from './subnet.js';
import { convergeVlanSubnet, removeVlanSubnet, vlanConflict, vlanNicHostLink, vlanSubnetLinks, vlanSubnetProblems, vpcBridgeLink } from './vlan-aware.js';

export type DataplaneLayout = 'bridge-per-subnet' | 'vlan-aware';

export interface L2Layout {
  readonly name: DataplaneLayout;
  /** Host links of one subnet, in the order its status lists them. */
  subnetDevices(s: SubnetRecord): string[];
  /** Host links a VPC owns by itself, whatever its subnets (the VLAN-aware VPC bridge). */
  vpcDevices(vpcId: string): string[];
  /** Why `s` cannot join the VPC's subnets on this host (`vpcSubnets`), if it cannot. */
  subnetConflict(s: SubnetRecord, vpcSubnets: SubnetRecord[]): string | undefined;
  convergeSubnet(h: NetHandle, links: Map<string, Link>, s: SubnetRecord, vpcSubnets: SubnetRecord[]): Promise<void>;
  subnetProblems(links: Map<string, Link>, s: SubnetRecord, vpcSubnets: SubnetRecord[]): string[];
  /** `remaining`: the subnets that stay on the host. */
  removeSubnet(h: NetHandle, s: SubnetRecord, remaining: SubnetRecord[]): Promise<void>;
  tableDevices(s: SubnetRecord): TableDevices;
  /** The bridge a subnet's ports (VTEP and NICs) are on. */
  bridgeOf(s: SubnetRecord): string;
  nicHostLink(n: NicRecord, s: SubnetRecord): LinkSpec;
}

export function bridgePerSubnetLayout(ctx: L2Context): L2Layout {
  return {
    name: 'bridge-per-subnet',
    subnetDevices: (s) => [...Object.values(subnetLinks(s, ctx)).map((l: LinkSpec) => l.name), ...shadowDevices(s, ctx)],
    vpcDevices: () => [],
    subnetConflict: () => undefined,
    convergeSubnet: (h, links, s) => convergeSubnet(h, links, s, ctx),
    subnetProblems: (links, s) => subnetProblems(s, links, ctx),
    removeSubnet: (h, s) => removeSubnet(h, s, ctx),
    tableDevices: (s) => subnetTableDevices(s, ctx),
    bridgeOf: (s) => subnetLinks(s, ctx).bridge.name,
    nicHostLink: (n, s) => nicHostLink(n, s, ctx),
  };
}

export function vlanAwareLayout(ctx: L2Context): L2Layout {
  return {
    name: 'vlan-aware',
    subnetDevices: (s) => [...Object.values(vlanSubnetLinks(s, ctx)).map((l: LinkSpec) => l.name), ...shadowDevices(s, ctx)],
    vpcDevices: (vpcId) => [vpcBridgeLink(vpcId, ctx).name],
    subnetConflict: vlanConflict,
    convergeSubnet: (h, links, s, vpcSubnets) => convergeVlanSubnet(h, links, s, vpcSubnets, ctx),
    subnetProblems: (links, s, vpcSubnets) => vlanSubnetProblems(s, links, vpcSubnets, ctx),
    removeSubnet: (h, s, remaining) => removeVlanSubnet(h, s, remaining, ctx),
    tableDevices: (s) => {
      const l = vlanSubnetLinks(s, ctx);
      return { fdb: l.vxlan.name, neighbors: ctx.tap ? l.vxlan.name : l.svi.name };
    },
    bridgeOf: (s) => vpcBridgeLink(s.vpc_id, ctx).name,
    nicHostLink: (n, s) => vlanNicHostLink(n, s, ctx),
  };
}

export function l2Layout(name: DataplaneLayout, ctx: L2Context): L2Layout {
  return name === 'vlan-aware' ? vlanAwareLayout(ctx) : bridgePerSubnetLayout(ctx);
}
