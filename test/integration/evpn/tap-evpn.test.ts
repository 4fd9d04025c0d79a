// The tap transport under BGP EVPN: h1's and h2's VTEPs are TAPs their agents encapsulate for,
// h3's a kernel vxlan device, h4 the route reflector, and "plain" a VTEP of FRR and kernel devices
// made by hand with no vxcloud agent. zebra on h1 and h2 works through the shadow VTEP (agent/l2/vtep.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frrRunDir, waitFor } from '../../../lab/lab.js';
import { addr, fdb, host, nicNamespace, pingUntil, putNic, putSubnet, startEvpnLab, type NicPlace } from '../../harness/evpn.js';
import { capture } from '../../harness/capture.js';
import { run, type TestLab } from '../../harness/lab.js';

let t: TestLab;
const VNI = 3101;
const nics: NicPlace[] = [1, 2, 3].map((i) => ({ host: `h${i}`, id: `e${i}`, subnet: 'web', mac: `02:00:c6:12:31:0${i}`, ip: `198.18.1.1${i}/24` }));
const PLAIN = { address: '192.0.2.50', workload: '198.18.1.50', mac: '02:00:c6:12:31:50' };
const ns = (n: NicPlace): string => nicNamespace(t, n);

/** A VTEP as an FRR user builds one by hand: bridge, vxlan device, a workload, zebra and bgpd peering with the reflector. */
async function plainVtep(): Promise<{ ns: string; workload: string }> {
  const vtep = `${t.lab.name}-plain`;
  const workload = `${t.lab.name}-plainw`;
  const ip = (n: string, ...args: string[]) => run('ip', ['-n', n, ...args]);
  await run('ip', ['netns', 'add', vtep]);
  await run('ip', ['netns', 'add', workload]);
  await ip(t.lab.underlayNamespace, 'link', 'add', 'plain', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vtep);
  await ip(t.lab.underlayNamespace, 'link', 'set', 'plain', 'master', 'ul0', 'up');
  await ip(vtep, 'addr', 'add', `${PLAIN.address}/24`, 'dev', 'eth0');
  await ip(vtep, 'link', 'set', 'eth0', 'up');
  await ip(vtep, 'link', 'set', 'lo', 'up');
  // A physical NIC finishes checksums; the veth standing in for one must too (see lab.ts).
  await run('ip', ['netns', 'exec', vtep, 'ethtool', '-K', 'eth0', 'tx', 'off']);
  await ip(vtep, 'link', 'add', 'br0', 'type', 'bridge');
  await ip(vtep, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', String(VNI), 'local', PLAIN.address, 'dstport', '4789', 'nolearning');
  await ip(vtep, 'link', 'set', 'vx0', 'master', 'br0', 'addrgenmode', 'none');
  await run('ip', ['netns', 'exec', vtep, 'bridge', 'link', 'set', 'dev', 'vx0', 'learning', 'off', 'neigh_suppress', 'on']);
  await ip(vtep, 'link', 'add', 'wl0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', workload);
  await ip(vtep, 'link', 'set', 'wl0', 'master', 'br0', 'mtu', '1450', 'up');
  await ip(vtep, 'link', 'set', 'vx0', 'up');
  await ip(vtep, 'link', 'set', 'br0', 'up');
  await ip(workload, 'link', 'set', 'eth0', 'address', PLAIN.mac, 'mtu', '1450', 'up');
  await ip(workload, 'addr', 'add', `${PLAIN.workload}/24`, 'dev', 'eth0');

  // Under the lab's directory, where lab teardown stops FRR daemons by their pid files.
  const hostDir = join(t.lab.dir, 'plain');
  const d = frrRunDir(hostDir);
  for (const x of [hostDir, d, join(d, 'zebra'), join(d, 'bgpd')]) await mkdir(x, { recursive: true });
  await chmod(hostDir, 0o711);
  await writeFile(
    join(d, 'frr.conf'),
    [
      'frr defaults datacenter',
      'router bgp 65000',
      ` bgp router-id ${PLAIN.address}`,
      ' no bgp default ipv4-unicast',
      ` neighbor ${host(t, 'h4').underlayAddress} remote-as internal`,
      ' address-family l2vpn evpn',
      `  neighbor ${host(t, 'h4').underlayAddress} activate`,
      '  advertise-all-vni',
      ' exit-address-family',
      '',
    ].join('\n'),
  );
  await run('chown', ['-R', 'frr:frr', d]);
  for (const daemon of ['zebra', 'bgpd']) {
    const dir = join(d, daemon);
    await run('ip', [
      'netns',
      'exec',
      vtep,
      `/usr/lib/frr/${daemon}`,
      '-d',
      '-F',
      'datacenter',
      '-P',
      '0',
      '--vty_socket',
      d,
      '-z',
      join(d, 'zserv.api'),
      '-i',
      join(dir, 'process.pid'),
      '--log',
      `file:${join(dir, 'process.log')}`,
    ]);
  }
  await run('ip', ['netns', 'exec', vtep, 'vtysh', '--vty_socket', d, '--config_dir', d, '-b'], { timeout: 20_000 });
  return { ns: vtep, workload };
}

let plain: { ns: string; workload: string };
const servers: ChildProcess[] = [];
const PROBE = fileURLToPath(new URL('../../harness/netprobe.py', import.meta.url));

beforeAll(async () => {
  t = await startEvpnLab({ vteps: 3, reflectors: 1, tapHosts: ['h1', 'h2'] });
  await putSubnet(t, ['h1', 'h2', 'h3'], { vpc: 'a', id: 'web', cidr: '198.18.1.0/24', vni: VNI });
  // The plain VTEP's workload is no member of the tenant's default security group, whose ingress
  // would drop its pings: the NICs are unfiltered appliance NICs, so the test sees the data path alone.
  for (const n of nics) await putNic(t, { ...n, unfiltered: true });
  plain = await plainVtep();
}, 120_000);
afterAll(async () => {
  for (const s of servers) s.kill();
  await t?.down();
});

describe('tap transport under EVPN', () => {
  it('TAP↔TAP and TAP↔kernel VTEPs reach each other both ways, by ping and TCP, from what zebra learned', async () => {
    const [e1, e2, e3] = nics as [NicPlace, NicPlace, NicPlace];
    for (const [from, to] of [
      [e1, e2],
      [e2, e1],
      [e1, e3],
      [e3, e1],
      [e2, e3],
    ] as const) {
      await pingUntil(t, ns(from), addr(to.ip), 15_000);
    }
    for (const n of [e1, e2, e3]) servers.push(spawn('ip', ['netns', 'exec', ns(n), 'python3', PROBE, 'serve', 'tcp', '7000'], { stdio: 'ignore' }));
    for (const [from, to] of [
      [e1, e2],
      [e3, e1],
      [e1, e3],
    ] as const) {
      await waitFor(`TCP ${from.id} → ${to.id}`, 10_000, async () => {
        await t.exec(ns(from), ['python3', PROBE, 'connect', 'tcp', addr(to.ip), '7000']);
        return true;
      });
    }
    // h3 learned h1's NIC through BGP: zebra on h1 advertised the MAC the agent declared.
    await waitFor("h3 to hold h1's NIC MAC from BGP", 10_000, async () =>
      (await fdb(t, 'h3', `vxlan${VNI}`)).some((r) => r.mac === e1.mac && r.dst === host(t, 'h1').underlayAddress),
    );
    const h1 = await t.client('h1').host.getHost({}, 5000);
    expect(h1.transport).toBe('tap');
    expect(h1.transportCounters!.encapsulated).toBeGreaterThan(0);
    expect(h1.transportCounters!.decapsulated).toBeGreaterThan(0);
  });

  it("answers ARP for remote NICs from zebra's MAC+IP routes: no ARP crosses h1's underlay", async () => {
    const [e1, e2, e3] = nics as [NicPlace, NicPlace, NicPlace];
    const before = (await t.client('h1').host.getHost({}, 5000)).transportCounters!;
    await t.exec(ns(e1), ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    const lines = await capture(host(t, 'h1').namespace, 'eth0', ['-e'], ['udp', 'port', '4789'], async () => {
      await pingUntil(t, ns(e1), addr(e2.ip), 5000);
      await pingUntil(t, ns(e1), addr(e3.ip), 5000);
    });
    expect(lines.some((l) => /ICMP echo request/.test(l))).toBe(true);
    expect(lines.filter((l) => /ARP/.test(l))).toEqual([]);
    const after = (await t.client('h1').host.getHost({}, 5000)).transportCounters!;
    expect(after.arpAnswered - before.arpAnswered).toBeGreaterThanOrEqual(2);
  });

  it('a TAP VTEP and a plain FRR VTEP with no vxcloud agent reach each other both ways', async () => {
    await pingUntil(t, ns(nics[0]!), PLAIN.workload, 30_000);
    await pingUntil(t, plain.workload, addr(nics[0]!.ip), 15_000);
    await waitFor('h1 to count both remote VTEPs and their MACs', 10_000, async () => {
      const v = (await t.client('h1').host.getHost({}, 5000)).controlPlane!.vnis.find((x) => x.vni === VNI);
      return v?.localMacs === 1 && v.remoteMacs === 3 && v.remoteVteps === 3;
    });
    const { stdout } = await run('ip', ['netns', 'exec', plain.ns, 'bridge', '-j', 'fdb', 'show', 'dev', 'vx0']);
    const rows = JSON.parse(stdout) as { mac: string; dst?: string }[];
    expect(rows.some((r) => r.mac === nics[0]!.mac && r.dst === host(t, 'h1').underlayAddress)).toBe(true);
  });
});
