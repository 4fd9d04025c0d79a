// Labs for benches: a name unique to the run (vb<kind><pid>), a sweep of labs whose run died
// (with the daemons a bench ran from `<lab dir>/daemons/NAME/`, e.g. ceph.ts), and one teardown (child processes by their PIDs, then the lab and every namespace under its
// prefix) that runs on every way out, SIGINT/SIGTERM/SIGHUP included.
//
// The lab module is loaded from the project's build (dist/), not from the bench's own .build:
// lab.ts starts the agent that lies next to it (dist/agent/main.js), so a bench measures the
// agent that `npm run build` produced.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type * as LabModule from '../../lab/lab.js';
import { LAB_ROOT, type LabFile } from '../../lab/labfile.js';
import { AgentClient, readTls } from '../../lib/agent-client.js';
import { isAlive } from '../../lib/process.js';
import { stopIn } from '../../agent/process/supervisor.js';

const here = fileURLToPath(import.meta.url);
/** The repository: the directory above the bench whose .build holds this file. */
export const ROOT = here.slice(0, here.lastIndexOf('/bench/', here.indexOf('/.build/')));

const LAB_JS = join(ROOT, 'dist/lab/lab.js');
if (!existsSync(LAB_JS)) throw new Error(`${LAB_JS} is missing: run \`npm run build\` first`);
const lab = (await import(pathToFileURL(LAB_JS).href)) as typeof LabModule;

const BENCH_LAB = /^vb[a-z](\d+)$/;

/** The lab's bounded wait: `probe` until it returns a value (errors count as not yet). */
export const waitFor = lab.waitFor;

export interface Output {
  stdout: string;
  stderr: string;
}

/** execFile with a time bound; the child is tracked so that teardown can stop it. */
function execTracked(children: Set<ChildProcess>, file: string, argv: string[], timeoutMs: number): Promise<Output> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, argv, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      children.delete(child);
      if (err) reject(new Error(`${file} ${argv.join(' ')}: ${err.message}${stderr ? `\n${stderr.trim()}` : ''}`));
      else resolve({ stdout, stderr });
    });
    children.add(child);
  });
}

/** Removes labs of earlier bench runs whose process is gone (their names carry its PID). */
async function sweep(children: Set<ChildProcess>): Promise<void> {
  const names = new Set(await readdir(LAB_ROOT).catch((): string[] => []));
  const { stdout } = await execTracked(children, 'ip', ['netns', 'list'], 10_000);
  for (const line of stdout.split('\n')) names.add(line.split('-')[0]!);
  for (const name of names) {
    const m = BENCH_LAB.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    const daemons = join(LAB_ROOT, name, 'daemons');
    for (const d of await readdir(daemons).catch((): string[] => [])) await stopIn(join(daemons, d));
    await lab.labDown(name);
  }
}

export interface BenchLab {
  lab: LabFile;
  client(host: string): AgentClient;
  /** Runs argv in a namespace (`ip netns exec`, never a shell), bounded in time. */
  exec(ns: string, argv: string[], timeoutMs: number): Promise<Output>;
  /** Runs a program (argv, no shell) bounded in time, e.g. `bridge -n NS -batch FILE`. */
  run(file: string, argv: string[], timeoutMs: number): Promise<Output>;
  /** Starts a server in a namespace; `ip netns exec` execs in place, so its PID is the server's. */
  background(ns: string, argv: string[]): ChildProcess;
  /** Stops a background process by its PID if it still runs. */
  stop(child: ChildProcess): void;
  /** Restarts every agent, e.g. after a change of the underlay that agents read only at start. */
  restartAgents(): Promise<void>;
}

/**
 * Builds a lab named vb<kind><pid>, runs `body` on it and tears everything down, whether body
 * returns, throws or the process gets a termination signal.
 */
export async function withLab<T>(kind: string, opts: Omit<LabModule.LabOptions, 'name'>, body: (b: BenchLab) => Promise<T>): Promise<T> {
  if (!/^[a-z]$/.test(kind)) throw new Error(`bench lab kind "${kind}": one lower-case letter`);
  const name = `vb${kind}${process.pid}`;
  const children = new Set<ChildProcess>();
  const clients = new Map<string, AgentClient>();
  const stop = (c: ChildProcess): void => {
    if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
    children.delete(c);
  };

  let down: Promise<void> | undefined;
  const teardown = (): Promise<void> =>
    (down ??= (async () => {
      for (const c of [...children]) stop(c);
      for (const c of clients.values()) c.close();
      await lab.labDown(name);
    })());
  const onSignal = (sig: NodeJS.Signals): void => {
    process.stderr.write(`\n${sig}: removing lab ${name}\n`);
    void teardown().finally(() => process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGHUP' ? 1 : 15)));
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);

  try {
    await sweep(children);
    const l = await lab.labUp({ ...opts, name });
    const tls = await readTls(l.tls);
    for (const h of l.hosts) clients.set(h.name, new AgentClient(h.endpoint, tls));
    return await body({
      lab: l,
      client: (host) => {
        const c = clients.get(host);
        if (!c) throw new Error(`no host ${host} in lab ${name}`);
        return c;
      },
      exec: (ns, argv, timeoutMs) => execTracked(children, 'ip', ['netns', 'exec', ns, ...argv], timeoutMs),
      run: (file, argv, timeoutMs) => execTracked(children, file, argv, timeoutMs),
      background: (ns, argv) => {
        const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
        children.add(child);
        child.on('exit', () => children.delete(child));
        return child;
      },
      stop,
      restartAgents: async () => {
        for (const h of l.hosts) await lab.restartAgent(l, h.name);
      },
    });
  } finally {
    await teardown();
    for (const s of signals) process.off(s, onSignal);
  }
}
