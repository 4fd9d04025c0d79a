// managed mode: the agent runs zebra and bgpd for its own host (it already runs inside the host's
// network namespace, and the daemons inherit it), each in a private run dir, and restarts them
// when they die. Daemons are found again by their pid files, so an agent that was killed and
// restarted adopts the running daemons instead of flapping every BGP session; everything is
// stopped by its own PID, after checking that the PID still is that daemon.

import { isAlive } from '../../lib/process.js';
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import type { FrrSettings } from '../config/control-plane.js';

export type DaemonName = 'zebra' | 'bgpd';

const pidFile = (s: FrrSettings, name: DaemonName): string => join(s.runDir, `${name}.pid`);
const vtySocket = (s: FrrSettings, name: DaemonName): string => join(s.runDir, `${name}.vty`);

/** The argv of one daemon; `-P 0` keeps it off TCP vty ports, everything else lives in runDir. */
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
    pidFile(s, name),
    '--log',
    `file:${join(d, `${name}.log`)}`,
  ];
  // Without zebra (a pure reflector) bgpd must not wait for it.
  argv.push(...(withZebra ? ['-z', join(d, 'zserv.api')] : ['-Z']));
  return argv;
}

/** The PID in `name`'s pid file if that process is alive and is that daemon of this run dir. */
export async function runningDaemon(s: FrrSettings, name: DaemonName): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile(s, name), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  return argv[0] === join(s.binDir, name) && argv.includes(pidFile(s, name)) ? pid : undefined;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
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

// Short: the agent's own shutdown is bounded (main.ts), and SIGKILL follows.
const STOP_TIMEOUT_MS = 1000;
const START_TIMEOUT_MS = 10_000;

export class FrrDaemons {
  private readonly names: DaemonName[];
  private readonly pids = new Map<DaemonName, number>();
  private readonly restarts = new Map<DaemonName, number>();
  private recentFailures: number[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  /** `onRestarted` runs after daemons were restarted, to give them their config again. */
  constructor(
    private readonly s: FrrSettings,
    private readonly withZebra: boolean,
    private readonly log: Logger,
    private readonly onRestarted: () => Promise<void>,
  ) {
    this.names = withZebra ? ['zebra', 'bgpd'] : ['bgpd'];
  }

  /** Adopts the daemons of an earlier agent when all of them still run; otherwise starts them afresh. */
  async start(): Promise<'adopted' | 'started'> {
    const found = await Promise.all(this.names.map((n) => runningDaemon(this.s, n)));
    if (found.every((pid) => pid !== undefined)) {
      this.names.forEach((n, i) => this.pids.set(n, found[i]!));
      this.log.info({ pids: Object.fromEntries(this.pids) }, 'adopted running FRR daemons');
      return 'adopted';
    }
    // A partial set is in an unknown state: stop what is left and start clean.
    for (const [i, n] of this.names.entries()) if (found[i] !== undefined) await this.kill(n, found[i]);
    await this.prepareRunDir();
    for (const n of this.names) await this.spawn(n);
    return 'started';
  }

  /** Checks the daemons every `intervalMs` and restarts the dead ones until stop(). */
  supervise(intervalMs = 250): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.check()
        .catch((e: unknown) => this.log.error({ err: e }, 'restarting FRR daemons failed; retrying'))
        .finally(() => (this.busy = false));
    }, intervalMs);
    this.timer.unref();
  }

  state(): DaemonState[] {
    return this.names.map((name) => ({ name, pid: this.pids.get(name) ?? 0, restarts: this.restarts.get(name) ?? 0 }));
  }

  /** Stops the daemons this agent runs, bgpd first so that its peers see a clean withdrawal. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await waitUntil('the supervisor to settle', STOP_TIMEOUT_MS, async () => !this.busy).catch(() => undefined);
    for (const n of [...this.names].reverse()) {
      const pid = this.pids.get(n);
      if (pid !== undefined) await this.kill(n, pid);
      this.pids.delete(n);
    }
  }

  private async check(): Promise<void> {
    const dead = this.names.filter((n) => !isAlive(this.pids.get(n) ?? 0));
    if (dead.length === 0 || !this.timer) return;
    // bgpd keeps EVPN state that only zebra's announcements fill: a new zebra needs a new bgpd.
    const restart = dead.includes('zebra') ? this.names : dead;
    const now = Date.now();
    this.recentFailures = [...this.recentFailures.filter((t) => now - t < 60_000), now];
    const backoff = Math.min(30_000, 100 * 2 ** (this.recentFailures.length - 1));
    this.log.warn({ dead, restart, backoffMs: backoff }, 'FRR daemons died; restarting');
    if (this.recentFailures.length > 1) await new Promise((r) => setTimeout(r, backoff));
    for (const n of [...restart].reverse()) {
      const pid = this.pids.get(n);
      if (pid !== undefined && isAlive(pid)) await this.kill(n, pid);
    }
    for (const n of restart) {
      await this.removeStale(n);
      await this.spawn(n);
      this.restarts.set(n, (this.restarts.get(n) ?? 0) + 1);
    }
    await this.onRestarted();
  }

  private async prepareRunDir(): Promise<void> {
    const { uid, gid } = await userIds(this.s.user);
    await mkdir(this.s.runDir, { recursive: true, mode: 0o750 });
    // The daemons drop to the frr user and write pid files, sockets and logs here.
    await chown(this.s.runDir, uid, gid);
    // vtysh reads vtysh.conf from its config dir; an empty one keeps it quiet.
    if (!(await exists(join(this.s.runDir, 'vtysh.conf')))) await writeFile(join(this.s.runDir, 'vtysh.conf'), '');
    for (const n of this.names) await this.removeStale(n);
  }

  private async removeStale(n: DaemonName): Promise<void> {
    await rm(pidFile(this.s, n), { force: true });
    await rm(vtySocket(this.s, n), { force: true });
    if (n === 'zebra') await rm(join(this.s.runDir, 'zserv.api'), { force: true });
  }

  private async spawn(n: DaemonName): Promise<void> {
    const [file, ...args] = daemonArgv(this.s, n, this.withZebra);
    // Own session: a signal to the agent's process group does not reach the daemons, and they
    // outlive an agent crash (the next agent adopts them).
    const child = spawn(file!, args, { detached: true, stdio: 'ignore' });
    child.unref();
    let exited: string | undefined;
    child.once('exit', (code, signal) => (exited = `exited with ${signal ?? code}`));
    child.once('error', (e) => (exited = e.message));
    if (child.pid === undefined) throw new Error(`${n} did not start`);
    this.pids.set(n, child.pid);
    await waitUntil(`${n} to open its vty socket`, START_TIMEOUT_MS, async () => {
      if (exited) {
        const tail = (await readFile(join(this.s.runDir, `${n}.log`), 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' | ');
        throw new Error(`${n} ${exited}${tail ? `: ${tail}` : ''}`);
      }
      return (await exists(vtySocket(this.s, n))) && (await exists(pidFile(this.s, n)));
    });
    this.log.info({ daemon: n, pid: child.pid }, 'FRR daemon started');
  }

  private async kill(n: DaemonName, pid: number): Promise<void> {
    if ((await runningDaemon(this.s, n)) !== pid && !this.isOwnChild(n, pid)) return;
    try {
      process.kill(pid, 'SIGTERM');
      await waitUntil(`${n} (${pid}) to exit`, STOP_TIMEOUT_MS, async () => !isAlive(pid));
    } catch {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  }

  /** A daemon we spawned that has not written its pid file yet is still ours to stop. */
  private isOwnChild(n: DaemonName, pid: number): boolean {
    return this.pids.get(n) === pid && isAlive(pid);
  }
}
