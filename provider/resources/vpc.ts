// vxcloud_vpc: a tenant's address space, present on a set of hosts.

import { checkCidr } from '../../lib/validation.js';
import { known, knownOr, t } from '../plugin/cty.js';
import { defineResource } from '../plugin/framework.js';
import type { StateOf } from '../plugin/schema.js';
import type { Vpc as VpcMessage } from '../../gen/vxcloud/agent/v1/network.js';
import type { Planned } from '../plugin/framework.js';
import { creating, getEach, placedOn, planStatus, planTenant, putEach, READY, rule, str, strs, summarize, unknownHosts } from './common.js';
import { DiagnosticsError } from '../plugin/diagnostics.js';
import { fleetDiagnostics } from './errors.js';
import type { Fleet } from './fleet.js';

const schema = {
  version: 0,
  description: 'A VPC: an IPv4 address space of one tenant, present on a set of hosts. Subnets divide it.',
  attributes: {
    id: { type: t.string, computed: true, description: 'Assigned on create.' },
    name: { type: t.string, required: true, description: 'A name for people.' },
    tenant: {
      type: t.string,
      optional: true,
      computed: true,
      description:
        "The owning tenant (default: the tenant of the provider's certificate; \"\" for an operator's). A tenant's certificate may name only its own.",
    },
    cidr: { type: t.string, required: true, requiresReplace: true, validators: [rule(checkCidr)], description: 'IPv4 CIDR, e.g. 198.18.0.0/16.' },
    hosts: {
      type: t.list(t.string),
      optional: true,
      computed: true,
      description: 'Hosts the VPC is on (default: every compute and route host). Changes in place.',
    },
    status: { type: t.string, computed: true, description: '"ready", or what each host lacks; drift plans a repair.' },
  },
} as const;

type Vpc = StateOf<typeof schema>;
const ATTRS = Object.keys(schema.attributes);

const spec = (v: { id: string; name: string; tenant: string; cidr: string }) => ({ vpc: { id: v.id, name: v.name, tenant: v.tenant, cidr: v.cidr } });

export const vpc = defineResource<typeof schema, Fleet>({
  typeName: 'vxcloud_vpc',
  schema,
  plan({ prior, planned }, { provider }) {
    const t = planTenant(provider, planned, 'VPCs');
    return {
      planned: planStatus(prior, t.planned) as Planned<typeof schema>,
      diagnostics: [...unknownHosts(provider, planned.hosts, 'hosts'), ...t.diagnostics],
    };
  },
  async create({ planned }, { provider }) {
    // Route hosts too: a router's legs join its subnets' bridges there.
    const hosts = (knownOr(planned.hosts, null) as string[] | null) ?? provider.hostsWithRole('compute', 'route');
    return creating(provider, 'vpc', async (id) => {
      const v = { id, name: known(planned.name), tenant: knownOr(planned.tenant, null) ?? '', cidr: known(planned.cidr) };
      const state = (status: string): Vpc => ({ ...v, hosts, status });
      const res = await putEach(
        provider,
        'Creating the VPC',
        hosts,
        ATTRS,
        (c) => c.network.putVpc(spec(v)),
        () => state('partially created'),
      );
      return state(summarize(new Map([...res].map(([h, r]) => [h, r.status ?? null]))));
    });
  },
  async read(state, { provider }) {
    const found = await getEach<VpcMessage>(provider, strs(state.hosts), (c) => c.network.getVpc({ id: str(state.id) }));
    const any = [...found.values()].find((x) => x !== null);
    if (!any) return null;
    const s = any.spec!;
    return { ...state, name: s.name, tenant: s.tenant, cidr: s.cidr, status: summarize(new Map([...found].map(([h, r]) => [h, r?.status ?? null]))) };
  },
  async update({ prior, planned }, { provider }) {
    const v = { id: str(prior.id), name: known(planned.name), tenant: knownOr(planned.tenant, null) ?? prior.tenant ?? '', cidr: prior.cidr };
    const hosts = strs(known(planned.hosts));
    const res = await putEach(
      provider,
      'Updating the VPC',
      hosts,
      ATTRS,
      (c) => c.network.putVpc(spec(v)),
      () => ({ ...prior, status: 'partially updated' }),
    );
    const removed = strs(prior.hosts).filter((h) => !hosts.includes(h));
    await provider
      .each(removed, (c) => c.network.deleteVpc({ id: v.id }))
      .catch((e: unknown) => {
        throw new DiagnosticsError(fleetDiagnostics('Removing the VPC from a host', e, ATTRS), {
          ...prior,
          hosts: [...hosts, ...removed],
          status: 'partially updated',
        });
      });
    return { ...v, hosts, status: summarize(new Map([...res].map(([h, r]) => [h, r.status ?? null]))) };
  },
  async delete(state, { provider }) {
    await provider
      .each(strs(state.hosts), (c) => c.network.deleteVpc({ id: str(state.id) }))
      .catch((e: unknown) => {
        throw new DiagnosticsError(fleetDiagnostics('Deleting the VPC', e, ATTRS));
      });
  },
  async importState(id, { provider }) {
    const hosts = await placedOn(provider, id, 'vpc');
    if (hosts.length === 0) throw new Error(`no host has a VPC with id "${id}"`);
    return { id, hosts, status: READY };
  },
});
