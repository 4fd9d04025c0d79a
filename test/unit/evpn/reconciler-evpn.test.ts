// The reconciler under the evpn control plane, against the in-memory kernel: zebra's FDB entries
// are left alone, each local NIC's IP→MAC is a permanent neighbour on its bridge, and static VTEP
// tables are refused.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Reconciler } from '../../../agent/state/reconciler.js';
import { StateStore } from '../../../agent/state/store.js';
import type { NicRecord, SubnetRecord } from '../../../agent/state/model.js';
import { evpnTables } from '../../../agent/state/table-source.js';
import { FakeNet } from '../agent/fake-net.js';

const ctx = { underlayAddress: '192.0.2.11', underlayMtu: 1500, vxlanPort: 4789 };
const vpc = { id: 'v', name: 'v', tenant: 't', cidr: '198.18.0.0/16' };
const subnet: SubnetRecord = { id: 's', vpc_id: 'v', name: 's', cidr: '198.18.1.0/24', vni: 42, vlan: 0, gateway: '' };
const nic = (id: string, last: number): NicRecord => ({
  id,
  subnet_id: 's',
  kind: 'veth',
  mac: `02:00:00:00:01:${last}`,
  ip: `198.18.1.${last}/24`,
  namespace: `ns-${id}`,
  create_namespace: true,
  ifname: 'eth0',
});

let dir: string;
let net: FakeNet;
let r: Reconciler;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vxevpn-'));
  net = new FakeNet();
  r = await Reconciler.open(net, new StateStore(dir), ctx, pino({ level: 'silent' }), 'bridge-per-subnet', evpnTables);
  await r.putVpc(vpc);
  await r.putSubnet(subnet);
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Reconciler with the evpn control plane', () => {
  it('keeps exactly the local NICs as permanent neighbours on the bridge, through Put, Delete and reconcile', async () => {
    await r.putNic(nic('a', 10));
    await r.putNic(nic('b', 11));
    expect(await net.host.neighbors('vxbr42')).toEqual([
      { ip: '198.18.1.10', mac: '02:00:00:00:01:10' },
      { ip: '198.18.1.11', mac: '02:00:00:00:01:11' },
    ]);
    expect((await r.nicStatus(nic('a', 10))).ready).toBe(true);
    await r.deleteNic('a');
    expect(await net.host.neighbors('vxbr42')).toEqual([{ ip: '198.18.1.11', mac: '02:00:00:00:01:11' }]);
    // A hand-made change is a problem in the status, and the next reconcile heals it.
    await net.host.deleteNeighbors('vxbr42', [{ ip: '198.18.1.11', mac: '02:00:00:00:01:11' }]);
    expect((await r.nicStatus(nic('b', 11))).problems).toEqual(['vxbr42 lacks the neighbour entry 198.18.1.11 lladdr 02:00:00:00:01:11 (ARP suppression)']);
    await net.host.replaceNeighbors('vxbr42', [{ ip: '198.18.1.99', mac: '02:00:00:00:01:99' }]);
    expect((await r.reconcileAll()).failed).toEqual([]);
    expect(await net.host.neighbors('vxbr42')).toEqual([{ ip: '198.18.1.11', mac: '02:00:00:00:01:11' }]);
  });

  it("leaves the VTEP's FDB to zebra", async () => {
    const zebra = [
      { mac: '00:00:00:00:00:00', dst: '192.0.2.12' },
      { mac: '02:00:00:00:02:01', dst: '192.0.2.12' },
    ];
    await net.host.replaceFdb('vxlan42', zebra);
    await r.putNic(nic('a', 10));
    await r.reconcileAll();
    expect(await net.host.fdb('vxlan42')).toEqual(zebra);
  });

  it('refuses static VTEP tables', async () => {
    await expect(r.putVtepTable({ subnet_id: 's', flood_vteps: ['192.0.2.12'], fdb: [], neighbors: [] })).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      field: 'subnet_id',
    });
  });
});
