// Namespaces for one test file: a run-unique prefix (vxt-<pid>-<random>), a sweep of leftovers
// from runs whose process is gone, and removal of everything at the end even on failure.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { promisify } from 'node:util';

const exec = promisify(execFile);

const FAMILY = 'vxt-';

/** argv only, bounded in time; returns stdout. */
export async function run(argv: string[], timeoutMs = 10_000): Promise<string> {
  const [cmd, ...args] = argv;
  const { stdout } = await exec(cmd!, args, { timeout: timeoutMs, maxBuffer: 64 << 20 });
  return stdout;
}

export async function runInNs(ns: string, argv: string[], timeoutMs = 10_000): Promise<string> {
  return run(['ip', 'netns', 'exec', ns, ...argv], timeoutMs);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes vxt-<pid>-* namespaces whose run (pid) has ended. */
export async function sweepLeftovers(): Promise<void> {
  let names: string[] = [];
  try {
    names = fs.readdirSync('/run/netns');
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^vxt-(\d+)-/.exec(name);
    if (m && !alive(Number(m[1]))) await run(['ip', 'netns', 'del', name]).catch(() => undefined);
  }
}

export class Lab {
  readonly prefix = `${FAMILY}${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly made: string[] = [];

  /** Creates namespace `<prefix>-<tag>` with lo up and returns its name. */
  async netns(tag: string): Promise<string> {
    const name = `${this.prefix}-${tag}`;
    await run(['ip', 'netns', 'add', name]);
    this.made.push(name);
    await runInNs(name, ['ip', 'link', 'set', 'lo', 'up']);
    return name;
  }

  /** A name for a namespace that the code under test will create itself. */
  nsName(tag: string): string {
    const name = `${this.prefix}-${tag}`;
    this.made.push(name);
    return name;
  }

  async cleanup(): Promise<void> {
    for (const name of this.made.splice(0).reverse()) {
      if (fs.existsSync(`/run/netns/${name}`)) await run(['ip', 'netns', 'del', name]).catch(() => undefined);
    }
  }
}
