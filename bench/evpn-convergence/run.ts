// BGP EVPN convergence in a lab: how soon a new NIC talks across hosts, and how soon a host whose
// agent (and so its FRR) starts is reachable again.
//
// Run (as root; `npm run build` first, it builds the agent that the lab starts):
//   npx tsc -p bench/evpn-convergence/tsconfig.json && node bench/evpn-convergence/.build/bench/evpn-convergence/run.js [repetitions=30] [restarts=5]
//
// Lab vbe<pid>: h1-h3 VTEPs (compute), h4-h5 route reflectors (management), one subnet on h1-h3,
// standing NICs `far` on h1 and `near` on h2. Each repetition puts a fresh NIC (new MAC and IP, so
// no MAC-mobility or duplicate-detection state carries over) on h2 and times, from the Put's
// return, the first ping reply from `far` across VXLAN — and, as the baseline measured in the same
// run, from `near` on the same bridge (no VXLAN, no BGP) with another fresh NIC; the two sides
// alternate order every repetition. Alongside, `bridge monitor fdb` on h1 timestamps when zebra
// installs the new MAC (the type-2 route's arrival). Then, `restarts` times, h3's agent is stopped
// (it stops its zebra and bgpd, so h3's routes are withdrawn) and started again: the time from the
// start to the first reply from h3's NIC to `far` is the host-start figure.

import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { NicKind, NicSpec } from '../../gen/vxcloud/agent/v1/network.js';
import type * as LabModule from '../../lab/lab.js';
import { ROOT, withLab, type BenchLab } from '../common/lab.js';
import { median, percentile, samples } from '../common/stats.js';

const lab = (await import(pathToFileURL(join(ROOT, 'dist/lab/lab.js')).href)) as typeof LabModule;

const reps = Number(process.argv[2] ?? 30);
const restarts = Number(process.argv[3] ?? 5);
if (!Number.isInteger(reps) || reps < 1 || reps > 100) throw new Error('repetitions: 1..100');
if (!Number.isInteger(restarts) || restarts < 0 || restarts > 50) throw new Error('restarts: 0..50');

const VNI = 4343;
const SUBNET = { id: 'conv', vpcId: 'conv', name: 'conv', cidr: '198.18.8.0/24', vni: VNI, vlan: 0, gateway: '' };
const addr = (cidr: string): string => cidr.split('/')[0]!;

/** NIC number n: MAC and IP unique to it (10 ≤ n < 255; .1 is the subnet's gateway). */
function nic(b: BenchLab, id: string, n: number): NicSpec {
  return NicSpec.fromPartial({
    id,
    subnetId: SUBNET.id,
    kind: NicKind.NIC_KIND_VETH,
    mac: `02:00:c6:12:08:${n.toString(16).padStart(2, '0')}`,
    ip: `198.18.8.${n}/24`,
    namespace: `${b.lab.name}-${id}`,
    createNamespace: true,
    ifname: 'eth0',
  });
}

/** ms from now until `ns` gets its first echo reply from `to`; pings every 2 ms, gives up after `limitMs`. */
function firstReply(b: BenchLab, ns: string, to: string, limitMs: number): Promise<number> {
  const start = performance.now();
  return new Promise((resolve, reject) => {
    const p = b.background(ns, ['ping', '-n', '-i', '0.002', '-W', '1', '-w', String(Math.ceil(limitMs / 1000)), to]);
    let out = '';
    let done = false;
    p.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (!done && out.includes('bytes from')) {
        done = true;
        resolve(performance.now() - start);
        b.stop(p);
      }
    });
    p.on('exit', () => {
      if (!done) reject(new Error(`no reply from ${to} in ${ns} within ${limitMs} ms`));
    });
  });
}

/** Watches h1's FDB; `arrival(mac)` resolves with the time zebra installed a remote entry for it. */
function fdbWatch(b: BenchLab): { arrival(mac: string): Promise<number>; stop(): void } {
  const mon = b.background(b.lab.hosts[0]!.namespace, ['bridge', 'monitor', 'fdb']);
  const seen = new Map<string, number>();
  const waiting = new Map<string, (t: number) => void>();
  let buf = '';
  mon.stdout!.on('data', (d: Buffer) => {
    const now = performance.now();
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) {
      const m = /^([0-9a-f:]{17}) dev vxlan\d+ dst \S+ /.exec(l);
      if (!m || l.startsWith('Deleted') || seen.has(m[1]!)) continue;
      seen.set(m[1]!, now);
      waiting.get(m[1]!)?.(now);
    }
  });
  return {
    arrival: (mac) =>
      new Promise((resolve, reject) => {
        const t = seen.get(mac);
        if (t !== undefined) return resolve(t);
        const timer = setTimeout(() => reject(new Error(`h1 never installed ${mac}`)), 10_000);
        waiting.set(mac, (x) => {
          clearTimeout(timer);
          resolve(x);
        });
      }),
    stop: () => b.stop(mon),
  };
}

const line = (what: string, xs: number[]): string =>
  `${what}: p50 ${median(xs).toFixed(1)} ms, p99 ${percentile(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`;

await withLab('e', { hosts: 5, controlPlane: 'evpn', roles: (i) => (i > 3 ? ['management'] : ['compute']), reconcileIntervalSeconds: 3600 }, async (b) => {
  const host = (i: number): string => b.lab.hosts[i - 1]!.name;
  for (const i of [1, 2, 3]) {
    const net = b.client(host(i)).network;
    await net.putVpc({ vpc: { id: 'conv', name: 'conv', tenant: 'conv', cidr: '198.18.0.0/16' } });
    await net.putSubnet({ subnet: SUBNET });
  }
  const far = nic(b, 'far', 10);
  const near = nic(b, 'near', 11);
  const onH3 = nic(b, 'h3nic', 12);
  await b.client(host(1)).network.putNic({ nic: far });
  await b.client(host(2)).network.putNic({ nic: near });
  await b.client(host(3)).network.putNic({ nic: onH3 });
  // Sessions up and the standing NICs known everywhere before anything is timed.
  await firstReply(b, near.namespace, addr(far.ip), 30_000);
  await firstReply(b, onH3.namespace, addr(far.ip), 30_000);

  const watch = fdbWatch(b);
  const cross: number[] = [];
  const local: number[] = [];
  const type2: number[] = [];
  try {
    let n = 16;
    for (let r = 0; r < reps; r++) {
      for (const side of r % 2 ? (['local', 'cross'] as const) : (['cross', 'local'] as const)) {
        const spec = nic(b, `r${n}`, n);
        n++;
        await b.client(host(2)).network.putNic({ nic: spec });
        const put = performance.now();
        if (side === 'cross') {
          cross.push(await firstReply(b, spec.namespace, addr(far.ip), 10_000));
          type2.push((await watch.arrival(spec.mac)) - put);
        } else {
          local.push(await firstReply(b, spec.namespace, addr(near.ip), 10_000));
        }
        await b.client(host(2)).network.deleteNic({ id: spec.id });
      }
    }
  } finally {
    watch.stop();
  }

  const start: number[] = [];
  const h3 = b.lab.hosts[2]!;
  for (let r = 0; r < restarts; r++) {
    await lab.stopAgent(h3);
    // h3's routes are gone once its bgpd stopped; wait until h1 no longer reaches its NIC.
    await lab.waitFor("h3's routes to be withdrawn", 15_000, async () => {
      const { stdout } = await b.exec(b.lab.hosts[0]!.namespace, ['bridge', '-j', 'fdb', 'show', 'dev', `vxlan${VNI}`], 5000);
      return !(JSON.parse(stdout) as { mac: string; dst?: string }[]).some((e) => e.dst === h3.underlayAddress);
    });
    const t0 = performance.now();
    const reached = firstReply(b, onH3.namespace, addr(far.ip), 30_000);
    await lab.restartAgent(b.lab, h3.name);
    await reached;
    start.push(performance.now() - t0);
  }

  console.log(`lab ${b.lab.name}: 3 VTEPs, 2 reflectors, ${reps} repetitions, ${restarts} host restarts`);
  console.log(`${line('NIC Put → first ping across hosts (EVPN)', cross)} ${samples(cross)}`);
  console.log(`${line('NIC Put → first ping on the same host (baseline)', local)} ${samples(local)}`);
  console.log(`${line('NIC Put → MAC installed by zebra on another host (type-2)', type2)} ${samples(type2)}`);
  if (start.length > 0)
    console.log(
      `agent start → its NIC reachable across hosts: median ${median(start).toFixed(0)} ms, max ${Math.max(...start).toFixed(0)} ms ${samples(start, 0)}`,
    );
  console.log(`ratio cross-host/same-host first ping (p50): ${(median(cross) / median(local)).toFixed(2)}`);
  console.log(`goal p99 ≤ 250 ms across hosts: ${percentile(cross, 99) <= 250 ? 'met' : 'NOT met'} (p99 ${percentile(cross, 99).toFixed(1)} ms)`);
});
