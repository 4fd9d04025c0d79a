// Bridge port VLANs (`bridge vlan add|del|show`): IFLA_AF_SPEC of family AF_BRIDGE holding one
// IFLA_BRIDGE_VLAN_INFO {u16 flags, u16 vid} per VLAN. Without IFLA_BRIDGE_FLAGS the kernel applies
// them to the port as its bridge sees it (BRIDGE_FLAGS_MASTER), which is what we want.

import {
  AF_BRIDGE,
  BRIDGE_VLAN_INFO_PVID,
  BRIDGE_VLAN_INFO_UNTAGGED,
  IFLA_AF_SPEC,
  IFLA_BRIDGE_VLAN_INFO,
  IFLA_EXT_MASK,
  IFLA_PROTINFO,
  IFLA_BRPORT_LEARNING,
  IFLA_BRPORT_NEIGH_SUPPRESS,
  RTEXT_FILTER_BRVLAN,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_SETLINK,
} from './constants.js';
import { IFINFOMSG_LEN, attr, ifinfomsg, nest, parseAttrList, parseAttrs, parseIfinfomsg, u32, type NlMsg } from './codec.js';
import type { Rtnl } from './rtnl.js';
import { NetError, type BridgePortFlags, type BridgeVlan } from './types.js';

/** IFLA_AF_SPEC with one IFLA_BRIDGE_VLAN_INFO per VLAN. */
export function encodeVlanSpec(vlans: BridgeVlan[]): Buffer {
  const infos = vlans.map((v) => {
    const b = Buffer.alloc(4);
    b.writeUInt16LE((v.pvid ? BRIDGE_VLAN_INFO_PVID : 0) | (v.untagged ? BRIDGE_VLAN_INFO_UNTAGGED : 0), 0);
    b.writeUInt16LE(v.vid, 2);
    return attr(IFLA_BRIDGE_VLAN_INFO, b);
  });
  return nest(IFLA_AF_SPEC, infos);
}

/** The VLANs inside an IFLA_AF_SPEC of an AF_BRIDGE link message, by vid. */
export function decodeVlanSpec(afSpec: Buffer): BridgeVlan[] {
  const out: BridgeVlan[] = [];
  for (const a of parseAttrList(afSpec)) {
    if (a.type !== IFLA_BRIDGE_VLAN_INFO || a.value.length < 4) continue;
    const flags = a.value.readUInt16LE(0);
    out.push({ vid: a.value.readUInt16LE(2), pvid: (flags & BRIDGE_VLAN_INFO_PVID) !== 0, untagged: (flags & BRIDGE_VLAN_INFO_UNTAGGED) !== 0 });
  }
  return out.sort((a, b) => a.vid - b.vid);
}

/** RTM_SETLINK (add or update) / RTM_DELLINK (remove) payload for port `index`. */
export function vlanRequest(index: number, vlans: BridgeVlan[]): Buffer {
  return Buffer.concat([ifinfomsg({ family: AF_BRIDGE, index }), encodeVlanSpec(vlans)]);
}

/** The AF_BRIDGE dump request that also reports each port's VLANs, one by one. */
export function portDumpRequest(): Buffer {
  return Buffer.concat([ifinfomsg({ family: AF_BRIDGE }), attr(IFLA_EXT_MASK, u32(RTEXT_FILTER_BRVLAN))]);
}

export interface PortInfo {
  flags: BridgePortFlags;
  vlans: BridgeVlan[];
}

/** Port flags and VLANs by ifindex from an AF_BRIDGE dump; the bridge itself has no IFLA_PROTINFO and is skipped. */
export function decodePorts(msgs: NlMsg[]): Map<number, PortInfo> {
  const out = new Map<number, PortInfo>();
  for (const msg of msgs) {
    const attrs = parseAttrs(msg.data.subarray(IFINFOMSG_LEN));
    const protinfo = attrs.get(IFLA_PROTINFO);
    if (!protinfo) continue;
    const p = parseAttrs(protinfo);
    const afSpec = attrs.get(IFLA_AF_SPEC);
    out.set(parseIfinfomsg(msg.data).index, {
      flags: {
        learning: (p.get(IFLA_BRPORT_LEARNING)?.readUInt8(0) ?? 0) !== 0,
        neighSuppress: (p.get(IFLA_BRPORT_NEIGH_SUPPRESS)?.readUInt8(0) ?? 0) !== 0,
      },
      vlans: afSpec ? decodeVlanSpec(afSpec) : [],
    });
  }
  return out;
}

export async function dumpPorts(rtnl: Rtnl): Promise<Map<number, PortInfo>> {
  return decodePorts(await rtnl.dump(RTM_GETLINK, portDumpRequest(), 'list', 'bridge ports'));
}

export function validateVlans(vlans: BridgeVlan[], dev: string): void {
  const seen = new Set<number>();
  for (const v of vlans) {
    if (!Number.isInteger(v.vid) || v.vid < 1 || v.vid > 4094 || seen.has(v.vid)) throw new NetError('EINVAL', 'set bridge vlans', dev, `vid ${v.vid}`);
    seen.add(v.vid);
  }
  if (vlans.filter((v) => v.pvid).length > 1) throw new NetError('EINVAL', 'set bridge vlans', dev, 'more than one pvid');
}

const sameVlan = (a: BridgeVlan, b: BridgeVlan): boolean => a.vid === b.vid && a.pvid === b.pvid && a.untagged === b.untagged;

/** What to add (or update flags of) and what to delete so that the port has exactly `want`. */
export function vlanChanges(want: BridgeVlan[], have: BridgeVlan[]): { add: BridgeVlan[]; remove: BridgeVlan[] } {
  return {
    add: want.filter((w) => !have.some((h) => sameVlan(w, h))),
    remove: have.filter((h) => !want.some((w) => w.vid === h.vid)),
  };
}

function unsupported(err: unknown, operation: string, dev: string): unknown {
  if (err instanceof NetError && err.errno === 'EOPNOTSUPP') {
    return new NetError('EOPNOTSUPP', operation, dev, 'bridge VLAN filtering is not supported by this kernel');
  }
  return err;
}

export async function setBridgeVlans(rtnl: Rtnl, dev: string, index: number, vlans: BridgeVlan[]): Promise<void> {
  const operation = 'set bridge vlans';
  validateVlans(vlans, dev);
  const { add, remove } = vlanChanges(vlans, (await dumpPorts(rtnl)).get(index)?.vlans ?? []);
  try {
    // Adding first moves the pvid without a moment in which the port has none.
    if (add.length > 0) await rtnl.request(RTM_SETLINK, 0, vlanRequest(index, add), operation, dev);
    if (remove.length > 0) await rtnl.request(RTM_DELLINK, 0, vlanRequest(index, remove), operation, dev);
  } catch (err) {
    throw unsupported(err, operation, dev);
  }
}
