// managed mode: the agent runs zebra and bgpd for its own host (it already runs inside the host's
// network namespace, and the daemons inherit it) under its one supervisor (agent/process), each
// with a directory of its own in the private run dir for its pid file and log: restarted when they
// die, adopted by an agent that was killed and restarted instead of flapping every BGP session,
// stopped by their own PID.

import { execFile } from 'node:child_process';
import { chown, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { FrrSettings } from '../config/control-plane.js';
import { runningIn, type ProcessSpec, type Supervisor } from '../process/supervisor.js';

export type DaemonName = 'zebra' | 'bgpd';

const daemonDir = (s: FrrSettings, name: DaemonName): string => join(s.runDir, name);
const vtySocket = (s: FrrSettings, name: DaemonName): string => join(s.runDir, `${name}.vty`);

/** The argv of one daemon; `-P 0` keeps it off TCP vty ports, everything else lives in runDir. It names its own directory, as the supervisor requires. */
export function daemonArgv(s: FrrSettings, name: DaemonName, withZebra: boolean): string[] {
  const d = s.runDir;
  const argv = [
    join(s.binDir, name),
    '-F',
    'datacenter',
    '-P',
    '0',
    '-u',
    s.user,
    '--vty_socket',
    d,
    '-i',
    join(daemonDir(s, name), `${name}.pid`),
    // To stdout, which the supervisor keeps in the daemon's directory (process.log).
    '--log',
    'stdout',
  ];
  // Without zebra (a pure reflector) bgpd must not wait for it.
  argv.push(...(withZebra ? ['-z', join(d, 'zserv.api')] : ['-Z']));
  return argv;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function userIds(user: string): Promise<{ uid: number; gid: number }> {
  const id = promisify(execFile);
  const [uid, gid] = await Promise.all([id('id', ['-u', user]), id('id', ['-g', user])]).catch(() => {
    throw new Error(`controlPlane.frr.user: no user "${user}" on this host (is the frr package installed?)`);
  });
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

export interface DaemonState {
  name: DaemonName;
  pid: number;
  restarts: number;
}

export class FrrDaemons {
  private readonly specs: { name: DaemonName; spec: ProcessSpec }[];

  /** `onRestarted` runs after daemons were restarted, to give them their config again. */
  constructor(
    private readonly s: FrrSettings,
    withZebra: boolean,
    private readonly supervisor: Supervisor,
    private readonly log: Logger,
    onRestarted: () => Promise<void>,
  ) {
    const names: DaemonName[] = withZebra ? ['zebra', 'bgpd'] : ['bgpd'];
    const spec = (name: DaemonName): ProcessSpec => ({
      key: name,
      netns: '',
      argv: daemonArgv(s, name, withZebra),
      dir: daemonDir(s, name),
      prepare: () => this.prepare(name),
      ready: async () => exists(vtySocket(s, name)),
      // bgpd keeps EVPN state that only zebra's announcements fill: a new zebra needs a new bgpd.
      restarted: async () => {
        if (name === 'zebra' && withZebra) await this.supervisor.ensure(this.specOf('bgpd'), true);
        await onRestarted();
      },
    });
    this.specs = names.map((name) => ({ name, spec: spec(name) }));
  }

  private specOf(name: DaemonName): ProcessSpec {
    return this.specs.find((d) => d.name === name)!.spec;
  }

  /** Adopts the daemons of an earlier agent when all of them still run; otherwise starts them afresh. */
  async start(): Promise<'adopted' | 'started'> {
    const found = await Promise.all(this.specs.map((d) => runningIn(d.spec.dir)));
    if (found.every((pid) => pid !== undefined)) {
      for (const d of this.specs) await this.supervisor.ensure(d.spec, false);
      this.log.info({ pids: found }, 'adopted running FRR daemons');
      return 'adopted';
    }
    // A partial set is in an unknown state: stop what is left and start clean.
    await this.stop();
    for (const d of this.specs) await this.supervisor.ensure(d.spec, true);
    return 'started';
  }

  async state(): Promise<DaemonState[]> {
    return Promise.all(this.specs.map(async (d) => ({ name: d.name, ...(await this.supervisor.info(d.spec.dir)) })));
  }

  /** Stops the daemons, bgpd first so that its peers see a clean withdrawal. */
  async stop(): Promise<void> {
    for (const d of [...this.specs].reverse()) await this.supervisor.stop(d.spec.dir);
  }

  /** Before each start: the run dirs the daemons (user frr) write to, and nothing a dead one left. */
  private async prepare(name: DaemonName): Promise<void> {
    const { uid, gid } = await userIds(this.s.user);
    await mkdir(daemonDir(this.s, name), { recursive: true, mode: 0o750 });
    for (const d of [this.s.runDir, daemonDir(this.s, name)]) await chown(d, uid, gid);
    // vtysh reads vtysh.conf from its config dir; an empty one keeps it quiet.
    if (!(await exists(join(this.s.runDir, 'vtysh.conf')))) await writeFile(join(this.s.runDir, 'vtysh.conf'), '');
    await rm(join(daemonDir(this.s, name), `${name}.pid`), { force: true });
    await rm(vtySocket(this.s, name), { force: true });
    if (name === 'zebra') await rm(join(this.s.runDir, 'zserv.api'), { force: true });
  }
}
