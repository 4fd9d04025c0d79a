// The HostService: identity, kernel capabilities and the data-plane mode this host uses.

import { release } from 'node:os';
import type { Logger } from 'pino';
import { DataplaneMode, type HostServiceServer } from '../../gen/vxcloud/agent/v1/host.js';
import { ConfigError, type AgentConfig, type DataplaneSetting } from '../config/config.js';
import type { ControlPlane } from '../evpn/control-plane.js';
import type { DataplaneLayout } from '../l2/layout.js';
import type { Capabilities } from '../net/types.js';
import type { Reconciler } from '../state/reconciler.js';
import { unary } from './unary.js';
import { AGENT_VERSION } from '../version.js';

/**
 * The mode this host uses, decided once at start: VLAN-aware (one VLAN-filtering bridge per VPC)
 * where the kernel has bridge VLAN filtering, else bridge-per-subnet; the config can force either,
 * but forcing VLAN-aware on a kernel without filtering is refused rather than half-built.
 */
export function dataplaneMode(caps: Capabilities, setting: DataplaneSetting = 'auto'): DataplaneMode {
  if (setting === 'vlan-aware' && !caps.bridgeVlanFiltering) {
    throw new ConfigError('dataplane: vlan-aware needs bridge VLAN filtering, which this kernel lacks (CONFIG_BRIDGE_VLAN_FILTERING): use auto or bridge-per-subnet');
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
  const tcp = listen.filter((l) => !l.startsWith('unix:')).map((l) => {
    const at = l.lastIndexOf(':');
    return { text: l, host: l.slice(0, at), port: l.slice(at + 1) };
  });
  const onUnderlay = tcp.find((l) => l.host === underlayAddress);
  if (onUnderlay) return onUnderlay.text;
  const wildcard = tcp.find((l) => ['', '0.0.0.0', '[::]', '::'].includes(l.host));
  if (wildcard) return `${underlayAddress}:${wildcard.port}`;
  return tcp[0]?.text ?? '';
}

export function hostService(cfg: AgentConfig, caps: Capabilities, underlayMtu: number, r: Reconciler, log: Logger, plane?: ControlPlane): HostServiceServer {
  return {
    getHost: unary(log, 'GetHost', async () => {
      const d = r.desired;
      const statuses = await Promise.all([
        ...Object.values(d.subnets).map((s) => r.subnetStatus(s)),
        ...Object.values(d.nics).map((n) => r.nicStatus(n)),
      ]);
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
      };
    }),
  };
}
