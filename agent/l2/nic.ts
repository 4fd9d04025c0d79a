// A NIC on one host: a veth whose far end lives in a named namespace (containers), or a TAP
// device (VMs), plugged into its subnet's bridge.

import { firstHost, formatIp, parseCidr } from '../../lib/ipv4.js';
import type { Link, Net, NetHandle } from '../net/types.js';
import type { NicRecord, SubnetRecord } from '../state/model.js';
import { overlayMtu, type L2Context } from './context.js';
import { ensureLink, linkProblems, type Fix, type LinkSpec } from './links.js';
import { nicDevice, subnetBridge } from './names.js';

export function nicGateway(s: SubnetRecord): string {
  return s.gateway !== '' ? s.gateway : formatIp(firstHost(parseCidr(s.cidr)!));
}

export function nicHostLink(n: NicRecord, s: SubnetRecord, ctx: L2Context): LinkSpec {
  return { name: nicDevice(n.kind, n.id), kind: n.kind === 'veth' ? 'veth' : 'tun', mtu: overlayMtu(ctx), master: subnetBridge(s.vni) };
}

/** The far end of a veth NIC, inside its namespace. */
function peerLink(n: NicRecord, ctx: L2Context): LinkSpec {
  return { name: n.ifname, kind: 'veth', mtu: overlayMtu(ctx), mac: n.mac };
}

export class MissingNamespaceError extends Error {}

/**
 * The interface a new veth NIC would take in its namespace is already there: nothing of a NIC not
 * yet made is ours, so it is another host's (namespaces of a lab's hosts share /run/netns), a
 * container's, or an operator's — and the agent must not take it over.
 */
export async function takenInterface(net: Net, n: NicRecord): Promise<boolean> {
  if (n.kind !== 'veth' || !(await net.listNetns()).includes(n.namespace)) return false;
  const ns = await net.netns(n.namespace);
  try {
    return (await ns.link(n.ifname)) !== undefined;
  } finally {
    ns.close();
  }
}

/** `host`: the host end's spec, which the layout decides (see layout.ts). */
export async function convergeNic(net: Net, links: Map<string, Link>, n: NicRecord, s: SubnetRecord, ctx: L2Context, host: LinkSpec): Promise<void> {
  if (n.kind === 'tap') {
    await ensureLink(net.host, host, links.get(host.name), () => net.host.createTap(host.name, { mtu: host.mtu }));
    return;
  }
  if (!(await net.listNetns()).includes(n.namespace)) {
    if (!n.create_namespace) {
      throw new MissingNamespaceError(`namespace "${n.namespace}" does not exist: create it, or set create_namespace`);
    }
    await net.createNetns(n.namespace);
  }
  const ns = await net.netns(n.namespace);
  try {
    const peer = peerLink(n, ctx);
    let hostLink = links.get(host.name);
    const nsLink = await ns.link(peer.name);
    // A veth pair lives and dies as one; if either end is gone or foreign, rebuild the pair.
    if (!hostLink || hostLink.kind !== 'veth' || !nsLink || nsLink.kind !== 'veth') {
      if (hostLink) await net.host.deleteLink(host.name);
      if (nsLink) await ns.deleteLink(peer.name);
      await net.host.createVeth(host.name, { mtu: host.mtu, peer: { name: peer.name, netns: n.namespace, mac: n.mac, mtu: peer.mtu } });
      hostLink = await net.host.link(host.name);
    }
    await ensureLink(net.host, host, hostLink, async () => {
      throw new Error(`veth ${host.name} vanished while it was being configured`);
    });
    await convergeNicNamespace(ns, n, s, ctx);
  } finally {
    ns.close();
  }
}

/** What differs inside the namespace of `n` beyond its interface's link: lo, addresses, the default route. */
async function namespaceDiff(ns: NetHandle, n: NicRecord, s: SubnetRecord, ifname: string): Promise<Fix[]> {
  const fixes: Fix[] = [];
  const lo = await ns.link('lo');
  if (lo && !lo.up) fixes.push({ problem: 'lo is down', fix: () => ns.setLink('lo', { up: true }) });
  const have = await ns.addresses(ifname).catch((): string[] => []);
  // A DHCP client owns the addresses of a dhcp NIC (agent/l3/dhcp-client.ts); with dhcp, ip is
  // the address the router reserves for the NIC, and the lease brings it and the route.
  if (!n.dhcp) for (const a of have) if (a !== n.ip) fixes.push({ problem: `${ifname} has address ${a}, not its own`, fix: () => ns.deleteAddress(ifname, a) });
  if (n.ip === '') return fixes;
  if (!have.includes(n.ip)) {
    fixes.push(
      n.dhcp
        ? { problem: `${ifname} has no DHCP lease of ${n.ip} yet` }
        : { problem: `${ifname} lacks address ${n.ip}`, fix: () => ns.replaceAddress(ifname, n.ip) },
    );
  }
  const gw = nicGateway(s);
  if ((await ns.defaultGateway()) !== gw) {
    fixes.push({ problem: `no default route via ${gw}`, ...(n.dhcp ? {} : { fix: () => ns.replaceDefaultRoute(gw, ifname) }) });
  }
  return fixes;
}

async function convergeNicNamespace(ns: NetHandle, n: NicRecord, s: SubnetRecord, ctx: L2Context): Promise<void> {
  const peer = peerLink(n, ctx);
  await ensureLink(ns, peer, await ns.link(peer.name), async () => {
    throw new Error(`${peer.name} in namespace ${n.namespace} vanished while it was being configured`);
  });
  for (const f of await namespaceDiff(ns, n, s, peer.name)) await f.fix?.();
}

export async function nicProblems(net: Net, links: Map<string, Link>, n: NicRecord, s: SubnetRecord, ctx: L2Context, host: LinkSpec): Promise<string[]> {
  const problems = linkProblems(host, links.get(host.name));
  if (n.kind === 'tap') return problems;
  if (!(await net.listNetns()).includes(n.namespace)) return [...problems, `namespace ${n.namespace} is missing`];
  const ns = await net.netns(n.namespace);
  try {
    const peer = peerLink(n, ctx);
    const inside = [...linkProblems(peer, await ns.link(peer.name)), ...(await namespaceDiff(ns, n, s, peer.name)).map((f) => f.problem)];
    return [...problems, ...inside.map((p) => `${n.namespace}: ${p}`)];
  } finally {
    ns.close();
  }
}

export async function removeNic(net: Net, n: NicRecord): Promise<void> {
  // Deleting the host end of a veth takes its peer with it.
  await net.host.deleteLink(nicDevice(n.kind, n.id));
}
