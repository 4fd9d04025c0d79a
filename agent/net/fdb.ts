// Static FDB entries of vxlan devices and permanent IPv4 neighbours: read back, and bulk
// replace/delete through batched datagrams (see Rtnl.batch) so 10,000 entries cost about what
// `bridge -batch` does, while every failure is still tied to the entry it concerned.

import {
  AF_BRIDGE,
  AF_INET,
  NDA_DST,
  NDA_LLADDR,
  NLM_F_APPEND,
  NLM_F_CREATE,
  NLM_F_REPLACE,
  NTF_EXT_LEARNED,
  NTF_MASTER,
  NTF_SELF,
  NUD_NOARP,
  NUD_PERMANENT,
  RTM_DELNEIGH,
  RTM_GETNEIGH,
  RTM_NEWNEIGH,
} from './constants.js';
import { NDMSG_LEN, attr, ifinfomsg, ndmsg, parseAttrs, parseNdmsg } from './codec.js';
import { formatIPv4, formatMac, parseIPv4, parseMac } from './inet.js';
import { linkIndex } from './links.js';
import type { Rtnl, RtnlMessage } from './rtnl.js';
import { NetError, type FdbEntry, type NeighborEntry } from './types.js';

/** Messages per datagram: the measured sweet spot, and few enough errors to fit the receive buffer. */
const BATCH_SIZE = 500;

interface Bulk {
  operation: string;
  dev: string;
  msgs: RtnlMessage[];
  describe(i: number): string;
  /** errno names that mean "already in the wanted state". */
  ignore: string[];
}

async function runBulk(rtnl: Rtnl, bulk: Bulk): Promise<void> {
  const failures: { index: number; errno: string }[] = [];
  for (let start = 0; start < bulk.msgs.length; start += BATCH_SIZE) {
    const chunk = bulk.msgs.slice(start, start + BATCH_SIZE);
    let errors;
    try {
      errors = await rtnl.batch(chunk);
    } catch (err) {
      if (!(err instanceof NetError && err.errno === 'ENOBUFS')) throw err;
      // The error replies overflowed the receive buffer, so some are lost: redo the chunk one
      // acknowledged request at a time (replace and delete are both idempotent).
      errors = await oneByOne(rtnl, chunk);
    }
    for (const e of errors) if (!bulk.ignore.includes(e.errno)) failures.push({ index: start + e.index, errno: e.errno });
  }
  const first = failures[0];
  if (first) {
    const more = failures.length > 1 ? `${failures.length} of ${bulk.msgs.length} entries failed` : undefined;
    throw new NetError(first.errno, bulk.operation, `${bulk.describe(first.index)} on ${bulk.dev}`, more);
  }
}

async function oneByOne(rtnl: Rtnl, msgs: RtnlMessage[]): Promise<{ index: number; errno: string }[]> {
  const out: { index: number; errno: string }[] = [];
  for (const [index, m] of msgs.entries()) {
    try {
      await rtnl.request(m.type, m.flags, m.payload, '', '');
    } catch (err) {
      if (!(err instanceof NetError)) throw err;
      out.push({ index, errno: err.errno });
    }
  }
  return out;
}

/** Index of `dev`, or undefined when it is gone and `missingOk` (deleting from a missing device). */
async function devIndex(rtnl: Rtnl, dev: string, operation: string, missingOk: boolean): Promise<number | undefined> {
  try {
    return await linkIndex(rtnl, dev, operation);
  } catch (err) {
    if (missingOk && err instanceof NetError && err.errno === 'ENODEV') return undefined;
    throw err;
  }
}

function fdbPayload(index: number, e: FdbEntry): { payload: Buffer; group: boolean } {
  const mac = parseMac(e.mac);
  return {
    payload: Buffer.concat([
      ndmsg({ family: AF_BRIDGE, index, state: NUD_PERMANENT, flags: NTF_SELF }),
      attr(NDA_LLADDR, mac),
      attr(NDA_DST, parseIPv4(e.dst)),
    ]),
    // all-zero (flood) and multicast MACs hold a list of remotes
    group: (mac[0]! & 1) === 1 || mac.every((b) => b === 0),
  };
}

export async function listFdb(rtnl: Rtnl, dev: string): Promise<FdbEntry[]> {
  const index = await linkIndex(rtnl, dev, 'list fdb');
  // An ifinfomsg-sized request lets the kernel filter the dump to this port.
  const msgs = await rtnl.dump(RTM_GETNEIGH, ifinfomsg({ family: AF_BRIDGE, index }), 'list fdb', dev);
  const out: FdbEntry[] = [];
  for (const msg of msgs) {
    const hdr = parseNdmsg(msg.data);
    if (hdr.family !== AF_BRIDGE || hdr.index !== index || !(hdr.flags & NTF_SELF)) continue;
    const a = parseAttrs(msg.data.subarray(NDMSG_LEN));
    const mac = a.get(NDA_LLADDR);
    const dst = a.get(NDA_DST);
    if (mac?.length === 6 && dst?.length === 4) out.push({ mac: formatMac(mac), dst: formatIPv4(dst) });
  }
  return out;
}

export async function replaceFdb(rtnl: Rtnl, dev: string, entries: FdbEntry[]): Promise<void> {
  const operation = 'replace fdb';
  const index = (await devIndex(rtnl, dev, operation, false))!;
  const msgs = entries.map((e) => {
    const { payload, group } = fdbPayload(index, e);
    // A group entry is a list of remotes: replacing one is refused, appending an existing one is a no-op.
    return { type: RTM_NEWNEIGH, flags: NLM_F_CREATE | (group ? NLM_F_APPEND : NLM_F_REPLACE), payload };
  });
  await runBulk(rtnl, { operation, dev, msgs, describe: (i) => fdbName(entries[i]), ignore: [] });
}

export async function deleteFdb(rtnl: Rtnl, dev: string, entries: FdbEntry[]): Promise<void> {
  const operation = 'delete fdb';
  const index = await devIndex(rtnl, dev, operation, true);
  if (index === undefined) return;
  const msgs = entries.map((e) => ({ type: RTM_DELNEIGH, flags: 0, payload: fdbPayload(index, e).payload }));
  await runBulk(rtnl, { operation, dev, msgs, describe: (i) => fdbName(entries[i]), ignore: ['ENOENT'] });
}

const fdbName = (e: FdbEntry | undefined): string => (e ? `${e.mac} dst ${e.dst}` : '?');
const neighName = (e: NeighborEntry | undefined): string => (e ? `${e.ip} lladdr ${e.mac}` : '?');

function neighPayload(index: number, e: NeighborEntry): Buffer {
  return Buffer.concat([ndmsg({ family: AF_INET, index, state: NUD_PERMANENT }), attr(NDA_DST, parseIPv4(e.ip)), attr(NDA_LLADDR, parseMac(e.mac))]);
}

/** `learned`: the entries a control plane installed (extern_learn: zebra's), instead of the permanent ones. */
export async function listNeighbors(rtnl: Rtnl, dev: string, learned = false): Promise<NeighborEntry[]> {
  const index = await linkIndex(rtnl, dev, 'list neighbors');
  const msgs = await rtnl.dump(RTM_GETNEIGH, ndmsg({ family: AF_INET, index }), 'list neighbors', dev);
  const out: NeighborEntry[] = [];
  for (const msg of msgs) {
    const hdr = parseNdmsg(msg.data);
    if (hdr.family !== AF_INET || hdr.index !== index) continue;
    if (learned ? !(hdr.flags & NTF_EXT_LEARNED) : !(hdr.state & NUD_PERMANENT)) continue;
    const a = parseAttrs(msg.data.subarray(NDMSG_LEN));
    const ip = a.get(NDA_DST);
    const mac = a.get(NDA_LLADDR);
    if (ip?.length === 4 && mac?.length === 6) out.push({ ip: formatIPv4(ip), mac: formatMac(mac) });
  }
  return out;
}

export async function replaceNeighbors(rtnl: Rtnl, dev: string, entries: NeighborEntry[]): Promise<void> {
  const operation = 'replace neighbor';
  const index = (await devIndex(rtnl, dev, operation, false))!;
  const msgs = entries.map((e) => ({ type: RTM_NEWNEIGH, flags: NLM_F_CREATE | NLM_F_REPLACE, payload: neighPayload(index, e) }));
  await runBulk(rtnl, { operation, dev, msgs, describe: (i) => neighName(entries[i]), ignore: [] });
}

export async function deleteNeighbors(rtnl: Rtnl, dev: string, entries: NeighborEntry[]): Promise<void> {
  const operation = 'delete neighbor';
  const index = await devIndex(rtnl, dev, operation, true);
  if (index === undefined) return;
  const msgs = entries.map((e) => ({ type: RTM_DELNEIGH, flags: 0, payload: neighPayload(index, e) }));
  await runBulk(rtnl, { operation, dev, msgs, describe: (i) => neighName(entries[i]), ignore: ['ENOENT'] });
}

/**
 * Static (NUD_NOARP) MACs in the bridge's FDB on port `dev`: how a MAC behind a port the bridge
 * does not learn from is declared — zebra advertises such entries as local (sticky) MACs.
 */
function staticMacPayload(index: number, mac: string): Buffer {
  return Buffer.concat([ndmsg({ family: AF_BRIDGE, index, state: NUD_NOARP, flags: NTF_MASTER }), attr(NDA_LLADDR, parseMac(mac))]);
}

export async function listStaticMacs(rtnl: Rtnl, dev: string): Promise<string[]> {
  const index = await linkIndex(rtnl, dev, 'list static macs');
  const msgs = await rtnl.dump(RTM_GETNEIGH, ifinfomsg({ family: AF_BRIDGE, index }), 'list static macs', dev);
  const out: string[] = [];
  for (const msg of msgs) {
    const hdr = parseNdmsg(msg.data);
    if (hdr.family !== AF_BRIDGE || hdr.index !== index || hdr.flags & NTF_SELF || !(hdr.state & NUD_NOARP)) continue;
    const mac = parseAttrs(msg.data.subarray(NDMSG_LEN)).get(NDA_LLADDR);
    if (mac?.length === 6) out.push(formatMac(mac));
  }
  return out;
}

export async function replaceStaticMacs(rtnl: Rtnl, dev: string, macs: string[]): Promise<void> {
  const operation = 'replace static mac';
  const index = (await devIndex(rtnl, dev, operation, false))!;
  const msgs = macs.map((m) => ({ type: RTM_NEWNEIGH, flags: NLM_F_CREATE | NLM_F_REPLACE, payload: staticMacPayload(index, m) }));
  await runBulk(rtnl, { operation, dev, msgs, describe: (i) => macs[i] ?? '?', ignore: [] });
}

export async function deleteStaticMacs(rtnl: Rtnl, dev: string, macs: string[]): Promise<void> {
  const operation = 'delete static mac';
  const index = await devIndex(rtnl, dev, operation, true);
  if (index === undefined) return;
  const msgs = macs.map((m) => ({ type: RTM_DELNEIGH, flags: 0, payload: staticMacPayload(index, m) }));
  await runBulk(rtnl, { operation, dev, msgs, describe: (i) => macs[i] ?? '?', ignore: ['ENOENT'] });
}
