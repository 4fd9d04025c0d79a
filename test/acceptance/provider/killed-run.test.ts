// The provider killed in the middle of an apply, after agents made objects whose creation terraform
// never heard of: the next apply adopts them instead of colliding with them (a subnet's CIDR) or
// leaving them behind, and destroy then leaves nothing in the registry. To make the orphans for
// certain, h2's agent is stopped (SIGSTOP) while the subnets are created: every subnet is made on
// h1 and hangs on h2, and then the provider is SIGKILLed.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../lab/lab.js';
import { VXCLOUD_SOURCE } from '../../../provider/plugin/install.js';
import { host } from '../../harness/evpn.js';
import { ping, type TestLab } from '../../harness/lab.js';
import { registryKeys, startRegistryLab } from '../../harness/registry.js';
import { REPO, TOOLS, Workspace, VERSION } from '../plugin/harness.js';

const SUBNETS = 4;

let lab: TestLab;
let ws: Workspace;

function config(): string {
  const subnets = Array.from(
    { length: SUBNETS },
    (_, i) =>
      `resource "vxcloud_subnet" "s${i}" {\n  vpc_id = vxcloud_vpc.v.id\n  name   = "s${i}"\n  cidr   = "198.18.${i + 1}.0/24"\n}\n\n# Two NICs in each of the first subnets, one per host.\nresource "vxcloud_nic" "n${i}" {\n  subnet_id = vxcloud_subnet.s${i >> 1}.id\n  host      = "h${(i % 2) + 1}"\n  namespace = "${lab.lab.name}-n${i}"\n}\n`,
  ).join('\n');
  return `terraform {
  required_providers {
    vxcloud = { source = "${VXCLOUD_SOURCE.host}/${VXCLOUD_SOURCE.namespace}/${VXCLOUD_SOURCE.type}" }
  }
}

provider "vxcloud" {
  lab_file = "${join(lab.lab.dir, 'lab.json')}"
}

resource "vxcloud_vpc" "v" {
  name = "killed"
  cidr = "198.18.0.0/16"
}

${subnets}
output "nics" {
  value = [${Array.from({ length: SUBNETS }, (_, i) => `{ ns = vxcloud_nic.n${i}.namespace, ip = vxcloud_nic.n${i}.ip }`).join(', ')}]
}
`;
}

/** The provider processes the terraform process `parent` started. */
async function providerPids(parent: number): Promise<number[]> {
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (ppid === parent && cmdline.includes('terraform-provider-vxcloud')) pids.push(Number(entry));
  }
  return pids;
}

const subnetIds = async (h: string): Promise<string[]> => (await lab.client(h).network.listSubnets({ parentId: '' })).subnets.map((s) => s.spec!.id).sort();

describe('a provider killed between the agents and terraform', () => {
  beforeAll(async () => {
    lab = await startRegistryLab({ hosts: 2, leaseSeconds: 10 });
    ws = await Workspace.create(join(TOOLS, 'terraform'), join(REPO, 'dist/provider/main.js'), VXCLOUD_SOURCE, VERSION);
    await ws.writeConfig(config());
    await ws.ok(['init', '-no-color']);
  });
  afterAll(async () => {
    if (lab) process.kill(host(lab, 'h2').pid, 'SIGCONT');
    await ws?.remove();
    await lab?.down();
  });

  it('leaves subnets made on h1 that terraform does not know', async () => {
    await ws.ok(['apply', '-auto-approve', '-no-color', '-target=vxcloud_vpc.v']);
    process.kill(host(lab, 'h2').pid, 'SIGSTOP');
    // No refresh: reading the VPC back would wait on h2.
    const apply = ws.start(['apply', '-auto-approve', '-no-color', '-refresh=false', `-parallelism=${SUBNETS}`]);
    try {
      await waitFor(`${SUBNETS} subnets on h1`, 30_000, async () => (await subnetIds('h1')).length === SUBNETS);
      await waitFor('the provider process', 10_000, async () => (await providerPids(apply.pid)).length > 0);
      for (const pid of await providerPids(apply.pid)) process.kill(pid, 'SIGKILL');
    } finally {
      process.kill(host(lab, 'h2').pid, 'SIGCONT');
    }
    const r = await apply.result;
    expect(r.code, r.stdout).not.toBe(0);
    const state = JSON.parse((await ws.ok(['show', '-json'])).stdout) as { values?: { root_module?: { resources?: { address: string }[] } } };
    expect((state.values?.root_module?.resources ?? []).map((x) => x.address)).toEqual(['vxcloud_vpc.v']);
  });

  it('the next apply adopts them: no second subnet, no CIDR collision, and the NICs ping', async () => {
    const orphans = await subnetIds('h1');
    expect(orphans).toHaveLength(SUBNETS);
    await ws.ok(['apply', '-auto-approve', '-no-color']);
    const recorded = await Promise.all(Array.from({ length: SUBNETS }, async (_, i) => (await ws.stateValues(`vxcloud_subnet.s${i}`))!.id as string));
    expect(recorded.sort()).toEqual(orphans);
    for (const h of ['h1', 'h2']) expect(await subnetIds(h)).toEqual(orphans);
    const nics = JSON.parse((await ws.ok(['output', '-json', 'nics'])).stdout) as { ns: string; ip: string }[];
    expect(await ping(lab, nics[0]!.ns, nics[1]!.ip.split('/')[0]!)).toBe(true); // h1 to h2 in s0
    // Confirmed at the provider's orderly exit: nothing of this workspace is adoptable any more.
    expect((await registryKeys(lab, '/vxcloud/pending/')).length).toBe(0);
    await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
  });

  it('destroy leaves no ownership record and no allocation in the registry', async () => {
    await ws.ok(['destroy', '-auto-approve', '-no-color']);
    const left = (await registryKeys(lab, '/vxcloud/')).filter((k) => !/^\/vxcloud\/(hosts|alive|deleted)\//.test(k));
    expect(left).toEqual([]);
    for (const h of ['h1', 'h2']) expect(await subnetIds(h)).toEqual([]);
  });
});
