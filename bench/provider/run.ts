// The Terraform provider's cost: `terraform apply` of 1 VPC + 50 subnets + 100 NICs over 3 lab
// hosts, against the same objects made by calling the agent API directly, and `terraform destroy`
// against deleting them directly.
//
// Run (as root; `npm run build` first: the lab starts the agent and terraform runs the provider
// from dist/, and the CLI comes from scripts/install-terraform.sh):
//   npx tsc -p bench/provider/tsconfig.json && node bench/provider/.build/bench/provider/run.js [reps=3] [subnets=50] [nics=100]
//
// Lab vbp<pid>, hosts h1-h3 (compute). The VPC spans the three hosts, so does every subnet; NIC j
// is a veth into its own namespace in subnet ⌊j/2⌋ on host j mod 3, so each subnet has NICs on two
// hosts. The direct side does what the provider's creates amount to, with terraform's default
// parallelism of 10: the VPC on every host; each subnet on every host (VNI from the registry); each
// NIC on its host (MAC and address from the registry). The agents derive the VTEP tables from the
// registry on both sides. Deletes go NICs, subnets, VPC. terraform init runs once, outside the timings. Sides alternate order every
// repetition; every repetition starts and must end with hosts holding no VPC.
//
// A third side measures terraform's own floor: the same graph (1 + 50 + 100 resources, each
// depending on its parent) with the plugin layer's test fixture provider, which keeps its objects
// in a JSON file and calls no agent. terraform minus that floor is what our resources cost.
//
// Set TF_LOG=TRACE and TF_LOG_PATH=FILE to see where an apply's time goes.

import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { NicKind } from '../../gen/vxcloud/agent/v1/network.js';
import { installProvider, SOURCE_HOST, SOURCE_NAMESPACE, sourceAddress, VXCLOUD_SOURCE } from '../../provider/plugin/install.js';
import { ROOT, withLab, type BenchLab } from '../common/lab.js';
import { pool } from '../common/pool.js';
import { median, samples } from '../common/stats.js';

const reps = Number(process.argv[2] ?? 3);
const nSubnets = Number(process.argv[3] ?? 50);
const nNics = Number(process.argv[4] ?? 100);
if (!Number.isInteger(reps) || reps < 1 || reps > 20) throw new Error('repetitions: 1..20');
if (!Number.isInteger(nSubnets) || nSubnets < 1 || nSubnets > 250) throw new Error('subnets: 1..250');
if (!Number.isInteger(nNics) || nNics < 0 || nNics > 2 * nSubnets) throw new Error(`nics: 0..${2 * nSubnets} (two per subnet)`);

/** This bench's build (.build), which holds the fixture provider too. */
const BUILD = fileURLToPath(new URL('../../', import.meta.url));
const TERRAFORM = join(process.env.VXCLOUD_TOOLS ?? '/root/.cache/vxcloud-tools/bin', 'terraform');
const PARALLELISM = 10;
const CLI_TIMEOUT_MS = 30 * 60_000;

const subnetCidr = (i: number): string => `198.18.${i}.0/24`;
const nicSubnet = (j: number): number => Math.floor(j / 2);
const nicHost = (hosts: readonly string[], j: number): string => hosts[j % hosts.length]!;

function config(labFile: string, prefix: string, hosts: readonly string[]): string {
  return `terraform {
  required_providers {
    vxcloud = { source = "${sourceAddress(VXCLOUD_SOURCE)}" }
  }
}

provider "vxcloud" {
  lab_file = ${JSON.stringify(labFile)}
}

locals {
  hosts = ${JSON.stringify(hosts)}
}

resource "vxcloud_vpc" "bench" {
  name = "bench"
  cidr = "198.18.0.0/16"
}

resource "vxcloud_subnet" "s" {
  count  = ${nSubnets}
  vpc_id = vxcloud_vpc.bench.id
  cidr   = "198.18.\${count.index}.0/24"
}

resource "vxcloud_nic" "n" {
  count     = ${nNics}
  subnet_id = vxcloud_subnet.s[floor(count.index / 2)].id
  host      = local.hosts[count.index % ${hosts.length}]
  namespace = "${prefix}-n\${count.index}"
}
`;
}

const FIXTURE = { host: SOURCE_HOST, namespace: SOURCE_NAMESPACE, type: 'vxtest' } as const;

/** The same graph with the fixture provider (test/acceptance/plugin/fixture): terraform's floor. */
function floorConfig(store: string): string {
  return `terraform {
  required_providers {
    vxtest = { source = "${sourceAddress(FIXTURE)}" }
  }
}

provider "vxtest" {
  store = ${JSON.stringify(store)}
}

resource "vxtest_thing" "vpc" {
  name = "bench"
}

resource "vxtest_thing" "s" {
  count = ${nSubnets}
  name  = "s\${count.index}"
  tags  = { parent = vxtest_thing.vpc.id }
}

resource "vxtest_thing" "n" {
  count = ${nNics}
  name  = "n\${count.index}"
  tags  = { parent = vxtest_thing.s[floor(count.index / 2)].id }
}
`;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

interface DirectNic {
  id: string;
  subnet: number;
  host: string;
}

/** What the direct side makes; ids carry the repetition so no state of an earlier one is reused. */
function directPlan(b: BenchLab, rep: number): { vpcId: string; subnetId: (i: number) => string; nics: DirectNic[] } {
  const hosts = b.lab.hosts.map((h) => h.name);
  const nics = range(nNics).map((j) => ({
    id: `nic-r${rep}-${j}`,
    subnet: nicSubnet(j),
    host: nicHost(hosts, j),
  }));
  return { vpcId: `vpc-r${rep}`, subnetId: (i) => `subnet-r${rep}-${i}`, nics };
}

async function directCreate(b: BenchLab, rep: number): Promise<void> {
  const hosts = b.lab.hosts.map((h) => h.name);
  const { vpcId, subnetId, nics } = directPlan(b, rep);
  await Promise.all(hosts.map((h) => b.client(h).network.putVpc({ vpc: { id: vpcId, name: 'bench', tenant: '', cidr: '198.18.0.0/16' } })));
  await pool(range(nSubnets), PARALLELISM, (i) =>
    Promise.all(
      hosts.map((h) =>
        // VNI, MAC and address from the registry, as the provider asks for them.
        b.client(h).network.putSubnet({ subnet: { id: subnetId(i), vpcId, name: '', cidr: subnetCidr(i), vni: 0, vlan: 0, gateway: '' } }),
      ),
    ),
  );
  await pool(nics, PARALLELISM, (n) =>
    b.client(n.host).network.putNic({
      nic: {
        id: n.id,
        subnetId: subnetId(n.subnet),
        kind: NicKind.NIC_KIND_VETH,
        mac: '',
        ip: '',
        namespace: `${b.lab.name}-d${n.id}`,
        createNamespace: true,
        ifname: 'eth0',
        dhcp: false,
        filter: undefined,
      },
    }),
  );
}

async function directDelete(b: BenchLab, rep: number): Promise<void> {
  const hosts = b.lab.hosts.map((h) => h.name);
  const { vpcId, subnetId, nics } = directPlan(b, rep);
  await pool(nics, PARALLELISM, (n) => b.client(n.host).network.deleteNic({ id: n.id }));
  await pool(range(nSubnets), PARALLELISM, (i) => Promise.all(hosts.map((h) => b.client(h).network.deleteSubnet({ id: subnetId(i) }))));
  await Promise.all(hosts.map((h) => b.client(h).network.deleteVpc({ id: vpcId })));
}

/** Fails unless no host has a VPC, subnet or NIC: a repetition must not leave work for the next. */
async function expectEmpty(b: BenchLab, after: string): Promise<void> {
  for (const h of b.lab.hosts) {
    const c = b.client(h.name).network;
    const [v, s, n] = await Promise.all([c.listVpcs({ parentId: '' }), c.listSubnets({ parentId: '' }), c.listNics({ parentId: '' })]);
    const left = v.vpcs.length + s.subnets.length + n.nics.length;
    if (left > 0) throw new Error(`after ${after}, ${h.name} still has ${v.vpcs.length} VPCs, ${s.subnets.length} subnets, ${n.nics.length} NICs`);
  }
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await fn();
  return (performance.now() - start) / 1000;
}

const version = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

await withLab('p', { hosts: 3, reconcileIntervalSeconds: 3600 }, async (b) => {
  const work = await mkdtemp(join(tmpdir(), 'vxcloud-bench-provider-'));
  const floor = await mkdtemp(join(tmpdir(), 'vxcloud-bench-floor-'));
  try {
    const installed = await installProvider({ dir: join(work, '.provider'), entry: join(ROOT, 'dist/provider/main.js'), version });
    // The fixture is built beside this bench (tsconfig.json includes it).
    const fixture = await installProvider({
      dir: join(floor, '.provider'),
      entry: join(BUILD, 'test/acceptance/plugin/fixture/main.js'),
      version: '0.0.1',
      source: FIXTURE,
    });
    // terraform reads these from the environment only; this process exists to run the bench.
    Object.assign(process.env, { TF_IN_AUTOMATION: '1', TF_INPUT: '0', CHECKPOINT_DISABLE: '1' });
    // One CLI runs at a time: each names its own provider mirror.
    const cli =
      (dir: string, rc: string) =>
      (...args: string[]): Promise<unknown> => {
        process.env.TF_CLI_CONFIG_FILE = rc;
        return b.run(TERRAFORM, [`-chdir=${dir}`, ...args, '-no-color'], CLI_TIMEOUT_MS);
      };
    const tf = cli(work, installed.cliConfigFile);
    const tfFloor = cli(floor, fixture.cliConfigFile);
    const hosts = b.lab.hosts.map((h) => h.name);
    await writeFile(join(work, 'main.tf'), config(join(b.lab.dir, 'lab.json'), b.lab.name, hosts));
    await writeFile(join(floor, 'main.tf'), floorConfig(join(floor, 'things.json')));
    await tf('init');
    await tfFloor('init');

    const t = {
      apply: [] as number[],
      direct: [] as number[],
      destroy: [] as number[],
      directDelete: [] as number[],
      floorApply: [] as number[],
      floorDestroy: [] as number[],
    };
    for (let rep = 0; rep < reps; rep++) {
      const sides = [
        async () => {
          t.apply.push(await timed(() => tf('apply', '-auto-approve', `-parallelism=${PARALLELISM}`)));
          t.destroy.push(await timed(() => tf('destroy', '-auto-approve', `-parallelism=${PARALLELISM}`)));
          await expectEmpty(b, 'terraform destroy');
        },
        async () => {
          t.direct.push(await timed(() => directCreate(b, rep)));
          t.directDelete.push(await timed(() => directDelete(b, rep)));
          await expectEmpty(b, 'the direct deletes');
        },
      ];
      if (rep % 2 === 1) sides.reverse();
      for (const side of sides) await side();
      t.floorApply.push(await timed(() => tfFloor('apply', '-auto-approve', `-parallelism=${PARALLELISM}`)));
      t.floorDestroy.push(await timed(() => tfFloor('destroy', '-auto-approve', `-parallelism=${PARALLELISM}`)));
      process.stderr.write(
        `rep ${rep + 1}/${reps}: apply ${t.apply.at(-1)!.toFixed(1)} s, direct ${t.direct.at(-1)!.toFixed(1)} s, destroy ${t.destroy.at(-1)!.toFixed(1)} s, direct delete ${t.directDelete.at(-1)!.toFixed(1)} s, floor ${t.floorApply.at(-1)!.toFixed(1)}/${t.floorDestroy.at(-1)!.toFixed(1)} s\n`,
      );
    }

    const m = {
      apply: median(t.apply),
      direct: median(t.direct),
      destroy: median(t.destroy),
      directDelete: median(t.directDelete),
      floorApply: median(t.floorApply),
      floorDestroy: median(t.floorDestroy),
    };
    const what = `1 VPC + ${nSubnets} subnets + ${nNics} NICs over ${hosts.length} hosts`;
    console.log(`provider: ${what}, ${reps} reps, terraform -parallelism=${PARALLELISM}`);
    console.log(`  terraform apply    ${m.apply.toFixed(1)} s ${samples(t.apply)}`);
    console.log(`  agent API direct   ${m.direct.toFixed(1)} s ${samples(t.direct)}`);
    console.log(`  terraform destroy  ${m.destroy.toFixed(1)} s ${samples(t.destroy)}`);
    console.log(`  direct deletes     ${m.directDelete.toFixed(1)} s ${samples(t.directDelete)}`);
    console.log(
      `  terraform floor    ${m.floorApply.toFixed(1)} s apply ${samples(t.floorApply)}, ${m.floorDestroy.toFixed(1)} s destroy ${samples(t.floorDestroy)} (the same graph, a provider that calls nothing)`,
    );
    console.log(`provider apply ratio terraform/direct ${(m.apply / m.direct).toFixed(2)}`);
    console.log(`provider destroy ratio terraform/direct ${(m.destroy / m.directDelete).toFixed(2)}`);
    console.log(`provider apply ratio (terraform - floor)/direct ${((m.apply - m.floorApply) / m.direct).toFixed(2)}`);
    console.log(`provider destroy ratio (terraform - floor)/direct ${((m.destroy - m.floorDestroy) / m.directDelete).toFixed(2)}`);
  } finally {
    await rm(work, { recursive: true, force: true });
    await rm(floor, { recursive: true, force: true });
  }
});
