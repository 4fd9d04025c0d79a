// Tenants and workspaces that do not know each other, on one deployment: four terraform
// workspaces apply at the same time, each with a provider that names a different pair of the
// hosts; then two more add NICs to one subnet at once. The registry allocates every VNI, address
// and MAC, so nothing collides and no tenant reaches another; destroy leaves no allocation behind.
// Run on the registry plane and on EVPN (FRR carries reachability; the registry still allocates).

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../lab/lab.js';
import { VXCLOUD_SOURCE } from '../../../provider/plugin/install.js';
import { startEvpnLab } from '../../harness/evpn.js';
import { registryKeys, startRegistryLab } from '../../harness/registry.js';
import { ping, type TestLab } from '../../harness/lab.js';
import { PROVIDER_ENTRY, TOOLS, VERSION, Workspace } from '../plugin/harness.js';

let lab: TestLab;
const spaces = new Map<string, Workspace>();

/** A provider block naming only `hosts`, as a tenant's own configuration would. */
function providerBlock(hosts: string[]): string {
  const hostBlocks = hosts
    .map((h) => lab.lab.hosts.find((x) => x.name === h)!)
    .map((h) => `  host {\n    name             = "${h.name}"\n    endpoint         = "${h.endpoint}"\n    underlay_address = "${h.underlayAddress}"\n  }\n`)
    .join('');
  const { ca, cert, key } = lab.lab.tls;
  return `terraform {\n  required_providers {\n    vxcloud = { source = "${VXCLOUD_SOURCE.host}/${VXCLOUD_SOURCE.namespace}/${VXCLOUD_SOURCE.type}" }\n  }\n}\n\nprovider "vxcloud" {\n  ca_file   = "${ca}"\n  cert_file = "${cert}"\n  key_file  = "${key}"\n${hostBlocks}}\n`;
}

/** Tenant `name`: a VPC with the same CIDR as every other tenant's, one subnet, a NIC on each of its hosts. */
function tenantConfig(name: string, hosts: string[]): string {
  const nics = hosts
    .map(
      (h, i) => `resource "vxcloud_nic" "n${i}" {\n  subnet_id = vxcloud_subnet.web.id\n  host      = "${h}"\n  namespace = "${lab.lab.name}-${name}${i}"\n}\n`,
    )
    .join('\n');
  return `${providerBlock(hosts)}
resource "vxcloud_vpc" "v" {
  name   = "${name}"
  tenant = "${name}"
  cidr   = "198.18.0.0/16"
  hosts  = ${JSON.stringify(hosts)}
}

resource "vxcloud_subnet" "web" {
  vpc_id = vxcloud_vpc.v.id
  cidr   = "198.18.1.0/24"
}

${nics}
output "vni" {
  value = vxcloud_subnet.web.vni
}

output "subnet" {
  value = vxcloud_subnet.web.id
}

output "nics" {
  value = [${hosts.map((_, i) => `{ ns = vxcloud_nic.n${i}.namespace, ip = vxcloud_nic.n${i}.ip, mac = vxcloud_nic.n${i}.mac }`).join(', ')}]
}
`;
}

/** Three more NICs on an existing subnet, from a workspace of their own. */
function addNicsConfig(name: string, subnetId: string, hosts: string[]): string {
  const nics = [0, 1, 2]
    .map(
      (i) =>
        `resource "vxcloud_nic" "n${i}" {\n  subnet_id = "${subnetId}"\n  host      = "${hosts[i % hosts.length]}"\n  namespace = "${lab.lab.name}-${name}${i}"\n}\n`,
    )
    .join('\n');
  return `${providerBlock(hosts)}\n${nics}\noutput "nics" {\n  value = [${[0, 1, 2].map((i) => `{ ns = vxcloud_nic.n${i}.namespace, ip = vxcloud_nic.n${i}.ip, mac = vxcloud_nic.n${i}.mac }`).join(', ')}]\n}\n`;
}

async function workspace(name: string, hcl: string): Promise<Workspace> {
  const ws = await Workspace.create(join(TOOLS, 'terraform'), PROVIDER_ENTRY, VXCLOUD_SOURCE, VERSION);
  spaces.set(name, ws);
  await ws.writeConfig(hcl);
  await ws.ok(['init', '-no-color']);
  return ws;
}

async function output<T>(ws: Workspace, name: string): Promise<T> {
  return JSON.parse((await ws.ok(['output', '-json', name])).stdout) as T;
}

interface NicOut {
  ns: string;
  ip: string;
  mac: string;
}

const TENANTS: Record<string, string[]> = { ta: ['h1', 'h2'], tb: ['h3', 'h4'], tc: ['h1', 'h3'], td: ['h2', 'h4'] };

/** Reached, once the control plane has carried the NICs (EVPN takes a moment after an apply). */
async function reaches(ns: string, ip: string): Promise<boolean> {
  return waitFor(`${ns} reaching ${ip}`, 20_000, () => ping(lab, ns, ip, 2)).then(
    () => true,
    () => false,
  );
}

export function tenantsSuite(plane: 'registry' | 'evpn'): void {
  beforeAll(async () => {
    // EVPN: the four VTEPs h1–h4 and a reflector, h5.
    lab =
      plane === 'evpn'
        ? await startEvpnLab({ vteps: 4, reflectors: 1, reconcileIntervalSeconds: 3600 })
        : await startRegistryLab({ hosts: 4, leaseSeconds: 10, reconcileIntervalSeconds: 3600 });
  });
  afterAll(async () => {
    for (const ws of spaces.values()) await ws.remove();
    spaces.clear();
    await lab?.down();
  });

  describe(`tenants on one registry, ${plane} plane`, () => {
    it('four workspaces applying at once, each knowing only two hosts, get four distinct VNIs; each tenant reaches only its own NICs', async () => {
      const names = Object.keys(TENANTS);
      const wss = await Promise.all(names.map((n) => workspace(n, tenantConfig(n, TENANTS[n]!))));
      await Promise.all(wss.map((ws) => ws.ok(['apply', '-auto-approve', '-no-color'])));
      const vnis = await Promise.all(wss.map((ws) => output<number>(ws, 'vni')));
      expect(new Set(vnis).size).toBe(4);
      const nics = await Promise.all(wss.map((ws) => output<NicOut[]>(ws, 'nics')));
      // Same CIDR, so the same addresses: each tenant's first NIC reaches its own second one...
      for (const [a, b] of nics) expect(await reaches(a!.ns, b!.ip.split('/')[0]!)).toBe(true);
      // ...and no other tenant's: a tenant's NIC at an address only another tenant has stays silent.
      const extra = await workspace(
        'tb-extra',
        `${providerBlock(['h3'])}\nresource "vxcloud_nic" "x" {\n  subnet_id = "${await output<string>(wss[1]!, 'subnet')}"\n  host      = "h3"\n  namespace = "${lab.lab.name}-tbx"\n  ip        = "198.18.1.200/24"\n}\n`,
      );
      await extra.ok(['apply', '-auto-approve', '-no-color']);
      expect(await reaches(`${lab.lab.name}-tb0`, '198.18.1.200')).toBe(true);
      for (const t of ['ta0', 'tc0', 'td1']) expect(await ping(lab, `${lab.lab.name}-${t}`, '198.18.1.200', 2)).toBe(false);
    });

    it('two workspaces adding NICs to one subnet at once get distinct addresses and MACs', async () => {
      const subnet = await output<string>(spaces.get('ta')!, 'subnet');
      const [e, f] = await Promise.all([
        workspace('te', addNicsConfig('te', subnet, ['h1', 'h2'])),
        workspace('tf', addNicsConfig('tf', subnet, ['h2', 'h1'])),
      ]);
      await Promise.all([e.ok(['apply', '-auto-approve', '-no-color']), f.ok(['apply', '-auto-approve', '-no-color'])]);
      const all = [...(await output<NicOut[]>(spaces.get('ta')!, 'nics')), ...(await output<NicOut[]>(e, 'nics')), ...(await output<NicOut[]>(f, 'nics'))];
      expect(all).toHaveLength(8);
      expect(new Set(all.map((n) => n.ip)).size).toBe(8);
      expect(new Set(all.map((n) => n.mac)).size).toBe(8);
      expect(await reaches(all[6]!.ns, all[0]!.ip.split('/')[0]!)).toBe(true);
    });

    it("refuses at plan time a NIC on a host its subnet does not span, or outside the subnet's addresses, naming the attribute and the fix", async () => {
      const subnet = await output<string>(spaces.get('ta')!, 'subnet');
      const ws = await workspace(
        'tg',
        `${providerBlock(['h3'])}\nresource "vxcloud_nic" "x" {\n  subnet_id = "${subnet}"\n  host      = "h3"\n  namespace = "${lab.lab.name}-tgx"\n}\n` +
          `resource "vxcloud_nic" "y" {\n  subnet_id = "${subnet}"\n  host      = "h1"\n  namespace = "${lab.lab.name}-tgy"\n  ip        = "198.18.2.10/24"\n}\n`,
      );
      const r = await ws.run(['plan', '-no-color']);
      expect(r.code).toBe(1);
      const text = r.stderr.replace(/\s+/g, ' ');
      expect(text).toMatch(new RegExp(`Subnet ${subnet} spans h1, h2, not h3: put the NIC on one of those, or add h3 to the subnet's hosts`));
      expect(text).toContain('198.18.2.10/24 is not in subnet 198.18.1.0/24: use an address of it with /24.');
      expect(r.stderr).toMatch(/\n\s*\d+:\s+host\s+=/);
      expect(r.stderr).toMatch(/\n\s*\d+:\s+ip\s+=/);
      spaces.delete('tg');
      await ws.remove();
    });

    it('destroy of every workspace leaves no ownership record and no allocation in the registry', async () => {
      for (const n of ['te', 'tf', 'tb-extra']) await spaces.get(n)!.ok(['destroy', '-auto-approve', '-no-color']);
      await Promise.all(Object.keys(TENANTS).map((n) => spaces.get(n)!.ok(['destroy', '-auto-approve', '-no-color'])));
      const left = (await registryKeys(lab, '/vxcloud/')).filter((k) => !/^\/vxcloud\/(hosts|alive|deleted)\//.test(k));
      expect(left).toEqual([]);
    });
  });
}
