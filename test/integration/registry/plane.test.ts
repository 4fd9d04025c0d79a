// The registry control plane in a lab: three compute hosts whose agents record their subnets and
// NICs in the lab's registry (etcd over mutual TLS, in a namespace on the underlay) and program
// each other's entries from the watch. No VTEP table is ever put through the API.

import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { status as grpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restartAgent, waitFor } from '../../../lab/lab.js';
import { registryKeys, startRegistryLab, upHosts, waitUp } from '../../harness/registry.js';
import { addr, fdb, host, neighbors, nicNamespace, pingUntil, putNic, putSubnet, type NicPlace } from '../../harness/evpn.js';
import { ping, processesUnder, type TestLab } from '../../harness/lab.js';

const LEASE_SECONDS = 3;
// etcd checks for expired leases every 500 ms; the watch adds a few ms.
const DOWN_BOUND_MS = LEASE_SECONDS * 1000 + 1500;
const VNI = 4001;
const VXLAN = `vxlan${VNI}`;
const BRIDGE = `vxbr${VNI}`;
const HOSTS = ['h1', 'h2', 'h3'];
const nics: NicPlace[] = [1, 2, 3].map((i) => ({ host: `h${i}`, id: `e${i}`, subnet: 'web', mac: `02:00:c6:12:40:0${i}`, ip: `198.18.1.2${i}/24` }));

let t: TestLab;
const vtep = (h: string): string => host(t, h).underlayAddress;

/** h's remote entries for VNI: flood targets, MAC → VTEP, IP → MAC on the bridge. */
async function entries(h: string): Promise<{ flood: string[]; macs: string[]; neigh: string[] }> {
  const rows = await fdb(t, h, VXLAN);
  return {
    flood: rows
      .filter((r) => r.mac === '00:00:00:00:00:00')
      .map((r) => r.dst!)
      .sort(),
    macs: rows
      .filter((r) => r.mac !== '00:00:00:00:00:00' && r.dst !== undefined)
      .map((r) => `${r.mac}>${r.dst}`)
      .sort(),
    neigh: (await neighbors(t, h, BRIDGE)).map((n) => `${n.dst}=${n.lladdr}`).sort(),
  };
}

/** What h should hold when `present` are the live hosts. */
function expected(h: string, present: string[]): { flood: string[]; macs: string[]; neigh: string[] } {
  const others = nics.filter((n) => n.host !== h && present.includes(n.host));
  return {
    flood: present
      .filter((p) => p !== h)
      .map(vtep)
      .sort(),
    macs: others.map((n) => `${n.mac}>${vtep(n.host)}`).sort(),
    neigh: others.map((n) => `${addr(n.ip)}=${n.mac}`).sort(),
  };
}

async function waitEntries(h: string, present: string[], timeoutMs: number): Promise<void> {
  const want = JSON.stringify(expected(h, present));
  await waitFor(`${h} to hold the entries of ${present.join(', ')}`, timeoutMs, async () => JSON.stringify(await entries(h)) === want);
}

async function pingAll(): Promise<void> {
  for (const a of nics) for (const b of nics) if (a !== b) await pingUntil(t, nicNamespace(t, a), addr(b.ip), 10_000);
}

beforeAll(async () => {
  t = await startRegistryLab({ hosts: 3, leaseSeconds: LEASE_SECONDS });
  await putSubnet(t, HOSTS, { vpc: 'a', id: 'web', cidr: '198.18.1.0/24', vni: VNI });
  for (const n of nics) await putNic(t, n);
});
afterAll(async () => {
  await t?.down();
});

describe('registry control plane', () => {
  it('NICs of one subnet on three hosts ping each other, from entries the agents learned through etcd', async () => {
    for (const h of HOSTS) await waitEntries(h, HOSTS, 10_000);
    await pingAll();
    expect(
      await t
        .client('h1')
        .network.getVtepTable({ id: 'web' })
        .catch((e: unknown) => e),
    ).toMatchObject({ code: grpcStatus.NOT_FOUND });
    const put = await t
      .client('h1')
      .network.putVtepTable({ table: { subnetId: 'web', floodVteps: [vtep('h2')], fdb: [], neighbors: [] } })
      .catch((e: unknown) => e);
    expect(put).toMatchObject({ code: grpcStatus.FAILED_PRECONDITION });
    const keys = await registryKeys(t, '/vxcloud/');
    expect(keys.filter((k) => !k.startsWith('/vxcloud/ip/') && !k.startsWith('/vxcloud/mac/'))).toEqual([
      ...HOSTS.map((h) => `/vxcloud/alive/${h}`),
      ...HOSTS.map((h) => `/vxcloud/hosts/${h}`),
      ...['a', 'e1', 'e2', 'e3', 'web'].map((id) => `/vxcloud/objects/${id}`),
      `/vxcloud/vni/${VNI}`,
    ]);
    expect(keys.filter((k) => k.startsWith('/vxcloud/ip/'))).toEqual(nics.map((n) => `/vxcloud/ip/web/${addr(n.ip)}`));
  });

  it('reports the registry through the host service', async () => {
    const h = await t.client('h1').host.getHost({});
    expect(h.controlPlane).toMatchObject({ kind: 'registry', vtep: true, problems: [] });
    expect(h.controlPlane!.vnis).toEqual([{ vni: VNI, localMacs: 1, remoteMacs: 2, neighbors: 2, remoteVteps: 2 }]);
    expect(h.registry).toMatchObject({ prefix: '/vxcloud/', leaseSeconds: LEASE_SECONDS, problems: [] });
    expect(h.registry!.leaseId).toMatch(/^[0-9a-f]+$/);
    expect(h.registry!.members).toEqual(HOSTS.map((n) => ({ name: n, vtep: vtep(n), vnis: [VNI], macs: 1, up: true })));
    const inv = await t.client('h2').host.listHosts({ role: '' });
    expect(inv.hosts.map((x) => [x.name, x.underlayAddress, x.up, x.controlPlane])).toEqual(HOSTS.map((n) => [n, vtep(n), true, 'registry']));
  });

  it('a stopped agent shows as down within its lease, while the others keep its entries and traffic to its NICs flows', async () => {
    const h3 = host(t, 'h3');
    process.kill(h3.pid, 'SIGSTOP');
    const stoppedAt = Date.now();
    try {
      await waitUp(t, ['h1', 'h2'], ['h1', 'h2'], DOWN_BOUND_MS + 1000);
      expect(Date.now() - stoppedAt).toBeLessThanOrEqual(DOWN_BOUND_MS + 1000);
      expect((await t.client('h1').host.listHosts({ role: '' })).hosts.find((x) => x.name === 'h3')?.up).toBe(false);
      for (const h of ['h1', 'h2']) expect(await entries(h)).toEqual(expected(h, HOSTS));
      expect(await ping(t, nicNamespace(t, nics[0]!), addr(nics[2]!.ip))).toBe(true);
    } finally {
      process.kill(h3.pid, 'SIGCONT');
    }
    // Its lease is gone: the agent notices, takes a new one and shows as up again.
    await waitUp(t, HOSTS, HOSTS);
    await pingAll();
  });

  it('a SIGKILLed agent shows as down; its NICs keep forwarding; restarted, it is up again', async () => {
    process.kill(host(t, 'h2').pid, 'SIGKILL');
    await waitUp(t, ['h1', 'h3'], ['h1', 'h3'], DOWN_BOUND_MS + 1000);
    expect(await ping(t, nicNamespace(t, nics[0]!), addr(nics[1]!.ip))).toBe(true);
    await restartAgent(t.lab, 'h2');
    await waitUp(t, HOSTS, HOSTS);
    for (const h of HOSTS) await waitEntries(h, HOSTS, 10_000);
    await pingAll();
  });

  it('an agent restart keeps connectivity: no entry of it is removed elsewhere, no ping lost', async () => {
    const monitor = spawn('ip', ['netns', 'exec', host(t, 'h1').namespace, 'bridge', 'monitor', 'fdb'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let events = '';
    monitor.stdout.on('data', (d: Buffer) => (events += d.toString()));
    const flow = spawn('ip', ['netns', 'exec', nicNamespace(t, nics[0]!), 'ping', '-c', '40', '-i', '0.1', '-W', '1', addr(nics[2]!.ip)], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    flow.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<number>((r) => flow.on('exit', (code) => r(code ?? -1)));
    try {
      await new Promise((r) => setTimeout(r, 300));
      await restartAgent(t.lab, 'h3');
      await restartAgent(t.lab, 'h1');
      expect(await done).toBe(0);
    } finally {
      monitor.kill('SIGTERM');
    }
    expect(out).toMatch(/40 received/);
    // (The agent's capability probe adds and removes a device of its own at start: not ours to count.)
    expect(events).not.toMatch(new RegExp(`Deleted .* dev ${VXLAN} `));
    expect(events).not.toMatch(new RegExp(`Deleted .* dev ${BRIDGE} `));
    for (const h of HOSTS) await waitEntries(h, HOSTS, 10_000);
  });

  it('overlapping tenant CIDRs stay isolated', async () => {
    // Tenant b: the same 198.18.1.0/24 on another VNI, .21 on h1 (an address tenant a also has) and .24 on h2.
    await putSubnet(t, ['h1', 'h2'], { vpc: 'b', id: 'b-web', cidr: '198.18.1.0/24', vni: 4002 });
    expect(await upHosts(t, 'h1')).toEqual(HOSTS);
    const b1: NicPlace = { host: 'h1', id: 'b1', subnet: 'b-web', mac: '02:00:c6:12:4b:21', ip: '198.18.1.21/24' };
    const b2: NicPlace = { host: 'h2', id: 'b2', subnet: 'b-web', mac: '02:00:c6:12:4b:24', ip: '198.18.1.24/24' };
    await putNic(t, b1);
    await putNic(t, b2);
    await pingUntil(t, nicNamespace(t, b1), addr(b2.ip), 10_000);
    expect(await ping(t, nicNamespace(t, nics[0]!), addr(b2.ip), 3)).toBe(false);
    // Each VNI's tables hold only its own tenant's entries.
    const rows = await fdb(t, 'h1', 'vxlan4002');
    expect(rows.filter((r) => r.mac !== '00:00:00:00:00:00' && r.dst !== undefined).map((r) => r.mac)).toEqual([b2.mac]);
    expect((await entries('h1')).macs).toEqual(expected('h1', HOSTS).macs);
    expect(await ping(t, nicNamespace(t, nics[0]!), addr(nics[2]!.ip))).toBe(true);
    const cp = (await t.client('h1').host.getHost({})).controlPlane!;
    expect(cp.vnis.map((v) => [v.vni, v.remoteMacs])).toEqual([
      [VNI, 2],
      [4002, 1],
    ]);
  });

  it('refuses overlapping subnets of one VPC put at once on hosts that share none of them; the loser holds nothing', async () => {
    for (const h of ['h2', 'h3']) await t.client(h).network.putVpc({ vpc: { id: 'c', name: 'c', tenant: 'c', cidr: '198.18.0.0/15' } });
    const put = (h: string, id: string, cidr: string) =>
      t.client(h).network.putSubnet({ subnet: { id, vpcId: 'c', name: id, cidr, vni: 0, vlan: 0, gateway: '' } });
    const [one, two] = await Promise.allSettled([put('h2', 'c1', '198.18.5.0/24'), put('h3', 'c2', '198.18.5.128/25')]);
    const won = one.status === 'fulfilled' ? { host: 'h2', id: 'c1' } : { host: 'h3', id: 'c2' };
    const lost = one.status === 'fulfilled' ? { host: 'h3', id: 'c2', r: two } : { host: 'h2', id: 'c1', r: one };
    expect([one, two].filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const e = (lost.r as PromiseRejectedResult).reason as { code: number; details: string; metadata: { get(k: string): unknown[] } };
    expect(e.code).toBe(grpcStatus.ALREADY_EXISTS);
    expect(e.metadata.get('vxcloud-field')).toEqual(['cidr']);
    expect(e.details).toMatch(new RegExp(`overlaps subnet "${won.id}" .* of VPC "c"`));
    expect((await t.client(lost.host).network.listSubnets({ parentId: 'c' })).subnets).toEqual([]);
    const vpc = await t.client('h1').host.lookupObject({ id: 'c' });
    expect(vpc.subnets).toEqual({ [won.id]: won.id === 'c1' ? '198.18.5.0/24' : '198.18.5.128/25' });
    await t.client(won.host).network.deleteSubnet({ id: won.id });
    expect((await t.client('h1').host.lookupObject({ id: 'c' })).subnets).toEqual({});
  });

  it('lab teardown stops the registry and leaves no process of the lab behind', async () => {
    const dir = t.lab.dir;
    expect((await readFile(`${dir}/etcd/process.pid`, 'utf8')).trim()).toMatch(/^\d+$/);
    await t.down();
    expect(await processesUnder(dir)).toEqual([]);
  });
});
