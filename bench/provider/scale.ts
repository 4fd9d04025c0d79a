// Whether the provider's cost follows the objects or the fleet: a small configuration (1 VPC on
// two hosts, 10 subnets, 20 NICs) in a deployment of 3 hosts and in one of 48, timing a no-change
// `terraform plan` and an apply of one more NIC in each. Baseline: the same numbers with 3 hosts,
// measured in the same run; the ratio 48/3 is the figure (1.0 = the fleet costs nothing).
//
// Run (as root, after `npm run build`):
//   npx tsc -p bench/provider/tsconfig.json && node bench/provider/.build/bench/provider/scale.js [reps=5] [big=48]

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { installProvider, sourceAddress, VXCLOUD_SOURCE } from '../../provider/plugin/install.js';
import { ROOT, withLab, type BenchLab } from '../common/lab.js';
import { median, samples } from '../common/stats.js';

const reps = Number(process.argv[2] ?? 5);
const big = Number(process.argv[3] ?? 48);
if (!Number.isInteger(reps) || reps < 1 || reps > 20) throw new Error('repetitions: 1..20');
if (!Number.isInteger(big) || big < 3 || big > 120) throw new Error('big: 3..120 hosts');

const TERRAFORM = join(process.env.VXCLOUD_TOOLS ?? '/root/.cache/vxcloud-tools/bin', 'terraform');
const CLI_TIMEOUT_MS = 10 * 60_000;
const version = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** The configuration: its VPC on h1 and h2 only, and `extra` NICs beyond the 20. */
function config(labFile: string, prefix: string, extra: number): string {
  return `terraform {
  required_providers {
    vxcloud = { source = "${sourceAddress(VXCLOUD_SOURCE)}" }
  }
}

provider "vxcloud" {
  lab_file = ${JSON.stringify(labFile)}
}

resource "vxcloud_vpc" "v" {
  name  = "small"
  cidr  = "198.18.0.0/16"
  hosts = ["h1", "h2"]
}

resource "vxcloud_subnet" "s" {
  count  = 10
  vpc_id = vxcloud_vpc.v.id
  cidr   = "198.18.\${count.index}.0/24"
}

resource "vxcloud_nic" "n" {
  count     = ${20 + extra}
  subnet_id = vxcloud_subnet.s[count.index % 10].id
  host      = count.index % 2 == 0 ? "h1" : "h2"
  namespace = "${prefix}-n\${count.index}"
}
`;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

interface Figures {
  plan: number[];
  addNic: number[];
}

async function measure(b: BenchLab): Promise<Figures> {
  const work = await mkdtemp(join(tmpdir(), 'vxcloud-bench-scale-'));
  try {
    const installed = await installProvider({ dir: join(work, '.provider'), entry: join(ROOT, 'dist/provider/main.js'), version });
    Object.assign(process.env, { TF_CLI_CONFIG_FILE: installed.cliConfigFile, TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1' });
    const tf = (...args: string[]): Promise<unknown> => b.run(TERRAFORM, [`-chdir=${work}`, ...args, '-no-color'], CLI_TIMEOUT_MS);
    const labFile = join(b.lab.dir, 'lab.json');
    const write = (extra: number): Promise<void> => writeFile(join(work, 'main.tf'), config(labFile, b.lab.name, extra));
    await write(0);
    await tf('init');
    await tf('apply', '-auto-approve');
    const f: Figures = { plan: [], addNic: [] };
    for (let rep = 0; rep < reps; rep++) {
      f.plan.push(await timed(() => tf('plan', '-detailed-exitcode')));
      await write(1);
      f.addNic.push(await timed(() => tf('apply', '-auto-approve')));
      await write(0);
      await tf('apply', '-auto-approve');
    }
    await tf('destroy', '-auto-approve');
    return f;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const small = await withLab('a', { hosts: 3, reconcileIntervalSeconds: 3600 }, measure);
const large = await withLab('b', { hosts: big, reconcileIntervalSeconds: 3600 }, measure);
const m = (xs: number[]): number => median(xs);
console.log(`provider scale: 1 VPC on 2 hosts, 10 subnets, 20 NICs; ${reps} reps; deployments of 3 and ${big} hosts`);
console.log(
  `  no-change plan     3 hosts ${m(small.plan).toFixed(2)} s ${samples(small.plan)}   ${big} hosts ${m(large.plan).toFixed(2)} s ${samples(large.plan)}`,
);
console.log(
  `  apply of one NIC   3 hosts ${m(small.addNic).toFixed(2)} s ${samples(small.addNic)}   ${big} hosts ${m(large.addNic).toFixed(2)} s ${samples(large.addNic)}`,
);
console.log(`provider scale ratio plan ${big}/3 hosts ${(m(large.plan) / m(small.plan)).toFixed(2)}`);
console.log(`provider scale ratio one-NIC apply ${big}/3 hosts ${(m(large.addNic) / m(small.addNic)).toFixed(2)}`);
