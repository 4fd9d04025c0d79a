// The tap transport against kernel VXLAN between hosts of one lab: iperf3 TCP NIC→NIC, and
// 64-byte UDP packets per second, over TAP↔TAP, TAP→kernel and kernel→TAP, each against
// kernel↔kernel in the same run; and the agents' CPU time per packet on the TAP↔TAP path.
//
// Run (as root; `npm run build` first, it builds the agent that the lab starts):
//   npx tsc -p bench/tap-throughput/tsconfig.json && node bench/tap-throughput/.build/bench/tap-throughput/run.js [repetitions=3] [seconds=5]
//
// Lab vbp<pid>: four hosts under the registry control plane, h1 and h2 with transport tap, h3 and
// h4 with kernel vxlan devices; one subnet on all four and a NIC on each. The lab's underlay NICs
// finish checksums before sending (as physical NICs do; see lab.ts), for every path alike. Each
// repetition runs every path, in an order that rotates; iperf3 TCP is one stream, `-t SECONDS -O 1`,
// the figure what the receiver got; UDP is `-u -b 0 -l 64`, datagrams the receiver got per second.
// CPU is utime+stime of both agents' processes (/proc/PID/stat, all threads) over the UDP run,
// divided by the datagrams received.

import { cpuTicks } from '../common/cpu.js';
import os from 'node:os';
import type { NicSpec } from '../../gen/vxcloud/agent/v1/network.js';
import { iperf, iperfUdp } from '../common/iperf.js';
import { withLab, type BenchLab } from '../common/lab.js';
import { benchNic } from '../common/nic.js';
import { median, samples } from '../common/stats.js';

const reps = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 5);
const HOSTS = [1, 2, 3, 4];
const TICKS_PER_SECOND = 100;

const nic = (b: BenchLab, i: number): NicSpec => benchNic(b, i, 'bench-net');
const ip = (b: BenchLab, i: number): string => nic(b, i).ip.split('/')[0]!;

/** Paths as [name, client NIC's host, server NIC's host]. */
const PATHS = [
  ['kernel↔kernel', 3, 4],
  ['TAP↔TAP', 1, 2],
  ['TAP→kernel', 1, 3],
  ['kernel→TAP', 3, 1],
] as const;
type PathName = (typeof PATHS)[number][0];

async function agentsCpu(pids: number[]): Promise<{ user: number; system: number }> {
  const all = await Promise.all(pids.map(cpuTicks));
  return { user: all.reduce((a, c) => a + c.user, 0), system: all.reduce((a, c) => a + c.system, 0) };
}

await withLab('p', { hosts: 4, controlPlane: 'registry', tapHosts: ['h1', 'h2'] }, async (b) => {
  console.log(
    `tap-throughput bench: ${reps} repetitions of ${seconds} s per path, kernel ${os.release()}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`,
  );
  for (const i of HOSTS) {
    const net = b.client(`h${i}`).network;
    await net.putVpc({ vpc: { id: 'bench', name: 'bench', tenant: 'bench', cidr: '198.18.0.0/16' } });
    await net.putSubnet({ subnet: { id: 'bench-net', vpcId: 'bench', name: 'bench', cidr: '198.18.7.0/24', vni: 0, vlan: 0, gateway: '' } });
  }
  for (const i of HOSTS) await b.client(`h${i}`).network.putNic({ nic: nic(b, i) });
  for (const [, from, to] of PATHS) await b.exec(nic(b, from).namespace, ['ping', '-c', '3', '-i', '0.2', '-W', '2', ip(b, to)], 30_000);

  const tcp = new Map<PathName, number[]>(PATHS.map(([p]) => [p, []]));
  const udp = new Map<PathName, number[]>(PATHS.map(([p]) => [p, []]));
  const retransmits = new Map<PathName, number>(PATHS.map(([p]) => [p, 0]));
  const cpuPerPacket: { user: number; system: number }[] = [];
  const [h1, h2] = b.lab.hosts;
  for (let r = 0; r < reps; r++) {
    const order = PATHS.map((_, k) => PATHS[(k + r) % PATHS.length]!);
    for (const [name, from, to] of order) {
      const t = await iperf(b, nic(b, to).namespace, nic(b, from).namespace, ip(b, to), seconds);
      tcp.get(name)!.push(t.gbps);
      retransmits.set(name, retransmits.get(name)! + t.retr);
    }
    for (const [name, from, to] of order) {
      const before = await agentsCpu([h1!.pid, h2!.pid]);
      const u = await iperfUdp(b, nic(b, to).namespace, nic(b, from).namespace, ip(b, to), seconds, 64);
      udp.get(name)!.push(u.pps);
      if (name === 'TAP↔TAP') {
        const after = await agentsCpu([h1!.pid, h2!.pid]);
        const us = (ticks: number): number => ((ticks / TICKS_PER_SECOND) * 1e6) / u.packets;
        cpuPerPacket.push({ user: us(after.user - before.user), system: us(after.system - before.system) });
      }
    }
  }

  const base = { tcp: median(tcp.get('kernel↔kernel')!), udp: median(udp.get('kernel↔kernel')!) };
  for (const [name] of PATHS) {
    const t = median(tcp.get(name)!);
    const u = median(udp.get(name)!);
    console.log(
      `  ${name.padEnd(14)} TCP ${t.toFixed(2)} Gbit/s ${samples(tcp.get(name)!, 2)} (${retransmits.get(name)} retransmits)   UDP 64 B ${(u / 1000).toFixed(0)} kpps ${samples(
        udp.get(name)!.map((x) => x / 1000),
        0,
      )}`,
    );
  }
  for (const [name] of PATHS.slice(1)) {
    console.log(
      `  ratio ${name}/kernel↔kernel: TCP ${(median(tcp.get(name)!) / base.tcp).toFixed(2)} (goal >= 0.3), UDP 64 B pps ${(median(udp.get(name)!) / base.udp).toFixed(2)}`,
    );
  }
  const counters = (await b.client('h1').host.getHost({}, 5000)).transportCounters!;
  const user = cpuPerPacket.map((c) => c.user);
  const system = cpuPerPacket.map((c) => c.system);
  console.log(
    `  agent CPU per 64 B datagram, TAP↔TAP, both agents: user ${median(user).toFixed(2)} µs ${samples(user, 2)}, system ${median(system).toFixed(2)} µs ${samples(system, 2)}`,
  );
  console.log(
    `  h1 counters: encapsulated ${counters.encapsulated}, decapsulated ${counters.decapsulated}, send errors ${counters.dropSendError}, TAP errors ${counters.dropTapError}`,
  );
});
