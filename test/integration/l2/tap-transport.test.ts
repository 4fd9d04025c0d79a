// The tap transport under the registry control plane: h1 and h2 carry their subnets' frames through
// TAP devices the agent encapsulates itself, h3 and h4 through kernel vxlan devices. Tenant a's
// subnet spans h1–h3; tenant b has the same CIDR on h1 and h2; h4 holds only another subnet of a.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransportCounters } from '../../../gen/vxcloud/agent/v1/host.js';
import { restartAgent, waitFor } from '../../../lab/lab.js';
import { labFilePath } from '../../../lab/labfile.js';
import { capture } from '../../harness/capture.js';
import { addr, host, nicNamespace, pingUntil, putNic, putSubnet, type NicPlace } from '../../harness/evpn.js';
import { hostLinks, ping, run, type TestLab } from '../../harness/lab.js';
import { metric, scrape } from '../../harness/metrics.js';
import { startRegistryLab } from '../../harness/registry.js';

const PROBE = fileURLToPath(new URL('../../harness/netprobe.py', import.meta.url));
let t: TestLab;
let vniA = 0;
const servers: ChildProcess[] = [];

const nic = (id: string, h: string, subnet: string, last: number, third = 1): NicPlace => ({
  host: h,
  id,
  subnet,
  mac: `02:00:c6:12:${id.startsWith('a') ? '0a' : '0b'}:${last.toString(16).padStart(2, '0')}`,
  ip: `198.18.${third}.${last}/24`,
});
const a1 = nic('a1', 'h1', 'a-web', 11);
const a2 = nic('a2', 'h2', 'a-web', 12);
const a3 = nic('a3', 'h3', 'a-web', 13);
const a4 = nic('a4', 'h4', 'a-db', 14, 2);
const b1 = nic('b1', 'h1', 'b-web', 11);
const b2 = nic('b2', 'h2', 'b-web', 14);
const ns = (n: NicPlace): string => nicNamespace(t, n);
const counters = async (h: string): Promise<TransportCounters> => (await t.client(h).host.getHost({}, 5000)).transportCounters!;
const connect = (from: NicPlace, to: NicPlace): Promise<unknown> => t.exec(ns(from), ['python3', PROBE, 'connect', 'tcp', addr(to.ip), '7000']);

beforeAll(async () => {
  t = await startRegistryLab({ hosts: 4, leaseSeconds: 5, tapHosts: ['h1', 'h2'] });
  await putSubnet(t, ['h1', 'h2', 'h3'], { vpc: 'a', id: 'a-web', cidr: '198.18.1.0/24', vni: 0 });
  await putSubnet(t, ['h3', 'h4'], { vpc: 'a', id: 'a-db', cidr: '198.18.2.0/24', vni: 0 });
  await putSubnet(t, ['h1', 'h2'], { vpc: 'b', id: 'b-web', cidr: '198.18.1.0/24', vni: 0 });
  for (const n of [a1, a2, a3, a4, b1, b2]) await putNic(t, n);
  vniA = (await t.client('h1').network.getSubnet({ id: 'a-web' })).spec!.vni;
  for (const n of [a1, a2, a3]) {
    servers.push(spawn('ip', ['netns', 'exec', ns(n), 'python3', PROBE, 'serve', 'tcp', '7000'], { stdio: 'ignore' }));
  }
  await pingUntil(t, ns(a1), addr(a3.ip), 20_000);
}, 120_000);
afterAll(async () => {
  for (const s of servers) s.kill();
  await t?.down();
});

describe('tap transport', () => {
  it('NICs ping each other across TAP↔TAP and TAP↔kernel VTEPs, in both directions', async () => {
    for (const [from, to] of [
      [a1, a2],
      [a2, a1],
      [a1, a3],
      [a3, a1],
      [a2, a3],
      [a3, a2],
    ] as const) {
      await pingUntil(t, ns(from), addr(to.ip), 10_000);
    }
    const h1 = await t.client('h1').host.getHost({}, 5000);
    expect(h1.transport).toBe('tap');
    expect((await t.client('h3').host.getHost({}, 5000)).transport).toBe('vxlan');
    expect(h1.transportCounters!.encapsulated).toBeGreaterThan(0);
    expect(h1.transportCounters!.decapsulated).toBeGreaterThan(0);
  });

  it('TCP connects across TAP↔TAP and TAP↔kernel, in both directions', async () => {
    for (const [from, to] of [
      [a1, a2],
      [a2, a1],
      [a1, a3],
      [a3, a1],
    ] as const) {
      await connect(from, to);
    }
  });

  it('carries bulk TCP intact into a TAP host, its segments coalesced into GSO frames', async () => {
    for (const from of [a3, a2]) {
      const before = await counters('h1');
      const server = spawn('ip', ['netns', 'exec', ns(a1), 'python3', PROBE, 'blob-serve', '7001'], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      server.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const done = new Promise((resolve) => server.once('exit', resolve));
      await waitFor('the blob server', 10_000, async () => out.includes('listening'));
      const sent = (await t.exec(ns(from), ['python3', PROBE, 'blob-send', addr(a1.ip), '7001', String(32 << 20)], 60_000)).stdout.trim();
      await done;
      expect(out.split('\n')[1], `from ${from.id}`).toBe(sent);
      expect((await counters('h1')).coalesced - before.coalesced, `from ${from.id}`).toBeGreaterThan(1000);
    }
  });

  it('carries the overlay MTU: a full-size unfragmentable packet passes, one byte more is refused at the NIC', async () => {
    // Underlay 1500 less 50 of VXLAN: 1450, less 28 of IPv4 and ICMP headers.
    await t.exec(ns(a1), ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1422', addr(a2.ip)]);
    await t.exec(ns(a1), ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1422', addr(a3.ip)]);
    await expect(t.exec(ns(a1), ['ping', '-c', '1', '-W', '2', '-M', 'do', '-s', '1423', addr(a2.ip)])).rejects.toThrow(/message too long|mtu/i);
  });

  it('answers ARP for a known address on the host: no ARP crosses the underlay, the NIC learns the right MAC', async () => {
    const before = await counters('h1');
    await t.exec(ns(a1), ['ip', 'neigh', 'flush', 'dev', 'eth0']);
    const lines = await capture(host(t, 'h1').namespace, 'eth0', ['-e'], ['udp', 'port', '4789'], async () => {
      await pingUntil(t, ns(a1), addr(a2.ip), 5000);
    });
    expect(lines.some((l) => /ICMP echo request/.test(l))).toBe(true);
    expect(lines.filter((l) => /ARP/.test(l))).toEqual([]);
    const { stdout } = await t.exec(ns(a1), ['ip', '-j', 'neigh', 'show', addr(a2.ip), 'dev', 'eth0']);
    expect((JSON.parse(stdout) as { lladdr: string }[])[0]?.lladdr).toBe(a2.mac);
    expect((await counters('h1')).arpAnswered).toBeGreaterThan(before.arpAnswered);
  });

  it('floods broadcast and unknown unicast to every host of the subnet and only those', async () => {
    const tap = (h: string): string => host(t, h).namespace;
    const seen = new Map<string, string[]>();
    const send = async (): Promise<void> => {
      await t.exec(ns(a1), ['ip', 'neigh', 'replace', '198.18.1.98', 'lladdr', '02:00:00:00:00:98', 'dev', 'eth0', 'nud', 'permanent']);
      expect(await ping(t, ns(a1), '198.18.1.99', 2)).toBe(false); // ARP broadcasts nobody answers
      expect(await ping(t, ns(a1), '198.18.1.98', 2)).toBe(false); // unicast to a MAC nobody has
    };
    const on = (h: string, next: () => Promise<void>) => async () => {
      seen.set(h, await capture(tap(h), 'eth0', ['-e'], ['udp', 'port', '4789'], next));
    };
    await on('h2', on('h3', on('h4', send)))();
    for (const h of ['h2', 'h3']) {
      expect(
        seen.get(h)!.some((l) => /who-has 198\.18\.1\.99/.test(l)),
        h,
      ).toBe(true);
      expect(
        seen.get(h)!.some((l) => /> 02:00:00:00:00:98/.test(l)),
        h,
      ).toBe(true);
    }
    expect(seen.get('h4')!.filter((l) => /198\.18\.1\.99|02:00:00:00:00:98/.test(l))).toEqual([]);
  });

  it('keeps two tenants with the same CIDR apart', async () => {
    await pingUntil(t, ns(b1), addr(b2.ip), 10_000);
    expect(await ping(t, ns(a1), addr(b2.ip))).toBe(false);
    expect(await ping(t, ns(b1), addr(a2.ip))).toBe(false);
  });

  it("drops a VXLAN datagram for the subnet's VNI from a host that is not one of its VTEPs", async () => {
    const before = await counters('h1');
    const lines = await capture(ns(a1), 'eth0', ['-e'], ['ether', 'src', '02:00:00:00:ba:d0'], async () => {
      await t.exec(host(t, 'h4').namespace, ['python3', PROBE, 'vxlan-arp', host(t, 'h1').underlayAddress, String(vniA)]);
    });
    expect(lines).toEqual([]);
    expect((await counters('h1')).dropUnknownVtep).toBe(before.dropUnknownVtep + 1);
  });

  it('a stream of malformed VXLAN datagrams is dropped and counted, and the agent keeps serving and forwarding', async () => {
    const before = await counters('h1');
    await t.exec(host(t, 'h3').namespace, ['python3', PROBE, 'vxlan-fuzz', host(t, 'h1').underlayAddress, String(vniA), '20000', '7'], 60_000);
    // Of 10,000 short, 5,000 unflagged and 5,000 of unknown VNIs; a busy machine may drop some in
    // the socket buffer, and the counters may trail the sender.
    const enough = (c: TransportCounters): boolean =>
      c.dropShort - before.dropShort >= 5000 && c.dropBadFlags - before.dropBadFlags >= 2500 && c.dropUnknownVni - before.dropUnknownVni >= 2500;
    let after = await counters('h1');
    await waitFor('the drops counted', 10_000, async () => enough((after = await counters('h1')))).catch(() => undefined);
    expect(after.dropShort - before.dropShort).toBeGreaterThanOrEqual(5000);
    expect(after.dropBadFlags - before.dropBadFlags).toBeGreaterThanOrEqual(2500);
    expect(after.dropUnknownVni - before.dropUnknownVni).toBeGreaterThanOrEqual(2500);
    await pingUntil(t, ns(a1), addr(a3.ip), 5000);
    await connect(a3, a1);
    const { stdout } = await run(process.execPath, ['dist/vxctl/main.js', 'transport', '--lab-file', labFilePath(t.lab.dir)], { timeout: 20_000 });
    // TAP in and out, encapsulated, decapsulated, coalesced, ARP and ND answered, then the drops by reason.
    expect(stdout).toMatch(/h1\s+tap\s+[1-9]\d*\s+[1-9]\d*\s+[1-9]\d*\s+[1-9]\d*(\s+\d+){3}\s+short [1-9]\d*, bad-flags [1-9]\d*, unknown-vni [1-9]\d*/);
    expect(stdout).toMatch(/h3\s+vxlan\s+-/);
    const { samples } = await scrape(t, 'h1');
    expect(metric(samples, 'vxcloud_transport_drops_total', { host: 'h1', reason: 'short' })).toBeGreaterThanOrEqual(after.dropShort);
    expect(metric(samples, 'vxcloud_transport_events_total', { host: 'h1', event: 'decapsulated' })).toBeGreaterThan(0);
  });

  it('gives different flows different outer source ports, and each flow one', async () => {
    const lines = await capture(
      host(t, 'h1').namespace,
      'eth0',
      [],
      ['udp', 'dst', 'port', '4789', 'and', 'src', 'host', host(t, 'h1').underlayAddress],
      async () => {
        for (let i = 0; i < 8; i++) await connect(a1, a2);
      },
    );
    // tcpdump prints the outer datagram, then the inner packet on the next line.
    const ports = new Map<string, Set<string>>();
    for (let i = 0; i + 1 < lines.length; i++) {
      const outer = /IP [\d.]+\.(\d+) > [\d.]+\.4789: VXLAN/.exec(lines[i]!);
      const inner = /IP (198\.18\.1\.11\.\d+ > 198\.18\.1\.12\.7000)/.exec(lines[i + 1]!);
      if (outer && inner) ports.set(inner[1]!, (ports.get(inner[1]!) ?? new Set()).add(outer[1]!));
    }
    expect(ports.size).toBe(8);
    for (const p of ports.values()) expect(p.size).toBe(1);
    expect(new Set([...ports.values()].map((p) => [...p][0])).size).toBeGreaterThan(1);
  });

  it('an agent restart attaches its TAPs again and leaves no stale devices', async () => {
    const before = await hostLinks(t, 'h1');
    expect(before.filter((l) => l.startsWith('vxtep'))).toHaveLength(2);
    expect(before.filter((l) => l.startsWith('vxlan'))).toEqual([]);
    await restartAgent(t.lab, 'h1');
    await pingUntil(t, ns(a1), addr(a3.ip), 15_000);
    await pingUntil(t, ns(a2), addr(a1.ip), 15_000);
    await pingUntil(t, ns(b1), addr(b2.ip), 15_000);
    expect(await hostLinks(t, 'h1')).toEqual(before);
    const s = await t.client('h1').network.getSubnet({ id: 'a-web' });
    expect(s.status!.problems).toEqual([]);
  });
});
