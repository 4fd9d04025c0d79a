// Two tenants with overlapping CIDRs, each with a router on the same route host: each reaches the
// internet behind its own address, neither reaches the other (even when the upstream routes one
// tenant's private network to the other's router), and neither — nor a router itself — reaches
// the route host's underlay address or the agent's port, which the upstream itself can reach.

import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyTenant, stopServer, tcpConnects, tcpGet, tcpServer, waitLease, type Tenant } from '../../harness/l3.js';
import { ping, startLab, type TestLab } from '../../harness/lab.js';

let t: TestLab;
let acme: Tenant;
let globex: Tenant;
const servers: ChildProcess[] = [];
const inet = (): string => t.lab.internet!.namespace;
const routeHost = (): string => t.lab.hosts[1]!.underlayAddress;

beforeAll(async () => {
  t = await startLab({ hosts: 2, roles: (i) => (i === 2 ? ['route'] : ['compute']), internet: true, controlPlane: 'static' });
  acme = {
    vpc: 'acme',
    cidr: '198.18.0.0/16',
    subnets: [
      { id: 'acme-web', cidr: '198.18.1.0/24', vni: 3001 },
      { id: 'acme-db', cidr: '198.18.2.0/24', vni: 3002 },
    ],
    router: { id: 'acme-r', host: 'h2', externalIp: '203.0.113.10', snat: true },
    nics: [
      { id: 'acme-web1', subnet: 'acme-web', host: 'h1', mac: '02:00:c6:12:01:0a', ip: '198.18.1.10', namespace: `${t.lab.name}-aweb` },
      { id: 'acme-db1', subnet: 'acme-db', host: 'h1', mac: '02:00:c6:12:02:0a', ip: '198.18.2.10', namespace: `${t.lab.name}-adb` },
    ],
  };
  globex = {
    vpc: 'globex',
    cidr: '198.18.0.0/16',
    subnets: [{ id: 'globex-web', cidr: '198.18.1.0/24', vni: 3101 }],
    router: { id: 'globex-r', host: 'h2', externalIp: '203.0.113.11', snat: true },
    // The same address as acme's web NIC, on the same compute host.
    nics: [{ id: 'globex-web1', subnet: 'globex-web', host: 'h1', mac: '02:00:c6:13:01:0a', ip: '198.18.1.10', namespace: `${t.lab.name}-gweb` }],
  };
  for (const tenant of [acme, globex]) await applyTenant(t.lab, (h) => t.client(h), tenant);
  for (const tenant of [acme, globex])
    for (const n of tenant.nics) await waitLease(t.client('h1'), n, tenant.subnets.find((s) => s.id === n.subnet)!.cidr, 30_000);
  servers.push(await tcpServer(inet(), 8000, 'internet'));
  servers.push(await tcpServer(acme.nics[1]!.namespace, 5432, 'acme-db1'));
}, 120_000);
afterAll(async () => {
  for (const s of servers) stopServer(s);
  await t?.down();
});

describe('routers of two tenants with overlapping CIDRs', () => {
  it('give each tenant the same address by DHCP and its own way out', async () => {
    expect(await tcpGet(acme.nics[0]!.namespace, '203.0.113.1', 8000)).toBe('internet 203.0.113.10');
    expect(await tcpGet(globex.nics[0]!.namespace, '203.0.113.1', 8000)).toBe('internet 203.0.113.11');
    expect(await ping(t, globex.nics[0]!.namespace, '198.18.1.1')).toBe(true);
  });

  it('let no tenant reach the other, even when the upstream routes it there', async () => {
    const victim = acme.nics[1]!;
    await t.exec(inet(), ['ip', 'route', 'replace', '198.18.2.0/24', 'via', '203.0.113.10']);
    expect(await tcpGet(acme.nics[0]!.namespace, victim.ip, 5432)).toBe(`acme-db1 198.18.1.10`);
    const attacker = globex.nics[0]!.namespace;
    expect(await tcpConnects(attacker, victim.ip, 5432)).toBe(false);
    expect(await ping(t, attacker, victim.ip, 1)).toBe(false);
    // The other router's own addresses answer nothing either.
    expect(await ping(t, attacker, '203.0.113.10', 1)).toBe(false);
    expect(await tcpConnects(inet(), victim.ip, 5432)).toBe(false);
  });

  it("keep tenants and routers off the route host's underlay address and the agent's port", async () => {
    // The upstream reaches them: only the routers' filter stands between a tenant and them.
    expect(await tcpConnects(inet(), routeHost(), 7443)).toBe(true);
    expect(await ping(t, inet(), routeHost(), 1)).toBe(true);
    for (const tenant of [acme, globex]) {
      const ns = tenant.nics[0]!.namespace;
      expect(await tcpConnects(ns, routeHost(), 7443)).toBe(false);
      expect(await ping(t, ns, routeHost(), 1)).toBe(false);
      expect(await ping(t, ns, t.lab.hosts[0]!.underlayAddress, 1)).toBe(false);
      const router = (await t.client('h2').router.getRouter({ id: tenant.router.id })).observed!.namespace;
      expect(await ping(t, router, routeHost(), 1)).toBe(false);
      expect(await ping(t, router, '203.0.113.1', 1)).toBe(true);
    }
  });
});
