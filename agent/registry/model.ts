// The registry's key layout and records: what every agent of a deployment agrees on, kept in etcd.
// Pure. The layout is documented in agent/registry/README.md; change both together.

export interface HostRecord {
  name: string;
  roles: string[];
  /** The VTEP address: remote hosts send this host's VXLAN traffic there. */
  underlay: string;
  /** gRPC endpoints callers reach the agent at (`host:port`, `unix:///path`). */
  endpoints: string[];
  /** `host:port` other agents reach this one at on the underlay; '' when it listens on none. */
  peerEndpoint: string;
  controlPlane: string;
  dataplane: string;
  agentVersion: string;
  /** A route host's external network (what routers' external_network names), for plan-time checks. */
  external?: { name: string; cidr: string; gateway: string };
}

/** An object a provider run made and has not confirmed yet (claims.ts, adoption). */
export interface Pending {
  /** While unconfirmed: its `pending/` key and the run whose mark it is. */
  adopt?: { hash: string; run: string };
}

export interface VpcObject extends Pending {
  kind: 'vpc';
  tenant: string;
  name: string;
  cidr: string;
  /** Hosts that hold the VPC, sorted. */
  hosts: string[];
  /**
   * Its subnets, id → CIDR, on whichever hosts: a new subnet's overlap check reads them, and
   * writing them here makes two overlapping subnets created at once on two hosts collide.
   */
  subnets: Record<string, string>;
}

export interface SubnetObject extends Pending {
  kind: 'subnet';
  tenant: string;
  vpc: string;
  cidr: string;
  /** Resolved: the first host address when the caller gave none. */
  gateway: string;
  vni: number;
  /** Hosts the subnet spans, sorted: the flood list of every VTEP of the subnet. */
  hosts: string[];
}

export interface NicObject extends Pending {
  kind: 'nic';
  tenant: string;
  subnet: string;
  host: string;
  mac: string;
  /** With prefix length; '' for none. */
  ip: string;
  /** Its security groups; empty (or absent, written before groups existed) = its tenant's default group. */
  groups?: string[];
  /** Extra addresses (CIDRs) it may send from, which remote-group rules admit too. */
  allowed?: string[];
  /** Port security and groups off at its port (an appliance): in no group, not even the default. */
  unfiltered?: boolean;
}

export interface RouterObject extends Pending {
  kind: 'router';
  tenant: string;
  vpc: string;
  host: string;
  subnets: string[];
  /** Its external network and address there ('' for none): the address is claimed (extip/). */
  network?: string;
  ip?: string;
}

export interface NatObject extends Pending {
  kind: 'nat';
  tenant: string;
  router: string;
  host: string;
  /** The router's external network, and the rule's external address on it ('' for none). */
  network: string;
  ip: string;
}

export interface SecurityGroupObject {
  kind: 'sg';
  tenant: string;
  name: string;
  description: string;
  /** Member NIC ids, sorted: a NIC's claim writes itself here, so a delete races no join. */
  members: string[];
  /** Its own rules, sorted; they go with it. */
  rules: string[];
  /** Rules of other groups naming it as their remote group: while any is left it stays. */
  refs: string[];
}

export type Direction = 'ingress' | 'egress';
export type RuleProtocol = 'tcp' | 'udp' | 'icmp' | 'any';

export interface SecurityGroupRuleObject {
  kind: 'sgrule';
  tenant: string;
  group: string;
  direction: Direction;
  protocol: RuleProtocol;
  /** tcp/udp destination ports; 0..0 = every port. */
  portMin: number;
  portMax: number;
  /** The other end: a CIDR, or a group's NICs, or ('' and '') anywhere. */
  cidr: string;
  remote: string;
  description: string;
}

export interface VolumeObject {
  kind: 'volume';
  tenant: string;
  /** The hosts of its replicas, in placement order. */
  hosts: string[];
}

export type RegistryObject = VpcObject | SubnetObject | NicObject | RouterObject | NatObject | VolumeObject | SecurityGroupObject | SecurityGroupRuleObject;
export type ObjectKind = RegistryObject['kind'];

/** Keys under the deployment's prefix (which ends in "/"). */
export const keys = (prefix: string) => ({
  prefix,
  /** Persistent inventory: a host stays known (and reachable as a VTEP) while its agent is down. */
  host: (name: string) => `${prefix}hosts/${name}`,
  hosts: `${prefix}hosts/`,
  /** Present while the host's agent holds its lease. */
  alive: (name: string) => `${prefix}alive/${name}`,
  alives: `${prefix}alive/`,
  /** Ownership and membership: every object id → its kind, tenant and placement. */
  object: (id: string) => `${prefix}objects/${id}`,
  objects: `${prefix}objects/`,
  /** A deleted id, for a few minutes (etcd.ts): a late Put of it fails instead of bringing it back. */
  deleted: (id: string) => `${prefix}deleted/${id}`,
  /** VNIs are unique in the whole deployment. */
  vni: (vni: number) => `${prefix}vni/${vni}`,
  vnis: `${prefix}vni/`,
  /** Addresses and MACs are unique per subnet. */
  ip: (subnet: string, ip: string) => `${prefix}ip/${subnet}/${ip}`,
  ips: (subnet: string) => `${prefix}ip/${subnet}/`,
  mac: (subnet: string, mac: string) => `${prefix}mac/${subnet}/${mac}`,
  /** A subnet has at most one router leg (it takes the gateway address). */
  leg: (subnet: string) => `${prefix}leg/${subnet}`,
  /**
   * An address of an external network belongs to one router in the deployment (its own address,
   * its floating IPs and port forwards), whichever route host the router is on.
   */
  extip: (network: string, ip: string) => `${prefix}extip/${network}/${ip}`,
  /**
   * Objects a provider run made and has not confirmed (at its orderly exit), by a hash of tenant,
   * kind and natural key: what the next run adopts when the first was killed.
   */
  pending: (hash: string) => `${prefix}pending/${hash}`,
  pendings: `${prefix}pending/`,
});
export type Keys = ReturnType<typeof keys>;

export const FIRST_VNI = 1000;

export function parseObject(raw: string): RegistryObject | undefined {
  try {
    const o = JSON.parse(raw) as RegistryObject;
    if (typeof o !== 'object' || o === null || !['vpc', 'subnet', 'nic', 'router', 'nat', 'volume', 'sg', 'sgrule'].includes(o.kind)) return undefined;
    if (o.kind === 'vpc') o.subnets ??= {}; // written before VPCs listed their subnets
    return o;
  } catch {
    return undefined;
  }
}

export function parseHost(raw: string): HostRecord | undefined {
  try {
    const h = JSON.parse(raw) as HostRecord;
    return typeof h?.name === 'string' && typeof h.underlay === 'string' && Array.isArray(h.roles) ? h : undefined;
  } catch {
    return undefined;
  }
}
