// Two "hosts" (namespaces) on an underlay bridge, each with a VTEP for VNI 100 and a workload
// namespace behind it; the workloads ping each other over VXLAN once the FDB is programmed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openNetHandle, type NetHandle } from '../../../agent/net/index.js';
import { Lab, ping, sweepLeftovers } from './lab.js';

const lab = new Lab();
const handles: NetHandle[] = [];

async function handle(ns: string): Promise<NetHandle> {
  const h = await openNetHandle(ns);
  handles.push(h);
  return h;
}

interface Host {
  ns: string;
  h: NetHandle;
  underlayIp: string;
  workload: string;
  workloadIp: string;
  workloadMac: string;
}

let hosts: Host[] = [];

/** A few tries: the first echo may race the neighbour resolution. */
async function pings(ns: string, ip: string): Promise<boolean> {
  for (let i = 0; i < 3; i++) if (await ping(ns, ip)) return true;
  return false;
}

beforeAll(async () => {
  await sweepLeftovers();
  const underlay = await handle(await lab.netns('ul'));
  await underlay.createBridge('ul', {});
  await underlay.setLink('ul', { up: true });

  hosts = [];
  for (const [i, n] of [11, 12].entries()) {
    const ns = await lab.netns(`h${i + 1}`);
    const workload = await lab.netns(`w${i + 1}`);
    const h = await handle(ns);
    const host: Host = {
      ns,
      h,
      underlayIp: `192.0.2.${n}`,
      workload,
      workloadIp: `198.18.0.${i + 1}`,
      workloadMac: `02:00:00:00:01:0${i + 1}`,
    };
    // underlay leg
    await underlay.createVeth(`ul${n}`, { peer: { name: 'eth0', netns: ns } });
    await underlay.setLink(`ul${n}`, { master: 'ul', up: true });
    await h.replaceAddress('eth0', `${host.underlayIp}/24`);
    await h.setLink('eth0', { up: true });
    // VTEP, as in the EVPN recipe
    await h.createBridge('br100', {});
    await h.createVxlan('vx100', { vni: 100, local: host.underlayIp, port: 4789 });
    await h.setLink('vx100', { master: 'br100' });
    await h.setBridgePort('vx100', { learning: false, neighSuppress: true });
    await h.setLink('vx100', { up: true });
    await h.setLink('br100', { up: true });
    // workload NIC: veth into the workload namespace
    await h.createVeth('nic1', { mtu: 1450, peer: { name: 'eth0', netns: workload, mac: host.workloadMac, mtu: 1450 } });
    await h.setLink('nic1', { master: 'br100', up: true });
    const w = await handle(workload);
    await w.replaceAddress('eth0', `${host.workloadIp}/24`);
    await w.setLink('eth0', { up: true });
    hosts.push(host);
  }
});

afterAll(async () => {
  for (const h of handles) h.close();
  await lab.cleanup();
});

describe('VXLAN between two hosts', () => {
  it('carries no traffic before the control plane programs the FDB', async () => {
    const [a, b] = hosts as [Host, Host];
    expect(await ping(a.workload, b.workloadIp)).toBe(false);
  });

  it('pings across the overlay after flood entries are programmed', async () => {
    const [a, b] = hosts as [Host, Host];
    await a.h.replaceFdb('vx100', [{ mac: '00:00:00:00:00:00', dst: b.underlayIp }]);
    await b.h.replaceFdb('vx100', [{ mac: '00:00:00:00:00:00', dst: a.underlayIp }]);
    expect(await pings(a.workload, b.workloadIp)).toBe(true);
    expect(await pings(b.workload, a.workloadIp)).toBe(true);
  });

  it('pings with unicast FDB entries and permanent neighbours only (no flooding)', async () => {
    const [a, b] = hosts as [Host, Host];
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      await x.h.deleteFdb('vx100', [{ mac: '00:00:00:00:00:00', dst: y.underlayIp }]);
      await x.h.replaceFdb('vx100', [{ mac: y.workloadMac, dst: y.underlayIp }]);
      // no flood entry, so ARP cannot cross: the workloads get permanent entries instead
      const w = await handle(x.workload);
      await w.replaceNeighbors('eth0', [{ ip: y.workloadIp, mac: y.workloadMac }]);
    }
    expect(await a.h.fdb('vx100')).toEqual([{ mac: b.workloadMac, dst: b.underlayIp }]);
    expect(await pings(a.workload, b.workloadIp)).toBe(true);
    // and with the unicast entry gone, nothing gets through
    await a.h.deleteFdb('vx100', [{ mac: b.workloadMac, dst: b.underlayIp }]);
    expect(await ping(a.workload, b.workloadIp)).toBe(false);
  });
});
