// An in-memory kernel for reconciler unit tests: enough of NetHandle to hold links, addresses,
// routes, FDB and neighbours, plus a switch that makes the next matching call fail.

import type { BridgePortFlags, BridgeVlan, Capabilities, FdbEntry, Link, LinkChange, NeighborEntry, Net, NetHandle } from '../../../agent/net/types.js';
import { NetError } from '../../../agent/net/types.js';

export class FakeHandle implements NetHandle {
  links_ = new Map<string, Link>();
  addrs = new Map<string, string[]>();
  gateway: string | undefined;
  fdbs = new Map<string, FdbEntry[]>();
  macs = new Map<string, string[]>();
  neighs = new Map<string, NeighborEntry[]>();
  private next = 1;

  constructor(
    readonly netns: string | null,
    private readonly net: FakeNet,
  ) {
    this.add({ name: 'lo', kind: '', mtu: 65536, up: true, mac: '' });
  }

  add(l: Omit<Link, 'index'>): void {
    this.links_.set(l.name, { ...l, index: this.next++ });
  }

  private fail(op: string, name: string): void {
    if (this.net.failOn && op.startsWith(this.net.failOn)) {
      this.net.failOn = undefined;
      throw new NetError('EIO', op, name);
    }
  }

  async links(): Promise<Link[]> {
    return [...this.links_.values()].map((l) => ({ ...l }));
  }
  async link(name: string): Promise<Link | undefined> {
    const l = this.links_.get(name);
    return l && { ...l };
  }
  async createBridge(name: string, o: { mtu?: number }): Promise<void> {
    this.fail('create bridge', name);
    this.add({ name, kind: 'bridge', mtu: o.mtu ?? 1500, up: false, mac: '02:00:00:00:00:aa' });
  }
  async createVxlan(name: string, o: { vni: number; local: string; port: number; mtu?: number }): Promise<void> {
    this.fail('create vxlan', name);
    this.add({
      name,
      kind: 'vxlan',
      mtu: o.mtu ?? 1450,
      up: false,
      mac: '02:00:00:00:00:bb',
      vxlan: { vni: o.vni, local: o.local, port: o.port, learning: false },
    });
  }
  async createVeth(name: string, o: { mtu?: number; peer: { name: string; netns: string; mac?: string; mtu?: number } }): Promise<void> {
    this.fail('create veth', name);
    this.add({ name, kind: 'veth', mtu: o.mtu ?? 1500, up: false, mac: '02:00:00:00:00:cc' });
    const peer = this.net.namespaces.get(o.peer.netns);
    if (!peer) throw new NetError('ENOENT', 'create veth', name);
    peer.add({ name: o.peer.name, kind: 'veth', mtu: o.peer.mtu ?? 1500, up: false, mac: o.peer.mac ?? '02:00:00:00:00:dd' });
    this.net.peers.set(name, [peer, o.peer.name]);
  }
  async createTap(name: string, o: { mtu?: number }): Promise<void> {
    this.fail('create tap', name);
    this.add({ name, kind: 'tun', mtu: o.mtu ?? 1500, up: false, mac: '02:00:00:00:00:ee' });
  }
  async setLink(name: string, c: LinkChange): Promise<void> {
    this.fail('set link', name);
    const l = this.links_.get(name);
    if (!l) throw new NetError('ENODEV', 'set link', name);
    if (c.up !== undefined) l.up = c.up;
    if (c.mtu !== undefined) l.mtu = c.mtu;
    if (c.mac !== undefined) l.mac = c.mac;
    if (c.master !== undefined) {
      l.master = c.master ?? undefined;
      l.port = c.master ? { learning: true, neighSuppress: false } : undefined;
    }
  }
  async createVlan(name: string, o: { parent: string; id: number; mtu?: number }): Promise<void> {
    this.add({ name, kind: 'vlan', mtu: o.mtu ?? 1500, up: false, mac: '02:00:00:00:00:ff', vlan: { id: o.id, parent: o.parent } });
  }
  async bridgeVlans(dev: string): Promise<BridgeVlan[]> {
    return [...(this.links_.get(dev)?.vlans ?? [])];
  }
  async setBridgeVlans(dev: string, vlans: BridgeVlan[]): Promise<void> {
    this.links_.get(dev)!.vlans = [...vlans];
  }
  async setBridgePort(name: string, f: BridgePortFlags): Promise<void> {
    const l = this.links_.get(name)!;
    l.port = { ...f };
  }
  async deleteLink(name: string): Promise<void> {
    this.links_.delete(name);
    for (const l of this.links_.values()) if (l.master === name) l.master = undefined;
    const peer = this.net.peers.get(name);
    if (peer) {
      peer[0].links_.delete(peer[1]);
      this.net.peers.delete(name);
    }
  }
  async addresses(dev: string): Promise<string[]> {
    return [...(this.addrs.get(dev) ?? [])];
  }
  async replaceAddress(dev: string, cidr: string): Promise<void> {
    this.addrs.set(dev, [...(this.addrs.get(dev) ?? []).filter((a) => a !== cidr), cidr]);
  }
  async deleteAddress(dev: string, cidr: string): Promise<void> {
    this.addrs.set(
      dev,
      (this.addrs.get(dev) ?? []).filter((a) => a !== cidr),
    );
  }
  async defaultGateway(): Promise<string | undefined> {
    return this.gateway;
  }
  async replaceDefaultRoute(gw: string): Promise<void> {
    this.gateway = gw;
  }
  async fdb(dev: string): Promise<FdbEntry[]> {
    return [...(this.fdbs.get(dev) ?? [])];
  }
  async replaceFdb(dev: string, entries: FdbEntry[]): Promise<void> {
    this.fail('replace fdb', dev);
    this.fdbs.set(dev, [...(this.fdbs.get(dev) ?? []), ...entries]);
  }
  async deleteFdb(dev: string, entries: FdbEntry[]): Promise<void> {
    const gone = new Set(entries.map((e) => `${e.mac}>${e.dst}`));
    this.fdbs.set(
      dev,
      (this.fdbs.get(dev) ?? []).filter((e) => !gone.has(`${e.mac}>${e.dst}`)),
    );
  }
  async learnedNeighbors(): Promise<NeighborEntry[]> {
    return [];
  }
  async staticMacs(dev: string): Promise<string[]> {
    return [...(this.macs.get(dev) ?? [])];
  }
  async replaceStaticMacs(dev: string, macs: string[]): Promise<void> {
    this.macs.set(dev, [...new Set([...(this.macs.get(dev) ?? []), ...macs])]);
  }
  async deleteStaticMacs(dev: string, macs: string[]): Promise<void> {
    this.macs.set(
      dev,
      (this.macs.get(dev) ?? []).filter((m) => !macs.includes(m)),
    );
  }
  async neighbors(dev: string): Promise<NeighborEntry[]> {
    return [...(this.neighs.get(dev) ?? [])];
  }
  async replaceNeighbors(dev: string, entries: NeighborEntry[]): Promise<void> {
    this.neighs.set(dev, [...(this.neighs.get(dev) ?? []), ...entries]);
  }
  async deleteNeighbors(dev: string, entries: NeighborEntry[]): Promise<void> {
    const gone = new Set(entries.map((e) => e.ip));
    this.neighs.set(
      dev,
      (this.neighs.get(dev) ?? []).filter((e) => !gone.has(e.ip)),
    );
  }
  close(): void {}
}

export class FakeNet implements Net {
  readonly host: FakeHandle;
  namespaces = new Map<string, FakeHandle>();
  peers = new Map<string, [FakeHandle, string]>();
  /** The next operation whose description starts with this fails with EIO. */
  failOn: string | undefined;

  constructor() {
    this.host = new FakeHandle(null, this);
    this.host.add({ name: 'eth0', kind: '', mtu: 1500, up: true, mac: '02:00:00:00:00:01' });
  }
  async netns(name: string): Promise<NetHandle> {
    const h = this.namespaces.get(name);
    if (!h) throw new NetError('ENOENT', 'open namespace', name);
    return h;
  }
  async listNetns(): Promise<string[]> {
    return [...this.namespaces.keys()];
  }
  async createNetns(name: string): Promise<void> {
    this.namespaces.set(name, new FakeHandle(name, this));
  }
  async deleteNetns(name: string): Promise<void> {
    this.namespaces.delete(name);
  }
  async probe(): Promise<Capabilities> {
    return { vxlan: true, bridge: true, bridgeVlanFiltering: false, veth: true, tun: true, netns: true };
  }
  close(): void {}
}
