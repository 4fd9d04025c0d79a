// What both storage benches share: their arguments, the NBD clients they run (argv only, bounded
// in time), and the nbdsh script for 4 KiB random writes at queue depth 16.

import { execFile } from 'node:child_process';
import { performance } from 'node:perf_hooks';

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
