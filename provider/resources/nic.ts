// vxcloud_nic: a workload's port on a subnet, on one host: a veth into a namespace, or a TAP.

import { createHash } from 'node:crypto';
import { NicKind, type Nic as NicMessage, type Subnet as SubnetMessage } from '../../gen/vxcloud/agent/v1/network.js';
import { firstHost, formatIp, isHostAddress, parseCidr, parseIp } from '../../lib/ipv4.js';
import { checkIfname, checkMac, checkNetns } from '../../lib/validation.js';
import { known, knownOr, t } from '../plugin/cty.js';
import { attributeError, DiagnosticsError, type Diagnostic } from '../plugin/diagnostics.js';
import { defineResource, type Planned } from '../plugin/framework.js';
import type { StateOf } from '../plugin/schema.js';
import { oneOf } from '../plugin/validators.js';
import { getEach, hostsHaving, newId, planStatus, READY, rule, str } from './common.js';
import { fleetDiagnostics } from './errors.js';
import { FleetError, type Fleet } from './fleet.js';
import { syncRouterReservations } from './router-sync.js';
import { syncVtepTables } from './vtep-sync.js';

const schema = {
  version: 0,
  description: "A NIC: a workload's port on a subnet, on one host — a veth whose far end is in a network namespace (containers), or a TAP device (VMs).",
  attributes: {
    id: { type: t.string, computed: true, description: 'Assigned on create.' },
    subnet_id: { type: t.string, required: true, requiresReplace: true, description: 'The subnet it attaches to; the subnet must span the host.' },
    host: { type: t.string, required: true, requiresReplace: true, description: 'The host it lives on.' },
    kind: { type: t.string, optional: true, computed: true, requiresReplace: true, validators: [oneOf('veth', 'tap')], description: '"veth" (default) or "tap".' },
    namespace: { type: t.string, optional: true, requiresReplace: true, validators: [rule(checkNetns)], description: 'veth: the network namespace its far end goes into.' },
    create_namespace: { type: t.bool, optional: true, computed: true, requiresReplace: true, description: 'veth: create the namespace if missing, and remove it with the last NIC (default true).' },
    ifname: { type: t.string, optional: true, computed: true, requiresReplace: true, validators: [rule(checkIfname)], description: 'veth: interface name inside the namespace (default eth0).' },
    mac: { type: t.string, optional: true, computed: true, requiresReplace: true, validators: [rule(checkMac)], description: 'Unicast MAC (default: derived from the id, locally administered).' },
    ip: { type: t.string, optional: true, computed: true, requiresReplace: true, description: 'Address with prefix, e.g. 198.18.1.10/24 (default: the lowest free address of the subnet).' },
    dhcp: { type: t.bool, optional: true, computed: true, requiresReplace: true, description: "Take the address by DHCP from the subnet's router (default false); `ip` is then the router's reservation for this NIC." },
    gateway: { type: t.string, computed: true, description: "The subnet's gateway, the NIC's default route." },
    mtu: { type: t.number, computed: true, description: 'MTU of the NIC.' },
    host_ifname: { type: t.string, computed: true, description: 'The host-side device (veth end or TAP).' },
    status: { type: t.string, computed: true, description: '"ready", or what the host lacks; drift plans a repair.' },
  },
} as const;

type NicState = StateOf<typeof schema>;
const ATTRS = Object.keys(schema.attributes);

/** A locally administered unicast MAC from the NIC id: stable, and unlikely to collide. */
export function macFor(id: string): string {
  const h = createHash('sha256').update(id).digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

/** The lowest host address of the subnet that is neither the gateway nor used by a NIC. */
async function allocateIp(fleet: Fleet, subnetId: string, host: string): Promise<string> {
  const s = await fleet.client(host).network.getSubnet({ id: subnetId });
  const net = parseCidr(s.spec!.cidr)!;
  const { hosts: spans } = await hostsHaving<SubnetMessage>(fleet, (c) => c.network.getSubnet({ id: subnetId }));
  const nics = await fleet.each(spans, async (c) => (await c.network.listNics({ parentId: subnetId })).nics);
  const used = new Set([...nics.values()].flat().map((n) => parseIp(n.spec!.ip.split('/')[0]!)));
  used.add(parseIp(s.spec!.gateway || formatIp(firstHost(net))));
  for (let ip = net.network + 1; isHostAddress(net, ip); ip++) if (!used.has(ip)) return `${formatIp(ip)}/${net.prefix}`;
  throw new DiagnosticsError([attributeError(['subnet_id'], 'Subnet full', `Subnet ${subnetId} (${s.spec!.cidr}) has no free address left.`)]);
}

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

export const nic = defineResource<typeof schema, Fleet>({
  typeName: 'vxcloud_nic',
  schema,
  validate(c) {
    const out: Diagnostic[] = [];
    const tap = c.kind === 'tap';
    if (!tap && c.kind !== null && typeof c.kind !== 'string') return out;
    if (!tap && c.namespace === null) out.push(attributeError(['namespace'], 'Missing namespace', 'A veth NIC needs the namespace its far end goes into; or set kind = "tap" for a VM.'));
    if (tap && c.namespace !== null) out.push(attributeError(['namespace'], 'Namespace on a TAP', 'A TAP NIC has no namespace: the VM opens the TAP. Remove namespace.'));
    if (tap && c.ifname !== null) out.push(attributeError(['ifname'], 'ifname on a TAP', 'ifname names the interface inside a veth NIC\'s namespace. Remove it.'));
    return out;
  },
  plan({ prior, planned }, { provider }) {
    const diagnostics = typeof planned.host === 'string' && !provider.host(planned.host)
      ? [attributeError(['host'], 'Unknown host', `"${planned.host}" is not one of the provider's hosts: ${provider.hosts.map((h) => h.name).join(', ')}.`)]
      : [];
    return { planned: planStatus(prior, planned) as Planned<typeof schema>, diagnostics };
  },
  async create({ planned }, { provider }) {
    const host = known(planned.host);
    const subnetId = known(planned.subnet_id);
    const id = newId('nic');
    const kind = knownOr(planned.kind, null) ?? 'veth';
    const made = await provider.serialize(`ip:${subnetId}`, async () => {
      const ip = knownOr(planned.ip, null) ?? (await allocateIp(provider, subnetId, host).catch((e: unknown) => {
        if (e instanceof DiagnosticsError) throw e;
        throw new DiagnosticsError(fleetDiagnostics('Allocating an address', e, ATTRS));
      }));
      const spec = {
        id,
        subnetId,
        kind: kind === 'tap' ? NicKind.NIC_KIND_TAP : NicKind.NIC_KIND_VETH,
        mac: knownOr(planned.mac, null) ?? macFor(id),
        ip,
        namespace: knownOr(planned.namespace, null) ?? '',
        createNamespace: knownOr(planned.create_namespace, null) ?? true,
        ifname: kind === 'tap' ? '' : (knownOr(planned.ifname, null) ?? 'eth0'),
        dhcp: knownOr(planned.dhcp, null) ?? false,
      };
      return provider.client(host).network.putNic({ nic: spec }, provider.timeoutMs).catch((e: unknown) => {
        throw new DiagnosticsError(fleetDiagnostics('Creating the NIC', new FleetError([{ host, error: e as Error }], new Map()), ATTRS));
      });
    });
    const state = toState(made, host);
    await Promise.all([syncVtepTables(provider, subnetId, host), syncRouterReservations(provider, subnetId)]).catch((e: unknown) => {
      throw new DiagnosticsError(fleetDiagnostics('Telling the other hosts where the NIC is', e, ATTRS), { ...state, status: 'partially created' });
    });
    return state;
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
    await syncVtepTables(provider, prior.subnet_id);
    return toState(repaired, prior.host);
  },
  async delete(state, { provider }) {
    await provider.client(state.host).network.deleteNic({ id: str(state.id) }, provider.timeoutMs);
    await Promise.all([syncVtepTables(provider, state.subnet_id, state.host), syncRouterReservations(provider, state.subnet_id)]);
  },
  async importState(id, { provider }) {
    const found = await getEach<NicMessage>(provider, provider.hosts.map((h) => h.name), (c) => c.network.getNic({ id }));
    const host = [...found].find(([, n]) => n !== null)?.[0];
    if (!host) throw new Error(`no host has a NIC with id "${id}"`);
    return { id, host };
  },
});
