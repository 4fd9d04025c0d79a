// The provider and the inventory: a provider block that names one host still sees every host
// (the registry's inventory), a stopped agent shows as down in vxcloud_hosts, and a host hung by
// SIGSTOP that holds none of a configuration's objects does not slow its plan or apply: nothing
// asks it anything (before the registry, every NIC allocation listed every host, and a hung one
// failed the apply after the call deadline).

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VXCLOUD_SOURCE } from '../../../provider/plugin/install.js';
import { startRegistryLab, waitUp } from '../../harness/registry.js';
import { ping, type TestLab } from '../../harness/lab.js';
import { PROVIDER_ENTRY, TOOLS, VERSION, Workspace } from '../plugin/harness.js';
import { waitFor } from '../../../lab/lab.js';

const LEASE_SECONDS = 3;

let lab: TestLab;
let ws: Workspace;

function config(nics: number): string {
  const h1 = lab.lab.hosts[0]!;
  const { ca, cert, key } = lab.lab.tls;
  const nicBlocks = Array.from(
    { length: nics },
    (_, i) =>
      `resource "vxcloud_nic" "n${i}" {\n  subnet_id = vxcloud_subnet.web.id\n  host      = data.vxcloud_hosts.compute.names[${i % 2}]\n  namespace = "${lab.lab.name}-n${i}"\n}\n`,
  ).join('\n');
  return `terraform {
  required_providers {
    vxcloud = { source = "${VXCLOUD_SOURCE.host}/${VXCLOUD_SOURCE.namespace}/${VXCLOUD_SOURCE.type}" }
  }
}

# One agent endpoint: the provider learns the other hosts from the registry.
provider "vxcloud" {
  ca_file   = "${ca}"
  cert_file = "${cert}"
  key_file  = "${key}"
  timeout_seconds = 20
  host {
    name     = "${h1.name}"
    endpoint = "${h1.endpoint}"
  }
}

data "vxcloud_hosts" "compute" {
  role = "compute"
}

data "vxcloud_hosts" "storage" {
  role = "storage"
}

resource "vxcloud_vpc" "v" {
  name = "v"
  cidr = "198.18.0.0/16"
}

resource "vxcloud_subnet" "web" {
  vpc_id = vxcloud_vpc.v.id
  cidr   = "198.18.1.0/24"
}

${nicBlocks}
output "compute" {
  value = data.vxcloud_hosts.compute.names
}

output "storage_down" {
  value = data.vxcloud_hosts.storage.down
}

output "ips" {
  value = [${Array.from({ length: nics }, (_, i) => `vxcloud_nic.n${i}.ip`).join(', ')}]
}
`;
}

const out = async <T>(name: string): Promise<T> => JSON.parse((await ws.ok(['output', '-json', name])).stdout) as T;

beforeAll(async () => {
  // h1, h2 compute; h3 storage (it holds nothing of this configuration).
  lab = await startRegistryLab({ hosts: 3, leaseSeconds: LEASE_SECONDS, roles: (i) => (i === 3 ? ['storage'] : ['compute']), reconcileIntervalSeconds: 3600 });
  ws = await Workspace.create(join(TOOLS, 'terraform'), PROVIDER_ENTRY, VXCLOUD_SOURCE, VERSION);
  await ws.writeConfig(config(2));
  await ws.ok(['init', '-no-color']);
});
afterAll(async () => {
  const h3 = lab?.lab.hosts[2];
  if (h3) process.kill(h3.pid, 'SIGCONT');
  await ws?.remove();
  await lab?.down();
});

describe('the provider reads the inventory', () => {
  it('with one host in its block, applies on the hosts the registry lists', async () => {
    await ws.ok(['apply', '-auto-approve', '-no-color']);
    expect(await out<string[]>('compute')).toEqual(['h1', 'h2']);
    expect(await out<string[]>('storage_down')).toEqual([]);
    const [a, b] = await out<string[]>('ips');
    await waitFor('n0 to reach n1', 10_000, () => ping(lab, `${lab.lab.name}-n0`, b!.split('/')[0]!, 1));
    expect(a).not.toBe(b);
  });

  it('a hung host that holds none of the objects: plan and an apply of one more NIC succeed, and it shows as down', async () => {
    const h3 = lab.lab.hosts[2]!;
    process.kill(h3.pid, 'SIGSTOP');
    try {
      await waitUp(lab, ['h1'], ['h1', 'h2'], LEASE_SECONDS * 1000 + 3000);
      // Only the outputs move (h3 is down now); no resource changes.
      expect(Object.values(await ws.plannedActions()).filter((a) => a.join() !== 'no-op')).toEqual([]);
      await ws.writeConfig(config(3));
      await ws.ok(['apply', '-auto-approve', '-no-color']);
      expect(await out<string[]>('storage_down')).toEqual(['h3']);
      expect(new Set(await out<string[]>('ips')).size).toBe(3);
    } finally {
      process.kill(h3.pid, 'SIGCONT');
    }
    await waitUp(lab, ['h1'], ['h1', 'h2', 'h3']);
  });

  it('destroys everything', async () => {
    await ws.ok(['destroy', '-auto-approve', '-no-color']);
  });
});
