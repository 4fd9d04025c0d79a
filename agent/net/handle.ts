// NetHandle over one rtnetlink socket that lives in one namespace.

import * as addresses from './addresses.js';
import * as fdb from './fdb.js';
import * as links from './links.js';
import { inNetns } from './netns.js';
import * as routes from './routes.js';
import { Rtnl } from './rtnl.js';
import { createTapDevice } from './tap.js';
import * as vlans from './vlans.js';
import {
  NetError,
  type BridgePortFlags,
  type BridgeVlan,
  type FdbEntry,
  type Link,
  type LinkChange,
  type NeighborEntry,
  type NetHandle,
  type VethPeer,
} from './types.js';

export class RtnlHandle implements NetHandle {
  private constructor(
    readonly netns: string | null,
    /** The socket; exported for probe and tests inside agent/net only. */
    readonly rtnl: Rtnl,
  ) {}

  /** Opens the socket inside `netns` (null: the namespace the process runs in). */
  static open(netns: string | null): RtnlHandle {
    return new RtnlHandle(
      netns,
      inNetns(netns, 'open netlink in', () => new Rtnl()),
    );
  }

  links(): Promise<Link[]> {
    return links.listLinks(this.rtnl);
  }
  link(name: string): Promise<Link | undefined> {
    return links.getLink(this.rtnl, name);
  }
  createBridge(name: string, opts: { mtu?: number; vlanFiltering?: boolean }): Promise<void> {
    return links.createBridge(this.rtnl, name, opts);
  }
  createVxlan(name: string, opts: { vni: number; local: string; port: number; mtu?: number }): Promise<void> {
    return links.createVxlan(this.rtnl, name, opts);
  }
  createVeth(name: string, opts: { mtu?: number; peer: VethPeer }): Promise<void> {
    return links.createVeth(this.rtnl, name, opts);
  }
  async createTap(name: string, opts: { mtu?: number; mac?: string; txQueueLen?: number }): Promise<void> {
    links.validateIfname(name, 'create tap');
    // TUNSETIFF would silently attach to an existing TAP of that name; creating must not.
    if (await this.link(name)) throw new NetError('EEXIST', 'create tap', name);
    createTapDevice(this.netns, name);
    if (opts.mtu === undefined && opts.mac === undefined && opts.txQueueLen === undefined) return;
    try {
      await links.setLink(this.rtnl, name, { mtu: opts.mtu, mac: opts.mac, txQueueLen: opts.txQueueLen });
    } catch (err) {
      await links.deleteLink(this.rtnl, name);
      throw err;
    }
  }
  createVlan(name: string, opts: { parent: string; id: number; mtu?: number }): Promise<void> {
    return links.createVlan(this.rtnl, name, opts);
  }
  setLink(name: string, change: LinkChange): Promise<void> {
    return links.setLink(this.rtnl, name, change);
  }
  setBridgePort(name: string, flags: BridgePortFlags): Promise<void> {
    return links.setBridgePort(this.rtnl, name, flags);
  }
  async bridgeVlans(dev: string): Promise<BridgeVlan[]> {
    const index = await links.linkIndex(this.rtnl, dev, 'list bridge vlans');
    return (await vlans.dumpPorts(this.rtnl)).get(index)?.vlans ?? [];
  }
  async setBridgeVlans(dev: string, want: BridgeVlan[]): Promise<void> {
    return vlans.setBridgeVlans(this.rtnl, dev, await links.linkIndex(this.rtnl, dev, 'set bridge vlans'), want);
  }
  deleteLink(name: string): Promise<void> {
    return links.deleteLink(this.rtnl, name);
  }

  addresses(dev: string): Promise<string[]> {
    return addresses.listAddresses(this.rtnl, dev);
  }
  replaceAddress(dev: string, cidr: string): Promise<void> {
    return addresses.replaceAddress(this.rtnl, dev, cidr);
  }
  deleteAddress(dev: string, cidr: string): Promise<void> {
    return addresses.deleteAddress(this.rtnl, dev, cidr);
  }
  defaultGateway(): Promise<string | undefined> {
    return routes.defaultGateway(this.rtnl);
  }
  replaceDefaultRoute(gateway: string, dev: string): Promise<void> {
    return routes.replaceDefaultRoute(this.rtnl, gateway, dev);
  }

  fdb(dev: string): Promise<FdbEntry[]> {
    return fdb.listFdb(this.rtnl, dev);
  }
  replaceFdb(dev: string, entries: FdbEntry[]): Promise<void> {
    return fdb.replaceFdb(this.rtnl, dev, entries);
  }
  deleteFdb(dev: string, entries: FdbEntry[]): Promise<void> {
    return fdb.deleteFdb(this.rtnl, dev, entries);
  }
  staticMacs(dev: string): Promise<string[]> {
    return fdb.listStaticMacs(this.rtnl, dev);
  }
  replaceStaticMacs(dev: string, macs: string[]): Promise<void> {
    return fdb.replaceStaticMacs(this.rtnl, dev, macs);
  }
  deleteStaticMacs(dev: string, macs: string[]): Promise<void> {
    return fdb.deleteStaticMacs(this.rtnl, dev, macs);
  }
  neighbors(dev: string): Promise<NeighborEntry[]> {
    return fdb.listNeighbors(this.rtnl, dev);
  }
  learnedNeighbors(dev: string): Promise<NeighborEntry[]> {
    return fdb.listNeighbors(this.rtnl, dev, true);
  }

  replaceNeighbors(dev: string, entries: NeighborEntry[]): Promise<void> {
    return fdb.replaceNeighbors(this.rtnl, dev, entries);
  }
  deleteNeighbors(dev: string, entries: NeighborEntry[]): Promise<void> {
    return fdb.deleteNeighbors(this.rtnl, dev, entries);
  }

  close(): void {
    this.rtnl.close();
  }
}
