// A router on a route host (h3) for a VPC whose NICs live on two compute hosts (h1, h2): DHCP
// over the overlay, routing between subnets, SNAT to a server in the lab's "internet" namespace,
// a port forward and a floating IP from there, rule counters, the agent restarted (SIGTERM and
// SIGKILL), the router's namespace deleted by hand, and Delete leaving nothing behind.

import type { ChildProcess } from 'node:child_process';
import { readlinkSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatProtocol, NatType } from '../../../gen/vxcloud/agent/v1/router.js';
import { restartAgent, waitFor } from '../../../lab/lab.js';
import { applyTenant, stopServer, tcpGet, tcpServer, waitLease, type Tenant } from '../../harness/l3.js';
import { labFilePath } from '../../../lab/labfile.js';
import { isAlive } from '../../../lib/process.js';
import { hostLinks, ping, run, startLab, type TestLab } from '../../harness/lab.js';

let t: TestLab;
let tenant: Tenant;
const servers: ChildProcess[] = [];
const inet = (): string => t.lab.internet!.namespace;
const r3 = () => t.client('h3').router;

beforeAll(async () => {
  t = await startLab({ hosts: 3, roles: (i) => (i === 3 ? ['route'] : ['compute']), internet: true, controlPlane: 'static', reconcileIntervalSeconds: 2 });
  tenant = {
    vpc: 'acme',
    cidr: '198.18.0.0/16',
    subnets: [
      { id: 'web', cidr: '198.18.1.0/24', vni: 2001 },
      { id: 'db', cidr: '198.18.2.0/24', vni: 2002 },
    ],
    router: { id: 'r1', host: 'h3', externalIp: '203.0.113.10', snat: true },
    nics: [
      { id: 'web1', subnet: 'web', host: 'h1', mac: '02:00:c6:12:01:0a', ip: '198.18.1.10', namespace: `${t.lab.name}-web1` },
      { id: 'db1', subnet: 'db', host: 'h2', mac: '02:00:c6:12:02:0a', ip: '198.18.2.10', namespace: `${t.lab.name}-db1` },
    ],
  };
}, 120_000);
afterAll(async () => {
  for (const s of servers) stopServer(s);
  await t?.down();
});

const web1 = () => tenant.nics[0]!;
const db1 = () => tenant.nics[1]!;

describe('a router on a route host', () => {
  it('gives NICs on two compute hosts their reserved addresses by DHCP, and routes between the subnets', async () => {
    const router = await applyTenant(t.lab, (h) => t.client(h), tenant);
    expect(router.observed!.legs.map((l) => [l.subnetId, l.addresses[0]])).toEqual([
      ['web', '198.18.1.1/24'],
      ['db', '198.18.2.1/24'],
      ['', '203.0.113.10/24'],
    ]);
    await waitLease(t.client('h1'), web1(), '198.18.1.0/24', 30_000);
    await waitLease(t.client('h2'), db1(), '198.18.2.0/24', 30_000);
    expect(await ping(t, web1().namespace, '198.18.2.10')).toBe(true);
    expect(await ping(t, db1().namespace, '198.18.1.10')).toBe(true);
    const r = await r3().getRouter({ id: 'r1' });
    expect(r.status).toMatchObject({ ready: true, problems: [] });
    expect(r.observed!.forwarding).toBe(true);
    expect(r.observed!.dhcpPid).toBeGreaterThan(0);
    expect(r.observed!.leases.map((l) => [l.subnetId, l.mac, l.ip]).sort()).toEqual([
      ['db', '02:00:c6:12:02:0a', '198.18.2.10'],
      ['web', '02:00:c6:12:01:0a', '198.18.1.10'],
    ]);
  });

  it("SNATs egress to the internet behind the router's external address", async () => {
    servers.push(await tcpServer(inet(), 8000, 'internet'));
    expect(await tcpGet(web1().namespace, '203.0.113.1', 8000)).toBe('internet 203.0.113.10');
    expect(await tcpGet(db1().namespace, '203.0.113.1', 8000)).toBe('internet 203.0.113.10');
  });

  it('forwards a port from the external address to a NIC, and counts its packets', async () => {
    servers.push(await tcpServer(web1().namespace, 80, 'web1'));
    const rule = await r3().putNatRule({
      rule: {
        id: 'pf-web',
        routerId: 'r1',
        type: NatType.NAT_TYPE_DNAT,
        protocol: NatProtocol.NAT_PROTOCOL_TCP,
        externalIp: '203.0.113.10',
        externalPort: 8080,
        internalIp: '198.18.1.10',
        internalPort: 80,
      },
    });
    expect(rule.status!.ready).toBe(true);
    // The NIC sees the client's own address: a port forward translates the destination only.
    expect(await tcpGet(inet(), '203.0.113.10', 8080)).toBe('web1 203.0.113.1');
    expect((await r3().getNatRule({ id: 'pf-web' })).observed!.packets).toBeGreaterThan(0);
    // Nothing else of the NIC is reachable from outside.
    await expect(tcpGet(inet(), '198.18.1.10', 80, 1500)).rejects.toThrow();
  });

  it('maps a floating IP to a NIC both ways', async () => {
    servers.push(await tcpServer(db1().namespace, 9000, 'db1'));
    await r3().putNatRule({
      rule: {
        id: 'fip-db',
        routerId: 'r1',
        type: NatType.NAT_TYPE_DNAT_AND_SNAT,
        protocol: NatProtocol.NAT_PROTOCOL_UNSPECIFIED,
        externalIp: '203.0.113.20',
        externalPort: 0,
        internalIp: '198.18.2.10',
        internalPort: 0,
      },
    });
    expect(await tcpGet(inet(), '203.0.113.20', 9000)).toBe('db1 203.0.113.1');
    expect(await tcpGet(db1().namespace, '203.0.113.1', 8000)).toBe('internet 203.0.113.20');
    // The other NIC still leaves behind the router's address.
    expect(await tcpGet(web1().namespace, '203.0.113.1', 8000)).toBe('internet 203.0.113.10');
    const rules = (await r3().listNatRules({ parentId: 'r1' })).rules;
    expect(rules.map((r) => [r.spec!.id, r.status!.ready])).toEqual([
      ['pf-web', true],
      ['fip-db', true],
    ]);
    expect(rules[1]!.observed!.packets).toBeGreaterThan(0);
  });

  it('vxctl router list|show report legs, leases and NAT rules with their packet counters', async () => {
    const vxctl = (...args: string[]) =>
      run(process.execPath, ['dist/vxctl/main.js', 'router', ...args, '--lab-file', labFilePath(t.lab.dir)], { timeout: 20_000 });
    const list = (await vxctl('list')).stdout;
    expect(list).toMatch(/h3\s+r1\s+r1\s+acme\s+web,db\s+internet 203\.0\.113\.10\s+yes\s+2\s+2\s+pid \d+\s+ready/);
    const show = (await vxctl('show', 'r1')).stdout;
    expect(show).toMatch(/sn2001\s+vxr[0-9a-f]{10}\s+vxbr2001\s+\S+\s+198\.18\.1\.1\/24\s+yes\s+on/);
    expect(show).toMatch(/web\s+02:00:c6:12:01:0a\s+198\.18\.1\.10\s+web1/);
    expect(show).toMatch(/fip-db\s+dnat_and_snat\s+any\s+203\.0\.113\.20\s+198\.18\.2\.10\s+[1-9]\d*\s+\d+\s+ready/);
  });

  it('keeps routers, leases and NAT across an agent restart (SIGTERM) and a crash (SIGKILL)', async () => {
    const before = await r3().getRouter({ id: 'r1' });
    await restartAgent(t.lab, 'h3');
    const after = await r3().getRouter({ id: 'r1' });
    expect(after.status).toMatchObject({ ready: true, problems: [] });
    expect(after.observed!.leases).toEqual(before.observed!.leases);
    // SIGTERM stops the agent's dnsmasq with it; the new agent starts another.
    expect(after.observed!.dhcpPid).not.toBe(before.observed!.dhcpPid);

    const h3 = t.lab.hosts[2]!;
    process.kill(h3.pid, 'SIGKILL');
    await restartAgent(t.lab, 'h3');
    const adopted = await r3().getRouter({ id: 'r1' });
    expect(adopted.status!.ready).toBe(true);
    // A crashed agent's dnsmasq keeps serving, and the next agent adopts it.
    expect(adopted.observed!.dhcpPid).toBe(after.observed!.dhcpPid);
    expect(await ping(t, web1().namespace, '198.18.2.10')).toBe(true);
    expect(await tcpGet(inet(), '203.0.113.10', 8080)).toBe('web1 203.0.113.1');
    expect(await tcpGet(inet(), '203.0.113.20', 9000)).toBe('db1 203.0.113.1');
  });

  it('restarts a dnsmasq that died', async () => {
    const before = (await r3().getRouter({ id: 'r1' })).observed!;
    process.kill(before.dhcpPid, 'SIGKILL');
    const after = await waitFor('dnsmasq to be restarted', 10_000, async () => {
      const o = (await r3().getRouter({ id: 'r1' })).observed!;
      return o.dhcpPid !== 0 && o.dhcpPid !== before.dhcpPid && o;
    });
    expect(after.dhcpRestarts).toBe(before.dhcpRestarts + 1);
  });

  it('restores a router namespace deleted by hand, with a dnsmasq inside the new one', async () => {
    const before = (await r3().getRouter({ id: 'r1' })).observed!;
    const ns = before.namespace;
    await t.exec(t.lab.hosts[2]!.namespace, ['ip', 'netns', 'del', ns]);
    const broken = await r3().getRouter({ id: 'r1' });
    // The periodic pass (every 2 s here) may have come first; then it must have replaced dnsmasq.
    if (broken.status!.ready) expect(broken.observed!.dhcpPid).not.toBe(before.dhcpPid);
    else expect(broken.status!.problems).toContain(`namespace ${ns} is missing`);
    await waitFor('the reconciler to restore the router', 20_000, async () => (await r3().getRouter({ id: 'r1' })).status!.ready);
    // The old dnsmasq kept the deleted namespace alive, serving nobody: it is gone, and the new one
    // runs in the namespace that now has the router's name.
    const after = (await r3().getRouter({ id: 'r1' })).observed!;
    expect(isAlive(before.dhcpPid)).toBe(false);
    expect(readlinkSync(`/proc/${after.dhcpPid}/ns/net`)).toBe(`net:[${statSync(`/run/netns/${ns}`).ino}]`);
    await waitFor('traffic through the restored router', 10_000, async () => ping(t, web1().namespace, '198.18.2.10', 1));
    expect(await tcpGet(web1().namespace, '203.0.113.1', 8000)).toBe('internet 203.0.113.10');
    expect(await tcpGet(inet(), '203.0.113.10', 8080)).toBe('web1 203.0.113.1');
  });

  it("Delete removes the router's namespace, legs and dnsmasq; deleting again succeeds", async () => {
    const o = (await r3().getRouter({ id: 'r1' })).observed!;
    expect(
      (await r3()
        .deleteRouter({ id: 'r1' })
        .catch((e: Error) => e)) as Error,
    ).toBeInstanceOf(Error);
    for (const id of ['pf-web', 'fip-db']) expect((await r3().deleteNatRule({ id })).existed).toBe(true);
    expect((await r3().deleteRouter({ id: 'r1' })).existed).toBe(true);
    expect((await r3().deleteRouter({ id: 'r1' })).existed).toBe(false);
    const { stdout } = await t.exec(t.lab.hosts[2]!.namespace, ['ip', 'netns', 'list']);
    expect(stdout).not.toContain(o.namespace);
    expect((await hostLinks(t, 'h3')).filter((l) => l.startsWith('vxr'))).toEqual([]);
    const cmdline = await readFile(`/proc/${o.dhcpPid}/cmdline`, 'utf8').catch(() => '');
    expect(cmdline).not.toContain('dnsmasq');
  });
});
