// A 3-replica raft volume served by the agents of a lab of storage hosts, against `nbdkit file`
// (one node, no replication) on the same machine, through the same clients over unix sockets.
//
//   npm run build && npx tsc -p bench/sbs/tsconfig.json && node bench/sbs/.build/bench/sbs/volume-vs-nbdkit.js [runs=3] [size-mib=256] [ios=20000]
//
// Our side is the leader's export (a follower forwards writes to it: one more hop). Every write
// we acknowledge is fsynced on two of three hosts; nbdkit acknowledges from the page cache, so
// the write ratios price replication and durability together. Ratios are ours/nbdkit: above 1
// is better for IOPS and MiB/s, below 1 is better for latency.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, rm, truncate, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import { VolumeClient } from '../../agent/sbs/volume/client.js';
import { readTls } from '../../lib/agent-client.js';
import { withLab } from '../common/lab.js';
import { arg, compare, exec, MiB, RANDOM_WRITES, timed, type Workload } from './clients.js';

const RUNS = arg(0, 'runs', 3);
const SIZE = arg(1, 'size-mib', 256) * MiB;
// nbdkit finishes a few thousand writes in tens of milliseconds: fewer make its figure noise.
const IOS = arg(2, 'ios', 20_000);

// One 4 KiB write at a time; prints each one's latency in microseconds.
const WRITE_LATENCY = `
import os, random, time
h.connect_uri(os.environ['NBD_URI'])
n = int(os.environ['IOS'])
blocks = h.get_size() // 4096
buf = os.urandom(4096)
rnd = random.Random(2)
out = []
for _ in range(n):
    t = time.monotonic()
    h.pwrite(buf, rnd.randrange(blocks) * 4096)
    out.append(int((time.monotonic() - t) * 1e6))
print(' '.join(map(str, out)))
h.shutdown()
`;

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function workloads(source: string): Workload[] {
  const latencies = async (uri: string): Promise<number[]> =>
    (await exec('nbdsh', ['-c', WRITE_LATENCY], { NBD_URI: uri, IOS: String(Math.min(IOS, 2000)) })).trim().split(' ').map(Number);
  return [
    {
      name: '4 KiB random writes, QD16 (nbdsh aio)',
      short: 'vol-randwrite-4KiB-qd16',
      unit: 'IOPS',
      run: async (uri) => IOS / Number((await exec('nbdsh', ['-c', RANDOM_WRITES], { NBD_URI: uri, IOS: String(IOS) })).trim()),
    },
    {
      name: 'sequential write, 1 MiB requests (nbdcopy)',
      short: 'vol-seq-write-1MiB',
      unit: 'MiB/s',
      run: async (uri) => SIZE / MiB / (await timed(() => exec('nbdcopy', ['--request-size=1048576', source, uri]))),
    },
    {
      name: 'sequential read, 1 MiB requests (nbdcopy)',
      short: 'vol-seq-read-1MiB',
      unit: 'MiB/s',
      run: async (uri) => SIZE / MiB / (await timed(() => exec('nbdcopy', ['--request-size=1048576', uri, 'null:']))),
    },
    { name: '4 KiB write latency QD1, p50 (nbdsh)', short: 'vol-write-p50', unit: 'µs', run: async (uri) => percentile(await latencies(uri), 50) },
    { name: '4 KiB write latency QD1, p99 (nbdsh)', short: 'vol-write-p99', unit: 'µs', run: async (uri) => percentile(await latencies(uri), 99) },
  ];
}

async function startNbdkit(file: string, socket: string, pidfile: string): Promise<ChildProcess> {
  const child = spawn('nbdkit', ['-f', '--exit-with-parent', '-U', socket, '-P', pidfile, 'file', `file=${file}`], { stdio: ['ignore', 'inherit', 'inherit'] });
  for (let waited = 0; !existsSync(pidfile); waited += 50) {
    if (waited > 10_000 || child.exitCode !== null) throw new Error('nbdkit did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return child;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'vxcloud-vol-bench-'));
  let nbdkit: ChildProcess | undefined;
  try {
    const source = join(dir, 'source.img');
    const fh = await open(source, 'w');
    const chunk = Buffer.alloc(MiB);
    for (let at = 0; at < SIZE; at += MiB) await fh.write(randomFillSync(chunk), 0, MiB, at);
    await fh.close();
    const theirsFile = join(dir, 'nbdkit.img');
    await writeFile(theirsFile, '');
    await truncate(theirsFile, SIZE);
    const theirs = `nbd+unix:///?socket=${join(dir, 'nbdkit.sock')}`;
    nbdkit = await startNbdkit(theirsFile, join(dir, 'nbdkit.sock'), join(dir, 'nbdkit.pid'));

    await withLab('v', { hosts: 3, roles: () => ['storage'] }, async (b) => {
      const h1 = b.lab.hosts[0]!;
      const client = new VolumeClient(h1.endpoint, await readTls(b.lab.tls));
      try {
        const hosts = b.lab.hosts.map((h) => ({ name: h.name, endpoint: `${h.underlayAddress}:7443` }));
        await client.volumes.createVolume({ id: 'bench', sizeBytes: SIZE, replicas: 3, hosts, tenant: '' });
        let leader = '';
        for (const until = Date.now() + 30_000; leader === '' && Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
          leader = (await client.volumes.getVolume({ id: 'bench' })).leader;
        }
        if (leader === '') throw new Error('the bench volume elected no leader in 30 s');
        const ours = `nbd+unix:///bench?socket=${join(b.lab.dir, leader, 'nbd.sock')}`;
        const version = (await exec('nbdkit', ['--version'])).trim();
        console.log(
          `3-replica volume bench: ${SIZE / MiB} MiB volume, ${RUNS} runs each (median), ${IOS} small I/Os per run; ours through the leader (${leader}); baseline ${version}, both on unix sockets`,
        );
        console.log(
          `${cpus().length} CPUs, load average at start ${loadavg()
            .map((l) => l.toFixed(1))
            .join(' ')}`,
        );
        await compare(workloads(source), ours, theirs, RUNS);
      } finally {
        client.close();
      }
    });
  } finally {
    nbdkit?.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
