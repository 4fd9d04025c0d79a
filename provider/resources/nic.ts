// vxcloud_nic: a workload's port on a subnet, on one host: a veth into a namespace, or a TAP.

import { NicKind, type Nic as NicMessage } from '../../gen/vxcloud/agent/v1/network.js';
import { parseCidr } from '../../lib/ipv4.js';
import { checkIfname, checkMac, checkNetns, checkNicAddress } from '../../lib/validation.js';
import { known, knownOr, t } from '../plugin/cty.js';
import { attributeError, DiagnosticsError, type Diagnostic } from '../plugin/diagnostics.js';
import { defineResource, type Planned } from '../plugin/framework.js';
import type { StateOf } from '../plugin/schema.js';
import { oneOf } from '../plugin/validators.js';
import { adoptOrPass, creating, getEach, placedOn, planStatus, READY, rule, str } from './common.js';
import { fleetDiagnostics } from './errors.js';
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
    gateway: { type: t.string, computed: true, description: "The subnet's gateway, the NIC's default route." },
    mtu: { type: t.number, computed: true, description: 'MTU of the NIC.' },
    host_ifname: { type: t.string, computed: true, description: 'The host-side device (veth end or TAP).' },
    status: { type: t.string, computed: true, description: '"ready", or what the host lacks; drift plans a repair.' },
  },
} as const;

type NicState = StateOf<typeof schema>;
const ATTRS = Object.keys(schema.attributes);

function toState(n: NicMessage, host: string): NicState {
  const sp = n.spec!;
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
    gateway: n.observed!.gateway,
    mtu: n.observed!.mtu,
    host_ifname: n.observed!.hostIfname,
    status: n.status!.ready ? READY : `${host}: ${n.status!.problems.join('; ')}`,
  };
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
    const out: Diagnostic[] = [];
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
  async plan({ prior, planned }, { provider }) {
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
    return toState(made, host);
  },
  async read(state, { provider }) {
    const found = await getEach<NicMessage>(provider, [state.host], (c) => c.network.getNic({ id: str(state.id) }));
    const n = found.get(state.host);
    return n ? toState(n, state.host) : null;
  },
  async update({ prior }, { provider }) {
    // Every input replaces the NIC; an update is a repair of drift: Put the same spec again.
    const n = await provider.client(prior.host).network.getNic({ id: str(prior.id) });
    const repaired = await provider.client(prior.host).network.putNic({ nic: n.spec! }, provider.timeoutMs);
    return toState(repaired, prior.host);
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
