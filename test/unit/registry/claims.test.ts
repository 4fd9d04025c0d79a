// The registry's claims against an in-memory store with etcd's compare semantics: allocations are
// unique under concurrency, idempotent per id, released on the last leave, and a deleted id
// cannot be put again while its tombstone lasts.

import { describe, expect, it } from 'vitest';
import {
  claimNat,
  claimNic,
  claimRouter,
  claimVolume,
  confirmRun,
  joinSubnet,
  joinVpc,
  leaveSubnet,
  leaveVpc,
  macFor,
  origin,
  releaseNat,
  releaseNic,
  releaseRouter,
  releaseVolume,
} from '../../../agent/registry/claims.js';
import { keys, type SubnetObject } from '../../../agent/registry/model.js';
import { optimistic, type Txn } from '../../../agent/registry/txn.js';
import { reservations, viewOf, vtepTables } from '../../../agent/registry/view.js';
import { ApiError } from '../../../agent/state/errors.js';
import { MemoryBackend } from './memory-backend.js';
import { refused } from './refused.js';

const k = keys('/vx/');

function setup() {
  const b = new MemoryBackend();
  const run = <T>(fn: (tx: Txn) => Promise<T>): Promise<T> => optimistic(b, fn);
  return { b, run };
}

async function vpcWithSubnet(run: ReturnType<typeof setup>['run'], hosts = ['h1', 'h2']) {
  for (const h of hosts) await run((tx) => joinVpc(tx, k, { id: 'v', tenant: 'a', name: 'v', cidr: '198.18.0.0/16' }, h));
  for (const h of hosts) await run((tx) => joinSubnet(tx, k, { id: 's', vpc_id: 'v', cidr: '198.18.1.0/24', gateway: '', vni: 0 }, h));
}

describe('registry claims', () => {
  it('gives 40 subnets created at once on different hosts 40 distinct VNIs, from 1000', async () => {
    const { run, b } = setup();
    await run((tx) => joinVpc(tx, k, { id: 'v', tenant: 'a', name: 'v', cidr: '198.18.0.0/15' }, 'h1'));
    const subs = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        run((tx) => joinSubnet(tx, k, { id: `s${i}`, vpc_id: 'v', cidr: `198.18.${i}.0/24`, gateway: '', vni: 0 }, `h${i % 4}`)),
      ),
    );
    const vnis = subs.map((s) => s.vni).sort((a, c) => a - c);
    expect(vnis).toEqual(Array.from({ length: 40 }, (_, i) => 1000 + i));
    expect(b.conflicts).toBeGreaterThan(0); // they did collide, and the compares caught it
  });

  it('gives every host of a subnet the same VNI, and a retry the same answer', async () => {
    const { run } = setup();
    await run((tx) => joinVpc(tx, k, { id: 'v', tenant: 'a', name: 'v', cidr: '198.18.0.0/16' }, 'h1'));
    const [a, c] = await Promise.all(
      ['h1', 'h2'].map((h) => run((tx) => joinSubnet(tx, k, { id: 's', vpc_id: 'v', cidr: '198.18.1.0/24', gateway: '', vni: 0 }, h))),
    );
    const again = await run((tx) => joinSubnet(tx, k, { id: 's', vpc_id: 'v', cidr: '198.18.1.0/24', gateway: '', vni: 0 }, 'h1'));
    expect(new Set([a!.vni, c!.vni, again.vni]).size).toBe(1);
    expect(again.hosts).toEqual(['h1', 'h2']);
    expect(again.gateway).toBe('198.18.1.1');
  });

  it('refuses a VNI another subnet holds, and a change of CIDR, naming the field', async () => {
    const { run } = setup();
    await vpcWithSubnet(run);
    const vni = (await run((tx) => joinSubnet(tx, k, { id: 's', vpc_id: 'v', cidr: '198.18.1.0/24', gateway: '', vni: 0 }, 'h1'))).vni;
    const e = await refused(run((tx) => joinSubnet(tx, k, { id: 't', vpc_id: 'v', cidr: '198.18.2.0/24', gateway: '', vni }, 'h1')));
    expect([e.code, e.field]).toEqual(['ALREADY_EXISTS', 'vni']);
    const c = await refused(run((tx) => joinSubnet(tx, k, { id: 's', vpc_id: 'v', cidr: '198.18.3.0/24', gateway: '', vni: 0 }, 'h1')));
    expect([c.code, c.field]).toEqual(['FAILED_PRECONDITION', 'cidr']);
    const p = await refused(run((tx) => joinSubnet(tx, k, { id: 'u', vpc_id: 'nope', cidr: '198.18.4.0/24', gateway: '', vni: 0 }, 'h1')));
    expect([p.code, p.field]).toEqual(['FAILED_PRECONDITION', 'vpc_id']);
  });

  it('refuses a subnet overlapping one on another host of the VPC, even when both are created at once', async () => {
    const { run, b } = setup();
    for (const h of ['h1', 'h2']) await run((tx) => joinVpc(tx, k, { id: 'v', tenant: 'a', name: 'v', cidr: '198.18.0.0/16' }, h));
    // Pairs of overlapping subnets, each pair put at once on hosts that hold none of the other's.
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) => [
        run((tx) => joinSubnet(tx, k, { id: `a${i}`, vpc_id: 'v', cidr: `198.18.${i}.0/24`, gateway: '', vni: 0 }, 'h1')),
        run((tx) => joinSubnet(tx, k, { id: `b${i}`, vpc_id: 'v', cidr: `198.18.${i}.128/25`, gateway: '', vni: 0 }, 'h2')),
      ]).flat(),
    );
    for (let i = 0; i < 10; i++) {
      const pair = [results[2 * i]!, results[2 * i + 1]!];
      expect(pair.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const e = (pair.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason as ApiError;
      expect([e.code, e.field]).toEqual(['ALREADY_EXISTS', 'cidr']);
      expect(e.message).toMatch(/overlaps subnet "[ab]\d" \(198\.18\.\d\.(0\/24|128\/25)\) of VPC "v": pick a CIDR that does not/);
    }
    expect(b.conflicts).toBeGreaterThan(0);
    // Once one of them goes, its CIDR is free again.
    const winner = results.findIndex((r) => r.status === 'fulfilled');
    const id = (winner % 2 === 0 ? 'a' : 'b') + String(Math.floor(winner / 2));
    await run((tx) => leaveSubnet(tx, k, id, winner % 2 === 0 ? 'h1' : 'h2'));
    await run((tx) => joinSubnet(tx, k, { id: 'c0', vpc_id: 'v', cidr: '198.18.0.0/24', gateway: '', vni: 0 }, 'h2'));
  });

  it('puts 30 subnets, each on three hosts at once, without a refusal: a check on reads another commit overtook is retried, not reported', async () => {
    const { run } = setup();
    for (const h of ['h1', 'h2', 'h3']) await run((tx) => joinVpc(tx, k, { id: 'v', tenant: 'a', name: 'v', cidr: '198.18.0.0/16' }, h));
    const all = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        ['h1', 'h2', 'h3'].map((h) => run((tx) => joinSubnet(tx, k, { id: `s${i}`, vpc_id: 'v', cidr: `198.18.${i}.0/24`, gateway: '', vni: 0 }, h))),
      ).flat(),
    );
    expect(all).toHaveLength(90);
  });

  it('gives 60 NICs created at once distinct addresses and MACs, never the gateway', async () => {
    const { run } = setup();
    await vpcWithSubnet(run);
    const nics = await Promise.all(
      Array.from({ length: 60 }, (_, i) => run((tx) => claimNic(tx, k, { id: `n${i}`, subnet_id: 's', mac: '', ip: '' }, i % 2 ? 'h1' : 'h2', true))),
    );
    const ips = nics.map((n) => n.ip);
    expect(new Set(ips).size).toBe(60);
    expect(ips).not.toContain('198.18.1.1/24');
    expect(ips.sort()).toEqual(Array.from({ length: 60 }, (_, i) => `198.18.1.${i + 2}/24`).sort());
    expect(new Set(nics.map((n) => n.mac)).size).toBe(60);
    expect(nics[0]!.mac).toBe(macFor('n0'));
  });

  it('refuses a NIC on a host its subnet does not span, naming host and the fix', async () => {
    const { run } = setup();
    await vpcWithSubnet(run);
    const e = await refused(run((tx) => claimNic(tx, k, { id: 'n', subnet_id: 's', mac: '', ip: '' }, 'h9', true)));
    expect([e.code, e.field]).toEqual(['FAILED_PRECONDITION', 'host']);
    expect(e.message).toMatch(/does not span host h9 \(it spans h1, h2\)/);
    const ip = await refused(run((tx) => claimNic(tx, k, { id: 'n', subnet_id: 's', mac: '', ip: '198.18.1.1/24' }, 'h1', true)));
    expect([ip.code, ip.field]).toEqual(['ALREADY_EXISTS', 'ip']);
  });

  it('a released NIC frees its address; a late Put of it fails until the tombstone goes', async () => {
    const { run, b } = setup();
    await vpcWithSubnet(run);
    const n = await run((tx) => claimNic(tx, k, { id: 'n', subnet_id: 's', mac: '', ip: '' }, 'h1', true));
    expect(await run((tx) => claimNic(tx, k, { id: 'n', subnet_id: 's', mac: '', ip: '' }, 'h1', true))).toEqual(n);
    await run((tx) => releaseNic(tx, k, 'n', 'h2')); // not h2's to release
    expect(b.keys()).toContain(k.object('n'));
    await run((tx) => releaseNic(tx, k, 'n', 'h1'));
    const late = await refused(run((tx) => claimNic(tx, k, { id: 'n', subnet_id: 's', mac: '', ip: '' }, 'h1', true)));
    expect([late.code, late.field]).toEqual(['FAILED_PRECONDITION', 'id']);
    const other = await run((tx) => claimNic(tx, k, { id: 'm', subnet_id: 's', mac: '', ip: '' }, 'h1', true));
    expect(other.ip).toBe(n.ip);
    b.expireTombstones();
    await run((tx) => claimNic(tx, k, { id: 'n', subnet_id: 's', mac: '', ip: '' }, 'h1', true));
  });

  it('the last host leaving releases the subnet, its VNI and the VPC: nothing is left but tombstones', async () => {
    const { run, b } = setup();
    await vpcWithSubnet(run);
    await run((tx) => claimRouter(tx, k, { id: 'r', vpc_id: 'v', subnet_ids: ['s'], external_network: '', external_ip: '' }, 'h2'));
    const n = await run((tx) => claimNic(tx, k, { id: 'n', subnet_id: 's', mac: '', ip: '' }, 'h1', true));
    await run((tx) => leaveSubnet(tx, k, 's', 'h2'));
    const busy = await refused(run((tx) => leaveSubnet(tx, k, 's', 'h1')));
    expect(busy.code).toBe('FAILED_PRECONDITION');
    await run((tx) => releaseNic(tx, k, 'n', n.host));
    await run((tx) => releaseRouter(tx, k, 'r', 'h2'));
    await run((tx) => leaveSubnet(tx, k, 's', 'h1'));
    for (const h of ['h1', 'h2']) await run((tx) => leaveVpc(tx, k, 'v', h));
    b.expireTombstones();
    expect(b.keys()).toEqual([]);
  });

  it('a subnet has one router leg', async () => {
    const { run } = setup();
    await vpcWithSubnet(run);
    await run((tx) => claimRouter(tx, k, { id: 'r1', vpc_id: 'v', subnet_ids: ['s'], external_network: '', external_ip: '' }, 'h2'));
    const e = await refused(run((tx) => claimRouter(tx, k, { id: 'r2', vpc_id: 'v', subnet_ids: ['s'], external_network: '', external_ip: '' }, 'h2')));
    expect([e.code, e.field]).toEqual(['ALREADY_EXISTS', 'subnet_ids[0]']);
    await run((tx) => claimRouter(tx, k, { id: 'r1', vpc_id: 'v', subnet_ids: [], external_network: '', external_ip: '' }, 'h2'));
    await run((tx) => claimRouter(tx, k, { id: 'r2', vpc_id: 'v', subnet_ids: ['s'], external_network: '', external_ip: '' }, 'h2'));
  });

  it("keeps an external address one router's, whatever route host another router is on, and frees it with its last user", async () => {
    const { run, b } = setup();
    const tenantVpc = async (t: string, h: string) => {
      await run((tx) => joinVpc(tx, k, { id: `v${t}`, tenant: t, name: t, cidr: '198.18.0.0/16' }, h));
      await run((tx) => joinSubnet(tx, k, { id: `s${t}`, vpc_id: `v${t}`, cidr: '198.18.1.0/24', gateway: '', vni: 0 }, h));
    };
    await tenantVpc('a', 'r1');
    await tenantVpc('b', 'r2');
    const router = (t: string, h: string, ip: string) =>
      run((tx) => claimRouter(tx, k, { id: `r${t}`, vpc_id: `v${t}`, subnet_ids: [`s${t}`], external_network: 'inet', external_ip: ip }, h, t));
    await router('a', 'r1', '203.0.113.10');
    // Tenant b, on another route host, asks for a's address: for its router, then for a floating IP.
    const taken = await refused(router('b', 'r2', '203.0.113.10'));
    expect([taken.code, taken.field]).toEqual(['ALREADY_EXISTS', 'external_ip']);
    expect(taken.message).toMatch(/203\.0\.113\.10 on external network "inet" belongs to another router: pick another address$/);
    await router('b', 'r2', '203.0.113.20');
    const floating = await refused(run((tx) => claimNat(tx, k, { id: 'fb', router_id: 'rb', external_ip: '203.0.113.10' }, 'r2', 'b')));
    expect([floating.code, floating.field]).toEqual(['ALREADY_EXISTS', 'external_ip']);
    // Its own router's address serves its port forwards; a rule on another tenant's router is refused.
    await run((tx) => claimNat(tx, k, { id: 'pa', router_id: 'ra', external_ip: '203.0.113.10' }, 'r1', 'a'));
    await run((tx) => claimNat(tx, k, { id: 'fa', router_id: 'ra', external_ip: '203.0.113.11' }, 'r1', 'a'));
    expect((await refused(run((tx) => claimNat(tx, k, { id: 'x', router_id: 'ra', external_ip: '' }, 'r1', 'b')))).code).toBe('PERMISSION_DENIED');
    // The router's address stays while a port forward uses it; everything goes with the last user.
    await run((tx) => claimRouter(tx, k, { id: 'ra', vpc_id: 'va', subnet_ids: ['sa'], external_network: 'inet', external_ip: '203.0.113.12' }, 'r1', 'a'));
    expect((await refused(router('b', 'r2', '203.0.113.10'))).field).toBe('external_ip');
    for (const id of ['pa', 'fa']) await run((tx) => releaseNat(tx, k, id, 'r1', false, 'a'));
    await router('b', 'r2', '203.0.113.10');
    await run((tx) => releaseRouter(tx, k, 'ra', 'r1', false, 'a'));
    await run((tx) => releaseRouter(tx, k, 'rb', 'r2', false, 'b'));
    expect(b.keys().filter((key) => key.includes('/extip/') || key.includes('/objects/r') || key.includes('/objects/p') || key.includes('/objects/f'))).toEqual(
      [],
    );
  });

  it('an id of one kind is refused for another', async () => {
    const { run } = setup();
    await vpcWithSubnet(run);
    const e = await refused(run((tx) => claimNic(tx, k, { id: 's', subnet_id: 's', mac: '', ip: '' }, 'h1', true)));
    expect([e.code, e.field]).toEqual(['ALREADY_EXISTS', 'id']);
  });

  it('keeps a volume name unique in the deployment and its owner: idempotent, refused elsewhere, free after release', async () => {
    const { run, b } = setup();
    const v = { id: 'db', tenant: 'a', hosts: ['h1', 'h2', 'h3'] };
    const first = await Promise.all([run((tx) => claimVolume(tx, k, v, 'a')), run((tx) => claimVolume(tx, k, v, 'a'))]);
    expect(first.sort()).toEqual([false, true]); // one made it, the retry found it
    const other = await refused(run((tx) => claimVolume(tx, k, { ...v, hosts: ['h4', 'h5', 'h6'] }, 'a')));
    expect([other.code, other.field]).toEqual(['ALREADY_EXISTS', 'id']);
    const stranger = await refused(run((tx) => claimVolume(tx, k, { ...v, tenant: 'b' }, 'b')));
    expect(stranger.code).toBe('PERMISSION_DENIED');
    await refused(run((tx) => releaseVolume(tx, k, 'db', 'b')));
    await run((tx) => releaseVolume(tx, k, 'db', 'a'));
    // No tombstone: the owner (or anyone) may use the name again at once, as a replace does.
    expect(b.keys()).toEqual([]);
    expect(await run((tx) => claimVolume(tx, k, { ...v, tenant: 'b' }, 'b'))).toBe(true);
  });

  it('derives each host its remote entries and every router its reservations', async () => {
    const { run, b } = setup();
    await vpcWithSubnet(run, ['h1', 'h2', 'h3']);
    for (const [i, h] of ['h1', 'h2', 'h3'].entries()) {
      b.kv.set(k.host(h), {
        value: JSON.stringify({
          name: h,
          roles: ['compute'],
          underlay: `192.0.2.${11 + i}`,
          endpoints: [],
          peerEndpoint: '',
          controlPlane: 'registry',
          dataplane: 'bridge-per-subnet',
          agentVersion: '0',
        }),
        mod: 1,
      });
      await run((tx) => claimNic(tx, k, { id: `n${h}`, subnet_id: 's', mac: '', ip: '' }, h, true));
    }
    const v = viewOf(k, new Map([...b.kv].map(([key, e]) => [key, e.value])));
    const t = vtepTables(v, 'h1').get(1000)!;
    expect(t.flood_vteps).toEqual(['192.0.2.12', '192.0.2.13']);
    expect(t.fdb.map((e) => e.vtep).sort()).toEqual(['192.0.2.12', '192.0.2.13']);
    expect(t.neighbors.map((e) => e.ip).sort()).toEqual(['198.18.1.3', '198.18.1.4']);
    expect(reservations(v, 's').map((r) => r.ip)).toEqual(['198.18.1.2', '198.18.1.3', '198.18.1.4']);
    expect(vtepTables(v, 'h9').size).toBe(0);
  });
});

describe('adoption of what a killed provider run left', () => {
  const vpc =
    (id: string, run: string, host = 'h1') =>
    (tx: Txn) =>
      joinVpc(tx, k, { id, tenant: 'a', name: 'shop', cidr: '198.18.0.0/16' }, host, undefined, origin(run, 'shop', '198.18.0.0/16'));
  const subnet = (id: string, run: string, host: string) => (tx: Txn) =>
    joinSubnet(tx, k, { id, vpc_id: 'v', cidr: '198.18.1.0/24', gateway: '', vni: 0 }, host, undefined, origin(run, 'v', 'web', '198.18.1.0/24'));
  const pendingMarks = (b: MemoryBackend) => [...b.kv.keys()].filter((key) => key.startsWith(k.pendings));

  it("tells a later run's create of the same object to adopt the one a run that never confirmed made", async () => {
    const { run, b } = setup();
    await run(vpc('v', 'run-one-0001'));
    await run(subnet('s1', 'run-one-0001', 'h1')); // killed before h2's Put and before terraform recorded it
    const e = await refused(run(subnet('s2', 'run-two-0002', 'h1')));
    expect([e.code, e.field, e.adopt]).toEqual(['ALREADY_EXISTS', 'id', 's1']);
    expect(e.message).toMatch(/subnet "s1" is this subnet, made by a provider run that did not finish: adopt it/);
    // The second run takes it, on every host it wants, and its confirm makes it its own.
    for (const h of ['h1', 'h2']) await run(subnet('s1', 'run-two-0002', h));
    expect((JSON.parse(b.kv.get(k.object('s1'))!.value) as SubnetObject).hosts).toEqual(['h1', 'h2']);
    expect(await run((tx) => confirmRun(tx, k, 'run-one-0001'))).toBe(1); // the VPC, which the first run's terraform did record
    expect(await run((tx) => confirmRun(tx, k, 'run-two-0002'))).toBe(1);
    expect(await run((tx) => confirmRun(tx, k, 'run-two-0002'))).toBe(0);
    expect(pendingMarks(b)).toEqual([]);
    expect((JSON.parse(b.kv.get(k.object('s1'))!.value) as SubnetObject).adopt).toBeUndefined();
  });

  it('adopts nothing a confirmed run made, nothing of the same run, and nothing of calls without a run', async () => {
    const { run } = setup();
    await run(vpc('v', 'run-one-0001'));
    await run((tx) => confirmRun(tx, k, 'run-one-0001'));
    expect(await run(vpc('v2', 'run-two-0002'))).toMatchObject({ name: 'shop' }); // a second VPC of that name and CIDR is fine
    // Two equal declarations in one run stay two objects (here the second collides on its CIDR).
    await run(subnet('s1', 'run-two-0002', 'h1'));
    expect((await refused(run(subnet('s2', 'run-two-0002', 'h1')))).adopt).toBeUndefined();
    // vxctl and other callers send no run: their creates mark nothing and adopt nothing.
    const plain = await refused(run((tx) => joinSubnet(tx, k, { id: 's3', vpc_id: 'v', cidr: '198.18.1.0/24', gateway: '', vni: 0 }, 'h1')));
    expect([plain.field, plain.adopt]).toEqual(['cidr', undefined]);
  });

  it('adopts only within the tenant and the host, and forgets a pending object once it is deleted', async () => {
    const { run, b } = setup();
    await run(vpc('v', 'run-one-0001'));
    await run(subnet('s1', 'run-one-0001', 'h1'));
    for (const h of ['h1', 'h2']) await run((tx) => joinSubnet(tx, k, { id: 's1', vpc_id: 'v', cidr: '198.18.1.0/24', gateway: '', vni: 0 }, h));
    const nic = (id: string, r: string, host: string, as?: string) => (tx: Txn) =>
      claimNic(tx, k, { id, subnet_id: 's1', mac: '', ip: '' }, host, true, as, origin(r, 's1', 'veth', 'shop-web', 'eth0', '', '', 'false'));
    await run(nic('n1', 'run-one-0001', 'h1'));
    expect((await refused(run(nic('n2', 'run-two-0002', 'h1')))).adopt).toBe('n1');
    expect((await run(nic('n3', 'run-two-0002', 'h2'))).host).toBe('h2'); // the same namespace on another host is another NIC
    expect((await refused(run(nic('n4', 'run-two-0002', 'h1', 'b')))).code).toBe('PERMISSION_DENIED'); // another tenant learns nothing
    await run((tx) => releaseNic(tx, k, 'n1', 'h1'));
    expect(
      pendingMarks(b)
        .map((key) => (JSON.parse(b.kv.get(key)!.value) as { id: string }).id)
        .sort(),
    ).toEqual(['n3', 's1', 'v']);
    expect((await run(nic('n5', 'run-two-0002', 'h1'))).host).toBe('h1');
  });

  it('confirms a run of many objects in several transactions, within what etcd takes in one', async () => {
    const { run, b } = setup();
    await run(vpc('v', 'run-one-0001'));
    for (let i = 0; i < 100; i++)
      await run((tx) =>
        joinSubnet(tx, k, { id: `s${i}`, vpc_id: 'v', cidr: `198.18.${i}.0/24`, gateway: '', vni: 0 }, 'h1', undefined, origin('run-one-0001', 'v', `s${i}`)),
      );
    const batches: number[] = [];
    for (let n = -1; n !== 0;) batches.push((n = await run((tx) => confirmRun(tx, k, 'run-one-0001'))));
    expect(batches).toEqual([40, 40, 21, 0]);
    expect(pendingMarks(b)).toEqual([]);
  });
});
