// Links: create (bridge, vxlan, veth), change, delete, and read back with the details the
// reconciler compares against (kind, vxlan/bridge/802.1Q info, master, bridge port flags and VLANs).

import fs from 'node:fs';
import {
  AF_BRIDGE,
  AF_INET6,
  IFLA_AF_SPEC,
  IFLA_INET6_ADDR_GEN_MODE,
  IN6_ADDR_GEN_MODE_NONE,
  AF_UNSPEC,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_BRPORT_LEARNING,
  IFLA_BRPORT_NEIGH_SUPPRESS,
  IFLA_BR_VLAN_DEFAULT_PVID,
  IFLA_BR_VLAN_FILTERING,
  IFLA_IFNAME,
  IFLA_LINK,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MASTER,
  IFLA_MTU,
  IFLA_TXQLEN,
  IFLA_NET_NS_FD,
  IFLA_PROTINFO,
  IFLA_VLAN_ID,
  IFLA_VXLAN_ID,
  IFLA_VXLAN_LEARNING,
  IFLA_VXLAN_LOCAL,
  IFLA_VXLAN_PORT,
  IFNAMSIZ,
  NLM_F_CREATE,
  NLM_F_EXCL,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWLINK,
  RTM_SETLINK,
  VETH_INFO_PEER,
} from './constants.js';
import { IFINFOMSG_LEN, attr, be16, ifinfomsg, nest, parseAttrs, parseIfinfomsg, readStr, str, u16, u32, u8, type NlMsg } from './codec.js';
import { formatIPv4, formatMac, parseIPv4, parseMac } from './inet.js';
import { openNetns } from './netns.js';
import type { Rtnl } from './rtnl.js';
import { NetError, type BridgePortFlags, type Link, type LinkChange, type VethPeer, type VxlanInfo } from './types.js';
import { dumpPorts, type PortInfo } from './vlans.js';

export function validateIfname(name: string, operation: string): void {
  if (Buffer.byteLength(name) >= IFNAMSIZ || !/^[A-Za-z0-9_.-]+$/.test(name) || name === '.' || name === '..') {
    throw new NetError('EINVAL', operation, name, 'bad interface name');
  }
}

function byName(name: string): Buffer {
  return Buffer.concat([ifinfomsg({}), attr(IFLA_IFNAME, str(name))]);
}

/** The raw RTM_NEWLINK of one link, or undefined when it does not exist. */
async function getLinkMsg(rtnl: Rtnl, name: string, operation: string): Promise<NlMsg | undefined> {
  validateIfname(name, operation);
  try {
    return (await rtnl.request(RTM_GETLINK, 0, byName(name), operation, name))[0];
  } catch (err) {
    if (err instanceof NetError && err.errno === 'ENODEV') return undefined;
    throw err;
  }
}

export async function linkIndex(rtnl: Rtnl, name: string, operation: string, object = name): Promise<number> {
  const msg = await getLinkMsg(rtnl, name, operation);
  if (!msg) throw new NetError('ENODEV', operation, object, object === name ? undefined : `no link ${name}`);
  return parseIfinfomsg(msg.data).index;
}

interface RawLink {
  link: Link;
  masterIndex: number;
  /** IFLA_LINK: the lower device of an 802.1Q link. */
  parentIndex: number;
}

function decodeLink(msg: NlMsg): RawLink {
  const hdr = parseIfinfomsg(msg.data);
  const attrs = parseAttrs(msg.data.subarray(IFINFOMSG_LEN));
  const info = parseAttrs(attrs.get(IFLA_LINKINFO) ?? Buffer.alloc(0));
  const kind = readStr(info.get(IFLA_INFO_KIND)) ?? '';
  const mac = attrs.get(IFLA_ADDRESS);
  const link: Link = {
    name: readStr(attrs.get(IFLA_IFNAME)) ?? '',
    index: hdr.index,
    kind,
    mtu: attrs.get(IFLA_MTU)?.readUInt32LE(0) ?? 0,
    up: (hdr.flags & IFF_UP) !== 0,
    mac: mac && mac.length === 6 ? formatMac(mac) : '',
  };
  const data = info.get(IFLA_INFO_DATA);
  if (kind === 'vxlan' && data) link.vxlan = decodeVxlan(parseAttrs(data));
  // IFLA_BR_VLAN_FILTERING is absent where the kernel lacks VLAN filtering.
  if (kind === 'bridge')
    link.bridge = {
      vlanFiltering:
        (parseAttrs(data ?? Buffer.alloc(0))
          .get(IFLA_BR_VLAN_FILTERING)
          ?.readUInt8(0) ?? 0) !== 0,
    };
  if (kind === 'vlan' && data) link.vlan = { id: parseAttrs(data).get(IFLA_VLAN_ID)?.readUInt16LE(0) ?? 0, parent: '' };
  // Only an 802.1Q link's IFLA_LINK names a device here; a veth's is its peer, often elsewhere.
  const parentIndex = link.vlan ? (attrs.get(IFLA_LINK)?.readUInt32LE(0) ?? 0) : 0;
  return { link, masterIndex: attrs.get(IFLA_MASTER)?.readUInt32LE(0) ?? 0, parentIndex };
}

function decodeVxlan(a: Map<number, Buffer>): VxlanInfo {
  const local = a.get(IFLA_VXLAN_LOCAL);
  return {
    vni: a.get(IFLA_VXLAN_ID)?.readUInt32LE(0) ?? 0,
    local: local ? formatIPv4(local) : '',
    port: a.get(IFLA_VXLAN_PORT)?.readUInt16BE(0) ?? 0,
    learning: (a.get(IFLA_VXLAN_LEARNING)?.readUInt8(0) ?? 1) !== 0,
  };
}

/** Names the master and (802.1Q) parent of a link from their indexes, and adds its port settings. */
function resolve(raw: RawLink, names: (index: number) => string | undefined, ports: Map<number, PortInfo>): Link {
  const { link, masterIndex, parentIndex } = raw;
  if (masterIndex) {
    const master = names(masterIndex);
    if (master !== undefined) link.master = master;
    const port = ports.get(link.index);
    if (port) {
      link.port = port.flags;
      link.vlans = port.vlans;
    }
  }
  if (link.vlan) link.vlan.parent = names(parentIndex) ?? '';
  return link;
}

export async function listLinks(rtnl: Rtnl): Promise<Link[]> {
  const [msgs, ports] = await Promise.all([rtnl.dump(RTM_GETLINK, ifinfomsg({ family: AF_UNSPEC }), 'list', 'links'), dumpPorts(rtnl)]);
  const raws = msgs.map(decodeLink);
  const names = new Map(raws.map((r) => [r.link.index, r.link.name]));
  return raws.map((r) => resolve(r, (i) => names.get(i), ports));
}

export async function getLink(rtnl: Rtnl, name: string): Promise<Link | undefined> {
  const msg = await getLinkMsg(rtnl, name, 'get link');
  if (!msg) return undefined;
  const raw = decodeLink(msg);
  if (!raw.masterIndex && !raw.parentIndex) return raw.link;
  const names = new Map<number, string>();
  for (const index of [raw.masterIndex, raw.parentIndex]) {
    if (!index || names.has(index)) continue;
    const other = (await rtnl.request(RTM_GETLINK, 0, ifinfomsg({ index }), 'get link', name))[0];
    if (other) names.set(index, decodeLink(other).link.name);
  }
  const ports = raw.masterIndex ? await dumpPorts(rtnl) : new Map<number, PortInfo>();
  return resolve(raw, (i) => names.get(i), ports);
}

function linkinfo(kind: string, data: Buffer[] | undefined): Buffer {
  const children = [attr(IFLA_INFO_KIND, str(kind))];
  if (data) children.push(nest(IFLA_INFO_DATA, data));
  return nest(IFLA_LINKINFO, children);
}

async function create(rtnl: Rtnl, kind: string, name: string, attrs: Buffer[]): Promise<void> {
  const operation = `create ${kind}`;
  validateIfname(name, operation);
  const payload = Buffer.concat([ifinfomsg({}), attr(IFLA_IFNAME, str(name)), ...attrs]);
  await rtnl.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, payload, operation, name);
}

const mtuAttr = (mtu: number | undefined): Buffer[] => (mtu === undefined ? [] : [attr(IFLA_MTU, u32(mtu))]);

export async function createBridge(rtnl: Rtnl, name: string, opts: { mtu?: number; vlanFiltering?: boolean }): Promise<void> {
  // default_pvid 0: a new port joins no VLAN until it is given one, rather than VLAN 1 with every
  // other new port.
  const data = opts.vlanFiltering ? [attr(IFLA_BR_VLAN_FILTERING, u8(1)), attr(IFLA_BR_VLAN_DEFAULT_PVID, u16(0))] : undefined;
  try {
    await create(rtnl, 'bridge', name, [...mtuAttr(opts.mtu), linkinfo('bridge', data)]);
  } catch (err) {
    if (opts.vlanFiltering && err instanceof NetError && err.errno === 'EOPNOTSUPP') {
      throw new NetError('EOPNOTSUPP', err.operation, name, 'bridge VLAN filtering is not supported by this kernel');
    }
    throw err;
  }
}

export async function createVxlan(rtnl: Rtnl, name: string, opts: { vni: number; local: string; port: number; mtu?: number }): Promise<void> {
  if (!Number.isInteger(opts.vni) || opts.vni < 1 || opts.vni > 0xffffff) throw new NetError('EINVAL', 'create vxlan', name, `vni ${opts.vni}`);
  if (!Number.isInteger(opts.port) || opts.port < 1 || opts.port > 0xffff) throw new NetError('EINVAL', 'create vxlan', name, `port ${opts.port}`);
  const data = [
    attr(IFLA_VXLAN_ID, u32(opts.vni)),
    attr(IFLA_VXLAN_LOCAL, parseIPv4(opts.local)),
    attr(IFLA_VXLAN_PORT, be16(opts.port)),
    // The control plane fills the FDB; the device must never learn from the data plane.
    attr(IFLA_VXLAN_LEARNING, u8(0)),
  ];
  await create(rtnl, 'vxlan', name, [...mtuAttr(opts.mtu), linkinfo('vxlan', data)]);
  // addrgenmode none, as in the EVPN recipe: no IPv6 link-local address, so no RS/ND chatter from
  // the VTEP itself into the overlay. The kernel takes it only once the device exists.
  const noLinkLocal = nest(IFLA_AF_SPEC, [nest(AF_INET6, [attr(IFLA_INET6_ADDR_GEN_MODE, u8(IN6_ADDR_GEN_MODE_NONE))])]);
  try {
    await rtnl.request(RTM_SETLINK, 0, Buffer.concat([byName(name), noLinkLocal]), 'create vxlan', name);
  } catch (err) {
    // without IPv6 there is no link-local address to suppress
    if (err instanceof NetError && err.errno === 'EAFNOSUPPORT') return;
    await deleteLink(rtnl, name);
    throw err;
  }
}

export async function createVlan(rtnl: Rtnl, name: string, opts: { parent: string; id: number; mtu?: number }): Promise<void> {
  const operation = 'create vlan';
  if (!Number.isInteger(opts.id) || opts.id < 1 || opts.id > 4094) throw new NetError('EINVAL', operation, name, `vlan id ${opts.id}`);
  const parent = await linkIndex(rtnl, opts.parent, operation, name);
  try {
    await create(rtnl, 'vlan', name, [attr(IFLA_LINK, u32(parent)), ...mtuAttr(opts.mtu), linkinfo('vlan', [attr(IFLA_VLAN_ID, u16(opts.id))])]);
  } catch (err) {
    if (err instanceof NetError && err.errno === 'EOPNOTSUPP')
      throw new NetError('EOPNOTSUPP', operation, name, '802.1Q (8021q) is not available in this kernel');
    throw err;
  }
}

export async function createVeth(rtnl: Rtnl, name: string, opts: { mtu?: number; peer: VethPeer }): Promise<void> {
  const nsFd = openNetns(opts.peer.netns, 'create veth');
  try {
    await createVethPair(rtnl, name, { ...opts, nsFd });
  } finally {
    fs.closeSync(nsFd);
  }
}

/** A veth pair whose peer goes to the namespace of `nsFd`, or stays here without one. */
export async function createVethPair(rtnl: Rtnl, name: string, opts: { mtu?: number; peer: Omit<VethPeer, 'netns'>; nsFd?: number }): Promise<void> {
  const { peer } = opts;
  validateIfname(peer.name, 'create veth');
  // VETH_INFO_PEER holds a whole ifinfomsg plus link attributes for the other end.
  const peerInfo = Buffer.concat([
    ifinfomsg({}),
    attr(IFLA_IFNAME, str(peer.name)),
    ...(opts.nsFd === undefined ? [] : [attr(IFLA_NET_NS_FD, u32(opts.nsFd))]),
    ...mtuAttr(peer.mtu),
    ...(peer.mac === undefined ? [] : [attr(IFLA_ADDRESS, parseMac(peer.mac))]),
  ]);
  await create(rtnl, 'veth', name, [...mtuAttr(opts.mtu), linkinfo('veth', [attr(VETH_INFO_PEER, peerInfo)])]);
}

export async function setLink(rtnl: Rtnl, name: string, change: LinkChange): Promise<void> {
  const operation = 'set link';
  validateIfname(name, operation);
  const attrs: Buffer[] = [attr(IFLA_IFNAME, str(name)), ...mtuAttr(change.mtu)];
  if (change.mac !== undefined) attrs.push(attr(IFLA_ADDRESS, parseMac(change.mac)));
  if (change.txQueueLen !== undefined) attrs.push(attr(IFLA_TXQLEN, u32(change.txQueueLen)));
  if (change.master !== undefined) {
    const master = change.master === null ? 0 : await linkIndex(rtnl, change.master, operation, name);
    attrs.push(attr(IFLA_MASTER, u32(master)));
  }
  const hdr = change.up === undefined ? ifinfomsg({}) : ifinfomsg({ flags: change.up ? IFF_UP : 0, change: IFF_UP });
  await rtnl.request(RTM_SETLINK, 0, Buffer.concat([hdr, ...attrs]), operation, name);
}

/** `bridge link set dev NAME learning … neigh_suppress …` */
export async function setBridgePort(rtnl: Rtnl, name: string, flags: BridgePortFlags): Promise<void> {
  const operation = 'set bridge port';
  const index = await linkIndex(rtnl, name, operation);
  const protinfo = nest(
    IFLA_PROTINFO,
    [attr(IFLA_BRPORT_LEARNING, u8(flags.learning ? 1 : 0)), attr(IFLA_BRPORT_NEIGH_SUPPRESS, u8(flags.neighSuppress ? 1 : 0))],
    // Without NLA_F_NESTED the bridge reads IFLA_PROTINFO as a bare STP state byte.
    true,
  );
  await rtnl.request(RTM_SETLINK, 0, Buffer.concat([ifinfomsg({ family: AF_BRIDGE, index }), protinfo]), operation, name);
}

export async function deleteLink(rtnl: Rtnl, name: string): Promise<void> {
  validateIfname(name, 'delete link');
  try {
    await rtnl.request(RTM_DELLINK, 0, byName(name), 'delete link', name);
  } catch (err) {
    if (err instanceof NetError && err.errno === 'ENODEV') return;
    throw err;
  }
}
