// A subnet on one host (bridge-per-subnet mode): a bridge, and a VXLAN VTEP on it that never
// learns from the data plane; its FDB and neighbour tables come from the control plane.

import type { FdbEntry, Link, NeighborEntry, NetHandle } from '../net/types.js';
import type { SubnetRecord, VtepTableRecord } from '../state/model.js';
import { overlayMtu, type L2Context } from './context.js';
import { ensureLink, linkProblems, type LinkSpec } from './links.js';
import { bridgeMac, subnetBridge } from './names.js';
import { ensureVtep, removeVtep, vtepLink, vtepProblems } from './vtep.js';

/** The FDB entry of a VTEP table's flood list (broadcast, multicast, unknown unicast). */
export const FLOOD_MAC = '00:00:00:00:00:00';

export interface SubnetLinks {
  bridge: LinkSpec;
  vxlan: LinkSpec;
}

export function subnetLinks(s: SubnetRecord, ctx: L2Context): SubnetLinks {
  const mtu = overlayMtu(ctx);
  const bridge = subnetBridge(s.vni);
  return {
    bridge: { name: bridge, kind: 'bridge', mtu, mac: bridgeMac(`vni${s.vni}@${ctx.underlayAddress}`) },
    vxlan: vtepLink(s, ctx, bridge),
  };
}

/** The FDB entries a VTEP table asks for: one all-zero entry per flood VTEP, then unicast MACs. */
export function tableFdb(t: VtepTableRecord | undefined): FdbEntry[] {
  if (!t) return [];
  return [...t.flood_vteps.map((dst) => ({ mac: FLOOD_MAC, dst })), ...t.fdb.map((e) => ({ mac: e.mac, dst: e.vtep }))];
}

export function tableNeighbors(t: VtepTableRecord | undefined): NeighborEntry[] {
  return t ? t.neighbors.map((n) => ({ ip: n.ip, mac: n.mac })) : [];
}

const fdbKey = (e: FdbEntry): string => `${e.mac}>${e.dst}`;
const neighKey = (e: NeighborEntry): string => `${e.ip}=${e.mac}`;

/** Entries to add and to remove so that `have` becomes `want`. */
export function diffEntries<T>(want: T[], have: T[], key: (e: T) => string): { add: T[]; remove: T[] } {
  const haveKeys = new Set(have.map(key));
  const wantKeys = new Set(want.map(key));
  return { add: want.filter((e) => !haveKeys.has(key(e))), remove: have.filter((e) => !wantKeys.has(key(e))) };
}

export async function convergeSubnet(h: NetHandle, links: Map<string, Link>, s: SubnetRecord, ctx: L2Context): Promise<void> {
  const spec = subnetLinks(s, ctx);
  await ensureLink(h, spec.bridge, links.get(spec.bridge.name), () => h.createBridge(spec.bridge.name, { mtu: spec.bridge.mtu }));
  await ensureVtep(h, spec.vxlan, links.get(spec.vxlan.name), s, ctx);
}

/**
 * Where a subnet's VTEP table lives: FDB on the VTEP, neighbours where ARP suppression reads them
 * (the bridge; the TAP VTEP itself under the tap transport, whose agent answers ARP).
 */
export interface TableDevices {
  fdb: string;
  neighbors: string;
}

export function subnetTableDevices(s: SubnetRecord, ctx: L2Context): TableDevices {
  const spec = subnetLinks(s, ctx);
  return { fdb: spec.vxlan.name, neighbors: ctx.tap ? spec.vxlan.name : spec.bridge.name };
}

/** The FDB and neighbour operations of a VTEP table: the kernel's (a NetHandle), or the userspace VTEP's. */
export type VtepTableStore = Pick<NetHandle, 'fdb' | 'replaceFdb' | 'deleteFdb' | 'neighbors' | 'replaceNeighbors' | 'deleteNeighbors'>;

/**
 * Makes the kernel's tables exactly the table's, and returns what they hold afterwards: every
 * change was acknowledged by the kernel, so that is the table itself — no second dump needed.
 */
export async function convergeTable(h: VtepTableStore, dev: TableDevices, t: VtepTableRecord | undefined): Promise<TableObservation> {
  const wantFdb = tableFdb(t);
  const fdb = diffEntries(wantFdb, await h.fdb(dev.fdb), fdbKey);
  if (fdb.remove.length > 0) await h.deleteFdb(dev.fdb, fdb.remove);
  if (fdb.add.length > 0) await h.replaceFdb(dev.fdb, fdb.add);
  const wantNeigh = tableNeighbors(t);
  const neigh = diffEntries(wantNeigh, await h.neighbors(dev.neighbors), neighKey);
  if (neigh.remove.length > 0) await h.deleteNeighbors(dev.neighbors, neigh.remove);
  if (neigh.add.length > 0) await h.replaceNeighbors(dev.neighbors, neigh.add);
  const flood = wantFdb.filter((e) => e.mac === FLOOD_MAC).length;
  return { problems: [], flood, fdb: wantFdb.length - flood, neighbors: wantNeigh.length };
}

export function subnetProblems(s: SubnetRecord, links: Map<string, Link>, ctx: L2Context): string[] {
  const spec = subnetLinks(s, ctx);
  return [...linkProblems(spec.bridge, links.get(spec.bridge.name)), ...vtepProblems(spec.vxlan, links, s, ctx)];
}

export interface TableObservation {
  problems: string[];
  flood: number;
  fdb: number;
  neighbors: number;
}

export async function observeTable(h: VtepTableStore, dev: TableDevices, t: VtepTableRecord | undefined): Promise<TableObservation> {
  const haveFdb = await h.fdb(dev.fdb).catch((): FdbEntry[] => []);
  const haveNeigh = await h.neighbors(dev.neighbors).catch((): NeighborEntry[] => []);
  const fdb = diffEntries(tableFdb(t), haveFdb, fdbKey);
  const neigh = diffEntries(tableNeighbors(t), haveNeigh, neighKey);
  const problems: string[] = [];
  if (fdb.add.length > 0) problems.push(`${fdb.add.length} FDB entries missing on ${dev.fdb}`);
  if (fdb.remove.length > 0) problems.push(`${fdb.remove.length} FDB entries on ${dev.fdb} that the table does not hold`);
  if (neigh.add.length > 0) problems.push(`${neigh.add.length} neighbour entries missing on ${dev.neighbors}`);
  if (neigh.remove.length > 0) problems.push(`${neigh.remove.length} neighbour entries on ${dev.neighbors} that the table does not hold`);
  return {
    problems,
    flood: haveFdb.filter((e) => e.mac === FLOOD_MAC).length,
    fdb: haveFdb.filter((e) => e.mac !== FLOOD_MAC).length,
    neighbors: haveNeigh.length,
  };
}

export async function removeSubnet(h: NetHandle, s: SubnetRecord, ctx: L2Context): Promise<void> {
  await removeVtep(h, s, ctx);
  await h.deleteLink(subnetLinks(s, ctx).bridge.name);
}
