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
}

export interface VtepTableRecord {
  subnet_id: string;
  flood_vteps: string[];
  fdb: { mac: string; vtep: string }[];
  neighbors: { ip: string; mac: string }[];
}

export interface DesiredState {
  version: 1;
  vpcs: Record<string, VpcRecord>;
  subnets: Record<string, SubnetRecord>;
  nics: Record<string, NicRecord>;
  vtepTables: Record<string, VtepTableRecord>;
  /** Namespaces the agent created for NICs (and so removes when their last NIC goes). */
  ownedNamespaces: string[];
}

export function emptyState(): DesiredState {
  return { version: 1, vpcs: {}, subnets: {}, nics: {}, vtepTables: {}, ownedNamespaces: [] };
}
