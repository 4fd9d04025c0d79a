// Our 3-replica volume against the peers a user would weigh it with, all in one run, on the same
// filesystem (the lab's folder), with fio as every side's client:
//
//   ours        the leader's NBD socket (fio's nbd engine); `ours-follower`: a follower's
//   ceph-nbd    Ceph RBD, 3 replicas (bench/common/ceph.ts), through qemu-nbd --cache=none
//   ceph-rbd    the same image through fio's rbd engine (librbd, Ceph's native client)
//   disk        a file on the same filesystem, O_DIRECT|O_DSYNC: what the disk does durably
//   nbdkit      `nbdkit file` (page cache, no replication): the read baseline
//
//   npm run build && npx tsc -p bench/sbs/tsconfig.json && node bench/sbs/.build/bench/sbs/volume-vs-peers.js [runs=3] [size-mib=256] [seconds=5]
//
// Per workload: a warm-up of every side, then `runs` repetitions with the order of the sides
// rotating; medians, every sample, and ratios from those medians. Around each 4 KiB QD16 write
// run, the CPU time (/proc/PID/stat, all threads) of the processes of that side is divided by the
// writes fio completed. Ceph acknowledges a write once all three replicas have it; ours once two
// of three fsynced it (a raft majority).

import { mkdir } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';

import { VolumeClient } from '../../agent/sbs/volume/client.js';
import { readTls } from '../../lib/agent-client.js';
import { startCeph, type CephCluster } from '../common/ceph.js';
import { cpuTicks, TICK_US } from '../common/cpu.js';
import { waitFor, withLab, type BenchLab } from '../common/lab.js';
import { median, samples } from '../common/stats.js';
import { arg, MiB, startNbdkit } from './clients.js';

const RUNS = arg(0, 'runs', 3);
const SIZE = arg(1, 'size-mib', 256) * MiB;
const SECONDS = arg(2, 'seconds', 5);

type Side = 'ours' | 'ours-follower' | 'ceph-nbd' | 'ceph-rbd' | 'disk' | 'nbdkit';

interface FioResult {
  iops: number;
  mibps: number;
  p50us: number;
  p99us: number;
  ios: number;
  /** fio's own CPU (the client), µs. */
  clientUs: number;
}

interface Workload {
  readonly name: string;
  readonly short: string;
  readonly dir: 'read' | 'write';
  readonly job: string[];
  readonly sides: readonly Side[];
  /** Which figure is compared. */
  readonly figure: 'iops' | 'mibps' | 'p50us';
}

const TIMED = ['--time_based', `--runtime=${SECONDS}`, '--ramp_time=1', '--randrepeat=0', '--norandommap'];
const WORKLOADS: readonly Workload[] = [
  {
    name: '4 KiB random writes QD16',
    short: 'randwrite-4k-qd16',
    dir: 'write',
    job: ['--rw=randwrite', '--bs=4k', '--iodepth=16'],
    sides: ['ours', 'ours-follower', 'ceph-nbd', 'ceph-rbd', 'disk'],
    figure: 'iops',
  },
  {
    name: '4 KiB random writes QD1, latency',
    short: 'write-4k-qd1-p50',
    dir: 'write',
    job: ['--rw=randwrite', '--bs=4k', '--iodepth=1'],
    sides: ['ours', 'ceph-nbd', 'ceph-rbd', 'disk'],
    figure: 'p50us',
  },
  {
    name: '1 MiB sequential writes QD4',
    short: 'seqwrite-1M-qd4',
    dir: 'write',
    job: ['--rw=write', '--bs=1M', '--iodepth=4'],
    sides: ['ours', 'ceph-nbd', 'ceph-rbd', 'disk'],
    figure: 'mibps',
  },
  {
    name: '1 MiB sequential reads QD4',
    short: 'seqread-1M-qd4',
    dir: 'read',
    job: ['--rw=read', '--bs=1M', '--iodepth=4'],
    sides: ['ours', 'nbdkit', 'ceph-nbd', 'ceph-rbd'],
    figure: 'mibps',
  },
];

interface Env {
  b: BenchLab;
  ceph: CephCluster;
  /** The sides reached over NBD, by their URI. */
  nbd: Map<Side, string>;
  diskFile: string;
  /** Processes whose CPU is counted per write, by side. */
  pids: Map<Side, Map<string, number>>;
}

function parse(stdout: string, dir: 'read' | 'write'): FioResult {
  const job = (
    JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
      jobs: (Record<'read' | 'write', { iops: number; bw: number; total_ios: number; clat_ns: { percentile?: Record<string, number> } }> & {
        usr_cpu: number;
        sys_cpu: number;
        job_runtime: number;
      })[];
    }
  ).jobs[0]!;
  const d = job[dir];
  const pct = d.clat_ns.percentile ?? {};
  return {
    iops: d.iops,
    mibps: d.bw / 1024,
    p50us: (pct['50.000000'] ?? 0) / 1000,
    p99us: (pct['99.000000'] ?? 0) / 1000,
    ios: d.total_ios,
    clientUs: ((job.usr_cpu + job.sys_cpu) / 100) * job.job_runtime * 1000,
  };
}

/** One fio job against a side; argv only. */
async function fio(env: Env, side: Side, job: string[], dir: 'read' | 'write'): Promise<FioResult> {
  const common = ['--name=bench', '--output-format=json', `--size=${SIZE}`, ...job];
  const uri = env.nbd.get(side);
  let out: { stdout: string };
  if (uri !== undefined) out = await env.b.run('fio', [...common, '--ioengine=nbd', `--uri=${uri}`], 600_000);
  else if (side === 'ceph-rbd') out = await env.b.exec(env.ceph.ns, ['env', `CEPH_CONF=${env.ceph.conf}`, 'fio', ...common, ...env.ceph.fioRbd], 600_000);
  else {
    // The disk, durable like the others: every write is on the disk when it completes.
    const engine = job.includes('--iodepth=1') ? '--ioengine=psync' : '--ioengine=libaio';
    out = await env.b.run('fio', [...common, engine, '--direct=1', '--sync=dsync', `--filename=${env.diskFile}`], 600_000);
  }
  return parse(out.stdout, dir);
}

/** µs of CPU per write of each counted process over `run`. */
async function cpuPerWrite(pids: Map<string, number>, run: () => Promise<FioResult>): Promise<{ r: FioResult; cpu: Map<string, number> }> {
  const ticks = async () => new Map(await Promise.all([...pids].map(async ([n, pid]) => [n, await cpuTicks(pid)] as const)));
  const before = await ticks();
  const r = await run();
  const after = await ticks();
  const cpu = new Map<string, number>();
  for (const [n, a] of after) {
    const b = before.get(n)!;
    cpu.set(n, ((a.user + a.system - b.user - b.system) * TICK_US) / Math.max(1, r.ios));
  }
  return { r, cpu };
}

const fmt = (x: number) => (x >= 100 ? x.toFixed(0) : x.toFixed(2));

async function measure(env: Env): Promise<void> {
  const ratios: string[] = [];
  for (const w of WORKLOADS) {
    const results = new Map<Side, FioResult[]>(w.sides.map((s) => [s, []]));
    const cpu = new Map<string, number[]>();
    const once = async (side: Side, keep: boolean): Promise<void> => {
      const counted = w.short === 'randwrite-4k-qd16' ? env.pids.get(side) : undefined;
      const { r, cpu: c } = await cpuPerWrite(counted ?? new Map<string, number>(), () => fio(env, side, [...w.job, ...TIMED], w.dir));
      if (!keep) return;
      results.get(side)!.push(r);
      for (const [n, us] of c) cpu.set(`${side} ${n}`, [...(cpu.get(`${side} ${n}`) ?? []), us]);
      if (counted) cpu.set(`${side} client (fio)`, [...(cpu.get(`${side} client (fio)`) ?? []), r.clientUs / Math.max(1, r.ios)]);
    };
    for (const side of w.sides) await once(side, false);
    for (let i = 0; i < RUNS; i++) {
      const order = [...w.sides.slice(i % w.sides.length), ...w.sides.slice(0, i % w.sides.length)];
      for (const side of order) await once(side, true);
    }
    const med = (side: Side, f: keyof FioResult) => median(results.get(side)!.map((r) => r[f]));
    console.log(`\n${w.name} (${w.figure === 'iops' ? 'IOPS' : w.figure === 'mibps' ? 'MiB/s' : 'µs'}; p50/p99 completion latency in µs)`);
    for (const side of w.sides) {
      const rs = results.get(side)!;
      console.log(
        `  ${side.padEnd(14)} ${fmt(med(side, w.figure)).padStart(8)}  ${samples(
          rs.map((r) => r[w.figure]),
          0,
        )}  p50 ${fmt(med(side, 'p50us'))} p99 ${fmt(med(side, 'p99us'))}`,
      );
    }
    for (const [n, xs] of cpu) console.log(`  CPU per write, ${n}: ${median(xs).toFixed(0)} µs ${samples(xs, 0)}`);
    const ratio = (a: Side, b: Side) => {
      if (!w.sides.includes(a) || !w.sides.includes(b)) return;
      const line = `ratio ${a}/${b} ${w.short}: ${(med(a, w.figure) / med(b, w.figure)).toFixed(2)}`;
      console.log(`  ${line}`);
      ratios.push(line);
    };
    ratio('ours', 'ceph-nbd');
    ratio('ours', 'ceph-rbd');
    ratio('ours', 'disk');
    ratio('ours-follower', 'ours');
    ratio('ours', 'nbdkit');
    if (w.short === 'randwrite-4k-qd16') {
      const sum = (side: Side, names: string[]) => names.reduce((a, n) => a + median(cpu.get(`${side} ${n}`) ?? [0]), 0);
      const agents = sum('ours', ['leader', 'follower 1', 'follower 2']);
      const osds = sum('ceph-rbd', ['osd.0', 'osd.1', 'osd.2']);
      const line = `cpu per write: ours 3 agents ${agents.toFixed(0)} µs, ceph 3 OSDs (rbd) ${osds.toFixed(0)} µs`;
      console.log(`  ${line}`);
      ratios.push(line);
    }
  }
  console.log('\nsummary');
  for (const l of ratios) console.log(`  ${l}`);
  console.log(
    `load average at end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
}

async function main(): Promise<void> {
  await withLab('s', { hosts: 3, roles: () => ['storage'] }, async (b) => {
    const peers = join(b.lab.dir, 'peers');
    await mkdir(peers, { recursive: true });
    const ceph = await startCeph(b, SIZE);
    const client = new VolumeClient(b.lab.hosts[0]!.endpoint, await readTls(b.lab.tls));
    const nbdkitFile = join(peers, 'nbdkit.img');
    await b.run('truncate', ['-s', String(SIZE), nbdkitFile], 10_000);
    const nbdkitSock = join(peers, 'nbdkit.sock');
    const nbdkit = await startNbdkit(nbdkitFile, join(peers, 'nbdkit.pid'), ['-U', nbdkitSock]);
    try {
      const hosts = b.lab.hosts.map((h) => ({ name: h.name, endpoint: `${h.underlayAddress}:7443` }));
      await client.volumes.createVolume({ id: 'bench', sizeBytes: SIZE, replicas: 3, hosts, tenant: '' });
      const leader = await waitFor(
        'the bench volume to elect a leader',
        30_000,
        async () => (await client.volumes.getVolume({ id: 'bench' })).leader || undefined,
      );
      const followers = b.lab.hosts.filter((h) => h.name !== leader);
      const sock = (host: string) => `nbd+unix:///bench?socket=${join(b.lab.dir, host, 'nbd.sock')}`;
      const env: Env = {
        b,
        ceph,
        nbd: new Map([
          ['ours', sock(leader)],
          ['ours-follower', sock(followers[0]!.name)],
          ['nbdkit', `nbd+unix:///?socket=${nbdkitSock}`],
          ['ceph-nbd', ceph.nbdUri],
        ]),
        diskFile: join(peers, 'disk.img'),
        pids: new Map(),
      };
      const agents = new Map([
        ['leader', b.lab.hosts.find((h) => h.name === leader)!.pid],
        ['follower 1', followers[0]!.pid],
        ['follower 2', followers[1]!.pid],
      ]);
      const osds = new Map([...ceph.pids].filter(([n]) => n.startsWith('osd.') || n === 'mon.a' || n === 'mgr.x'));
      env.pids.set('ours', agents).set('ours-follower', agents);
      env.pids.set('ceph-rbd', osds).set('ceph-nbd', new Map([...osds, ['qemu-nbd', ceph.pids.get('qemu-nbd')!]]));

      // Every side filled once, so that reads read data and writes overwrite it.
      const fill = ['--rw=write', '--bs=1M', '--iodepth=4'];
      for (const side of ['ours', 'ceph-rbd', 'nbdkit', 'disk'] as const) await fio(env, side, fill, 'write');
      console.log(
        `volume vs peers: ${SIZE / MiB} MiB each, ${RUNS} runs of ${SECONDS} s per side (median), fio ${(await b.run('fio', ['--version'], 10_000)).stdout.trim()}; ours through the leader (${leader}) and a follower (${followers[0]!.name}); ${ceph.version}; ${cpus().length} CPUs, load average at start ${loadavg()
          .map((l) => l.toFixed(1))
          .join(' ')}`,
      );
      await measure(env);
    } finally {
      client.close();
      nbdkit.kill('SIGTERM');
    }
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
