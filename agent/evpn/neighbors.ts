// ARP suppression under a dynamic control plane: the bridge of a subnet holds a permanent IP→MAC
// entry for each local NIC. zebra learns MAC+IP from these (the bridges have no addresses, so it
// would learn no IPs by itself) and advertises type-2 routes that carry both; remote hosts then
// answer ARP for these NICs from their own bridge (neigh_suppress) instead of flooding it.

import { diffEntries, type VtepTableStore } from '../l2/subnet.js';
import type { NeighborEntry } from '../net/types.js';
import type { NicRecord } from '../state/model.js';

/** Which control plane fills a subnet's FDB and neighbour tables. */
export type TableSource = 'static' | 'evpn' | 'registry';

export function localNeighbors(nics: readonly NicRecord[]): NeighborEntry[] {
  return nics.filter((n) => n.ip !== '').map((n) => ({ ip: n.ip.split('/')[0]!, mac: n.mac }));
}

const key = (e: NeighborEntry): string => `${e.ip}=${e.mac}`;

/**
 * Makes the permanent neighbours of `dev` (where ARP suppression reads them: the subnet's bridge)
 * exactly the subnet's local NICs. Entries zebra installs for remote NICs are not permanent
 * (NUD_NOARP, extern_learn), so the comparison never sees them.
 */
export async function convergeLocalNeighbors(h: VtepTableStore, dev: string, nics: readonly NicRecord[]): Promise<void> {
  const d = diffEntries(localNeighbors(nics), await h.neighbors(dev), key);
  if (d.remove.length > 0) await h.deleteNeighbors(dev, d.remove);
  if (d.add.length > 0) await h.replaceNeighbors(dev, d.add);
}

export async function localNeighborProblems(h: VtepTableStore, dev: string, nic: NicRecord): Promise<string[]> {
  if (nic.ip === '') return [];
  const want = localNeighbors([nic])[0]!;
  const have = await h.neighbors(dev).catch((): NeighborEntry[] => []);
  return have.some((e) => key(e) === key(want)) ? [] : [`${dev} lacks the neighbour entry ${want.ip} lladdr ${want.mac} (ARP suppression)`];
}
