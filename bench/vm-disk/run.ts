// fio inside a QEMU guest on a 3-replica vxcloud volume (QEMU's NBD client on a storage host's
// socket) against the same guest's disk on a raw file of the same filesystem (the lab's), in one
// run, as ratios. The guest runs under TCG, which makes both sides slow: the ratio is the figure.
//
//   npm run build && npx tsc -p bench/vm-disk/tsconfig.json && node bench/vm-disk/.build/bench/vm-disk/run.js [runs=3] [size-mib=128] [seconds=8]
//
// Per run, in alternating order: 1 MiB sequential writes (which also fill the disk, so that reads
// read data), 4 KiB random writes at QD16 and 1 MiB sequential reads at QD4, all O_DIRECT with
// libaio. The file side is `cache.direct=on` (QEMU's cache=none), the usual production setting.

import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VolumeClient } from '../../agent/sbs/volume/client.js';
import { readTls } from '../../lib/agent-client.js';
import { vmArtefacts } from '../../lab/vm/artefacts.js';
import { lockVms, runPrefix, sweepDeadRuns, Vm } from '../../test/harness/vm/qemu.js';
import { ROOT, withLab } from '../common/lab.js';
import { median, samples } from '../common/stats.js';

const arg = (i: number, fallback: number): number => (process.argv[2 + i] ? Number(process.argv[2 + i]) : fallback);
const RUNS = arg(0, 3);
const SIZE_MIB = arg(1, 128);
const SECONDS = arg(2, 8);
const MiB = 1024 * 1024;

interface Workload {
  name: string;
  unit: string;
  fio: string[];
  figure: (job: FioJob) => number;
}

interface FioJob {
  read: { iops: number; bw_bytes: number };
  write: { iops: number; bw_bytes: number };
}

const timed = ['--time_based', `--runtime=${SECONDS}`, '--ramp_time=1'];
const WORKLOADS: Workload[] = [
  {
    name: '1 MiB sequential write, QD4',
    unit: 'MiB/s',
    fio: ['--rw=write', '--bs=1M', '--iodepth=4', `--size=${SIZE_MIB}M`],
    figure: (j) => j.write.bw_bytes / MiB,
  },
  { name: '4 KiB random write, QD16', unit: 'IOPS', fio: ['--rw=randwrite', '--bs=4k', '--iodepth=16', ...timed], figure: (j) => j.write.iops },
  { name: '1 MiB sequential read, QD4', unit: 'MiB/s', fio: ['--rw=read', '--bs=1M', '--iodepth=4', ...timed], figure: (j) => j.read.bw_bytes / MiB },
];

async function fio(guest: Vm, dev: string, w: Workload): Promise<number> {
  const argv = ['fio', '--name=bench', `--filename=${dev}`, '--ioengine=libaio', '--direct=1', '--output-format=json', ...w.fio];
  const r = await guest.exec(argv, (SECONDS + 120) * 1000);
  if (r.code !== 0) throw new Error(`${argv.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return w.figure((JSON.parse(r.stdout) as { jobs: FioJob[] }).jobs[0]!);
}

async function main(): Promise<void> {
  const unlock = await lockVms();
  await sweepDeadRuns(tmpdir());
  const dir = await mkdtemp(join(tmpdir(), runPrefix()));
  let guest: Vm | undefined;
  try {
    const artefacts = await vmArtefacts();
    await writeFile(join(dir, 'guest.json'), JSON.stringify({ repo: ROOT, channel: 'vx' }));
    await withLab('d', { hosts: 3, roles: () => ['storage'] }, async (b) => {
      const client = new VolumeClient(b.lab.hosts[0]!.endpoint, await readTls(b.lab.tls));
      try {
        const hosts = b.lab.hosts.map((h) => ({ name: h.name, endpoint: `${h.underlayAddress}:7443` }));
        await client.volumes.createVolume({ id: 'disk', sizeBytes: SIZE_MIB * MiB, replicas: 3, hosts, tenant: '' });
        let leader = '';
        for (const until = Date.now() + 30_000; leader === '' && Date.now() < until; await new Promise((r) => setTimeout(r, 200))) {
          leader = (await client.volumes.getVolume({ id: 'disk' })).leader;
        }
        if (leader === '') throw new Error('the bench volume elected no leader in 30 s');
        // The raw file lies where the replicas' data does: the lab's directory.
        const file = join(b.lab.dir, 'local.raw');
        await writeFile(file, '');
        await truncate(file, SIZE_MIB * MiB);
        guest = Vm.guest({
          name: 'bench',
          artefacts,
          repo: ROOT,
          shareDir: dir,
          extra: [
            ...['-blockdev', `driver=nbd,node-name=vol,server.type=unix,server.path=${join(b.lab.dir, leader, 'nbd.sock')},export=disk`],
            ...['-device', 'virtio-blk-pci,drive=vol,serial=volume'],
            ...['-blockdev', `driver=file,node-name=local,filename=${file},cache.direct=on`],
            ...['-device', 'virtio-blk-pci,drive=local,serial=local'],
          ],
        });
        await guest.waitConsole(/vx-guest: ready/, 180_000);
        const devOf = async (serial: string): Promise<string> => {
          for (const d of ['vda', 'vdb']) if ((await guest!.exec(['/bb/cat', `/sys/block/${d}/serial`])).stdout.trim() === serial) return `/dev/${d}`;
          throw new Error(`no disk with serial ${serial} in the guest`);
        };
        const sides = { volume: await devOf('volume'), file: await devOf('local') };
        console.log(
          `vm-disk: fio in a TCG guest, ${SIZE_MIB} MiB disks, ${RUNS} runs (median), ${SECONDS} s per timed job; volume: 3 replicas, QEMU's NBD client on the leader's (${leader}) socket; file: raw, cache=none, in ${b.lab.dir}`,
        );
        const results = WORKLOADS.map(() => ({ volume: [] as number[], file: [] as number[] }));
        for (let run = 0; run < RUNS; run++) {
          const order = run % 2 === 0 ? (['volume', 'file'] as const) : (['file', 'volume'] as const);
          for (const [i, w] of WORKLOADS.entries()) for (const side of order) results[i]![side].push(await fio(guest, sides[side], w));
        }
        for (const [i, w] of WORKLOADS.entries()) {
          const { volume, file: local } = results[i]!;
          console.log(
            `${w.name}: volume ${median(volume).toFixed(1)} ${samples(volume)} vs file ${median(local).toFixed(1)} ${samples(local)} ${w.unit}, ratio ${(median(volume) / median(local)).toFixed(2)}`,
          );
        }
      } finally {
        client.close();
      }
    });
  } finally {
    guest?.kill();
    await guest?.exit();
    await rm(dir, { recursive: true, force: true });
    await unlock();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
