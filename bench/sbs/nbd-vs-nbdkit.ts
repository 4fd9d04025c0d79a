// Our NBD server (sparse-file backend) against `nbdkit file` on the same machine, same clients.
//
// A plain Node script (vitest bench hides console output and would time its own loop):
//   npx tsc -p bench/sbs/tsconfig.json && node bench/sbs/.build/bench/sbs/nbd-vs-nbdkit.js [runs=5] [size-mib=256] [ios=50000]
//
// Per workload: one warm-up each, then `runs` interleaved repetitions (the order of the servers
// reverses every other one); medians, every sample, and the ratio ours/nbdkit (a throughput or
// IOPS ratio, so above 1 means we are faster).
import type { ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import { SparseFileDevice } from '../../agent/sbs/backend/sparse-file.js';
import { arg, compare, exec, MiB, RANDOM_WRITES, startNbdkit, timed, type Workload } from './clients.js';
import { StaticExportResolver } from '../../agent/sbs/nbd/exports.js';
import { NbdServer } from '../../agent/sbs/nbd/server.js';

const RUNS = arg(0, 'runs', 5);
const SIZE = arg(1, 'size-mib', 256) * MiB;
const SMALL_IOS = arg(2, 'ios', 50_000);

/** qemu-img bench prints "Run completed in N seconds."; that excludes its connection setup. */
async function qemuBench(uri: string, write: boolean): Promise<number> {
  const args = ['bench', ...(write ? ['-w'] : []), '-t', 'none', '-s', '4096', '-c', String(SMALL_IOS), '-d', '16', '-f', 'raw', uri];
  const out = await exec('qemu-img', args);
  const m = /Run completed in ([\d.]+) seconds/.exec(out);
  if (!m?.[1]) throw new Error(`unexpected qemu-img bench output: ${out}`);
  return SMALL_IOS / Number(m[1]);
}

function workloads(source: string): Workload[] {
  return [
    {
      name: 'sequential write, 1 MiB requests (nbdcopy)',
      short: 'seq-write-1MiB',
      unit: 'MiB/s',
      run: async (uri) => SIZE / MiB / (await timed(() => exec('nbdcopy', ['--request-size=1048576', source, uri]))),
    },
    {
      name: 'sequential read, 1 MiB requests (nbdcopy)',
      short: 'seq-read-1MiB',
      unit: 'MiB/s',
      run: async (uri) => SIZE / MiB / (await timed(() => exec('nbdcopy', ['--request-size=1048576', uri, 'null:']))),
    },
    { name: '4 KiB writes, QD16 (qemu-img bench -w)', short: 'write-4KiB-qd16', unit: 'IOPS', run: (uri) => qemuBench(uri, true) },
    { name: '4 KiB reads, QD16 (qemu-img bench)', short: 'read-4KiB-qd16', unit: 'IOPS', run: (uri) => qemuBench(uri, false) },
    {
      name: '4 KiB random writes, QD16 (nbdsh aio)',
      short: 'randwrite-4KiB-qd16',
      unit: 'IOPS',
      run: async (uri) => SMALL_IOS / Number((await exec('nbdsh', ['-c', RANDOM_WRITES], { NBD_URI: uri, IOS: String(SMALL_IOS) })).trim()),
    },
  ];
}

async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vxcloud-nbd-bench-'));
  let server: NbdServer | undefined;
  let device: SparseFileDevice | undefined;
  let nbdkit: ChildProcess | undefined;
  try {
    const source = join(dir, 'source.img');
    const fh = await open(source, 'w');
    const chunk = Buffer.alloc(MiB);
    for (let at = 0; at < SIZE; at += MiB) await fh.write(randomFillSync(chunk), 0, MiB, at);
    await fh.close();

    device = await SparseFileDevice.open(join(dir, 'ours.img'), { size: SIZE });
    server = new NbdServer({ resolver: new StaticExportResolver([{ name: '', device }]) });
    const { port } = await server.listen(0, '127.0.0.1');
    const ours = `nbd://127.0.0.1:${port}/`;
    const theirsFile = join(dir, 'nbdkit.img');
    await writeFile(theirsFile, '');
    await truncate(theirsFile, SIZE);
    const theirsPort = await freePort();
    nbdkit = await startNbdkit(theirsFile, join(dir, 'nbdkit.pid'), ['-i', '127.0.0.1', '-p', String(theirsPort)]);

    const version = (await exec('nbdkit', ['--version'])).trim();
    console.log(`NBD server bench: ${SIZE / MiB} MiB export, ${RUNS} runs each (median), ${SMALL_IOS} small I/Os per run; baseline ${version}`);
    // Both servers share the machine with whatever else runs; the load shows how far to trust it.
    console.log(
      `${cpus().length} CPUs, load average at start ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    await compare(workloads(source), ours, `nbd://127.0.0.1:${theirsPort}/`, RUNS);
  } finally {
    nbdkit?.kill('SIGTERM');
    await server?.close();
    await device?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
