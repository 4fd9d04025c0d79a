// A subnet's VTEP port on its bridge, in either transport: a kernel vxlan device, or (transport
// tap) a persistent TAP whose frames the agent's userspace VTEP carries (agent/vtep).
//
// Under EVPN, zebra learns VNIs and local MACs only from kernel vxlan devices and their bridges,
// and installs remote entries only there. A TAP host therefore also gets, per subnet, a shadow
// VTEP that carries no traffic: a vxlan device for the VNI (on a spare UDP port, since the
// userspace VTEP holds the real one) on a bridge of its own whose only other port is an unopened TAP.
// The agent declares its local NICs there (static MACs on that port, IP→MAC on the bridge), zebra
// advertises them, and the agent copies what zebra installs on the vxlan device into the
// userspace VTEP's table (agent/vtep/evpn-shadow.ts). No frame ever enters the shadow bridge.

import type { BridgeVlan, Link, NetHandle } from '../net/types.js';
import type { SubnetRecord } from '../state/model.js';
import { overlayMtu, type L2Context } from './context.js';
import { ensureLink, linkProblems, type LinkSpec } from './links.js';
import { bridgeMac, shadowBridge, shadowPort, tapVtepDevice, vxlanDevice } from './names.js';

/** Frames a VTEP TAP holds for its reader: the default 1000 drops TCP segments in bursts. */
const VTEP_TAP_QUEUE = 10_000;

/** The shadow vxlan device's UDP port: never used on the wire, it only must not be the real one. */
export const SHADOW_VXLAN_PORT = 4790;

export function shadowLinks(s: SubnetRecord, ctx: L2Context): LinkSpec[] {
  const mtu = overlayMtu(ctx);
  const bridge = shadowBridge(s.vni);
  return [
    { name: bridge, kind: 'bridge', mtu, mac: bridgeMac(`shadow${s.vni}@${ctx.underlayAddress}`) },
    // A TAP nobody opens: a port that is down and never carries a frame, only static MACs.
    { name: shadowPort(s.vni), kind: 'tun', mtu, master: bridge },
    {
      name: vxlanDevice(s.vni),
      kind: 'vxlan',
      mtu,
      master: bridge,
      vxlan: { vni: s.vni, local: ctx.underlayAddress, port: SHADOW_VXLAN_PORT, learning: false },
      port: { learning: false, neighSuppress: true },
    },
  ];
}

/** The shadow VTEP's links of a subnet, when this host has one. */
export function shadowDevices(s: SubnetRecord, ctx: L2Context): string[] {
  return ctx.zebraShadow ? shadowLinks(s, ctx).map((l) => l.name) : [];
}

function createLink(h: NetHandle, spec: LinkSpec): Promise<void> {
  if (spec.kind === 'vxlan') return h.createVxlan(spec.name, { ...spec.vxlan!, mtu: spec.mtu });
  if (spec.kind === 'tun') return h.createTap(spec.name, { mtu: spec.mtu, ...(spec.txQueueLen ? { txQueueLen: spec.txQueueLen } : {}) });
  return h.createBridge(spec.name, { mtu: spec.mtu });
}

export function vtepLink(s: SubnetRecord, ctx: L2Context, master: string, vlans?: BridgeVlan[]): LinkSpec {
  const common = { mtu: overlayMtu(ctx), master, ...(vlans ? { vlans } : {}) };
  if (ctx.tap) {
    // No neigh_suppress: ARP for known addresses reaches the TAP, where the agent answers it.
    return { name: tapVtepDevice(s.vni), kind: 'tun', ...common, port: { learning: false, neighSuppress: false }, txQueueLen: VTEP_TAP_QUEUE };
  }
  return {
    name: vxlanDevice(s.vni),
    kind: 'vxlan',
    ...common,
    vxlan: { vni: s.vni, local: ctx.underlayAddress, port: ctx.vxlanPort, learning: false },
    // neigh_suppress answers ARP from the bridge's neighbour table instead of flooding it.
    port: { learning: false, neighSuppress: true },
  };
}

/** Creates or repairs the VTEP port; a TAP is (re)attached to the userspace VTEP. */
export async function ensureVtep(h: NetHandle, spec: LinkSpec, current: Link | undefined, s: SubnetRecord, ctx: L2Context): Promise<void> {
  const link = await ensureLink(h, spec, current, () => createLink(h, spec));
  ctx.tap?.attach(s.vni, spec.name, link.index);
  if (ctx.zebraShadow) for (const l of shadowLinks(s, ctx)) await ensureLink(h, l, await h.link(l.name), () => createLink(h, l));
}

export function vtepProblems(spec: LinkSpec, links: Map<string, Link>, s: SubnetRecord, ctx: L2Context): string[] {
  const link = links.get(spec.name);
  const problems = linkProblems(spec, link);
  if (ctx.tap && link && !ctx.tap.isAttached(spec.name, link.index)) problems.push(`${spec.name} is not attached to the userspace VTEP`);
  if (ctx.zebraShadow) for (const l of shadowLinks(s, ctx)) problems.push(...linkProblems(l, links.get(l.name)));
  return problems;
}

export async function removeVtep(h: NetHandle, s: SubnetRecord, ctx: L2Context): Promise<void> {
  const spec = vtepLink(s, ctx, '');
  ctx.tap?.detach(spec.name);
  await h.deleteLink(spec.name);
  if (ctx.zebraShadow) for (const l of shadowLinks(s, ctx).reverse()) await h.deleteLink(l.name);
}
