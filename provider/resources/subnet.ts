// vxcloud_subnet: one VNI of a VPC, on the hosts the VPC is on (or those given).

import type { Subnet as SubnetMessage } from '../../gen/vxcloud/agent/v1/network.js';
import { contains, overlaps, parseCidr } from '../../lib/ipv4.js';
import { checkCidr, VNI_MAX } from '../../lib/validation.js';
import { known, knownOr, t } from '../plugin/cty.js';
import { attributeError, DiagnosticsError, type Diagnostic } from '../plugin/diagnostics.js';
import { defineResource, type Planned } from '../plugin/framework.js';
import type { StateOf } from '../plugin/schema.js';
import { intBetween } from '../plugin/validators.js';
import { creating, getEach, placedOn, planStatus, putEach, READY, rule, str, strs, summarize, unknownHosts } from './common.js';
import { fleetDiagnostics } from './errors.js';
import type { Fleet } from './fleet.js';

const schema = {
  version: 0,
  description: 'A subnet of a VPC: one layer-2 segment, carried between hosts as one VXLAN VNI.',
  attributes: {
    id: { type: t.string, computed: true, description: 'Assigned on create.' },
    vpc_id: { type: t.string, required: true, requiresReplace: true, description: 'The VPC it divides.' },
    name: { type: t.string, optional: true, computed: true, description: 'A name for people (default "").' },
    cidr: {
      type: t.string,
      required: true,
      requiresReplace: true,
      validators: [rule(checkCidr)],
      description: "IPv4 CIDR inside the VPC's, not overlapping its other subnets.",
    },
    vni: {
      type: t.number,
      optional: true,
      computed: true,
      requiresReplace: true,
      validators: [intBetween(1, VNI_MAX)],
      description: 'VXLAN network identifier, unique in the deployment (default: the lowest free from 1000, allocated by the registry).',
    },
    gateway: {
      type: t.string,
      optional: true,
      computed: true,
      requiresReplace: true,
      description: "The router's address in the subnet (default: the first host address).",
    },
    hosts: {
      type: t.list(t.string),
      optional: true,
      computed: true,
      description: 'Hosts the subnet spans (default: every host its VPC is on). Changes in place.',
    },
    mtu: { type: t.number, computed: true, description: 'MTU workloads get: the underlay MTU minus 50.' },
    status: { type: t.string, computed: true, description: '"ready", or what each host lacks; drift plans a repair.' },
  },
} as const;

type SubnetState = StateOf<typeof schema>;
const ATTRS = Object.keys(schema.attributes);

/**
 * Checks a subnet against its VPC and sibling subnets when the VPC exists already, from the
 * registry's record of the VPC (one call, whatever the number of hosts and subnets). The
 * registry checks again, atomically, when the subnet is created.
 */
async function planChecks(fleet: Fleet, p: Planned<typeof schema>, selfId: string | null): Promise<Diagnostic[]> {
  if (typeof p.vpc_id !== 'string' || typeof p.cidr !== 'string' || checkCidr('', p.cidr).length > 0) return [];
  const vpc = await fleet.lookup(p.vpc_id);
  if (vpc?.kind !== 'vpc') return [attributeError(['vpc_id'], 'No such VPC', `The registry has no VPC "${p.vpc_id}".`)];
  const net = parseCidr(p.cidr)!;
  const out: Diagnostic[] = [];
  if (!contains(parseCidr(vpc.cidr)!, net))
    out.push(attributeError(['cidr'], 'Subnet outside its VPC', `${p.cidr} is not inside the VPC's ${vpc.cidr}: pick a subnet of it.`));
  for (const [id, cidr] of Object.entries(vpc.subnets)) {
    // The same CIDR, made by a provider run killed before terraform recorded it: the create adopts it.
    if (selfId === null && cidr === p.cidr && (await fleet.lookup(id))?.pending) continue;
    if (id !== selfId && overlaps(parseCidr(cidr)!, net)) {
      out.push(attributeError(['cidr'], 'Overlapping subnets', `${p.cidr} overlaps subnet ${id} (${cidr}) of the same VPC.`));
    }
  }
  return out;
}

function toState(s: SubnetMessage, hosts: string[], status: string): SubnetState {
  const sp = s.spec!;
  return { id: sp.id, vpc_id: sp.vpcId, name: sp.name, cidr: sp.cidr, vni: sp.vni, gateway: sp.gateway, hosts, mtu: s.observed!.mtu, status };
}

const statuses = (m: Map<string, SubnetMessage | null>): string => summarize(new Map([...m].map(([h, s]) => [h, s?.status ?? null])));

export const subnet = defineResource<typeof schema, Fleet>({
  typeName: 'vxcloud_subnet',
  schema,
  async plan({ prior, planned }, { provider }) {
    // CIDR and VPC only change by replacement: a subnet keeping both was checked when it was created.
    const placed = prior !== null && prior.cidr === planned.cidr && prior.vpc_id === planned.vpc_id;
    const checks = placed ? [] : await planChecks(provider, planned, prior?.id ?? null);
    const diagnostics = [...unknownHosts(provider, planned.hosts, 'hosts'), ...checks];
    return { planned: planStatus(prior, planned) as Planned<typeof schema>, diagnostics };
  },
  async create({ planned }, { provider }) {
    const vpcId = known(planned.vpc_id);
    const hosts = (knownOr(planned.hosts, null) as string[] | null) ?? (await placedOn(provider, vpcId, 'vpc'));
    if (hosts.length === 0) throw new DiagnosticsError([attributeError(['vpc_id'], 'No such VPC', `No host has VPC "${vpcId}".`)]);
    const requested = knownOr(planned.vni, null);
    const gateway = knownOr(planned.gateway, null) ?? '';
    return creating(provider, 'subnet', async (id) => {
      // VNI 0: the registry allocates one, the same on every host of the subnet.
      const spec = {
        id,
        vpcId,
        name: knownOr(planned.name, null) ?? '',
        cidr: known(planned.cidr),
        vni: requested === null ? 0 : Number(requested),
        vlan: 0,
        gateway,
      };
      const res = await putEach(
        provider,
        'Creating the subnet',
        hosts,
        ATTRS,
        (c) => c.network.putSubnet({ subnet: spec }),
        () => ({ id, vpc_id: vpcId, name: spec.name, cidr: spec.cidr, vni: spec.vni, gateway, hosts, mtu: 0, status: 'partially created' }),
      );
      const first = [...res.values()][0]!;
      return toState(first, hosts, statuses(res));
    });
  },
  async read(state, { provider }) {
    const found = await getEach<SubnetMessage>(provider, strs(state.hosts), (c) => c.network.getSubnet({ id: str(state.id) }));
    const any = [...found.values()].find((s) => s !== null);
    if (!any) return null;
    return toState(any, strs(state.hosts), statuses(found));
  },
  async update({ prior, planned }, { provider }) {
    const hosts = strs(known(planned.hosts));
    const spec = {
      id: str(prior.id),
      vpcId: prior.vpc_id,
      name: knownOr(planned.name, null) ?? '',
      cidr: prior.cidr,
      vni: Number(prior.vni),
      vlan: 0,
      gateway: str(prior.gateway),
    };
    const res = await putEach(
      provider,
      'Updating the subnet',
      hosts,
      ATTRS,
      (c) => c.network.putSubnet({ subnet: spec }),
      () => ({ ...prior, status: 'partially updated' }),
    );
    const removed = strs(prior.hosts).filter((h) => !hosts.includes(h));
    await provider
      .each(removed, (c) => c.network.deleteSubnet({ id: spec.id }))
      .catch((e: unknown) => {
        throw new DiagnosticsError(fleetDiagnostics('Removing the subnet from a host', e, ATTRS), {
          ...prior,
          hosts: [...hosts, ...removed],
          status: 'partially updated',
        });
      });
    return toState([...res.values()][0]!, hosts, statuses(res));
  },
  async delete(state, { provider }) {
    const id = str(state.id);
    await provider
      .each(strs(state.hosts), (c) => c.network.deleteSubnet({ id }))
      .catch((e: unknown) => {
        throw new DiagnosticsError(fleetDiagnostics('Deleting the subnet', e, ATTRS));
      });
  },
  async importState(id, { provider }) {
    const hosts = await placedOn(provider, id, 'subnet');
    if (hosts.length === 0) throw new Error(`no host has a subnet with id "${id}"`);
    return { id, hosts, status: READY };
  },
});
