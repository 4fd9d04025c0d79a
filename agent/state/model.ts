// The desired state of one host, as persisted. Plain data (JSON), one record per object, keyed by
// the caller's ids.

export interface VpcRecord {
  id: string;
  name: string;
  tenant: string;
  cidr: string;
}

export interface SubnetRecord {
  id: string;
  vpc_id: string;
  name: string;
  cidr: string;
  vni: number;
  vlan: number;
  gateway: string;
}

export interface NicRecord {
  id: string;
  subnet_id: string;
  kind: 'veth' | 'tap';
  mac: string;
  ip: string;
  namespace: string;
  create_namespace: boolean;
  ifname: string;
  /** Address by DHCP (veth only, ip empty); absent in states written before DHCP existed. */
  dhcp?: boolean;
  /** Security groups; empty or absent = the tenant's default group (agent/firewall). */
  security_group_ids?: string[];
  /** Absent (states written before port security) = on. */
  port_security?: boolean;
  /** Addresses or CIDRs it may also send from. */
  allowed_addresses?: string[];
}

export interface VtepTableRecord {
  subnet_id: string;
  flood_vteps: string[];
  fdb: { mac: string; vtep: string }[];
  neighbors: { ip: string; mac: string }[];
}

export interface DhcpReservationRecord {
  subnet_id: string;
  mac: string;
  ip: string;
  hostname: string;
}

export interface RouterRecord {
  id: string;
  vpc_id: string;
  name: string;
  subnet_ids: string[];
  /** '' = no external leg. */
  external_network: string;
  external_ip: string;
  snat: boolean;
  dhcp_disabled_subnet_ids: string[];
  reservations: DhcpReservationRecord[];
  /** 0 = the default (see agent/l3/dnsmasq.ts). */
  dhcp_lease_seconds: number;
}

export type NatType = 'dnat' | 'snat' | 'dnat_and_snat';

export interface NatRuleRecord {
  id: string;
  router_id: string;
  type: NatType;
  /** '' = every protocol (snat, dnat_and_snat). */
  protocol: 'tcp' | 'udp' | '';
  external_ip: string;
  external_port: number;
  /** An address, or for snat also a CIDR. */
  internal_ip: string;
  internal_port: number;
}

export interface DesiredState {
  version: 1;
  vpcs: Record<string, VpcRecord>;
  subnets: Record<string, SubnetRecord>;
  nics: Record<string, NicRecord>;
  vtepTables: Record<string, VtepTableRecord>;
  /** Namespaces the agent created for NICs (and so removes when their last NIC goes). */
  ownedNamespaces: string[];
  routers: Record<string, RouterRecord>;
  natRules: Record<string, NatRuleRecord>;
  /**
   * The firewall's port index per NIC and conntrack zone per bridge (agent/firewall): stable
   * while they live, so a new ruleset never renumbers traffic in flight.
   */
  firewall?: { ports: Record<string, number>; zones: Record<string, number> };
}

export function emptyState(): DesiredState {
  return { version: 1, vpcs: {}, subnets: {}, nics: {}, vtepTables: {}, ownedNamespaces: [], routers: {}, natRules: {} };
}
