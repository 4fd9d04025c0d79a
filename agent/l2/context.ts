// Facts about the host that shape every L2 object on it.

import type { UserspaceVtep } from '../vtep/userspace-vtep.js';

export interface L2Context {
  /** Underlay IPv4 address: the local end of every VTEP. */
  underlayAddress: string;
  underlayMtu: number;
  /** IANA VXLAN port; FRR and hardware VTEPs expect it. */
  vxlanPort: number;
  /** Transport tap: the userspace VTEP that carries the subnets' TAP VTEPs; absent for kernel vxlan devices. */
  tap?: UserspaceVtep;
  /** Transport tap under EVPN: each subnet also gets the shadow VTEP zebra works with (vtep.ts). */
  zebraShadow?: boolean;
}

/** VXLAN over IPv4 adds 50 bytes: outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8. */
export const VXLAN_OVERHEAD = 50;

export function overlayMtu(ctx: L2Context): number {
  return ctx.underlayMtu - VXLAN_OVERHEAD;
}
