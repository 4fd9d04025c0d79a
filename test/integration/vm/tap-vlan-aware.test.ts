// The tap transport in the VLAN-aware layout: h2 is a QEMU VM on Debian's stock kernel (bridge VLAN
// filtering), whose subnet VTEP is a TAP as an access port of the subnet's VLAN on the VPC bridge;
// h1 is a namespace host with a kernel vxlan device in a bridge per subnet.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { DataplaneMode } from '../../../gen/vxcloud/agent/v1/host.js';
import { addr, nicNamespace, pingUntil, putNic, putSubnet, type NicPlace } from '../../harness/evpn.js';
import { startLab, type TestLab } from '../../harness/lab.js';
import { lockVms, VM_LOCK_WAIT_MS } from '../../harness/vm/qemu.js';

let t: TestLab;
let unlock: (() => Promise<void>) | undefined;
const nics: NicPlace[] = [1, 2].map((i) => ({ host: `h${i}`, id: `v${i}`, subnet: 'web', mac: `02:00:c6:12:41:0${i}`, ip: `198.18.4.1${i}/24` }));
const ns = (n: NicPlace): string => nicNamespace(t, n);

beforeAll(async () => {
  unlock = await lockVms();
}, VM_LOCK_WAIT_MS);
beforeAll(async () => {
  t = await startLab({ hosts: 1, vmHosts: 1, tapHosts: ['h2'], reconcileIntervalSeconds: 3600 });
  await putSubnet(t, ['h1', 'h2'], { vpc: 'a', id: 'web', cidr: '198.18.4.0/24', vni: 0 });
  for (const n of nics) await putNic(t, n);
}, 300_000);
afterAll(async () => {
  await t?.down();
  await unlock?.();
});

it('a TAP VTEP on a VLAN of a VPC bridge and a kernel VTEP reach each other both ways, at the overlay MTU', async () => {
  const h2 = await t.client('h2').host.getHost({}, 10_000);
  expect([h2.dataplaneMode, h2.transport]).toEqual([DataplaneMode.DATAPLANE_MODE_VLAN_AWARE_BRIDGE, 'tap']);
  const subnet = await t.client('h2').network.getSubnet({ id: 'web' }, 10_000);
  expect(subnet.status!.devices.some((d) => d.startsWith('vxtep'))).toBe(true);
  expect(subnet.status!.problems).toEqual([]);
  const [v1, v2] = nics as [NicPlace, NicPlace];
  await pingUntil(t, ns(v1), addr(v2.ip), 30_000);
  await pingUntil(t, ns(v2), addr(v1.ip), 30_000);
  await t.exec(ns(v1), ['ping', '-c', '1', '-W', '5', '-M', 'do', '-s', '1422', addr(v2.ip)]);
  const c = (await t.client('h2').host.getHost({}, 10_000)).transportCounters!;
  expect(c.encapsulated).toBeGreaterThan(0);
  expect(c.decapsulated).toBeGreaterThan(0);
});
