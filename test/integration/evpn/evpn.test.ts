// BGP EVPN through FRR in a lab: three VTEP hosts (h1-h3) and two route reflectors (h4, h5), each
// agent running its own zebra/bgpd. No VTEP table is ever put: zebra fills the kernel.

import { spawn, type ChildProcess } from 'node:child_process';
import { status as grpcStatus } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restartAgent, stopAgent, waitFor } from '../../../lab/lab.js';
import {
  addr,
  daemonPid,
  fdb,
  host,
  neighbors,
  nicNamespace,
  pingUntil,
  putNic,
  putSubnet,
  startEvpnLab,
  waitSessions,
  type NicPlace,
} from '../../harness/evpn.js';
import { ping, processesUnder, type TestLab } from '../../harness/lab.js';
import { metric, scrape } from '../../harness/metrics.js';

let t: TestLab;
const VNI = 3001;
const VXLAN = `vxlan${VNI}`;
const BRIDGE = `vxbr${VNI}`;
const nics: NicPlace[] = [1, 2, 3].map((i) => ({ host: `h${i}`, id: `a${i}`, subnet: 'web', mac: `02:00:c6:12:30:0${i}`, ip: `198.18.1.1${i}/24` }));
const vtep = (h: string): string => host(t, h).underlayAddress;

beforeAll(async () => {
  t = await startEvpnLab({ vteps: 3, reflectors: 2 });
  await putSubnet(t, ['h1', 'h2', 'h3'], { vpc: 'a', id: 'web', cidr: '198.18.1.0/24', vni: VNI });
  for (const n of nics) await putNic(t, n);
});
afterAll(async () => {
  await t?.down();
});

/** Remote FDB entries of a VTEP, as zebra installed them: MAC → VTEP. */
async function remoteMacs(h: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const r of await fdb(t, h, VXLAN)) {
    if (r.dst === undefined || r.mac === '00:00:00:00:00:00') continue;
    out.set(r.mac, [...(out.get(r.mac) ?? []), r.dst]);
  }
  return out;
}

/** Starts a capture inside a namespace and resolves once tcpdump listens. */
async function capture(ns: string, argv: string[]): Promise<{ proc: ChildProcess; lines: () => string[] }> {
  const proc = spawn('ip', ['netns', 'exec', ns, 'tcpdump', '-n', '-l', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let ready = false;
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr.on('data', (d: Buffer) => {
    if (d.toString().includes('listening on')) ready = true;
  });
  await waitFor(`tcpdump in ${ns}`, 10_000, async () => ready);
  return { proc, lines: () => out.split('\n').filter((l) => l.trim() !== '') };
}

describe('BGP EVPN control plane', () => {
  it('NICs of one subnet on three hosts ping each other, from FDB entries zebra installed', async () => {
    for (const a of nics) for (const b of nics) if (a !== b) await pingUntil(t, nicNamespace(t, a), addr(b.ip), 10_000);
    // Type-2 routes follow the first frames by about a hundred milliseconds.
    const remote = nics.filter((n) => n.host !== 'h1');
    await waitFor('h1 to hold the remote MACs', 10_000, async () => {
      const m = await remoteMacs('h1');
      return remote.every((n) => m.get(n.mac)?.[0] === vtep(n.host));
    });
    const h1 = await fdb(t, 'h1', VXLAN);
    for (const other of remote) {
      const row = h1.find((r) => r.mac === other.mac && r.dst !== undefined);
      expect(row, `h1 has an FDB entry for ${other.mac}`).toMatchObject({ dst: vtep(other.host) });
      expect(row!.flags).toContain('extern_learn');
    }
    const flood = h1
      .filter((r) => r.mac === '00:00:00:00:00:00')
      .map((r) => r.dst)
      .sort();
    expect(flood).toEqual([vtep('h2'), vtep('h3')]);
    const table = await t
      .client('h1')
      .network.getVtepTable({ id: 'web' })
      .catch((e: unknown) => e as { code: number });
    expect(table).toMatchObject({ code: grpcStatus.NOT_FOUND });
  });

  it('refuses static VTEP tables, since FRR owns them', async () => {
    const err = await t
      .client('h1')
      .network.putVtepTable({ table: { subnetId: 'web', floodVteps: [vtep('h2')], fdb: [], neighbors: [] } })
      .catch((e: unknown) => e as { code: number; details: string });
    expect(err).toMatchObject({ code: grpcStatus.FAILED_PRECONDITION });
  });

  it('reports BGP sessions and EVPN counts through the host service', async () => {
    await waitFor('h1 to count two remote MACs', 10_000, async () => {
      const cp = (await t.client('h1').host.getHost({})).controlPlane!;
      return cp.vnis.find((v) => v.vni === VNI)?.remoteMacs === 2;
    });
    const cp = (await t.client('h1').host.getHost({})).controlPlane!;
    expect(cp).toMatchObject({ kind: 'evpn', frrMode: 'managed', vtep: true, reflector: false, routerId: vtep('h1'), asn: 65000, problems: [] });
    expect(cp.sessions.map((s) => [s.peer, s.state])).toEqual([
      [vtep('h4'), 'Established'],
      [vtep('h5'), 'Established'],
    ]);
    expect(cp.vnis.find((v) => v.vni === VNI)).toMatchObject({ localMacs: 1, remoteMacs: 2, remoteVteps: 2 });
    expect(cp.daemons.map((d) => d.name)).toEqual(['zebra', 'bgpd']);
    const rr = (await t.client('h4').host.getHost({})).controlPlane!;
    expect(rr).toMatchObject({ vtep: false, reflector: true, problems: [] });
    expect(rr.sessions.map((s) => s.peer)).toEqual([vtep('h1'), vtep('h2'), vtep('h3')]);
    expect(rr.daemons.map((d) => d.name)).toEqual(['bgpd']);
  });

  it('exports the BGP sessions as Prometheus metrics', async () => {
    const { samples } = await scrape(t, 'h1');
    for (const rr of ['h4', 'h5']) {
      expect(metric(samples, 'vxcloud_bgp_session_up', { host: 'h1', peer: vtep(rr), state: 'Established' })).toBe(1);
      expect(metric(samples, 'vxcloud_bgp_prefixes_received', { peer: vtep(rr) })).toBeGreaterThan(0);
    }
  });

  it('answers ARP locally once MAC+IP are known: zero ARP frames cross the VXLAN devices', async () => {
    // Each host's bridge holds its own NIC's IP→MAC (permanent, from the agent) and the others' (from zebra).
    await waitFor('every bridge to know every NIC IP', 10_000, async () => {
      for (const h of ['h1', 'h2', 'h3']) {
        const have = new Set((await neighbors(t, h, BRIDGE)).map((n) => `${n.dst}=${n.lladdr}`));
        if (!nics.every((n) => have.has(`${addr(n.ip)}=${n.mac}`))) return false;
      }
      return true;
    });
    for (const n of nics) await t.exec(nicNamespace(t, n), ['ip', 'neigh', 'flush', 'all']);
    const caps = await Promise.all(['h1', 'h2', 'h3'].map((h) => capture(host(t, h).namespace, ['-i', VXLAN, 'arp'])));
    try {
      for (const a of nics) for (const b of nics) if (a !== b) expect(await ping(t, nicNamespace(t, a), addr(b.ip), 1)).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      for (const c of caps) c.proc.kill('SIGTERM');
    }
    expect(caps.flatMap((c) => c.lines())).toEqual([]);
    // ...and the NICs did ask: their caches hold the answers.
    const { stdout } = await t.exec(nicNamespace(t, nics[0]!), ['ip', '-j', 'neigh', 'show', 'dev', 'eth0']);
    expect((JSON.parse(stdout) as { dst: string }[]).map((n) => n.dst).sort()).toEqual([addr(nics[1]!.ip), addr(nics[2]!.ip)]);
  });

  it('MAC mobility: a NIC moved to another host with the same MAC and IP is reached there, and no stale entry remains', async () => {
    const moving = nics[1]!; // on h2
    await t.client('h2').network.deleteNic({ id: moving.id });
    const moved: NicPlace = { ...moving, host: 'h3', id: 'a2moved' };
    await putNic(t, moved);
    await pingUntil(t, nicNamespace(t, nics[0]!), addr(moved.ip), 10_000);
    await waitFor('every VTEP to point the moved MAC at h3 only', 10_000, async () => {
      const h1 = (await remoteMacs('h1')).get(moved.mac);
      const h2 = (await remoteMacs('h2')).get(moved.mac);
      return JSON.stringify(h1) === JSON.stringify([vtep('h3')]) && JSON.stringify(h2) === JSON.stringify([vtep('h3')]);
    });
    // h2 keeps no local trace: no FDB entry on a local port, no permanent neighbour.
    const { stdout } = await t.exec(host(t, 'h2').namespace, ['bridge', '-j', 'fdb', 'show', 'br', BRIDGE]);
    const local = (JSON.parse(stdout) as { mac: string; dst?: string; ifname?: string }[]).filter(
      (r) => r.mac === moved.mac && r.dst === undefined && r.ifname !== VXLAN,
    );
    expect(local).toEqual([]);
    const h2neigh = await neighbors(t, 'h2', BRIDGE);
    expect(h2neigh.filter((n) => n.dst === addr(moved.ip) && (n.state ?? []).includes('PERMANENT'))).toEqual([]);
    nics[1] = moved;
  });

  it('one reflector down: traffic keeps flowing and new MACs still propagate through the other', async () => {
    const [a, , c] = nics;
    const flow = spawn('ip', ['netns', 'exec', nicNamespace(t, a!), 'ping', '-c', '30', '-i', '0.1', '-W', '1', addr(c!.ip)], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    flow.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const done = new Promise<number>((r) => flow.on('exit', (code) => r(code ?? -1)));
    await new Promise((r) => setTimeout(r, 500));
    await stopAgent(host(t, 'h4'), 'SIGTERM'); // the agent stops its bgpd with it
    expect(await done).toBe(0);
    expect(out).toMatch(/30 received/);
    const late: NicPlace = { host: 'h2', id: 'late', subnet: 'web', mac: '02:00:c6:12:30:99', ip: '198.18.1.99/24' };
    await putNic(t, late);
    await pingUntil(t, nicNamespace(t, a!), addr(late.ip), 10_000);
    await waitFor('h1 to learn the late MAC from the remaining reflector', 10_000, async () => (await remoteMacs('h1')).get(late.mac)?.[0] === vtep('h2'));
    await t.client('h2').network.deleteNic({ id: late.id });
    await restartAgent(t.lab, 'h4');
    await waitSessions(t, ['h1', 'h2', 'h3'], 2);
  });

  it("a VTEP's bgpd killed: its entries are withdrawn elsewhere, the agent restarts it and they come back", async () => {
    const h3nics = nics.filter((n) => n.host === 'h3');
    const before = await daemonPid(t, 'h3', 'bgpd');
    const monitor = spawn('ip', ['netns', 'exec', host(t, 'h1').namespace, 'bridge', 'monitor', 'fdb'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let events = '';
    monitor.stdout.on('data', (d: Buffer) => (events += d.toString()));
    try {
      await new Promise((r) => setTimeout(r, 300));
      process.kill(before, 'SIGKILL');
      await waitFor('h3 bgpd to be restarted by its agent', 10_000, async () => {
        const cp = (await t.client('h3').host.getHost({})).controlPlane!;
        return cp.daemons.find((d) => d.name === 'bgpd')!.restarts === 1 && cp.sessions.filter((s) => s.state === 'Established').length === 2;
      });
      await waitFor("h1 to hold h3's MACs again", 10_000, async () => {
        const m = await remoteMacs('h1');
        return h3nics.every((n) => m.get(n.mac)?.[0] === vtep('h3'));
      });
    } finally {
      monitor.kill('SIGTERM');
    }
    for (const n of h3nics) expect(events).toMatch(new RegExp(`Deleted ${n.mac} dev ${VXLAN} dst ${vtep('h3')}`));
    expect(await daemonPid(t, 'h3', 'bgpd')).not.toBe(before);
    await pingUntil(t, nicNamespace(t, nics[0]!), addr(h3nics[0]!.ip), 10_000);
  });

  it("a VTEP's zebra killed: the agent starts zebra and a new bgpd (whose EVPN state zebra fills), configured, and h3's NICs are reached again", async () => {
    const before = await Promise.all([daemonPid(t, 'h3', 'zebra'), daemonPid(t, 'h3', 'bgpd')]);
    process.kill(before[0], 'SIGKILL');
    await waitFor('h3 zebra and bgpd to run again, sessions up', 15_000, async () => {
      const cp = (await t.client('h3').host.getHost({})).controlPlane!;
      return (
        cp.daemons.every((d) => d.pid !== 0 && !before.includes(d.pid)) &&
        cp.problems.length === 0 &&
        cp.sessions.filter((s) => s.state === 'Established').length === 2
      );
    });
    const cp = (await t.client('h3').host.getHost({})).controlPlane!;
    expect(cp.daemons.find((d) => d.name === 'zebra')!.restarts).toBe(1);
    const h3nics = nics.filter((n) => n.host === 'h3');
    await waitFor("h1 to hold h3's MACs again", 15_000, async () => {
      const m = await remoteMacs('h1');
      return h3nics.every((n) => m.get(n.mac)?.[0] === vtep('h3'));
    });
    for (const n of h3nics) await pingUntil(t, nicNamespace(t, nics[0]!), addr(n.ip), 10_000);
  });

  it('an agent SIGKILLed and restarted adopts its running daemons: same PIDs, sessions never drop', async () => {
    const pids = await Promise.all([daemonPid(t, 'h1', 'zebra'), daemonPid(t, 'h1', 'bgpd')]);
    const uptime = (await t.client('h4').host.getHost({})).controlPlane!.sessions.find((s) => s.peer === vtep('h1'))!.uptimeMs;
    process.kill(host(t, 'h1').pid, 'SIGKILL');
    await restartAgent(t.lab, 'h1');
    expect(await Promise.all([daemonPid(t, 'h1', 'zebra'), daemonPid(t, 'h1', 'bgpd')])).toEqual(pids);
    const cp = (await t.client('h1').host.getHost({})).controlPlane!;
    expect(cp.daemons.map((d) => d.pid)).toEqual(pids);
    const after = (await t.client('h4').host.getHost({})).controlPlane!.sessions.find((s) => s.peer === vtep('h1'))!.uptimeMs;
    expect(after).toBeGreaterThan(uptime);
    expect(await ping(t, nicNamespace(t, nics[0]!), addr(nics[2]!.ip))).toBe(true);
  });

  it('overlapping tenant CIDRs stay isolated under EVPN', async () => {
    // Tenant b: the same 198.18.1.0/24 on another VNI, .11 on h1 (an address tenant a also has) and .14 on h2 (one it has not).
    await putSubnet(t, ['h1', 'h2'], { vpc: 'b', id: 'b-web', cidr: '198.18.1.0/24', vni: 3002 });
    const b1: NicPlace = { host: 'h1', id: 'b1', subnet: 'b-web', mac: '02:00:c6:12:3b:11', ip: '198.18.1.11/24' };
    const b2: NicPlace = { host: 'h2', id: 'b2', subnet: 'b-web', mac: '02:00:c6:12:3b:14', ip: '198.18.1.14/24' };
    await putNic(t, b1);
    await putNic(t, b2);
    await pingUntil(t, nicNamespace(t, b1), addr(b2.ip), 10_000);
    // Anything of tenant a's NIC that leaked would carry its MAC (tenant b's own traffic uses the same IPs).
    const watch = await capture(nicNamespace(t, b2), ['-i', 'eth0', 'ether', 'src', nics[0]!.mac]);
    try {
      expect(await ping(t, nicNamespace(t, nics[0]!), addr(b2.ip), 3)).toBe(false);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      watch.proc.kill('SIGTERM');
    }
    expect(watch.lines()).toEqual([]);
    // Tenant a still reaches its own NICs.
    expect(await ping(t, nicNamespace(t, nics[0]!), addr(nics[2]!.ip))).toBe(true);
    const vnis = (await t.client('h1').host.getHost({})).controlPlane!.vnis.map((v) => v.vni);
    expect(vnis).toEqual([VNI, 3002]);
  });

  it('lab teardown leaves no FRR daemon behind', async () => {
    const dir = t.lab.dir;
    await t.down();
    expect(await processesUnder(dir)).toEqual([]);
  });
});
