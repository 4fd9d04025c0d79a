// vxcloud_nat_rule: one NAT rule of a router — a port forward (dnat), a source translation
// (snat), or a floating IP (dnat_and_snat). Rules exist only as this resource, so a router and
// its rules never fight over the same settings.

import { NatProtocol, NatType, type NatRule as NatRuleMessage, type Router as RouterMessage } from '../../gen/vxcloud/agent/v1/router.js';
import { checkIp, validateNatRule, type NatRuleInput, type RouterInput } from '../../lib/router-validation.js';
import { isUnknown, known, knownOr, t } from '../plugin/cty.js';
import { attributeError, DiagnosticsError, type Diagnostic } from '../plugin/diagnostics.js';
import { defineResource, type Planned } from '../plugin/framework.js';
import type { StateOf } from '../plugin/schema.js';
import { intBetween, oneOf } from '../plugin/validators.js';
import { adoptOrPass, creating, getEach, placedOn, planStatus, READY, rule, str } from './common.js';
import { fleetDiagnostics, problemDiagnostics } from './errors.js';
import { FleetError, type Fleet } from './fleet.js';

const schema = {
  version: 0,
  description: 'A NAT rule of a router: dnat (a port forward), snat, or dnat_and_snat (a floating IP).',
  attributes: {
    id: { type: t.string, computed: true, description: 'Assigned on create.' },
    router_id: { type: t.string, required: true, requiresReplace: true, description: 'The router it belongs to.' },
    type: {
      type: t.string,
      required: true,
      requiresReplace: true,
      validators: [oneOf('dnat', 'snat', 'dnat_and_snat')],
      description: '"dnat", "snat" or "dnat_and_snat".',
    },
    protocol: { type: t.string, optional: true, requiresReplace: true, validators: [oneOf('tcp', 'udp')], description: 'dnat with ports: "tcp" or "udp".' },
    external_ip: { type: t.string, optional: true, requiresReplace: true, validators: [rule(checkIp)], description: 'Address on the external network.' },
    external_port: { type: t.number, optional: true, requiresReplace: true, validators: [intBetween(1, 65535)], description: 'dnat: the port forwarded.' },
    internal_ip: {
      type: t.string,
      optional: true,
      requiresReplace: true,
      description: "An address inside one of the router's subnets (for snat, also a CIDR of one).",
    },
    internal_port: {
      type: t.number,
      optional: true,
      requiresReplace: true,
      validators: [intBetween(1, 65535)],
      description: 'dnat: the port it goes to (default: external_port).',
    },
    host: { type: t.string, computed: true, description: "The router's host." },
    status: { type: t.string, computed: true, description: '"ready", or what the host lacks; drift plans a repair.' },
  },
} as const;

type RuleState = StateOf<typeof schema>;
const ATTRS = Object.keys(schema.attributes);

const TYPES: Record<string, NatType> = { dnat: NatType.NAT_TYPE_DNAT, snat: NatType.NAT_TYPE_SNAT, dnat_and_snat: NatType.NAT_TYPE_DNAT_AND_SNAT };
const PROTOCOLS: Record<string, NatProtocol> = { tcp: NatProtocol.NAT_PROTOCOL_TCP, udp: NatProtocol.NAT_PROTOCOL_UDP };
const nameOf = <T>(table: Record<string, T>, v: T): string | null => Object.entries(table).find(([, x]) => x === v)?.[0] ?? null;

function toState(r: NatRuleMessage, host: string): RuleState {
  const s = r.spec!;
  return {
    id: s.id,
    router_id: s.routerId,
    type: nameOf(TYPES, s.type) ?? 'dnat',
    protocol: nameOf(PROTOCOLS, s.protocol),
    external_ip: s.externalIp || null,
    external_port: s.externalPort || null,
    internal_ip: s.internalIp || null,
    internal_port: s.internalPort || null,
    host,
    status: r.status!.ready ? READY : `${host}: ${r.status!.problems.join('; ')}`,
  };
}

const routerInput = (r: RouterMessage): RouterInput => {
  const s = r.spec!;
  return {
    id: s.id,
    vpc_id: s.vpcId,
    subnet_ids: s.subnetIds,
    external_network: s.externalNetwork,
    external_ip: s.externalIp,
    snat: s.snat,
    dhcp_disabled_subnet_ids: s.dhcpDisabledSubnetIds,
    reservations: [],
    dhcp_lease_seconds: s.dhcpLeaseSeconds,
  };
};

const ruleInput = (r: NatRuleMessage): NatRuleInput => {
  const s = r.spec!;
  return {
    id: s.id,
    router_id: s.routerId,
    type: (nameOf(TYPES, s.type) ?? 'dnat') as NatRuleInput['type'],
    protocol: (nameOf(PROTOCOLS, s.protocol) ?? '') as NatRuleInput['protocol'],
    external_ip: s.externalIp,
    external_port: s.externalPort,
    internal_ip: s.internalIp,
    internal_port: s.internalPort,
  };
};

/**
 * The agent's own rule check, run at plan time against the router's host as it is now: ports,
 * addresses inside the router's subnets and on its external network, clashes with other rules.
 * Skipped while any input is unknown (e.g. the address of a NIC created in the same apply).
 */
async function planChecks(fleet: Fleet, p: Planned<typeof schema>): Promise<Diagnostic[]> {
  const inputs = [p.router_id, p.type, p.protocol, p.external_ip, p.external_port, p.internal_ip, p.internal_port];
  if (inputs.some(isUnknown) || typeof p.router_id !== 'string' || typeof p.type !== 'string') return [];
  const host = (await placedOn(fleet, p.router_id, 'router'))[0];
  if (!host) return [attributeError(['router_id'], 'No such router', `No host has router "${p.router_id}".`)];
  const c = fleet.client(host);
  const router = await c.router.getRouter({ id: p.router_id }, fleet.timeoutMs);
  const [subnets, routers, rules] = await Promise.all([
    Promise.all(router.spec!.subnetIds.map((id) => c.network.getSubnet({ id }, fleet.timeoutMs))),
    c.router.listRouters({ parentId: '' }, fleet.timeoutMs),
    c.router.listNatRules({ parentId: '' }, fleet.timeoutMs),
  ]);
  const rule: NatRuleInput = {
    id: 'planned',
    router_id: p.router_id,
    type: p.type as NatRuleInput['type'],
    protocol: ((p.protocol as string | null) ?? '') as NatRuleInput['protocol'],
    external_ip: (p.external_ip as string | null) ?? '',
    external_port: Number(p.external_port ?? 0),
    internal_ip: (p.internal_ip as string | null) ?? '',
    internal_port: Number(p.internal_port ?? 0),
  };
  const problems = validateNatRule(rule, {
    router: routerInput(router),
    subnets: subnets.map((s) => ({
      id: s.spec!.id,
      vpc_id: s.spec!.vpcId,
      cidr: s.spec!.cidr,
      vni: s.spec!.vni,
      vlan: s.spec!.vlan,
      gateway: s.spec!.gateway,
    })),
    routers: routers.routers.map(routerInput),
    rules: rules.rules.map(ruleInput),
  });
  return problemDiagnostics('Invalid NAT rule', problems, ATTRS);
}

async function routerHost(fleet: Fleet, routerId: string): Promise<string> {
  const host = (await placedOn(fleet, routerId, 'router'))[0];
  if (!host) throw new Error(`router_id: no host has router "${routerId}"`);
  return host;
}

async function put(fleet: Fleet, host: string, spec: NatRuleMessage['spec'] & object): Promise<NatRuleMessage> {
  return fleet
    .client(host)
    .router.putNatRule({ rule: spec }, fleet.timeoutMs)
    .catch((e: unknown) => {
      adoptOrPass(e);
      throw new DiagnosticsError(fleetDiagnostics('Putting the NAT rule', new FleetError([{ host, error: e as Error }], new Map()), ATTRS));
    });
}

export const natRule = defineResource<typeof schema, Fleet>({
  typeName: 'vxcloud_nat_rule',
  schema,
  async plan({ prior, planned }, { provider }) {
    const diagnostics = prior === null ? await planChecks(provider, planned) : [];
    return { planned: planStatus(prior, planned) as Planned<typeof schema>, diagnostics };
  },
  async create({ planned }, { provider }) {
    const routerId = known(planned.router_id);
    const host = await routerHost(provider, routerId);
    const made = await creating(provider, 'nat', (id) =>
      put(provider, host, {
        id,
        routerId,
        type: TYPES[known(planned.type)]!,
        protocol: PROTOCOLS[knownOr(planned.protocol, null) ?? ''] ?? NatProtocol.NAT_PROTOCOL_UNSPECIFIED,
        externalIp: knownOr(planned.external_ip, null) ?? '',
        externalPort: Number(knownOr(planned.external_port, null) ?? 0),
        internalIp: knownOr(planned.internal_ip, null) ?? '',
        internalPort: Number(knownOr(planned.internal_port, null) ?? 0),
      }),
    );
    return toState(made, host);
  },
  async read(state, { provider }) {
    const host = str(state.host);
    const r = (await getEach<NatRuleMessage>(provider, [host], (c) => c.router.getNatRule({ id: str(state.id) }))).get(host);
    return r ? toState(r, host) : null;
  },
  async update({ prior }, { provider }) {
    // Every input replaces the rule; an update repairs drift by putting the same rule again.
    const host = str(prior.host);
    const current = await provider.client(host).router.getNatRule({ id: str(prior.id) }, provider.timeoutMs);
    return toState(await put(provider, host, current.spec!), host);
  },
  async delete(state, { provider }) {
    await provider.client(str(state.host)).router.deleteNatRule({ id: str(state.id) }, provider.timeoutMs);
  },
  async importState(id, { provider }) {
    const hosts = await placedOn(provider, id, 'nat');
    if (hosts.length === 0) throw new Error(`no host has a NAT rule with id "${id}"`);
    return { id, host: hosts[0]! };
  },
});
