// What each local NIC's port must let through, from the host's desired state (its NICs, their
// groups) and the registry (the groups' rules, and who is in each group anywhere). Pure.

import { createHash } from 'node:crypto';
import { nicDevice } from '../l2/names.js';
import type { RegistryView } from '../registry/view.js';
import type { DesiredState, NicRecord } from '../state/model.js';
import type { FirewallPlan, Port, PortRule } from './ruleset.js';

/** The tenant's built-in group: what a NIC with no group is in. */
const DEFAULT_RULE = 'default';

const setName = (key: string): string => `g_${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
const groupSet = (id: string): string => setName(`group\n${id}`);
const defaultSet = (tenant: string): string => setName(`default\n${tenant}`);
const bare = (ip: string): string => ip.split('/')[0]!;

function tenantOf(state: Readonly<DesiredState>, n: NicRecord): string | undefined {
  const s = state.subnets[n.subnet_id];
  return s ? state.vpcs[s.vpc_id]?.tenant : undefined;
}

/** Whether the port of `n` is filtered at all (port security off is an appliance: nothing is). */
export const filtered = (n: NicRecord): boolean => n.port_security !== false;

/** `index`: the NIC's port index, `zone`: a bridge's conntrack zone (both stable while they live); `bridge`: a NIC's bridge. */
export function firewallPlan(
  state: Readonly<DesiredState>,
  view: RegistryView,
  index: (nic: string) => number,
  bridge: (n: NicRecord) => string,
  zone: (bridge: string) => number,
): FirewallPlan {
  const sets = new Map<string, string[]>();
  const add = (name: string, xs: string[]): void => void sets.set(name, [...(sets.get(name) ?? []), ...xs]);
  for (const o of view.objects.values()) {
    if (o.kind !== 'nic' || o.unfiltered === true) continue;
    const addresses = [...(o.ip === '' ? [] : [bare(o.ip)]), ...(o.allowed ?? [])];
    const groups = o.groups ?? [];
    if (groups.length === 0) add(defaultSet(o.tenant), addresses);
    for (const g of groups) add(groupSet(g), addresses);
  }
  const rulesOf = (groups: string[], tenant: string, dir: 'ingress' | 'egress'): PortRule[] => {
    if (groups.length === 0) {
      return [
        dir === 'egress'
          ? { id: DEFAULT_RULE, protocol: 'any', portMin: 0, portMax: 0 }
          : { id: DEFAULT_RULE, protocol: 'any', portMin: 0, portMax: 0, peer: { set: defaultSet(tenant) } },
      ];
    }
    const out: PortRule[] = [];
    for (const g of groups) {
      const group = view.objects.get(g);
      if (group?.kind !== 'sg' || group.tenant !== tenant) continue;
      for (const rid of group.rules) {
        const r = view.objects.get(rid);
        if (r?.kind !== 'sgrule' || r.direction !== dir) continue;
        const peer = r.remote !== '' ? { set: groupSet(r.remote) } : r.cidr !== '' ? { cidr: r.cidr } : undefined;
        out.push({ id: rid, protocol: r.protocol, portMin: r.portMin, portMax: r.portMax, ...(peer ? { peer } : {}) });
      }
    }
    return out;
  };

  const ports: Port[] = [];
  const zones = new Map<string, number>();
  for (const n of Object.values(state.nics).sort((a, b) => a.id.localeCompare(b.id))) {
    const tenant = tenantOf(state, n);
    if (!filtered(n) || tenant === undefined) continue;
    const groups = n.security_group_ids ?? [];
    const br = bridge(n);
    ports.push({
      nic: n.id,
      device: nicDevice(n.kind, n.id),
      bridge: br,
      index: index(n.id),
      mac: n.mac,
      addresses: n.ip === '' ? [] : [bare(n.ip), ...(n.allowed_addresses ?? [])],
      ingress: rulesOf(groups, tenant, 'ingress'),
      egress: rulesOf(groups, tenant, 'egress'),
    });
    zones.set(br, zone(br));
  }
  return { ports, sets, zones };
}
