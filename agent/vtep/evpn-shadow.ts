// EVPN for the tap transport: the agent tells zebra about its NICs through each subnet's shadow
// VTEP (agent/l2/vtep.ts) and copies what zebra installs there — the flood list from type-3
// routes, MAC → VTEP and IP → MAC from type-2 — into the userspace VTEP's table. zebra writes the kernel when
// BGP tells it to, not when the reconciler asks, so the copy also runs on a short timer.

import { convergeLocalNeighbors, localNeighborProblems } from '../evpn/neighbors.js';
import { convergeTable, diffEntries, FLOOD_MAC, type TableDevices } from '../l2/subnet.js';
import { shadowBridge, shadowPort, vxlanDevice } from '../l2/names.js';
import type { NetHandle } from '../net/types.js';
import type { DesiredState, NicRecord, SubnetRecord } from '../state/model.js';
import { nicsOf, type VtepTableSource } from '../state/table-source.js';
import type { UserspaceVtep } from './userspace-vtep.js';

export class EvpnShadowTables implements VtepTableSource {
  readonly kind = 'evpn';
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: NetHandle,
    private readonly tap: UserspaceVtep,
  ) {}

  /** The subnet's local NICs declared to zebra, and zebra's entries copied to the TAP's table. */
  async converge(_store: unknown, dev: TableDevices, s: SubnetRecord, state: Readonly<DesiredState>): Promise<void> {
    const nics = nicsOf(state, s.id);
    const port = shadowPort(s.vni);
    const macs = diffEntries(
      nics.map((n) => n.mac),
      await this.host.staticMacs(port),
      (m) => m,
    );
    if (macs.remove.length > 0) await this.host.deleteStaticMacs(port, macs.remove);
    if (macs.add.length > 0) await this.host.replaceStaticMacs(port, macs.add);
    await convergeLocalNeighbors(this.host, shadowBridge(s.vni), nics);
    await this.copy(dev, s);
  }

  nicsChanged(store: unknown, dev: TableDevices, s: SubnetRecord, state: Readonly<DesiredState>): Promise<void> {
    return this.converge(store, dev, s, state);
  }

  async nicProblems(_store: unknown, _dev: TableDevices, n: NicRecord, s: SubnetRecord): Promise<string[]> {
    const problems = await localNeighborProblems(this.host, shadowBridge(s.vni), n);
    const macs = await this.host.staticMacs(shadowPort(s.vni)).catch((): string[] => []);
    if (!macs.includes(n.mac)) problems.push(`${shadowPort(s.vni)} does not declare ${n.mac} to zebra`);
    return problems;
  }

  /** zebra's flood list, remote MACs and remote MAC+IP of the VNI → the TAP's table. */
  private async copy(dev: TableDevices, s: SubnetRecord): Promise<void> {
    const entries = await this.host.fdb(vxlanDevice(s.vni));
    const neighbors = await this.host.learnedNeighbors(shadowBridge(s.vni));
    await convergeTable(this.tap, dev, {
      subnet_id: s.id,
      flood_vteps: entries.filter((e) => e.mac === FLOOD_MAC).map((e) => e.dst),
      fdb: entries.filter((e) => e.mac !== FLOOD_MAC).map((e) => ({ mac: e.mac, vtep: e.dst })),
      neighbors,
    });
  }

  /** Copies zebra's entries for every subnet every `ms`. */
  start(subnets: () => { s: SubnetRecord; dev: TableDevices }[], ms = 200): void {
    let busy = false;
    this.timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void Promise.all(subnets().map(({ s, dev }) => this.copy(dev, s).catch(() => undefined))).finally(() => (busy = false));
    }, ms);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
