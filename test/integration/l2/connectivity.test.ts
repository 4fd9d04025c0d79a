// A VPC with two subnets over two lab hosts, NICs on both: cross-host pings over VXLAN,
// idempotent Puts, an agent SIGKILLed and restarted, and Delete leaving nothing behind.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyBasic, basicObjects, deleteBasic } from '../../../examples/agent-api/basic.js';
import { NicKind } from '../../../gen/vxcloud/agent/v1/network.js';
import { restartAgent } from '../../../lab/lab.js';
import { hostLinks, ping, startLab, type TestLab } from '../../harness/lab.js';

let t: TestLab;
const ip = (cidr: string): string => cidr.split('/')[0]!;

beforeAll(async () => {
  t = await startLab({ hosts: 2 });
});
afterAll(async () => {
  await t?.down();
});

describe('L2 over VXLAN across hosts', () => {
  it('NICs of one subnet on different hosts ping each other, in both subnets', async () => {
    const objs = await applyBasic(t.lab);
    for (const subnet of ['web', 'db']) {
      const [a, b] = objs.nics.filter((p) => p.nic.subnetId === subnet);
      expect(a!.host).not.toBe(b!.host);
      expect(await ping(t, a!.nic.namespace, ip(b!.nic.ip))).toBe(true);
      expect(await ping(t, b!.nic.namespace, ip(a!.nic.ip))).toBe(true);
    }
  });

  it('gives workloads the underlay MTU minus the VXLAN overhead, and learning stays off', async () => {
    const nic = basicObjects(t.lab).nics[0]!;
    const { stdout } = await t.exec(nic.nic.namespace, ['ip', '-j', 'link', 'show', 'eth0']);
    expect((JSON.parse(stdout) as { mtu: number }[])[0]!.mtu).toBe(1450);
    const h1 = t.lab.hosts[0]!.namespace;
    const details = JSON.parse((await t.exec(h1, ['ip', '-d', '-j', 'link', 'show', 'vxlan1001'])).stdout) as {
      linkinfo: { info_data: { id: number; local: string; port: number; learning: boolean } };
    }[];
    expect(details[0]!.linkinfo.info_data).toMatchObject({ id: 1001, local: '192.0.2.11', port: 4789, learning: false });
    const port = JSON.parse((await t.exec(h1, ['bridge', '-d', '-j', 'link', 'show', 'dev', 'vxlan1001'])).stdout) as {
      learning: boolean;
      neigh_suppress: boolean;
    }[];
    expect(port[0]).toMatchObject({ learning: false, neigh_suppress: true });
  });

  it('a TAP NIC for a VM is a persistent TAP on the subnet bridge, and goes away on Delete', async () => {
    const c = t.client('h1').network;
    const tap = await c.putNic({
      nic: {
        id: 'vm1',
        subnetId: 'web',
        kind: NicKind.NIC_KIND_TAP,
        mac: '02:00:c6:12:01:64',
        ip: '',
        namespace: '',
        createNamespace: false,
        ifname: '',
        dhcp: false,
        filter: undefined,
      },
    });
    const ns = t.lab.hosts[0]!.namespace;
    const dev = tap.observed!.hostIfname;
    const link = JSON.parse((await t.exec(ns, ['ip', '-d', '-j', 'link', 'show', dev])).stdout) as {
      master: string;
      mtu: number;
      linkinfo: { info_kind: string; info_data: { type: string } };
    }[];
    expect(link[0]).toMatchObject({ master: 'vxbr1001', mtu: 1450, linkinfo: { info_kind: 'tun', info_data: { type: 'tap' } } });
    expect(tap.status!.ready).toBe(true);
    await c.deleteNic({ id: 'vm1' });
    expect(await hostLinks(t, 'h1')).not.toContain(dev);
  });

  it('a second Put of every object changes nothing and makes no duplicate device', async () => {
    const before = await Promise.all(['h1', 'h2'].map((h) => hostLinks(t, h)));
    await applyBasic(t.lab);
    const after = await Promise.all(['h1', 'h2'].map((h) => hostLinks(t, h)));
    expect(after).toEqual(before);
    const nics = (await t.client('h1').network.listNics({ parentId: '' })).nics;
    expect(nics.map((n) => n.status!.ready)).toEqual([true, true]);
  });

  it('an agent SIGKILLed and restarted keeps every object, duplicates nothing, and traffic flows', async () => {
    const before = await hostLinks(t, 'h1');
    const h1 = t.lab.hosts[0]!;
    process.kill(h1.pid, 'SIGKILL');
    await restartAgent(t.lab, 'h1');
    expect(await hostLinks(t, 'h1')).toEqual(before);
    const subnets = (await t.client('h1').network.listSubnets({ parentId: 'demo' })).subnets;
    expect(subnets.map((s) => [s.spec!.id, s.status!.ready])).toEqual([
      ['web', true],
      ['db', true],
    ]);
    const [a, b] = basicObjects(t.lab).nics.filter((p) => p.nic.subnetId === 'web');
    expect(await ping(t, a!.nic.namespace, ip(b!.nic.ip))).toBe(true);
  });

  it('Delete removes every kernel object it made, and deleting again succeeds', async () => {
    await deleteBasic(t.lab);
    for (const h of ['h1', 'h2']) expect(await hostLinks(t, h)).toEqual(['eth0', 'lo']);
    const { stdout } = await t.exec(t.lab.hosts[0]!.namespace, ['ip', 'netns', 'list']);
    for (const p of basicObjects(t.lab).nics) expect(stdout).not.toContain(p.nic.namespace);
    const again = await t.client('h1').network.deleteNic({ id: 'web-h1' });
    expect(again.existed).toBe(false);
  });
});
