// `terraform destroy` at default parallelism of a whole shop — a router on three subnets with a
// port forward and a floating IP, NICs on two hosts, a volume — ten times over: every destroy
// succeeds and leaves nothing on any host and nothing in the registry. (Before the registry, a
// NIC's delete re-put its subnet's routers from a listing, and the router came back after its
// own delete: destroy failed 3 times out of 3.)

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VXCLOUD_SOURCE } from '../../../provider/plugin/install.js';
import { registryKeys, startRegistryLab } from '../../harness/registry.js';
import { hostLinks, type TestLab } from '../../harness/lab.js';
import { PROVIDER_ENTRY, TOOLS, VERSION, Workspace } from '../plugin/harness.js';

const ROUNDS = 10;

let lab: TestLab;
let ws: Workspace;

const config = (): string => `terraform {
  required_providers {
    vxcloud = { source = "${VXCLOUD_SOURCE.host}/${VXCLOUD_SOURCE.namespace}/${VXCLOUD_SOURCE.type}" }
  }
}

provider "vxcloud" {
  lab_file = "${join(lab.lab.dir, 'lab.json')}"
}

resource "vxcloud_vpc" "shop" {
  name = "shop"
  cidr = "198.18.0.0/16"
}

resource "vxcloud_subnet" "s" {
  for_each = { web = 1, db = 2, app = 3 }
  vpc_id   = vxcloud_vpc.shop.id
  name     = each.key
  cidr     = "198.18.\${each.value}.0/24"
}

resource "vxcloud_router" "shop" {
  vpc_id           = vxcloud_vpc.shop.id
  subnet_ids       = [for s in vxcloud_subnet.s : s.id]
  external_network = "internet"
  external_ip      = "203.0.113.10"
  snat             = true
}

resource "vxcloud_nic" "n" {
  for_each   = { web = "h1", db = "h2", app = "h1" }
  subnet_id  = vxcloud_subnet.s[each.key].id
  host       = each.value
  namespace  = "${lab.lab.name}-\${each.key}"
  dhcp       = true
  depends_on = [vxcloud_router.shop]
}

resource "vxcloud_nat_rule" "forward" {
  router_id     = vxcloud_router.shop.id
  type          = "dnat"
  protocol      = "tcp"
  external_ip   = "203.0.113.10"
  external_port = 8080
  internal_ip   = split("/", vxcloud_nic.n["web"].ip)[0]
  internal_port = 80
}

resource "vxcloud_nat_rule" "floating" {
  router_id   = vxcloud_router.shop.id
  type        = "dnat_and_snat"
  external_ip = "203.0.113.11"
  internal_ip = split("/", vxcloud_nic.n["app"].ip)[0]
}

resource "vxcloud_block_volume" "data" {
  name       = "data"
  size_bytes = 16 * 1024 * 1024
  replicas   = 1
}
`;

beforeAll(async () => {
  // h1, h2 compute; h3 storage; h4 route with the lab's internet.
  lab = await startRegistryLab({
    hosts: 4,
    leaseSeconds: 10,
    internet: true,
    roles: (i) => (i === 4 ? ['route'] : i === 3 ? ['storage'] : ['compute']),
    reconcileIntervalSeconds: 3600,
  });
  ws = await Workspace.create(join(TOOLS, 'terraform'), PROVIDER_ENTRY, VXCLOUD_SOURCE, VERSION);
  await ws.writeConfig(config());
  await ws.ok(['init', '-no-color']);
});
afterAll(async () => {
  await ws?.remove();
  await lab?.down();
});

describe('destroy of a whole shop', () => {
  it(`succeeds ${ROUNDS} times out of ${ROUNDS}, leaving nothing on any host and nothing in the registry`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      await ws.ok(['apply', '-auto-approve', '-no-color']);
      const destroy = await ws.run(['destroy', '-auto-approve', '-no-color']);
      expect(destroy.code, `round ${round}: ${destroy.stderr}`).toBe(0);
      expect((JSON.parse(await readFile(join(ws.dir, 'terraform.tfstate'), 'utf8')) as { resources: unknown[] }).resources, `round ${round}`).toEqual([]);
      for (const h of ['h1', 'h2']) expect(await hostLinks(lab, h), `round ${round} ${h}`).toEqual(['eth0', 'lo']);
      expect(
        (await hostLinks(lab, 'h4')).filter((l) => l.startsWith('vx')),
        `round ${round} h4`,
      ).toEqual([]);
      const { stdout } = await lab.exec(lab.lab.hosts[3]!.namespace, ['ip', 'netns', 'list']);
      // /run/netns is the machine's: only this lab's router namespaces count (another file's lab may have some).
      expect(
        stdout.split('\n').filter((ns) => ns.startsWith(`${lab.lab.name}-`) && ns.includes('-vxr-')),
        `round ${round}: router namespaces`,
      ).toEqual([]);
      const left = (await registryKeys(lab, '/vxcloud/')).filter((k) => !/^\/vxcloud\/(hosts|alive|deleted)\//.test(k));
      expect(left, `round ${round}`).toEqual([]);
    }
  });
});
