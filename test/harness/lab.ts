// Labs for tests: a unique name per test file and run (vt<pid>x<random>), a sweep of what dead
// runs left behind, and teardown that runs even when a test fails.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { labDown, labUp, type LabOptions } from '../../lab/lab.js';
import { LAB_ROOT, type LabFile } from '../../lab/labfile.js';
import { AgentClient, readTls } from '../../lib/agent-client.js';

export const run = promisify(execFile);

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes labs of earlier test runs whose process is gone (their names carry its PID). */
export async function sweepDeadLabs(): Promise<void> {
  const names = new Set<string>();
  for (const n of await readdir(LAB_ROOT).catch(() => [])) names.add(n);
  const { stdout } = await run('ip', ['netns', 'list']);
  for (const line of stdout.split('\n')) {
    const m = /^(vt\d+x[0-9a-f]+)-/.exec(line);
    if (m) names.add(m[1]!);
  }
  for (const name of names) {
    const m = /^vt(\d+)x[0-9a-f]+$/.exec(name);
    if (m && !pidAlive(Number(m[1]))) await labDown(name);
  }
}

export interface TestLab {
  lab: LabFile;
  clients: Map<string, AgentClient>;
  client(host: string): AgentClient;
  /** Runs argv inside a namespace; never a shell. */
  exec(ns: string, argv: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }>;
  down(): Promise<void>;
}

export async function startLab(opts: Omit<LabOptions, 'name'>): Promise<TestLab> {
  await sweepDeadLabs();
  const name = `vt${process.pid}x${randomBytes(2).toString('hex')}`;
  let lab: LabFile;
  try {
    lab = await labUp({ ...opts, name });
  } catch (e) {
    await labDown(name);
    throw e;
  }
  const tls = await readTls(lab.tls);
  const clients = new Map(lab.hosts.map((h) => [h.name, new AgentClient(h.endpoint, tls)]));
  return {
    lab,
    clients,
    client: (host) => clients.get(host)!,
    exec: (ns, argv, timeoutMs = 20_000) => run('ip', ['netns', 'exec', ns, ...argv], { timeout: timeoutMs }),
    async down() {
      for (const c of clients.values()) c.close();
      await labDown(name);
    },
  };
}

/** Command lines of the processes still running that mention `dir` (a torn-down lab's: none). */
export async function processesUnder(dir: string): Promise<string[]> {
  const left: string[] = [];
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(dir)) left.push(cmd.replaceAll('\0', ' '));
  }
  return left;
}

/** Links of a host namespace, by name. */
export async function hostLinks(t: TestLab, host: string): Promise<string[]> {
  const ns = t.lab.hosts.find((h) => h.name === host)!.namespace;
  const { stdout } = await t.exec(ns, ['ip', '-j', 'link', 'show']);
  return (JSON.parse(stdout) as { ifname: string }[]).map((l) => l.ifname).sort();
}

export async function ping(t: TestLab, ns: string, ip: string, count = 2): Promise<boolean> {
  try {
    await t.exec(ns, ['ping', '-c', String(count), '-i', '0.2', '-W', '1', ip]);
    return true;
  } catch {
    return false;
  }
}
