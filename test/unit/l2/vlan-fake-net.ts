// The in-memory kernel of the reconciler tests, plus what the VLAN-aware layout needs: bridges
// with VLAN filtering (default_pvid 0, so a new port has no VLAN), port VLANs and 802.1Q devices.

import type { BridgeVlan, LinkChange } from '../../../agent/net/types.js';
import { NetError } from '../../../agent/net/types.js';
import { FakeHandle, FakeNet } from '../agent/fake-net.js';

export class VlanFakeHandle extends FakeHandle {
  /** Every bridge call, to prove bridge-per-subnet never makes one. */
  vlanCalls: string[] = [];

  override async createBridge(name: string, o: { mtu?: number; vlanFiltering?: boolean }): Promise<void> {
    await super.createBridge(name, o);
    this.links_.get(name)!.bridge = { vlanFiltering: o.vlanFiltering ?? false };
  }
  override async createVlan(name: string, o: { parent: string; id: number; mtu?: number }): Promise<void> {
    this.vlanCalls.push(`create vlan ${name}`);
    if (!this.links_.has(o.parent)) throw new NetError('ENODEV', 'create vlan', name);
    this.add({ name, kind: 'vlan', mtu: o.mtu ?? 1500, up: false, mac: '02:00:00:00:00:ff', vlan: { id: o.id, parent: o.parent } });
  }
  override async setLink(name: string, c: LinkChange): Promise<void> {
    await super.setLink(name, c);
    if (c.master !== undefined) this.links_.get(name)!.vlans = c.master ? [] : undefined;
  }
  override async deleteLink(name: string): Promise<void> {
    // 802.1Q devices go with the link under them.
    for (const l of [...this.links_.values()]) if (l.vlan?.parent === name) this.links_.delete(l.name);
    for (const l of this.links_.values()) if (l.master === name) l.vlans = undefined;
    await super.deleteLink(name);
  }
  override async bridgeVlans(dev: string): Promise<BridgeVlan[]> {
    return [...(this.links_.get(dev)?.vlans ?? [])];
  }
  override async setBridgeVlans(dev: string, vlans: BridgeVlan[]): Promise<void> {
    this.vlanCalls.push(`set vlans ${dev}`);
    const l = this.links_.get(dev);
    if (!l?.master) throw new NetError('EINVAL', 'set bridge vlans', dev);
    if (!this.links_.get(l.master)?.bridge?.vlanFiltering) throw new NetError('EOPNOTSUPP', 'set bridge vlans', dev);
    l.vlans = vlans.map((v) => ({ ...v }));
  }
}

export class VlanFakeNet extends FakeNet {
  override readonly host: VlanFakeHandle;

  constructor(readonly bridgeVlanFiltering = true) {
    super();
    this.host = new VlanFakeHandle(null, this);
    this.host.add({ name: 'eth0', kind: '', mtu: 1500, up: true, mac: '02:00:00:00:00:01' });
  }
  override async probe() {
    return { ...(await super.probe()), bridgeVlanFiltering: this.bridgeVlanFiltering };
  }
}
