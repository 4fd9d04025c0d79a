// The provider under tenants' certificates: the VPC's tenant defaults to the certificate's, a
// configuration naming another tenant is refused at plan time on that attribute, and a tenant's
// provider can neither import nor build on another tenant's objects.

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VXCLOUD_SOURCE } from '../../../provider/plugin/install.js';
import { startRegistryLab } from '../../harness/registry.js';
import type { TestLab } from '../../harness/lab.js';
import { PROVIDER_ENTRY, TOOLS, VERSION, Workspace } from '../plugin/harness.js';

let lab: TestLab;
const spaces: Workspace[] = [];

function providerAs(tenant: string): string {
  const h1 = lab.lab.hosts[0]!;
  const { cert, key } = lab.lab.tenants![tenant]!;
  return `terraform {\n  required_providers {\n    vxcloud = { source = "${VXCLOUD_SOURCE.host}/${VXCLOUD_SOURCE.namespace}/${VXCLOUD_SOURCE.type}" }\n  }\n}\n\nprovider "vxcloud" {\n  ca_file   = "${lab.lab.tls.ca}"\n  cert_file = "${cert}"\n  key_file  = "${key}"\n  host {\n    name     = "${h1.name}"\n    endpoint = "${h1.endpoint}"\n  }\n}\n`;
}

async function workspace(hcl: string): Promise<Workspace> {
  const ws = await Workspace.create(join(TOOLS, 'terraform'), PROVIDER_ENTRY, VXCLOUD_SOURCE, VERSION);
  spaces.push(ws);
  await ws.writeConfig(hcl);
  await ws.ok(['init', '-no-color']);
  return ws;
}

const vpc = (extra = ''): string => `resource "vxcloud_vpc" "v" {\n  name  = "v"\n  cidr  = "198.18.0.0/16"\n  hosts = ["h1"]\n${extra}}\n`;

beforeAll(async () => {
  // h1 compute; h2 storage, serving NBD with TLS optional (a tenant's volume needs TLS).
  lab = await startRegistryLab({
    hosts: 2,
    leaseSeconds: 10,
    roles: (i) => (i === 2 ? ['storage'] : ['compute']),
    nbdTls: 'optional',
    reconcileIntervalSeconds: 3600,
  });
});
afterAll(async () => {
  for (const ws of spaces) await ws.remove();
  await lab?.down();
});

describe("the provider under a tenant's certificate", () => {
  let t1Vpc = '';

  it("makes the VPC the certificate's tenant's", async () => {
    const ws = await workspace(providerAs('t1') + vpc());
    await ws.ok(['apply', '-auto-approve', '-no-color']);
    const v = (await ws.stateValues('vxcloud_vpc.v'))!;
    expect(v.tenant).toBe('t1');
    t1Vpc = v.id as string;
  });

  it('refuses another tenant at plan time, on the tenant attribute', async () => {
    const ws = await workspace(providerAs('t1') + vpc('  tenant = "t2"\n'));
    const r = await ws.run(['plan', '-no-color']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Not your tenant/);
    expect(r.stderr).toMatch(/\n\s*\d+:\s+tenant\s+=/);
  });

  it("another tenant's provider cannot import t1's VPC nor put a subnet in it", async () => {
    const ws = await workspace(`${providerAs('t2')}resource "vxcloud_subnet" "s" {\n  vpc_id = "${t1Vpc}"\n  cidr   = "198.18.1.0/24"\n}\n`);
    const plan = await ws.run(['apply', '-auto-approve', '-no-color']);
    expect(plan.code).toBe(1);
    expect(plan.stderr.replace(/\s+/g, ' ')).toMatch(new RegExp(`is not an object of tenant t2`));
    await ws.writeConfig(providerAs('t2') + vpc());
    const imp = await ws.run(['import', '-no-color', 'vxcloud_vpc.v', t1Vpc]);
    expect(imp.code).toBe(1);
    expect(imp.stderr.replace(/\s+/g, ' ')).toMatch(/is not an object of/);
  });

  it("makes a volume the tenant's, exported over TLS; another tenant cannot import it", async () => {
    const vol = 'resource "vxcloud_block_volume" "d" {\n  name       = "tdata"\n  size_bytes = 16 * 1024 * 1024\n  replicas   = 1\n}\n';
    const ws = await workspace(providerAs('t1') + vol);
    await ws.ok(['apply', '-auto-approve', '-no-color']);
    const v = (await ws.stateValues('vxcloud_block_volume.d'))!;
    expect(v.tenant).toBe('t1');
    expect(v.export_uri).toBe('nbds://192.0.2.12:10809/tdata');
    const other = await workspace(providerAs('t2') + vol);
    const imp = await other.run(['import', '-no-color', 'vxcloud_block_volume.d', 'tdata']);
    expect(imp.code).toBe(1);
    await ws.ok(['destroy', '-auto-approve', '-no-color']);
  });
});
