// The one supervisor of the daemons the agent runs: dnsmasq per router and a DHCP client per dhcp
// NIC in their namespaces, FRR's zebra and bgpd, a managed etcd member. It restarts them when
// they die, adopts them after the agent was killed (found again by their pid files), and stops
// them by PID. Each process owns a directory that its argv names, so a PID
// from a pid file is only ever trusted, or signalled, when its command line names that directory.

import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isAlive } from '../../lib/process.js';
import { Mutex } from '../state/mutex.js';
import { spawnInNetns } from '../net/nsexec.js';

export interface ProcessSpec {
  /** Names the process in logs and status. */
  key: string;
  netns: string;
  /** Must name `dir` (a config, lease or pid file in it). */
  argv: string[];
  /** Holds `process.pid` and `process.log`, and whatever the program keeps. */
  dir: string;
  /** Runs before each start (removing what a dead instance left, say). */
  prepare?: () => Promise<void>;
  /** A start is done once this holds (a control socket open, say); the process dying first fails it. */
  ready?: () => Promise<boolean>;
  /** Runs after the supervisor restarted a process that died, outside its lock (it may ensure others). */
  restarted?: () => Promise<void>;
}

interface Managed {
  spec: ProcessSpec;
  pid: number;
  restarts: number;
  /** When the process may be started again after dying (backoff). */
  notBefore: number;
  failures: number;
}

const STOP_TIMEOUT_MS = 1000;
const READY_TIMEOUT_MS = 10_000;

export const pidFile = (dir: string): string => join(dir, 'process.pid');

/** The PID in `dir`'s pid file, when that process runs and its argv names `dir`. */
export async function runningIn(dir: string): Promise<number | undefined> {
  const pid = Number((await readFile(pidFile(dir), 'utf8').catch(() => '')).trim());
  if (!Number.isInteger(pid) || !isAlive(pid)) return undefined;
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
  return argv.some((a) => a.includes(`${dir}/`)) ? pid : undefined;
}

/** SIGTERM, then SIGKILL; only for a PID known to be ours. */
async function stopPid(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const until = Date.now() + STOP_TIMEOUT_MS;
  while (isAlive(pid) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

/** Stops the process of `dir`, if one runs. */
export async function stopIn(dir: string): Promise<void> {
  const pid = await runningIn(dir);
  if (pid !== undefined) await stopPid(pid);
  await rm(pidFile(dir), { force: true });
}

export class Supervisor {
  private readonly procs = new Map<string, Managed>();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /**
   * ensure, stop and the periodic check run one at a time: interleaved, the reconciler and the
   * check could each find a daemon dead and each start one (seen under load: two restarts for
   * one kill, the second daemon failing to bind).
   */
  private readonly lock = new Mutex();

  constructor(private readonly log: Logger) {}

  /** Checks every `intervalMs` and restarts what died, with backoff, until stopAll(). */
  start(intervalMs = 250): void {
    this.timer = setInterval(() => {
      if (this.busy) return;
      this.busy = true;
      this.serial(() => this.check())
        .then(async (restarted) => {
          for (const spec of restarted) await spec.restarted?.();
        })
        .catch((e: unknown) => this.log.error({ err: e }, 'supervising daemons failed; retrying'))
        .finally(() => (this.busy = false));
    }, intervalMs);
    this.timer.unref();
  }

  /**
   * Makes the process of `spec.dir` run with `spec.argv`: adopts one that already runs (an agent
   * before us started it) unless `restart`, e.g. because its config changed.
   */
  ensure(spec: ProcessSpec, restart: boolean): Promise<number> {
    return this.serial(() => this.ensureNow(spec, restart));
  }

  private async ensureNow(spec: ProcessSpec, restart: boolean): Promise<number> {
    const m = this.procs.get(spec.dir);
    if (m && !restart && isAlive(m.pid)) {
      m.spec = spec;
      return m.pid;
    }
    const running = await runningIn(spec.dir);
    if (running !== undefined && !restart && (!m || m.pid === running)) {
      if (!m) this.log.info({ daemon: spec.key, pid: running }, 'adopted a running daemon');
      this.procs.set(spec.dir, { spec, pid: running, restarts: m?.restarts ?? 0, notBefore: 0, failures: m?.failures ?? 0 });
      return running;
    }
    const died = m !== undefined && !isAlive(m.pid);
    if (m && !died) await stopPid(m.pid);
    if (running !== undefined) await stopIn(spec.dir);
    const pid = await this.spawn(spec);
    // A daemon found dead here was restarted, as much as one the check found.
    this.procs.set(spec.dir, { spec, pid, restarts: (m?.restarts ?? 0) + (died ? 1 : 0), notBefore: 0, failures: m?.failures ?? 0 });
    return pid;
  }

  /** PID (0 = not running) and restarts since the agent started. */
  async info(dir: string): Promise<{ pid: number; restarts: number }> {
    const m = this.procs.get(dir);
    return { pid: m && isAlive(m.pid) ? m.pid : 0, restarts: m?.restarts ?? 0 };
  }

  managed(): string[] {
    return [...this.procs.keys()];
  }

  stop(dir: string): Promise<void> {
    return this.serial(async () => {
      const m = this.procs.get(dir);
      this.procs.delete(dir);
      if (m && isAlive(m.pid)) await stopPid(m.pid);
      await stopIn(dir);
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.lock.run(fn);
  }

  /** Stops every process this agent supervises (agent shutdown). */
  async stopAll(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await Promise.all([...this.procs.keys()].map((dir) => this.stop(dir)));
  }

  /** Restarts what died; returns the specs of those restarted. */
  private async check(): Promise<ProcessSpec[]> {
    const restarted: ProcessSpec[] = [];
    const now = Date.now();
    for (const m of [...this.procs.values()]) {
      // Our own PID, spawned or adopted: its command line is not checked, as a child that has not
      // exec'd yet still shows the agent's.
      if (isAlive(m.pid)) continue;
      if (!this.procs.has(m.spec.dir) || now < m.notBefore) continue;
      m.failures += 1;
      // 0.25 s doubling to 30 s: a daemon that cannot start does not spin.
      m.notBefore = now + Math.min(30_000, 250 * 2 ** Math.min(m.failures, 7));
      this.log.warn({ daemon: m.spec.key, pid: m.pid }, 'daemon died; restarting');
      try {
        m.pid = await this.spawn(m.spec);
        m.restarts += 1;
        restarted.push(m.spec);
      } catch (e) {
        this.log.error({ daemon: m.spec.key, err: e }, 'restarting a daemon failed');
      }
    }
    return restarted;
  }

  private async spawn(spec: ProcessSpec): Promise<number> {
    await mkdir(spec.dir, { recursive: true, mode: 0o755 });
    await spec.prepare?.();
    const log = await open(join(spec.dir, 'process.log'), 'a');
    let pid: number;
    let exited: string | undefined;
    try {
      const child = spawnInNetns(spec.netns, spec.argv, log.fd);
      child.on('error', (e) => {
        exited = e.message;
        this.log.error({ daemon: spec.key, err: e }, 'daemon could not run');
      });
      child.once('exit', (code, signal) => (exited = `exited with ${signal ?? code}`));
      child.unref();
      if (child.pid === undefined) throw new Error(`${spec.key}: ${spec.argv[0]} did not start`);
      pid = child.pid;
      await writeFile(pidFile(spec.dir), `${pid}\n`);
    } finally {
      await log.close();
    }
    if (spec.ready) await this.waitReady(spec, pid, () => exited);
    this.log.info({ daemon: spec.key, pid }, 'daemon started');
    return pid;
  }

  /** Until `spec.ready` holds; a process that exits or is not ready in time fails the start, with its log's last lines. */
  private async waitReady(spec: ProcessSpec, pid: number, exited: () => string | undefined): Promise<void> {
    const until = Date.now() + READY_TIMEOUT_MS;
    while (!(await spec.ready!())) {
      const why = exited() ?? (Date.now() > until ? `not ready after ${READY_TIMEOUT_MS} ms` : undefined);
      if (why !== undefined) {
        if (isAlive(pid)) await stopPid(pid);
        const tail = (await readFile(join(spec.dir, 'process.log'), 'utf8').catch(() => '')).trim().split('\n').slice(-3).join(' | ');
        throw new Error(`${spec.key} ${why}${tail ? `: ${tail}` : ''}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
