// The control plane as the agent's entry point sees it: started once after the first reconcile,
// asked for its status by the host service, stopped on shutdown.

import type { Supervisor } from '../process/supervisor.js';
import type { Logger } from 'pino';
import type { ControlPlaneStatus } from '../../gen/vxcloud/agent/v1/host.js';
import type { AgentConfig } from '../config/config.js';
import { formatCidr, parseCidr } from '../../lib/ipv4.js';
import type { NetHandle } from '../net/types.js';
import type { Reconciler } from '../state/reconciler.js';
import { RegistryControlPlane } from '../registry/control-plane.js';
import type { Registry } from '../registry/registry.js';
import { FrrControlPlane } from './frr.js';
import { frrIdle, frrPlan } from './frr-config.js';

export interface ControlPlane {
  status(): Promise<ControlPlaneStatus>;
  stop(): Promise<void>;
}

const quiet = (kind: string): ControlPlane => ({
  status: async () => ({ kind, frrMode: '', vtep: false, reflector: false, routerId: '', asn: 0, sessions: [], vnis: [], daemons: [], problems: [] }),
  stop: async () => undefined,
});

/** The underlay interface's network (reflectors accept VTEPs from it unless the config names ranges). */
async function underlayPrefix(h: NetHandle, cfg: AgentConfig): Promise<string> {
  const addrs = await h.addresses(cfg.underlay.interface);
  const mine = addrs.map((a) => parseCidr(a, false)).find((c) => c !== undefined && c.address === parseCidr(`${cfg.underlay.address}/32`)!.address);
  if (!mine) throw new Error(`underlay.address: ${cfg.underlay.address} is not an address of ${cfg.underlay.interface} (have ${addrs.join(', ') || 'none'})`);
  return formatCidr(mine);
}

/** registry: feeds `r` the tables derived from the watched registry; it never waits for etcd. */
export async function startControlPlane(
  cfg: AgentConfig,
  h: NetHandle,
  log: Logger,
  r: Reconciler,
  registry: Registry | undefined,
  supervisor: Supervisor,
): Promise<ControlPlane> {
  const cp = cfg.controlPlane;
  if (cp.kind === 'static') return quiet('static');
  if (cp.kind === 'registry') {
    if (!registry) throw new Error('controlPlane.kind registry needs the registry section of the agent config');
    const plane = new RegistryControlPlane(registry, r, log.child({ component: 'registry' }));
    plane.start();
    return { status: async () => plane.status(), stop: async () => plane.stop() };
  }
  const plan = frrPlan(cp, cfg.host.roles, cfg.underlay.address, await underlayPrefix(h, cfg));
  if (frrIdle(plan)) return quiet('evpn');
  const frr = await FrrControlPlane.start(cp, plan, log.child({ component: 'frr' }), supervisor);
  return {
    async status() {
      const s = await frr.status();
      return {
        kind: 'evpn',
        frrMode: s.mode,
        vtep: s.vtep,
        reflector: s.reflector,
        routerId: s.routerId,
        asn: s.asn,
        sessions: s.sessions.map((x) => ({ peer: x.peer, state: x.state, prefixesReceived: x.prefixesReceived, uptimeMs: x.uptimeMs })),
        vnis: s.vnis,
        daemons: s.daemons,
        problems: s.problems,
      };
    },
    stop: () => frr.stop(),
  };
}
