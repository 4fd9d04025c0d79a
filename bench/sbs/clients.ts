// What the storage benches share: their arguments, the NBD clients they run (argv only, bounded
// in time), the nbdsh script for 4 KiB random writes at queue depth 16, and the comparison loop.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';

import { median, samples } from '../common/stats.js';

export const MiB = 1024 * 1024;

/** Positional argument `index` (after the script's path) as a positive integer. */
export function arg(index: number, name: string, fallback: number): number {
  const raw = process.argv[2 + index];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer`);
  return value;
}

// nbdsh is `python3 -m nbd`; the binding lives in the system Python, which a pyenv shim may hide.
const ENV = { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}` };

export function exec(file: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: 900_000, killSignal: 'SIGKILL', env: { ...ENV, ...env }, maxBuffer: 1 << 26 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export interface Workload {
  readonly name: string;
  /** Label on the ratio line, which bench/run-all.sh gathers. */
  readonly short: string;
  readonly unit: string;
  /** Returns the figure for one run against `uri`. */
  run(uri: string): Promise<number>;
}

/**
 * `nbdkit file` serving `file`, listening as `listen` says (`-U SOCKET`, or `-i ADDR -p PORT`);
 * resolves once it listens (it writes `pidfile` then). It dies with this process.
 */
export async function startNbdkit(file: string, pidfile: string, listen: string[]): Promise<ChildProcess> {
  const child = spawn('nbdkit', ['-f', '--exit-with-parent', ...listen, '-P', pidfile, 'file', `file=${file}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let waited = 0; !existsSync(pidfile); waited += 50) {
    if (waited > 10_000 || child.exitCode !== null) throw new Error('nbdkit did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

/** Seconds `fn` takes. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

/** nbdsh script: IOS random 4 KiB writes, 16 in flight; prints the seconds they took. */
export const RANDOM_WRITES = `
import os, random, time
h.connect_uri(os.environ['NBD_URI'])
n = int(os.environ['IOS'])
blocks = h.get_size() // 4096
buf = nbd.Buffer.from_bytearray(bytearray(os.urandom(4096)))
rnd = random.Random(1)
issued = 0
start = time.monotonic()
while issued < n or h.aio_in_flight() > 0:
    while issued < n and h.aio_in_flight() < 16:
        h.aio_pwrite(buf, rnd.randrange(blocks) * 4096, completion=lambda *a: 1)
        issued += 1
    h.poll(-1)
print(time.monotonic() - start)
h.shutdown()
`;

/**
 * Per workload: one warm-up on each side, then `runs` interleaved repetitions (the order reverses
 * every other one); prints the medians, every sample and the ratio ours/nbdkit.
 */
export async function compare(workloads: readonly Workload[], ours: string, nbdkit: string, runs: number): Promise<void> {
  for (const w of workloads) {
    const results = { ours: [] as number[], nbdkit: [] as number[] };
    const once = (side: 'ours' | 'nbdkit'): Promise<number> => w.run(side === 'ours' ? ours : nbdkit);
    await once('ours');
    await once('nbdkit');
    for (let i = 0; i < runs; i++) {
      const order = i % 2 ? (['nbdkit', 'ours'] as const) : (['ours', 'nbdkit'] as const);
      for (const side of order) results[side].push(await once(side));
    }
    const a = median(results.ours);
    const b = median(results.nbdkit);
    console.log(`${w.name}, ${w.unit}`);
    console.log(`  ours   : median ${a.toFixed(0)}  ${samples(results.ours, 0)}`);
    console.log(`  nbdkit : median ${b.toFixed(0)}  ${samples(results.nbdkit, 0)}`);
    console.log(`  ratio ours/nbdkit ${w.short}: ${(a / b).toFixed(2)}`);
  }
  console.log(
    `load average at end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
}
