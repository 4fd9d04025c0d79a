// The registry control plane: every host's VTEP tables derived from the registry (which hosts a
// subnet spans, where each NIC is) and converged by the reconciler whenever the watched view
// changes. Nothing here touches the kernel.

import type { Logger } from 'pino';
import type { ControlPlaneStatus } from '../../gen/vxcloud/agent/v1/host.js';
import type { Reconciler } from '../state/reconciler.js';
import { serial, type Registry } from './registry.js';
import { vtepTables, type PlaneTable } from './view.js';

export class RegistryControlPlane {
  private tables = new Map<number, PlaneTable>();
  /** The tables last converged, per VNI as JSON: only the VNIs whose table changed converge again. */
  private pushed = new Map<number, string>();
  private error = '';
  private stopped = false;
  private readonly push: () => void;

  constructor(
    private readonly registry: Registry,
    private readonly reconciler: Reconciler,
    log: Logger,
  ) {
    this.push = serial(
      () => this.converge(),
      (err) => {
        const message = err instanceof Error ? err.message : String(err);
        if (message !== this.error) log.warn({ err }, 'registry: converging VTEP tables failed; retrying');
        this.error = message;
      },
      () => this.stopped,
    );
  }

  start(): void {
    this.registry.onView(this.push);
    // A subnet put after the last view change needs its table too.
    this.reconciler.onChange(this.push);
  }

  private async converge(): Promise<void> {
    const view = this.registry.view;
    if (!view) return;
    this.tables = vtepTables(view, this.registry.host);
    const next = new Map([...this.tables].map(([vni, t]) => [vni, JSON.stringify(t)]));
    const changed = new Set([...next.keys(), ...this.pushed.keys()].filter((vni) => next.get(vni) !== this.pushed.get(vni)));
    if (changed.size === 0) return;
    const { failed } = await this.reconciler.setPlaneTables(this.tables, changed);
    if (failed.length > 0) throw new Error(failed.join('; '));
    this.pushed = next;
    this.error = '';
  }

  status(): ControlPlaneStatus {
    const d = this.reconciler.desired;
    return {
      kind: 'registry',
      frrMode: '',
      vtep: true,
      reflector: false,
      routerId: '',
      asn: 0,
      sessions: [],
      vnis: Object.values(d.subnets)
        .map((s) => {
          const t = this.tables.get(s.vni);
          return {
            vni: s.vni,
            localMacs: Object.values(d.nics).filter((n) => n.subnet_id === s.id).length,
            remoteMacs: t?.fdb.length ?? 0,
            neighbors: t?.neighbors.length ?? 0,
            remoteVteps: t?.flood_vteps.length ?? 0,
          };
        })
        .sort((a, b) => a.vni - b.vni),
      daemons: [],
      problems: this.error ? [`registry tables: ${this.error}`] : [],
    };
  }

  stop(): void {
    this.stopped = true;
  }
}
