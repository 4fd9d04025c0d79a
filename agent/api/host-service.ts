// The HostService: identity, kernel capabilities and the data-plane mode this host uses.

import { parseListen } from '../../lib/listen.js';
import { release } from 'node:os';
import type { Logger } from 'pino';
import { DataplaneMode, type HostServiceServer, type InventoryHost, type RegistryView, type TransportCounters } from '../../gen/vxcloud/agent/v1/host.js';
import { ConfigError, type AgentConfig, type DataplaneSetting } from '../config/config.js';
import type { ControlPlane } from '../evpn/control-plane.js';
import type { DataplaneLayout } from '../l2/layout.js';
import type { Capabilities } from '../net/types.js';
import { parseObject } from '../registry/model.js';
import type { Registry } from '../registry/registry.js';
import { describeIdentity } from '../../lib/identity.js';
import { ApiError } from '../state/errors.js';
import type { Reconciler } from '../state/reconciler.js';
import { RUN_ID } from '../../lib/wire.js';
import { confirmRunIn } from '../registry/authority.js';
import { requireKind } from './caller.js';
import { unary } from './unary.js';
import { AGENT_VERSION } from '../version.js';
import type { CounterName } from '../vtep/forwarder.js';
import type { UserspaceVtep } from '../vtep/userspace-vtep.js';

/**
 * The mode this host uses, decided once at start: VLAN-aware (one VLAN-filtering bridge per VPC)
 * where the kernel has bridge VLAN filtering, else bridge-per-subnet; the config can force either,
 * but forcing VLAN-aware on a kernel without filtering is refused rather than half-built.
 */
export function dataplaneMode(caps: Capabilities, setting: DataplaneSetting = 'auto'): DataplaneMode {
  if (setting === 'vlan-aware' && !caps.bridgeVlanFiltering) {
    throw new ConfigError(
      'dataplane: vlan-aware needs bridge VLAN filtering, which this kernel lacks (CONFIG_BRIDGE_VLAN_FILTERING): use auto or bridge-per-subnet',
    );
  }
  const vlanAware = setting === 'vlan-aware' || (setting === 'auto' && caps.bridgeVlanFiltering);
  return vlanAware ? DataplaneMode.DATAPLANE_MODE_VLAN_AWARE_BRIDGE : DataplaneMode.DATAPLANE_MODE_BRIDGE_PER_SUBNET;
}

export function dataplaneLayout(mode: DataplaneMode): DataplaneLayout {
  return mode === DataplaneMode.DATAPLANE_MODE_VLAN_AWARE_BRIDGE ? 'vlan-aware' : 'bridge-per-subnet';
}

/**
 * The listen address other agents reach this one at: one on the underlay address, else a wildcard
 * one (0.0.0.0, [::]) with the underlay address put in, else the first TCP one; '' if none.
 */
export function peerEndpoint(listen: readonly string[], underlayAddress: string): string {
  const tcp = listen.flatMap((text) => {
    const at = parseListen(text);
    return 'path' in at ? [] : [{ text, ...at }];
  });
  const onUnderlay = tcp.find((l) => l.host === underlayAddress);
  if (onUnderlay) return onUnderlay.text;
  const wildcard = tcp.find((l) => ['', '0.0.0.0', '[::]', '::'].includes(l.host));
  if (wildcard) return `${underlayAddress}:${wildcard.port}`;
  return tcp[0]?.text ?? '';
}

/** The registry as this agent watches it: every host of the inventory, what it spans and holds. */
export function registryView(reg: Registry): RegistryView {
  const st = reg.status();
  const v = reg.view;
  const members = [...(v?.hosts.values() ?? [])]
    .map((h) => {
      const vnis: number[] = [];
      for (const o of v!.objects.values()) if (o.kind === 'subnet' && o.hosts.includes(h.name)) vnis.push(o.vni);
      const macs = [...v!.objects.values()].filter((o) => o.kind === 'nic' && o.host === h.name).length;
      return { name: h.name, vtep: h.underlay, vnis: vnis.sort((a, b) => a - b), macs, up: v!.alive.has(h.name) };
    })
    .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  return {
    endpoints: st.endpoints,
    prefix: st.prefix,
    leaseId: st.leaseId,
    leaseSeconds: st.leaseSeconds,
    members,
    keys: st.keys,
    revision: st.revision,
    problems: st.problems,
  };
}

export function inventory(reg: Registry, role: string): InventoryHost[] {
  const v = reg.view;
  if (!v) throw new ApiError('UNAVAILABLE', '', `the registry has not answered this agent yet: ${reg.status().problems.join('; ')}`);
  return [...v.hosts.values()]
    .filter((h) => role === '' || h.roles.includes(role))
    .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }))
    .map((h) => ({
      name: h.name,
      roles: h.roles,
      underlayAddress: h.underlay,
      endpoints: h.endpoints,
      peerEndpoint: h.peerEndpoint,
      up: v.alive.has(h.name),
      controlPlane: h.controlPlane,
      dataplane: h.dataplane,
      agentVersion: h.agentVersion,
      externalNetwork: h.external,
    }));
}

export function hostService(
  cfg: AgentConfig,
  caps: Capabilities,
  underlayMtu: number,
  r: Reconciler,
  log: Logger,
  plane?: ControlPlane,
  registry?: Registry,
  firewall = '',
  tap?: UserspaceVtep,
): HostServiceServer {
  return {
    listHosts: unary(log, 'ListHosts', async (req) => {
      if (!registry) throw new ApiError('FAILED_PRECONDITION', '', 'this host has no registry (registry in its agent config): it knows only itself');
      return { hosts: inventory(registry, req.role) };
    }),
    confirmRun: unary(log, 'ConfirmRun', async (req, caller) => {
      // Run ids are random per provider process: knowing one is what it takes.
      requireKind(caller, ['tenant', 'operator'], 'confirm provider runs');
      if (!RUN_ID.test(req.run)) throw new ApiError('INVALID_ARGUMENT', 'run', 'a run id of 8-64 letters, digits or "-"');
      return { confirmed: registry ? await confirmRunIn(registry, req.run) : 0 };
    }),
    lookupObject: unary(log, 'LookupObject', async (req, caller) => {
      if (!registry) throw new ApiError('FAILED_PRECONDITION', '', 'this host has no registry (registry in its agent config): ask the hosts themselves');
      const o = await registry.transact(async (tx, k) => {
        const raw = await tx.get(k.object(req.id));
        return raw === undefined ? undefined : parseObject(raw);
      });
      // A tenant learns where its own objects are, and nothing of anyone else's.
      if (caller.kind === 'host' || (caller.kind === 'tenant' && o?.tenant !== caller.tenant)) {
        throw new ApiError('PERMISSION_DENIED', 'id', `"${req.id}" is not an object of ${describeIdentity(caller)}`);
      }
      if (!o) throw new ApiError('NOT_FOUND', 'id', `the registry has no object "${req.id}"`);
      const spans = o.kind === 'vpc' || o.kind === 'subnet';
      // Security groups and rules live in the registry only.
      const hosts = spans || o.kind === 'volume' ? o.hosts : o.kind === 'sg' || o.kind === 'sgrule' ? [] : [o.host];
      return {
        id: req.id,
        kind: o.kind,
        tenant: o.tenant,
        hosts,
        cidr: spans ? o.cidr : '',
        subnets: o.kind === 'vpc' ? o.subnets : {},
        pending: 'adopt' in o && o.adopt !== undefined,
      };
    }),
    getHost: unary(log, 'GetHost', async () => {
      const d = r.desired;
      const statuses = await Promise.all([...Object.values(d.subnets).map((s) => r.subnetStatus(s)), ...Object.values(d.nics).map((n) => r.nicStatus(n))]);
      return {
        name: cfg.host.name,
        roles: cfg.host.roles,
        underlayInterface: cfg.underlay.interface,
        underlayAddress: cfg.underlay.address,
        underlayMtu,
        capabilities: caps,
        // what the reconciler builds, decided at start
        dataplaneMode: r.layout === 'vlan-aware' ? DataplaneMode.DATAPLANE_MODE_VLAN_AWARE_BRIDGE : DataplaneMode.DATAPLANE_MODE_BRIDGE_PER_SUBNET,
        versions: { agent: AGENT_VERSION, kernel: release(), node: process.versions.node },
        objectsDesired: statuses.length,
        objectsReady: statuses.filter((s) => s.ready).length,
        controlPlane: plane ? await plane.status() : undefined,
        peerEndpoint: peerEndpoint(cfg.listen, cfg.underlay.address),
        registry: registry ? registryView(registry) : undefined,
        firewall,
        transport: tap ? 'tap' : 'vxlan',
        transportCounters: tap ? transportCounters(tap.counters()) : undefined,
      };
    }),
  };
}

/** The userspace VTEP's counters under their API names (tap_frames_in → tapFramesIn). */
function transportCounters(c: Record<CounterName, number>): TransportCounters {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k.replace(/_([a-z])/g, (_m, x: string) => x.toUpperCase()), v])) as unknown as TransportCounters;
}
