// A three-member registry under terraform: a member killed in the middle of an apply does not
// stop it; with quorum lost, a change fails with an error that names the registry, nothing of it
// is made on any host, and the NICs already there keep pinging.

import { pidFile } from '../../../agent/process/supervisor.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdMember, waitFor } from '../../../lab/lab.js';
import { VXCLOUD_SOURCE } from '../../../provider/plugin/install.js';
import { startRegistryLab } from '../../harness/registry.js';
import { ping, type TestLab } from '../../harness/lab.js';
import { REPO, TOOLS, Workspace, VERSION, PROVIDER_ENTRY } from '../plugin/harness.js';

let lab: TestLab;
let ws: Workspace;

async function killMember(i: number): Promise<void> {
  const m = etcdMember(lab.lab.name, lab.lab.dir, i);
  process.kill(Number((await readFile(pidFile(m.runDir), 'utf8')).trim()), 'SIGKILL');
}

interface NicOut {
  host: string;
  ip: string;
}

async function pingsAcross(): Promise<void> {
  const web = JSON.parse((await ws.ok(['output', '-json', 'web'])).stdout) as Record<string, NicOut>;
  const [[nsA], [, b]] = Object.entries(web) as [[string, NicOut], [string, NicOut]];
  await waitFor(`${nsA} to reach ${b.ip}`, 10_000, () => ping(lab, nsA, b.ip.split('/')[0]!, 1));
}

beforeAll(async () => {
  lab = await startRegistryLab({ hosts: 2, leaseSeconds: 10, registryMembers: 3, reconcileIntervalSeconds: 3600 });
  ws = await Workspace.create(join(TOOLS, 'terraform'), PROVIDER_ENTRY, VXCLOUD_SOURCE, VERSION);
  await ws.writeConfig(await readFile(join(REPO, 'examples/hcl/basic/main.tf'), 'utf8'));
  await writeFile(
    join(ws.dir, 'terraform.tfvars'),
    `lab_file = ${JSON.stringify(join(lab.lab.dir, 'lab.json'))}\nnamespace_prefix = ${JSON.stringify(lab.lab.name)}\n`,
  );
  await ws.ok(['init', '-no-color']);
});
afterAll(async () => {
  await ws?.remove();
  await lab?.down();
});

describe('a three-member registry', () => {
  it('one member killed in the middle of an apply: the apply completes', async () => {
    const apply = ws.ok(['apply', '-auto-approve', '-no-color']);
    await new Promise((r) => setTimeout(r, 1500));
    await killMember(1);
    await apply;
    await pingsAcross();
    await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
  });

  it('quorum lost: a new NIC fails naming the registry, nothing of it is made, and the NICs ping on', async () => {
    await killMember(2);
    await writeFile(
      join(ws.dir, 'extra.tf'),
      `resource "vxcloud_nic" "extra" {\n  subnet_id = vxcloud_subnet.web.id\n  host      = "h1"\n  namespace = "${lab.lab.name}-extra"\n}\n`,
    );
    const r = await ws.run(['apply', '-auto-approve', '-no-color']);
    expect(r.code).toBe(1);
    const said = (r.stderr + r.stdout).replace(/\s+/g, ' ');
    expect(said).toMatch(/the registry \(etcd at https:\/\/[^)]*\) did not answer/);
    expect(said).toMatch(/nothing was changed, retry when it is back/);
    expect(await ws.stateValues('vxcloud_nic.extra')).toBeUndefined();
    const { stdout } = await lab.exec(lab.lab.hosts[0]!.namespace, ['ip', 'netns', 'list']);
    expect(stdout).not.toContain(`${lab.lab.name}-extra`);
    await pingsAcross();
  });
});
