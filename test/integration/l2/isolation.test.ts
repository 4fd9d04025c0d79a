// Two tenants with the same 198.18.0.0/16 on the same hosts: each reaches its own NICs and never
// the other's, and a capture on the other tenant's NIC sees no frame.

import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NicKind } from '../../../gen/vxcloud/agent/v1/network.js';
import { ping, startLab, type TestLab } from '../../harness/lab.js';

let t: TestLab;

// Tenant a: 198.18.1.10 (h1) and .11 (h2). Tenant b: the same subnet, with .12 on h2.
const tenants = [
  {
    vpc: 'a',
    vni: 2001,
    nics: [
      { host: 'h1', last: 10 },
      { host: 'h2', last: 11 },
    ],
  },
  {
    vpc: 'b',
    vni: 2002,
    nics: [
      { host: 'h1', last: 10 },
      { host: 'h2', last: 12 },
    ],
  },
];
const ns = (vpc: string, host: string): string => `${t.lab.name}-${vpc}-${host}`;
const mac = (vpc: string, last: number): string => `02:00:c6:12:${vpc === 'a' ? '0a' : '0b'}:${last.toString(16).padStart(2, '0')}`;

beforeAll(async () => {
  t = await startLab({ hosts: 2, controlPlane: 'static' });
  const vtep = (h: string): string => t.lab.hosts.find((x) => x.name === h)!.underlayAddress;
  for (const ten of tenants) {
    for (const h of ['h1', 'h2']) {
      const c = t.client(h).network;
      await c.putVpc({ vpc: { id: ten.vpc, name: ten.vpc, tenant: ten.vpc, cidr: '198.18.0.0/16' } });
      await c.putSubnet({ subnet: { id: `${ten.vpc}-s`, vpcId: ten.vpc, name: 's', cidr: '198.18.1.0/24', vni: ten.vni, vlan: 0, gateway: '' } });
    }
    for (const n of ten.nics) {
      await t.client(n.host).network.putNic({
        nic: {
          id: `${ten.vpc}-${n.host}`,
          subnetId: `${ten.vpc}-s`,
          kind: NicKind.NIC_KIND_VETH,
          mac: mac(ten.vpc, n.last),
          ip: `198.18.1.${n.last}/24`,
          namespace: ns(ten.vpc, n.host),
          createNamespace: true,
          ifname: 'eth0',
          dhcp: false,
          filter: undefined,
        },
      });
    }
    for (const h of ['h1', 'h2']) {
      const remote = ten.nics.filter((n) => n.host !== h);
      await t.client(h).network.putVtepTable({
        table: {
          subnetId: `${ten.vpc}-s`,
          floodVteps: remote.map((n) => vtep(n.host)),
          fdb: remote.map((n) => ({ mac: mac(ten.vpc, n.last), vtep: vtep(n.host) })),
          neighbors: [],
        },
      });
    }
  }
});
afterAll(async () => {
  await t?.down();
});

it('each tenant reaches its own NICs across hosts', async () => {
  expect(await ping(t, ns('a', 'h1'), '198.18.1.11')).toBe(true);
  expect(await ping(t, ns('b', 'h1'), '198.18.1.12')).toBe(true);
});

it("a tenant never reaches the other tenant's address, and the other NIC sees no frame", async () => {
  // Capture every frame from tenant a's pinging NIC that reaches tenant b's NIC on h2 (tenant b's
  // own multicast chatter on its segment is not a leak, so the filter is a's source MAC).
  const capture = spawn(
    'ip',
    ['netns', 'exec', ns('b', 'h2'), 'tcpdump', '-i', 'eth0', '-Q', 'in', '-n', '-l', '-e', '-c', '50', 'ether', 'src', mac('a', 10)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let frames = '';
  let ready = false;
  capture.stdout.on('data', (d: Buffer) => (frames += d.toString()));
  capture.stderr.on('data', (d: Buffer) => {
    if (d.toString().includes('listening on')) ready = true;
  });
  try {
    const until = Date.now() + 10_000;
    while (!ready && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    expect(ready).toBe(true);
    expect(await ping(t, ns('a', 'h1'), '198.18.1.12', 3)).toBe(false);
    await new Promise((r) => setTimeout(r, 500));
  } finally {
    capture.kill('SIGTERM');
  }
  expect(frames.trim()).toBe('');
});
