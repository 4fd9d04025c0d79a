// The BGP EVPN control plane through FRR. zebra reads the host's VNIs (bridge + vxlan devices the
// reconciler made) and installs remote MACs and flood lists into the kernel; bgpd exchanges them
// with the route reflectors. The agent's part: render the config, get it into FRR without
// restarting daemons, check that it took, and report what FRR sees.

import type { Supervisor } from '../process/supervisor.js';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ControlPlaneConfig } from '../config/control-plane.js';
import { FrrDaemons, type DaemonState } from './daemons.js';
import {
  configProblems,
  needsZebra,
  renderFrrConfig,
  sessions,
  vniCounts,
  type BgpSession,
  type EvpnMacJson,
  type EvpnSummaryJson,
  type EvpnVniJson,
  type FrrPlan,
  type PeerGroupsJson,
  type VniCounts,
} from './frr-config.js';
import { Vtysh } from './vtysh.js';

export interface EvpnStatus {
  mode: 'managed' | 'system';
  routerId: string;
  asn: number;
  reflector: boolean;
  vtep: boolean;
  sessions: BgpSession[];
  vnis: VniCounts[];
  daemons: DaemonState[];
  /** Why the control plane is not as configured; [] when it is. */
  problems: string[];
}

const CHECK_TIMEOUT_MS = 5000;

export class FrrControlPlane {
  private readonly vtysh: Vtysh;
  private readonly daemons: FrrDaemons | undefined;
  private readonly configPath: string;
  private readonly text: string;

  private constructor(
    private readonly cp: ControlPlaneConfig,
    private readonly plan: FrrPlan,
    private readonly log: Logger,
    supervisor: Supervisor,
  ) {
    const f = cp.frr;
    const managed = f.mode === 'managed';
    this.vtysh = new Vtysh(f.vtysh, f.binDir, managed ? f.runDir : undefined);
    this.configPath = managed ? join(f.runDir, 'frr.conf') : f.configFile;
    this.text = renderFrrConfig(plan);
    this.daemons = managed ? new FrrDaemons(f, needsZebra(plan), supervisor, log, () => this.apply('fresh')) : undefined;
  }

  /** managed: start (or adopt) the daemons and configure them; system: reload the host's frr with our config. */
  static async start(cp: ControlPlaneConfig, plan: FrrPlan, log: Logger, supervisor: Supervisor): Promise<FrrControlPlane> {
    const plane = new FrrControlPlane(cp, plan, log, supervisor);
    if (plane.daemons) {
      const how = await plane.daemons.start();
      try {
        await plane.apply(how === 'adopted' ? 'reload' : 'fresh');
      } catch (e) {
        await plane.daemons.stop();
        throw e;
      }
    } else {
      await plane.apply('reload');
    }
    return plane;
  }

  /**
   * Gets the rendered config into running daemons: `fresh` daemons have none, so the file is
   * applied as is; running ones get only the difference (frr-reload.py), never a restart.
   */
  private async apply(how: 'fresh' | 'reload'): Promise<void> {
    await writeFileAtomic(this.configPath, this.text, 0o640);
    if (how === 'fresh') await this.vtysh.applyFile(this.configPath);
    else await this.vtysh.reload(this.configPath);
    const until = Date.now() + CHECK_TIMEOUT_MS;
    for (;;) {
      const problems = await this.configProblems();
      if (problems.length === 0) break;
      if (Date.now() > until) throw new Error(`FRR did not take its config (${this.configPath}): ${problems.join('; ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    this.log.info({ config: this.configPath, how }, 'FRR configured');
  }

  private async configProblems(): Promise<string[]> {
    const [groups, summary] = await Promise.all([
      this.vtysh.json<PeerGroupsJson>('show bgp peer-group json'),
      this.vtysh.json<EvpnSummaryJson>('show bgp l2vpn evpn summary json'),
    ]);
    return configProblems(this.plan, groups, summary);
  }

  async status(): Promise<EvpnStatus> {
    const base = {
      mode: this.cp.frr.mode,
      routerId: this.plan.routerId,
      asn: this.plan.asn,
      reflector: this.plan.roles.reflector,
      vtep: this.plan.roles.vtep,
      daemons: (await this.daemons?.state()) ?? [],
    };
    try {
      const [summary, problems, vnis, macs] = await Promise.all([
        this.vtysh.json<EvpnSummaryJson>('show bgp l2vpn evpn summary json'),
        this.configProblems(),
        needsZebra(this.plan) ? this.vtysh.json<EvpnVniJson>('show evpn vni json') : {},
        needsZebra(this.plan) ? this.vtysh.json<EvpnMacJson>('show evpn mac vni all json') : {},
      ]);
      const s = sessions(summary);
      const down = s.filter((x) => x.state !== 'Established');
      if (s.length === 0 && this.plan.roles.vtep) problems.push('no BGP session to any reflector');
      if (down.length > 0) problems.push(`sessions not established: ${down.map((x) => `${x.peer} (${x.state})`).join(', ')}`);
      return { ...base, sessions: s, vnis: vniCounts(vnis, macs), problems };
    } catch (e) {
      return { ...base, sessions: [], vnis: [], problems: [(e as Error).message] };
    }
  }

  /** managed: stops the daemons the agent runs; system: leaves the host's frr service alone. */
  async stop(): Promise<void> {
    await this.daemons?.stop();
  }
}
