// Facts about the host that shape every L2 object on it.

export interface L2Context {
  /** Underlay IPv4 address: the local end of every VTEP. */
  underlayAddress: string;
  underlayMtu: number;
  /** IANA VXLAN port; FRR and hardware VTEPs expect it. */
  vxlanPort: number;
}

/** VXLAN over IPv4 adds 50 bytes: outer Ethernet 14, IPv4 20, UDP 8, VXLAN 8. */
export const VXLAN_OVERHEAD = 50;

export function overlayMtu(ctx: L2Context): number {
  return ctx.underlayMtu - VXLAN_OVERHEAD;
}
