// vxcloud_nic: a workload's port on a subnet, on one host: a veth into a namespace, or a TAP.

import { NicKind, type NicFilter, type Nic as NicMessage } from '../../gen/vxcloud/agent/v1/network.js';
import { parseCidr } from '../../lib/ipv4.js';
import { nicFilterProblems } from '../../lib/security-group-validation.js';
import { checkIfname, checkMac, checkNetns, checkNicAddress } from '../../lib/validation.js';
import { isUnknown, known, knownOr, t, type Value } from '../plugin/cty.js';
import { attributeError, DiagnosticsError, type Diagnostic } from '../plugin/diagnostics.js';
import { defineResource, type Config, type Planned } from '../plugin/framework.js';
import type { StateOf } from '../plugin/schema.js';
import { oneOf } from '../plugin/validators.js';
import { adoptOrPass, creating, getEach, placedOn, planStatus, READY, rule, str, strs } from './common.js';
import { fleetDiagnostics, problemDiagnostics } from './errors.js';
import { FleetError, type Fleet } from './fleet.js';

const schema = {
  version: 0,
  description: "A NIC: a workload's port on a subnet, on one host — a veth whose far end is in a network namespace (containers), or a TAP device (VMs).",
  attributes: {
    id: { type: t.string, computed: true, description: 'Assigned on create.' },
    subnet_id: { type: t.string, required: true, requiresReplace: true, description: 'The subnet it attaches to; the subnet must span the host.' },
    host: { type: t.string, required: true, requiresReplace: true, description: 'The host it lives on.' },
    kind: {
      type: t.string,
      optional: true,
      computed: true,
      requiresReplace: true,
      validators: [oneOf('veth', 'tap')],
      description: '"veth" (default) or "tap".',
    },
    namespace: {
      type: t.string,
      optional: true,
      requiresReplace: true,
      validators: [rule(checkNetns)],
      description: 'veth: the network namespace its far end goes into.',
    },
    create_namespace: {
      type: t.bool,
      optional: true,
      computed: true,
      requiresReplace: true,
      description: 'veth: create the namespace if missing, and remove it with the last NIC (default true).',
    },
    ifname: {
      type: t.string,
      optional: true,
      computed: true,
      requiresReplace: true,
      validators: [rule(checkIfname)],
      description: 'veth: interface name inside the namespace (default eth0).',
    },
    mac: {
      type: t.string,
      optional: true,
      computed: true,
      requiresReplace: true,
      validators: [rule(checkMac)],
      description: 'Unicast MAC, unique in the subnet (default: allocated by the registry, locally administered).',
    },
    ip: {
      type: t.string,
      optional: true,
      computed: true,
      requiresReplace: true,
      description: 'Address with prefix, e.g. 198.18.1.10/24, unique in the subnet (default: the lowest free address, allocated by the registry).',
    },
    dhcp: {
      type: t.bool,
      optional: true,
      computed: true,
      requiresReplace: true,
      description: "Take the address by DHCP from the subnet's router (default false); `ip` is then the router's reservation for this NIC.",
    },
    security_group_ids: {
      type: t.list(t.string),
      optional: true,
      description:
        "Security groups of the NIC's tenant whose rules apply at its port, at most 16 (default: none, which puts the NIC in its tenant's default group). Changes in place.",
    },
    port_security: {
      type: t.bool,
      optional: true,
      computed: true,
      description:
        'Filtering at the port (default true): the NIC sends only from its MAC and addresses, never as a DHCP server, and its security groups apply. false leaves the port unfiltered (an appliance that forwards or answers for others), and then takes no security_group_ids or allowed_addresses. Changes in place.',
    },
    allowed_addresses: {
      type: t.list(t.string),
      optional: true,
      description: 'IPv4 addresses or CIDRs the NIC may also send from and answer ARP for (virtual IPs), e.g. 198.18.1.100. Changes in place.',
    },
    gateway: { type: t.string, computed: true, description: "The subnet's gateway, the NIC's default route." },
    mtu: { type: t.number, computed: true, description: 'MTU of the NIC.' },
    host_ifname: { type: t.string, computed: true, description: 'The host-side device (veth end or TAP).' },
    status: { type: t.string, computed: true, description: '"ready", or what the host lacks; drift plans a repair.' },
  },
} as const;

type NicState = StateOf<typeof schema>;
const ATTRS = Object.keys(schema.attributes);

type FilterAttributes = Pick<Config<typeof schema>, 'security_group_ids' | 'port_security' | 'allowed_addresses'>;

/**
 * An empty list as state: [] where `like` (the plan, or the state read before) has a list, else
 * null — the agent does not tell an unset list from an empty one, and terraform does.
 */
const listAs = (values: readonly string[], like: Value | undefined): string[] | null => (values.length > 0 || Array.isArray(like) ? [...values] : null);

function toState(n: NicMessage, host: string, like: FilterAttributes): NicState {
  const sp = n.spec!;
  // No filter: an agent that predates security groups, or the defaults.
  const f = sp.filter;
  return {
    id: sp.id,
    subnet_id: sp.subnetId,
    host,
    kind: sp.kind === NicKind.NIC_KIND_TAP ? 'tap' : 'veth',
    namespace: sp.namespace === '' ? null : sp.namespace,
    create_namespace: sp.createNamespace,
    ifname: sp.ifname,
    mac: sp.mac,
    ip: sp.ip,
    dhcp: sp.dhcp,
    security_group_ids: listAs(f?.securityGroupIds ?? [], like.security_group_ids),
    port_security: !(f?.portSecurityDisabled ?? false),
    allowed_addresses: listAs(f?.allowedAddresses ?? [], like.allowed_addresses),
    gateway: n.observed!.gateway,
    mtu: n.observed!.mtu,
    host_ifname: n.observed!.hostIfname,
    status: n.status!.ready ? READY : `${host}: ${n.status!.problems.join('; ')}`,
  };
}

/** The filter a planned NIC asks for (apply time: its inputs are known). */
const filterOf = (p: FilterAttributes): NicFilter => ({
  securityGroupIds: strs(known(p.security_group_ids)),
  portSecurityDisabled: (knownOr(p.port_security, null) ?? true) === false,
  allowedAddresses: strs(known(p.allowed_addresses)),
});

/**
 * The agent's filter rules (nicFilterProblems) over config, on the attribute each problem names.
 * Until apply an unknown list is taken as empty and unknown port_security as the default; an
 * unknown element stands in as a distinct valid value, since only the count and the conflict
 * with port_security = false can be told before it is known.
 */
function filterDiagnostics(c: FilterAttributes): Diagnostic[] {
  const list = (v: Value, standIn: (i: number) => string): string[] =>
    Array.isArray(v) ? v.flatMap((x, i) => (typeof x === 'string' ? [x] : isUnknown(x) ? [standIn(i)] : [])) : [];
  const problems = nicFilterProblems({
    security_group_ids: list(c.security_group_ids, (i) => `unknown.${i}`),
    port_security: c.port_security !== false,
    allowed_addresses: list(c.allowed_addresses, () => '192.0.2.1'),
  });
  return problemDiagnostics('Invalid NIC filter', problems, ATTRS);
}

/** A new NIC's subnet must exist and span its host: asked of the registry when both are known. */
async function placementChecks(fleet: Fleet, p: Planned<typeof schema>): Promise<Diagnostic[]> {
  if (typeof p.subnet_id !== 'string' || typeof p.host !== 'string') return [];
  const s = await fleet.lookup(p.subnet_id);
  if (s?.kind !== 'subnet') return [attributeError(['subnet_id'], 'No such subnet', `The registry has no subnet "${p.subnet_id}".`)];
  const d: Diagnostic[] = [];
  if (!s.hosts.includes(p.host)) {
    d.push(
      attributeError(
        ['host'],
        'Host outside the subnet',
        `Subnet ${p.subnet_id} spans ${s.hosts.join(', ')}, not ${p.host}: put the NIC on one of those, or add ${p.host} to the subnet's hosts.`,
      ),
    );
  }
  // The gateway is not in the registry's placement: the agent checks that one.
  if (typeof p.ip === 'string' && s.cidr !== '' && parseCidr(p.ip, false) !== undefined) {
    for (const x of checkNicAddress(p.ip, s.cidr, undefined)) d.push(attributeError(['ip'], 'Address outside the subnet', `${x.message}.`));
  }
  return d;
}

export const nic = defineResource<typeof schema, Fleet>({
  typeName: 'vxcloud_nic',
  schema,
  validate(c) {
    const out = filterDiagnostics(c);
    const tap = c.kind === 'tap';
    if (!tap && c.kind !== null && typeof c.kind !== 'string') return out;
    if (!tap && c.namespace === null)
      out.push(attributeError(['namespace'], 'Missing namespace', 'A veth NIC needs the namespace its far end goes into; or set kind = "tap" for a VM.'));
    if (tap && c.namespace !== null)
      out.push(attributeError(['namespace'], 'Namespace on a TAP', 'A TAP NIC has no namespace: the VM opens the TAP. Remove namespace.'));
    if (tap && c.ifname !== null)
      out.push(attributeError(['ifname'], 'ifname on a TAP', "ifname names the interface inside a veth NIC's namespace. Remove it."));
    return out;
  },
  async plan({ prior, planned: base, config }, { provider }) {
    // Unset is on: planned as true, so that removing `port_security = false` turns it back on.
    const planned = config.port_security === null ? { ...base, port_security: true } : base;
    const diagnostics =
      typeof planned.host === 'string' && !provider.host(planned.host)
        ? [attributeError(['host'], 'Unknown host', `"${planned.host}" is not one of the provider's hosts: ${provider.hosts.map((h) => h.name).join(', ')}.`)]
        : prior === null
          ? await placementChecks(provider, planned)
          : [];
    return { planned: planStatus(prior, planned) as Planned<typeof schema>, diagnostics };
  },
  async create({ planned }, { provider }) {
    const host = known(planned.host);
    const subnetId = known(planned.subnet_id);
    const kind = knownOr(planned.kind, null) ?? 'veth';
    // MAC and address unset: the registry allocates them, unique in the subnet.
    const spec = {
      subnetId,
      kind: kind === 'tap' ? NicKind.NIC_KIND_TAP : NicKind.NIC_KIND_VETH,
      mac: knownOr(planned.mac, null) ?? '',
      ip: knownOr(planned.ip, null) ?? '',
      namespace: knownOr(planned.namespace, null) ?? '',
      createNamespace: knownOr(planned.create_namespace, null) ?? true,
      ifname: kind === 'tap' ? '' : (knownOr(planned.ifname, null) ?? 'eth0'),
      dhcp: knownOr(planned.dhcp, null) ?? false,
      filter: filterOf(planned),
    };
    const made = await creating(provider, 'nic', (id) =>
      provider
        .client(host)
        .network.putNic({ nic: { id, ...spec } }, provider.timeoutMs)
        .catch((e: unknown) => {
          adoptOrPass(e);
          throw new DiagnosticsError(fleetDiagnostics('Creating the NIC', new FleetError([{ host, error: e as Error }], new Map()), ATTRS));
        }),
    );
    return toState(made, host, planned);
  },
  async read(state, { provider }) {
    const found = await getEach<NicMessage>(provider, [state.host], (c) => c.network.getNic({ id: str(state.id) }));
    const n = found.get(state.host);
    return n ? toState(n, state.host, state) : null;
  },
  async update({ prior, planned }, { provider }) {
    // The filter changes in place; every other input replaces the NIC, so the rest of the spec is
    // put again as the agent has it (which also repairs drift).
    const c = provider.client(prior.host);
    const n = await c.network.getNic({ id: str(prior.id) }, provider.timeoutMs);
    const updated = await c.network.putNic({ nic: { ...n.spec!, filter: filterOf(planned) } }, provider.timeoutMs).catch((e: unknown) => {
      throw new DiagnosticsError(fleetDiagnostics('Updating the NIC', new FleetError([{ host: prior.host, error: e as Error }], new Map()), ATTRS));
    });
    return toState(updated, prior.host, planned);
  },
  async delete(state, { provider }) {
    await provider.client(state.host).network.deleteNic({ id: str(state.id) }, provider.timeoutMs);
  },
  async importState(id, { provider }) {
    const host = (await placedOn(provider, id, 'nic'))[0];
    if (!host) throw new Error(`no host has a NIC with id "${id}"`);
    return { id, host };
  },
});
