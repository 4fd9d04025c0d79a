// The reconciler against an in-memory kernel: convergence, idempotence, rollback of a failed
// change on disk and in the kernel, and removal of what nothing asks for.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nicDevice } from '../../../agent/l2/names.js';
import { Reconciler } from '../../../agent/state/reconciler.js';
import { StateStore } from '../../../agent/state/store.js';
import type { DesiredState, NicRecord, SubnetRecord } from '../../../agent/state/model.js';
import { FakeNet } from './fake-net.js';

const ctx = { underlayAddress: '192.0.2.11', underlayMtu: 1500, vxlanPort: 4789 };
const vpc = { id: 'v', name: 'v', tenant: 't', cidr: '198.18.0.0/16' };
const subnet: SubnetRecord = { id: 's', vpc_id: 'v', name: 's', cidr: '198.18.1.0/24', vni: 42, vlan: 0, gateway: '' };
const nic: NicRecord = {
  id: 'n',
  subnet_id: 's',
  kind: 'veth',
  mac: '02:00:00:00:01:01',
  ip: '198.18.1.10/24',
  namespace: 'ns1',
  create_namespace: true,
  ifname: 'eth0',
};

let dir: string;
let net: FakeNet;
let r: Reconciler;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vxrec-'));
  net = new FakeNet();
  r = await Reconciler.open(net, new StateStore(dir), ctx, pino({ level: 'silent' }));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const names = (): string[] => [...net.host.links_.keys()].sort();

describe('Reconciler', () => {
  it('builds a subnet and a NIC as the spec says, and is ready', async () => {
    await r.putVpc(vpc);
    await r.putSubnet(subnet);
    await r.putNic(nic);
    expect(names()).toEqual(['eth0', 'lo', nicDevice('veth', 'n'), 'vxbr42', 'vxlan42'].sort());
    const vx = net.host.links_.get('vxlan42')!;
    expect(vx).toMatchObject({
      master: 'vxbr42',
      mtu: 1450,
      up: true,
      port: { learning: false, neighSuppress: true },
      vxlan: { vni: 42, local: '192.0.2.11', port: 4789 },
    });
    const ns = net.namespaces.get('ns1')!;
    expect(ns.links_.get('eth0')).toMatchObject({ mac: nic.mac, mtu: 1450, up: true });
    expect(await ns.addresses('eth0')).toEqual(['198.18.1.10/24']);
    expect(ns.gateway).toBe('198.18.1.1');
    expect((await r.nicStatus(nic)).ready).toBe(true);
    expect((await r.subnetStatus(subnet)).ready).toBe(true);
  });

  it('persists desired state before acting, and a new reconciler from disk rebuilds the kernel', async () => {
    await r.putVpc(vpc);
    await r.putSubnet(subnet);
    const onDisk = JSON.parse(await readFile(join(dir, 'desired-state.json'), 'utf8')) as DesiredState;
    expect(Object.keys(onDisk.subnets)).toEqual(['s']);
    const fresh = new FakeNet();
    const again = await Reconciler.open(fresh, new StateStore(dir), ctx, pino({ level: 'silent' }));
    expect((await again.reconcileAll()).failed).toEqual([]);
    expect([...fresh.host.links_.keys()].sort()).toEqual(['eth0', 'lo', 'vxbr42', 'vxlan42']);
  });

  it('rolls back a change whose convergence fails: state on disk and kernel as before', async () => {
    await r.putVpc(vpc);
    await r.putSubnet(subnet);
    const before = names();
    net.failOn = 'set link';
    await expect(r.putNic(nic)).rejects.toThrow(/EIO/);
    expect(names()).toEqual(before);
    expect(net.namespaces.has('ns1')).toBe(false);
    expect(r.desired.nics).toEqual({});
    const onDisk = JSON.parse(await readFile(join(dir, 'desired-state.json'), 'utf8')) as DesiredState;
    expect(onDisk.nics).toEqual({});
    expect(onDisk.ownedNamespaces).toEqual([]);
  });

  it('rolls back a new subnet whose vxlan device cannot be made', async () => {
    await r.putVpc(vpc);
    net.failOn = 'create vxlan';
    await expect(r.putSubnet(subnet)).rejects.toThrow(/create vxlan vxlan42: EIO/);
    expect(names()).toEqual(['eth0', 'lo']);
    expect(r.desired.subnets).toEqual({});
  });

  it('converges the VTEP table exactly, removing entries it no longer holds', async () => {
    await r.putVpc(vpc);
    await r.putSubnet(subnet);
    const table = {
      subnet_id: 's',
      flood_vteps: ['192.0.2.12', '192.0.2.13'],
      fdb: [{ mac: '02:00:00:00:02:02', vtep: '192.0.2.12' }],
      neighbors: [{ ip: '198.18.1.20', mac: '02:00:00:00:02:02' }],
    };
    await r.putVtepTable(table);
    expect(await net.host.fdb('vxlan42')).toHaveLength(3);
    await r.putVtepTable({ ...table, flood_vteps: ['192.0.2.13'], neighbors: [] });
    expect((await net.host.fdb('vxlan42')).map((e) => e.dst).sort()).toEqual(['192.0.2.12', '192.0.2.13']);
    expect(await net.host.neighbors('vxbr42')).toEqual([]);
    const st = await r.vtepTableStatus(r.desired.vtepTables.s!);
    expect(st).toMatchObject({ ready: true, flood: 1, fdb: 1, neighbors: 0 });
  });

  it('removes vxcloud links nothing asks for, and leaves the host’s own links alone', async () => {
    net.host.add({ name: 'vxbr999', kind: 'bridge', mtu: 1450, up: true, mac: '' });
    net.host.add({ name: 'br-host', kind: 'bridge', mtu: 1500, up: true, mac: '' });
    await r.reconcileAll();
    expect(names()).toEqual(['br-host', 'eth0', 'lo']);
  });

  it('deletes the namespace it created once its last NIC goes, and deletes are idempotent', async () => {
    await r.putVpc(vpc);
    await r.putSubnet(subnet);
    await r.putNic(nic);
    expect(await r.deleteNic('n')).toBe(true);
    expect(await r.deleteNic('n')).toBe(false);
    expect(net.namespaces.has('ns1')).toBe(false);
    expect(names()).toEqual(['eth0', 'lo', 'vxbr42', 'vxlan42']);
  });

  it('refuses immutable changes and deletes that would orphan children', async () => {
    await r.putVpc(vpc);
    await r.putSubnet(subnet);
    await expect(r.putSubnet({ ...subnet, vni: 43 })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'vni' });
    await expect(r.deleteVpc('v')).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'id' });
    await expect(r.putVpc({ ...vpc, cidr: '198.19.0.0/16' })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION', field: 'cidr' });
  });
});
