// Labs for tests: a unique name per test file and run (vt<pid>x<random>), a sweep of what dead
// runs left behind, and teardown that runs even when a test fails. Commands run on a host or in a
// NIC's namespace whether the host is a namespace here or a VM (lab/vm). With VXCLOUD_LAB naming
// a lab file, a test runs against that lab — VM hosts, or real hosts listed in one — instead of
// building its own, and leaves it up.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { labDown, labUp, type LabOptions } from '../../lab/lab.js';
import { LAB_ROOT, readLabFile, type LabFile, type LabHost } from '../../lab/labfile.js';
import { helperExec } from '../../lab/vm/helper.js';
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
  /** Runs argv inside a namespace of this machine or of a VM host; never a shell. */
  exec(ns: string, argv: string[], timeoutMs?: number): Promise<Output>;
  /** Runs argv on a host: in its namespace, or in its VM. */
  onHost(host: string, argv: string[], timeoutMs?: number): Promise<Output>;
  down(): Promise<void>;
}

interface Output {
  stdout: string;
  stderr: string;
}

/** argv in a VM host, through its helper; rejects unless it exits 0, as execFile does. */
async function inVm(h: LabHost, argv: string[], timeoutMs: number): Promise<Output> {
  const r = await helperExec({ port: h.vm!.helperPort }, argv, timeoutMs);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} on ${h.name}: exit ${r.code}: ${r.stderr.trim()}`);
  return { stdout: r.stdout, stderr: r.stderr };
}

export async function startLab(opts: Omit<LabOptions, 'name'>): Promise<TestLab> {
  const given = process.env.VXCLOUD_LAB;
  let lab: LabFile;
  if (given) lab = await readLabFile(given);
  else {
    await sweepDeadLabs();
    const name = `vt${process.pid}x${randomBytes(2).toString('hex')}`;
    try {
      lab = await labUp({ ...opts, name });
    } catch (e) {
      await labDown(name);
      throw e;
    }
  }
  const tls = await readTls(lab.tls);
  const clients = new Map(lab.hosts.map((h) => [h.name, new AgentClient(h.endpoint, tls)]));
  const host = (name: string): LabHost => {
    const h = lab.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name} in lab ${lab.name}`);
    return h;
  };
  const inNetns = (ns: string, argv: string[], timeoutMs: number): Promise<Output> => run('ip', ['netns', 'exec', ns, ...argv], { timeout: timeoutMs });
  return {
    lab,
    clients,
    client: (name) => clients.get(name)!,
    async exec(ns, argv, timeoutMs = 20_000) {
      if (!existsSync(`/run/netns/${ns}`)) {
        for (const h of lab.hosts.filter((x) => x.vm)) {
          if ((await helperExec({ port: h.vm!.helperPort }, ['/bb/test', '-e', `/run/netns/${ns}`])).code === 0)
            return inVm(h, ['ip', 'netns', 'exec', ns, ...argv], timeoutMs);
        }
      }
      return inNetns(ns, argv, timeoutMs);
    },
    onHost(name, argv, timeoutMs = 20_000) {
      const h = host(name);
      if (h.vm) return inVm(h, argv, timeoutMs);
      if (!h.namespace) return Promise.reject(new Error(`${name} is neither a namespace nor a VM host here: the test cannot run ${argv[0]} on it`));
      return inNetns(h.namespace, argv, timeoutMs);
    },
    async down() {
      for (const c of clients.values()) c.close();
      if (!given) await labDown(lab.name);
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
  const { stdout } = await t.onHost(host, ['ip', '-j', 'link', 'show']);
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
