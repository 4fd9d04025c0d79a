// Who fills a subnet's VTEP tables (flood list, MAC → VTEP, IP → MAC): the reconciler asks the
// host's control plane through this instead of branching on its kind.
//   static    the tables the API put (PutVtepTable), an operator's tool;
//   registry  tables derived from the registry's view by agent/registry/control-plane.ts;
//   evpn      zebra fills the FDB from BGP; the agent keeps only its local NICs' neighbour
//             entries, which zebra advertises (ARP suppression).

import { convergeLocalNeighbors, localNeighborProblems, type TableSource } from '../evpn/neighbors.js';
import { convergeTable, type TableDevices, type VtepTableStore } from '../l2/subnet.js';
import type { PlaneTable } from '../registry/view.js';
import type { DesiredState, NicRecord, SubnetRecord } from './model.js';

export interface VtepTableSource {
  readonly kind: TableSource;
  /** Makes the subnet's devices hold what this source says they should. */
  converge(h: VtepTableStore, dev: TableDevices, s: SubnetRecord, state: Readonly<DesiredState>): Promise<void>;
  /** A local NIC of `s` came, changed or went. */
  nicsChanged(h: VtepTableStore, dev: TableDevices, s: SubnetRecord, state: Readonly<DesiredState>): Promise<void>;
  /** What the tables lack for a local NIC of `s`. */
  nicProblems(h: VtepTableStore, dev: TableDevices, n: NicRecord, s: SubnetRecord): Promise<string[]>;
}

/** The NICs of a subnet in a host's desired state. */
export const nicsOf = (state: Readonly<DesiredState>, subnetId: string): NicRecord[] => Object.values(state.nics).filter((n) => n.subnet_id === subnetId);
const nothing = async (): Promise<void> => undefined;

export const staticTables: VtepTableSource = {
  kind: 'static',
  converge: async (h, dev, s, state) => void (await convergeTable(h, dev, state.vtepTables[s.id])),
  nicsChanged: nothing,
  nicProblems: async () => [],
};

export const evpnTables: VtepTableSource = {
  kind: 'evpn',
  converge: (h, dev, s, state) => convergeLocalNeighbors(h, dev.neighbors, nicsOf(state, s.id)),
  nicsChanged: (h, dev, s, state) => convergeLocalNeighbors(h, dev.neighbors, nicsOf(state, s.id)),
  nicProblems: (h, dev, n) => localNeighborProblems(h, dev.neighbors, n),
};

/**
 * The registry's tables per VNI, as the control plane last set them: none before its first view,
 * so that a restarted agent leaves the kernel's entries alone until it knows better.
 */
export class RegistryTables implements VtepTableSource {
  readonly kind = 'registry';
  tables: ReadonlyMap<number, PlaneTable> | undefined;

  async converge(h: VtepTableStore, dev: TableDevices, s: SubnetRecord): Promise<void> {
    if (!this.tables) return;
    const t = this.tables.get(s.vni);
    await convergeTable(h, dev, t && { subnet_id: s.id, ...t });
  }

  nicsChanged = nothing;
  nicProblems = async (): Promise<string[]> => [];
}

export function tableSource(kind: TableSource): VtepTableSource {
  return kind === 'static' ? staticTables : kind === 'evpn' ? evpnTables : new RegistryTables();
}
