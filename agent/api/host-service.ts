// The HostService: identity, kernel capabilities and the data-plane mode this host uses.

import { release } from 'node:os';
import type { Logger } from 'pino';
import { DataplaneMode, type HostServiceServer } from '../../gen/vxcloud/agent/v1/host.js';
import type { AgentConfig } from '../config/config.js';
import type { Capabilities } from '../net/types.js';
import type { Reconciler } from '../state/reconciler.js';
import { unary } from './unary.js';
import { AGENT_VERSION } from '../version.js';

/**
 * bridge-per-subnet is used on every kernel for now: the VLAN-aware layout (one VLAN-filtering
 * bridge per VPC) is not built yet, and the two interoperate on the wire.
 */
export function dataplaneMode(_caps: Capabilities): DataplaneMode {
  return DataplaneMode.DATAPLANE_MODE_BRIDGE_PER_SUBNET;
}

export function hostService(cfg: AgentConfig, caps: Capabilities, underlayMtu: number, r: Reconciler, log: Logger): HostServiceServer {
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
        dataplaneMode: dataplaneMode(caps),
        versions: { agent: AGENT_VERSION, kernel: release(), node: process.versions.node },
        objectsDesired: statuses.length,
        objectsReady: statuses.filter((s) => s.ready).length,
      };
    }),
  };
}
