// The VLAN-aware layout against an in-memory kernel: one filtering bridge per VPC, VTEPs and NICs
// as access ports on the subnet's VLAN, neighbours on the VLAN's 802.1Q device; status reports
// what differs, reconcile repairs it, removal keeps the bridge until the VPC's last subnet goes;
// and how the mode is chosen.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dataplaneLayout, dataplaneMode } from '../../../agent/api/host-service.js';
import { ConfigError, parseConfig } from '../../../agent/config/config.js';
import { IFNAMSIZ, isVxcloudLink, nicDevice, subnetSvi, vpcBridge } from '../../../agent/l2/names.js';
import { subnetVlan, vlanConflict, vpcBridgeMac } from '../../../agent/l2/vlan-aware.js';
import type { Capabilities } from '../../../agent/net/types.js';
import type { NicRecord, SubnetRecord, VtepTableRecord } from '../../../agent/state/model.js';
import { Reconciler } from '../../../agent/state/reconciler.js';
import { StateStore } from '../../../agent/state/store.js';
import { DataplaneMode } from '../../../gen/vxcloud/agent/v1/host.js';
import { VlanFakeNet } from './vlan-fake-net.js';

const ctx = { underlayAddress: '192.0.2.11', underlayMtu: 1500, vxlanPort: 4789 };
const vpc = { id: 'vpc-a', name: 'a', tenant: 't', cidr: '198.18.0.0/16' };
const s1: SubnetRecord = { id: 's1', vpc_id: 'vpc-a', name: 's1', cidr: '198.18.1.0/24', vni: 42, vlan: 0, gateway: '' };
const s2: SubnetRecord = { id: 's2', vpc_id: 'vpc-a', name: 's2', cidr: '198.18.2.0/24', vni: 77, vlan: 10, gateway: '' };
const nic = (id: string, s: SubnetRecord, ip: string, kind: 'veth' | 'tap' = 'veth'): NicRecord => ({
  id,
  subnet_id: s.id,
  kind,
  mac: `02:00:00:00:0${s.id.slice(1)}:0${id.length}`,
  ip: kind === 'veth' ? ip : '',
  namespace: kind === 'veth' ? `ns-${id}` : '',
  create_namespace: kind === 'veth',
  ifname: kind === 'veth' ? 'eth0' : '',
});
const n1 = nic('n1', s1, '198.18.1.10/24');
const n2 = nic('n2x', s2, '198.18.2.10/24', 'tap');
const access = (vid: number) => [{ vid, pvid: true, untagged: true }];
const BR = vpcBridge('vpc-a');

let dir: string;
let net: VlanFakeNet;
let r: Reconciler;
const log = pino({ level: 'silent' });

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vxl2-'));
  net = new VlanFakeNet();
  r = await Reconciler.open(net, new StateStore(dir), ctx, log, 'vlan-aware');
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const link = (name: string) => net.host.links_.get(name);
const names = (): string[] => [...net.host.links_.keys()].sort();

async function build(): Promise<void> {
  await r.putVpc(vpc);
  await r.putSubnet(s1);
  await r.putSubnet(s2);
  await r.putNic(n1);
  await r.putNic(n2);
}

describe('names and VLANs', () => {
  it('the VPC bridge is vxvpc + 40 bits, fits IFNAMSIZ, and counts as vxcloud’s; so does the VLAN device', () => {
    expect(BR).toMatch(/^vxvpc[0-9a-f]{10}$/);
    expect(Buffer.byteLength(BR)).toBeLessThanOrEqual(IFNAMSIZ);
    expect(vpcBridge('vpc-b')).not.toBe(BR);
    expect(isVxcloudLink(BR)).toBe(true);
    expect(isVxcloudLink(subnetSvi(16777215))).toBe(true);
    expect(Buffer.byteLength(subnetSvi(16777215))).toBeLessThanOrEqual(IFNAMSIZ);
    for (const other of ['vxvpc', 'vxvpcX', 'vxsv', 'vxsv-1']) expect(isVxcloudLink(other), other).toBe(false);
  });

  it('vlan 0 means one derived from the VNI: (vni mod 4094) + 1, always in 1..4094', () => {
    expect(subnetVlan(s2)).toBe(10);
    expect(subnetVlan(s1)).toBe(43);
    expect(subnetVlan({ ...s1, vni: 4094 })).toBe(1);
    expect(subnetVlan({ ...s1, vni: 4093 })).toBe(4094);
    expect(subnetVlan({ ...s1, vni: 16777215 })).toBeGreaterThanOrEqual(1);
  });

  it('a clash in one VPC is named, whichever side is derived; other VPCs do not clash', () => {
    const derived = { ...s2, id: 'd', vlan: 0, vni: 42 + 4094 };
    expect(vlanConflict(derived, [s1])).toMatch(
      /subnet "d" would use VLAN 43 \(derived from VNI 4136\), which subnet "s1" of VPC "vpc-a" uses as VLAN 43 \(derived from VNI 42\): set vlan/,
    );
    expect(vlanConflict({ ...s2, vlan: 43 }, [s1])).toMatch(/VLAN 43, which subnet "s1"/);
    expect(vlanConflict({ ...s2, vlan: 43, vpc_id: 'other' }, [s1])).toBeUndefined();
    expect(vlanConflict(s1, [s1, s2])).toBeUndefined();
  });
});

describe('the VLAN-aware layout through the reconciler', () => {
  it('builds one filtering bridge per VPC, VTEPs and NICs as access ports on their subnet’s VLAN', async () => {
    await build();
    expect(r.layout).toBe('vlan-aware');
    const tap = nicDevice('tap', 'n2x');
    const veth = nicDevice('veth', 'n1');
    expect(names()).toEqual(['eth0', 'lo', BR, 'vxlan42', 'vxlan77', 'vxsv42', 'vxsv77', tap, veth].sort());
    expect(link(BR)).toMatchObject({ kind: 'bridge', mtu: 1450, up: true, bridge: { vlanFiltering: true }, mac: vpcBridgeMac('vpc-a', ctx) });
    expect(vpcBridgeMac('vpc-a', ctx)).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    expect(vpcBridgeMac('vpc-a', { ...ctx, underlayAddress: '192.0.2.12' })).not.toBe(vpcBridgeMac('vpc-a', ctx));
    expect(link('vxlan42')).toMatchObject({
      master: BR,
      mtu: 1450,
      up: true,
      port: { learning: false, neighSuppress: true },
      vlans: access(43),
      vxlan: { vni: 42 },
    });
    expect(link('vxlan77')).toMatchObject({ master: BR, vlans: access(10) });
    expect(link('vxsv42')).toMatchObject({ kind: 'vlan', up: true, vlan: { id: 43, parent: BR } });
    expect(link(veth)).toMatchObject({ master: BR, vlans: access(43), mtu: 1450 });
    expect(link(tap)).toMatchObject({ master: BR, vlans: access(10) });
    for (const st of [await r.subnetStatus(s1), await r.subnetStatus(s2), await r.nicStatus(n1), await r.nicStatus(n2)]) {
      expect(st.problems).toEqual([]);
    }
    expect((await r.subnetStatus(s1)).devices).toEqual([BR, 'vxlan42', 'vxsv42']);
    expect((await r.vpcStatus(vpc)).devices).toEqual([BR, 'vxlan42', 'vxsv42', 'vxlan77', 'vxsv77']);
  });

  it('a second Put and a full reconcile change nothing', async () => {
    await build();
    net.host.vlanCalls = [];
    await r.putSubnet(s1);
    await r.putNic(n1);
    expect((await r.reconcileAll()).failed).toEqual([]);
    expect(net.host.vlanCalls).toEqual([]);
  });

  it('puts the VTEP table’s FDB on the VTEP and its neighbours on the VLAN device', async () => {
    await build();
    const t: VtepTableRecord = {
      subnet_id: 's1',
      flood_vteps: ['192.0.2.12'],
      fdb: [{ mac: '02:00:00:00:09:01', vtep: '192.0.2.12' }],
      neighbors: [{ ip: '198.18.1.20', mac: '02:00:00:00:09:01' }],
    };
    await r.putVtepTable(t);
    expect(net.host.fdbs.get('vxlan42')).toHaveLength(2);
    expect(net.host.neighs.get('vxsv42')).toEqual([{ ip: '198.18.1.20', mac: '02:00:00:00:09:01' }]);
    const st = await r.vtepTableStatus(t);
    expect(st).toMatchObject({ ready: true, devices: ['vxlan42'], flood: 1, fdb: 1, neighbors: 1 });
  });

  it('reports VLANs changed by hand on VTEP and NIC ports, and reconcile puts them back', async () => {
    await build();
    const veth = nicDevice('veth', 'n1');
    link('vxlan42')!.vlans = [{ vid: 1, pvid: true, untagged: true }];
    link(veth)!.vlans = [];
    expect((await r.subnetStatus(s1)).problems).toEqual(['vxlan42 has VLANs 1PU, want 43PU']);
    expect((await r.nicStatus(n1)).problems).toEqual([`${veth} has VLANs none, want 43PU`]);
    expect((await r.reconcileAll()).failed).toEqual([]);
    expect(link('vxlan42')!.vlans).toEqual(access(43));
    expect(link(veth)!.vlans).toEqual(access(43));
  });

  it('rebuilds a VPC bridge that lost VLAN filtering, and an 802.1Q device on the wrong VLAN', async () => {
    await build();
    link(BR)!.bridge = { vlanFiltering: false };
    link('vxsv77')!.vlan = { id: 11, parent: BR };
    const problems = (await r.vpcStatus(vpc)).problems;
    expect(problems).toContain(`${BR} is a bridge with other settings than the bridge vxcloud wants`);
    expect(problems).toContain('vxsv77 is a vlan with other settings than the vlan vxcloud wants');
    expect((await r.reconcileAll()).failed).toEqual([]);
    expect(link(BR)!.bridge).toEqual({ vlanFiltering: true });
    expect(link('vxsv77')!.vlan).toEqual({ id: 10, parent: BR });
    for (const st of [await r.vpcStatus(vpc), await r.nicStatus(n1), await r.nicStatus(n2)]) expect(st.problems).toEqual([]);
  });

  it('refuses a subnet whose VLAN another subnet of the VPC has, naming the field vlan', async () => {
    await build();
    const clash: SubnetRecord = { ...s2, id: 's3', cidr: '198.18.3.0/24', vni: 42 + 4094, vlan: 0 };
    await expect(r.putSubnet(clash)).rejects.toMatchObject({ code: 'ALREADY_EXISTS', field: 'vlan' });
    expect(r.desired.subnets.s3).toBeUndefined();
    // another VPC has a bridge (and VLANs) of its own
    await r.putVpc({ ...vpc, id: 'vpc-b' });
    await r.putSubnet({ ...clash, vpc_id: 'vpc-b' });
    expect(link(vpcBridge('vpc-b'))).toMatchObject({ bridge: { vlanFiltering: true } });
    expect(link('vxlan4136')).toMatchObject({ master: vpcBridge('vpc-b'), vlans: access(43) });
  });

  it('moves the subnet’s NIC ports when its VLAN changes', async () => {
    await build();
    await r.putSubnet({ ...s1, vlan: 200 });
    expect(link('vxlan42')!.vlans).toEqual(access(200));
    expect(link(nicDevice('veth', 'n1'))!.vlans).toEqual(access(200));
    expect(link('vxsv42')!.vlan).toEqual({ id: 200, parent: BR });
    expect((await r.nicStatus(n1)).problems).toEqual([]);
  });

  it('keeps the VPC bridge until the VPC’s last subnet goes', async () => {
    await build();
    await r.deleteNic('n2x');
    await r.deleteSubnet('s2');
    expect(names()).toEqual(['eth0', 'lo', BR, 'vxlan42', 'vxsv42', nicDevice('veth', 'n1')].sort());
    await r.deleteNic('n1');
    await r.deleteSubnet('s1');
    expect(names()).toEqual(['eth0', 'lo']);
  });

  it('a failed subnet Put leaves no bridge behind', async () => {
    await r.putVpc(vpc);
    net.failOn = 'create vxlan';
    await expect(r.putSubnet(s1)).rejects.toThrow(/EIO/);
    expect(names()).toEqual(['eth0', 'lo']);
  });

  it('a host restarted in the other mode rebuilds its links and removes the old ones', async () => {
    const old = await Reconciler.open(net, new StateStore(dir), ctx, log, 'bridge-per-subnet');
    await old.putVpc(vpc);
    await old.putSubnet(s1);
    await old.putNic(n1);
    expect(names()).toContain('vxbr42');
    expect(net.host.vlanCalls).toEqual([]);
    const again = await Reconciler.open(net, new StateStore(dir), ctx, log, 'vlan-aware');
    expect((await again.reconcileAll()).failed).toEqual([]);
    expect(names()).toEqual(['eth0', 'lo', BR, 'vxlan42', 'vxsv42', nicDevice('veth', 'n1')].sort());
    expect((await again.nicStatus(n1)).problems).toEqual([]);
    const back = await Reconciler.open(net, new StateStore(dir), ctx, log, 'bridge-per-subnet');
    expect((await back.reconcileAll()).failed).toEqual([]);
    expect(names()).toEqual(['eth0', 'lo', 'vxbr42', 'vxlan42', nicDevice('veth', 'n1')].sort());
  });
});

describe('choosing the mode', () => {
  const caps = (bridgeVlanFiltering: boolean): Capabilities => ({ vxlan: true, bridge: true, bridgeVlanFiltering, veth: true, tun: true, netns: true });

  it('auto: VLAN-aware exactly where the kernel filters VLANs on bridges', () => {
    expect(dataplaneMode(caps(true))).toBe(DataplaneMode.DATAPLANE_MODE_VLAN_AWARE_BRIDGE);
    expect(dataplaneMode(caps(false), 'auto')).toBe(DataplaneMode.DATAPLANE_MODE_BRIDGE_PER_SUBNET);
    expect(dataplaneLayout(dataplaneMode(caps(true)))).toBe('vlan-aware');
    expect(dataplaneLayout(dataplaneMode(caps(false)))).toBe('bridge-per-subnet');
  });

  it('the config can force either, but not VLAN-aware without filtering', () => {
    expect(dataplaneMode(caps(true), 'bridge-per-subnet')).toBe(DataplaneMode.DATAPLANE_MODE_BRIDGE_PER_SUBNET);
    expect(dataplaneMode(caps(true), 'vlan-aware')).toBe(DataplaneMode.DATAPLANE_MODE_VLAN_AWARE_BRIDGE);
    expect(() => dataplaneMode(caps(false), 'vlan-aware')).toThrow(ConfigError);
    expect(() => dataplaneMode(caps(false), 'vlan-aware')).toThrow(/dataplane: vlan-aware needs bridge VLAN filtering, which this kernel lacks/);
  });

  it('config: dataplane defaults to auto and takes only the three settings', () => {
    const base =
      'host: { name: h1 }\nunderlay: { interface: eth1, address: 192.0.2.11 }\nlisten: ["unix:///tmp/a.sock"]\ntls: { ca: ca.pem, cert: c.pem, key: k.pem }\nstateDir: /tmp/s\n';
    expect(parseConfig(base, '/etc').dataplane).toBe('auto');
    expect(parseConfig(base + 'dataplane: vlan-aware\n', '/etc').dataplane).toBe('vlan-aware');
    expect(() => parseConfig(base + 'dataplane: vlan\n', '/etc')).toThrow(/dataplane: one of auto, bridge-per-subnet, vlan-aware/);
  });
});
