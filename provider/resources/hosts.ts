// Data sources vxcloud_host and vxcloud_hosts: the registry's inventory, and what an agent that is
// up says about its host.

import { DataplaneMode, type Host } from '../../gen/vxcloud/agent/v1/host.js';
import { t } from '../plugin/cty.js';
import { defineDataSource } from '../plugin/framework.js';
import type { Fleet } from './fleet.js';

const MODES: Record<number, string> = {
  [DataplaneMode.DATAPLANE_MODE_BRIDGE_PER_SUBNET]: 'bridge-per-subnet',
  [DataplaneMode.DATAPLANE_MODE_VLAN_AWARE_BRIDGE]: 'vlan-aware-bridge',
};

const hostAttributes = {
  up: {
    type: t.bool,
    computed: true,
    description:
      'Its agent holds its registry lease (it answered within the lease time). The other attributes of a down host are what the registry last heard.',
  },
  roles: { type: t.list(t.string), computed: true, description: 'compute, route, management, storage.' },
  underlay_address: { type: t.string, computed: true, description: 'Address of its VTEPs on the underlay.' },
  underlay_mtu: { type: t.number, computed: true, description: 'MTU of the underlay interface.' },
  peer_endpoint: {
    type: t.string,
    computed: true,
    description:
      'gRPC endpoint (host:port) other agents reach it at on the underlay; volume placements name storage hosts by it. Empty when its agent listens on no TCP address.',
  },
  dataplane_mode: { type: t.string, computed: true, description: '"bridge-per-subnet" or "vlan-aware-bridge".' },
  capabilities: { type: t.map(t.bool), computed: true, description: 'Kernel features: vxlan, bridge, bridge_vlan_filtering, veth, tun, netns.' },
} as const;

function describe(h: Host) {
  const c = h.capabilities!;
  return {
    up: true,
    roles: h.roles,
    underlay_address: h.underlayAddress,
    underlay_mtu: h.underlayMtu,
    peer_endpoint: h.peerEndpoint,
    dataplane_mode: MODES[h.dataplaneMode] ?? 'unknown',
    capabilities: { vxlan: c.vxlan, bridge: c.bridge, bridge_vlan_filtering: c.bridgeVlanFiltering, veth: c.veth, tun: c.tun, netns: c.netns },
  };
}

const hostSchema = {
  description: 'One host, as its agent describes it.',
  attributes: { name: { type: t.string, required: true, description: 'The host name.' }, ...hostAttributes },
} as const;

export const hostData = defineDataSource<typeof hostSchema, Fleet>({
  typeName: 'vxcloud_host',
  schema: hostSchema,
  async read(config, { provider }) {
    const h = provider.host(config.name);
    if (!h) throw new Error(`no host "${config.name}" in the registry's inventory: ${provider.hosts.map((x) => x.name).join(', ')}`);
    // A down host is not asked (it may hang): the inventory is what is known of it.
    if (!h.up)
      return { name: h.name, up: false, roles: h.roles, underlay_address: '', underlay_mtu: 0, peer_endpoint: '', dataplane_mode: 'unknown', capabilities: {} };
    return { name: config.name, ...describe(await provider.client(config.name).host.getHost({}, provider.timeoutMs)) };
  },
});

const hostsSchema = {
  description: "The deployment's hosts, from the registry's inventory, optionally only those with a role.",
  attributes: {
    role: { type: t.string, optional: true, description: 'Only hosts with this role.' },
    names: { type: t.list(t.string), computed: true, description: 'Host names whose agents are up, in name order.' },
    down: { type: t.list(t.string), computed: true, description: 'Host names whose agents are down (no registry lease): known, but not answering.' },
  },
} as const;

export const hostsData = defineDataSource<typeof hostsSchema, Fleet>({
  typeName: 'vxcloud_hosts',
  schema: hostsSchema,
  async read(config, { provider }) {
    const hosts = provider.hosts.filter((h) => config.role === null || h.roles.includes(config.role));
    return { role: config.role, names: hosts.filter((h) => h.up).map((h) => h.name), down: hosts.filter((h) => !h.up).map((h) => h.name) };
  },
});
