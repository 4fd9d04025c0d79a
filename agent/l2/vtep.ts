// A subnet's VTEP port on its bridge, in either transport: a kernel vxlan device, or (transport
// tap) a persistent TAP whose frames the agent's userspace VTEP carries (agent/vtep).

import type { BridgeVlan, Link, NetHandle } from '../net/types.js';
import type { SubnetRecord } from '../state/model.js';
import { overlayMtu, type L2Context } from './context.js';
import { ensureLink, linkProblems, type LinkSpec } from './links.js';
import { tapVtepDevice, vxlanDevice } from './names.js';

export function vtepLink(s: SubnetRecord, ctx: L2Context, master: string, vlans?: BridgeVlan[]): LinkSpec {
  const common = { mtu: overlayMtu(ctx), master, ...(vlans ? { vlans } : {}) };
  if (ctx.tap) {
    // No neigh_suppress: ARP for known addresses reaches the TAP, where the agent answers it.
    return { name: tapVtepDevice(s.vni), kind: 'tun', ...common, port: { learning: false, neighSuppress: false } };
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
  const link = await ensureLink(h, spec, current, () =>
    spec.vxlan ? h.createVxlan(spec.name, { ...spec.vxlan, mtu: spec.mtu }) : h.createTap(spec.name, { mtu: spec.mtu }),
  );
  ctx.tap?.attach(s.vni, spec.name, link.index);
}

export function vtepProblems(spec: LinkSpec, link: Link | undefined, ctx: L2Context): string[] {
  const problems = linkProblems(spec, link);
  if (ctx.tap && link && !ctx.tap.isAttached(spec.name, link.index)) problems.push(`${spec.name} is not attached to the userspace VTEP`);
  return problems;
}

export async function removeVtep(h: NetHandle, s: SubnetRecord, ctx: L2Context): Promise<void> {
  const spec = vtepLink(s, ctx, '');
  ctx.tap?.detach(spec.name);
  await h.deleteLink(spec.name);
}
