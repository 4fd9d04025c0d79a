// The kernel as the rest of the agent sees it. Only agent/net implements these; everything above
// it (l2, state, the reconciler) works in terms of these types and can be tested with a fake.

export interface VxlanInfo {
  vni: number;
  /** Local underlay address (IPv4). */
  local: string;
  /** UDP destination port. */
  port: number;
  /** Data-plane learning on the vxlan device itself (we always want it off). */
  learning: boolean;
}

export interface Link {
  name: string;
  index: number;
  /** rtnetlink link kind: 'bridge' | 'vxlan' | 'veth' | 'tun' | '' (physical/unknown). */
  kind: string;
  mtu: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
  /** Lower-case colon-separated MAC, '' when the link has none. */
  mac: string;
  /** Name of the bridge this link is a port of, if any. */
  master?: string;
  vxlan?: VxlanInfo;
  /** Bridge port flags, present for links enslaved to a bridge. */
  port?: BridgePortFlags;
  /** VLANs of a bridge port ([] on a bridge without VLAN filtering), present with `port`. */
  vlans?: BridgeVlan[];
  /** Present for bridges. */
  bridge?: { vlanFiltering: boolean };
  /** Present for 802.1Q devices: the VLAN id and the link it sits on. */
  vlan?: { id: number; parent: string };
}

/** One VLAN of a bridge port. `pvid`: untagged ingress goes to it; `untagged`: egress without a tag. */
export interface BridgeVlan {
  vid: number;
  pvid: boolean;
  untagged: boolean;
}

export interface BridgePortFlags {
  learning: boolean;
  neighSuppress: boolean;
}

export interface LinkChange {
  up?: boolean;
  mtu?: number;
  mac?: string;
  /** Frames the device queues for transmission (for a TAP: what its reader has not read yet). */
  txQueueLen?: number;
  /** Enslave to this bridge; null releases it. */
  master?: string | null;
}

export interface VethPeer {
  name: string;
  /** Named namespace (as in /run/netns) the peer is created in. */
  netns: string;
  mac?: string;
  mtu?: number;
}

/** A static FDB entry on a vxlan device: frames for `mac` go to VTEP `dst`. 00:00:00:00:00:00 = flood. */
export interface FdbEntry {
  mac: string;
  dst: string;
}

/** A permanent IP→MAC neighbour entry. */
export interface NeighborEntry {
  ip: string;
  mac: string;
}

export interface Capabilities {
  vxlan: boolean;
  bridge: boolean;
  bridgeVlanFiltering: boolean;
  veth: boolean;
  tun: boolean;
  netns: boolean;
}

/** One network namespace, reached through a netlink socket opened inside it. */
export interface NetHandle {
  /** The named namespace, or null for the namespace the process runs in. */
  readonly netns: string | null;

  links(): Promise<Link[]>;
  link(name: string): Promise<Link | undefined>;
  createBridge(name: string, opts: { mtu?: number; vlanFiltering?: boolean }): Promise<void>;
  createVxlan(name: string, opts: { vni: number; local: string; port: number; mtu?: number }): Promise<void>;
  /** A veth pair: `name` stays here, the peer is created directly inside `peer.netns`. */
  createVeth(name: string, opts: { mtu?: number; peer: VethPeer }): Promise<void>;
  /** A persistent TAP device (IFF_TAP | IFF_NO_PI) that a VM opens later. */
  createTap(name: string, opts: { mtu?: number; mac?: string; txQueueLen?: number }): Promise<void>;
  /** An 802.1Q device for VLAN `id` on top of `parent`. */
  createVlan(name: string, opts: { parent: string; id: number; mtu?: number }): Promise<void>;
  setLink(name: string, change: LinkChange): Promise<void>;
  setBridgePort(name: string, flags: BridgePortFlags): Promise<void>;
  /** VLANs of a bridge port, by vid; [] when it is no port or its bridge does not filter. */
  bridgeVlans(dev: string): Promise<BridgeVlan[]>;
  /** Makes the port's VLANs exactly `vlans` (at most one pvid). */
  setBridgeVlans(dev: string, vlans: BridgeVlan[]): Promise<void>;
  /** Deleting a missing link succeeds. */
  deleteLink(name: string): Promise<void>;

  /** IPv4 addresses of a link as CIDR strings (`198.18.1.10/24`). */
  addresses(dev: string): Promise<string[]>;
  replaceAddress(dev: string, cidr: string): Promise<void>;
  deleteAddress(dev: string, cidr: string): Promise<void>;
  /** Gateway of the IPv4 default route in the main table, if any. */
  defaultGateway(): Promise<string | undefined>;
  replaceDefaultRoute(gateway: string, dev: string): Promise<void>;

  /** Static FDB entries with a remote dst on a vxlan device. */
  fdb(dev: string): Promise<FdbEntry[]>;
  /** Bulk replace; must stay close to `bridge -batch` for 10,000 entries. */
  replaceFdb(dev: string, entries: FdbEntry[]): Promise<void>;
  deleteFdb(dev: string, entries: FdbEntry[]): Promise<void>;
  /** Static MACs in the bridge's FDB on port `dev` (NUD_NOARP, master). */
  staticMacs(dev: string): Promise<string[]>;
  replaceStaticMacs(dev: string, macs: string[]): Promise<void>;
  deleteStaticMacs(dev: string, macs: string[]): Promise<void>;
  /** Permanent IPv4 neighbour entries of a link. */
  neighbors(dev: string): Promise<NeighborEntry[]>;
  /** IPv4 neighbour entries a control plane installed on a link (extern_learn: zebra's remote MAC+IP). */
  learnedNeighbors(dev: string): Promise<NeighborEntry[]>;
  replaceNeighbors(dev: string, entries: NeighborEntry[]): Promise<void>;
  deleteNeighbors(dev: string, entries: NeighborEntry[]): Promise<void>;

  close(): void;
}

/** The kernel of one host: its own namespace plus the named namespaces NICs live in. */
export interface Net {
  readonly host: NetHandle;
  /** A handle inside an existing named namespace; close it when done. */
  netns(name: string): Promise<NetHandle>;
  listNetns(): Promise<string[]>;
  createNetns(name: string): Promise<void>;
  /** Deleting a missing namespace succeeds. */
  deleteNetns(name: string): Promise<void>;
  probe(): Promise<Capabilities>;
  close(): void;
}

/** A kernel error mapped to its errno name, with the object it concerned. */
export class NetError extends Error {
  constructor(
    readonly errno: string,
    readonly operation: string,
    readonly object: string,
    detail?: string,
  ) {
    super(`${operation} ${object}: ${errno}${detail ? ` (${detail})` : ''}`);
    this.name = 'NetError';
  }
}
