// TCP throughput between two NICs of one subnet on different hosts (over VXLAN) vs between the
// same two hosts over the underlay (192.0.2.x): iperf3, one stream, medians and their ratio.
//
// Run (as root; `npm run build` first, it builds the agent that the lab starts):
//   npx tsc -p bench/l2-throughput/tsconfig.json && node bench/l2-throughput/.build/bench/l2-throughput/run.js [repetitions=5] [seconds=5] [underlay MTUs=1500,1550]
//
// Lab vbt<pid>: two hosts; NIC n1 on h1 and n2 on h2 in one subnet, with static VTEP tables. For
// each underlay MTU the underlay veths (both ends) are set to it and the agents restarted, since
// they read it only at start; the overlay follows (workloads get underlay − 50), so 1550 gives
// the workloads a full 1500. Each repetition runs both paths, in an order that reverses every
// other time; each iperf3 run is `-t SECONDS -O 1` (the first second, slow start, is not counted)
// and the figure is what the receiver got.

import os from 'node:os';
import type { NicSpec } from '../../gen/vxcloud/agent/v1/network.js';
import { iperf } from '../common/iperf.js';
import { withLab, type BenchLab } from '../common/lab.js';
import { benchNic } from '../common/nic.js';
import { median, samples } from '../common/stats.js';

const reps = Number(process.argv[2] ?? 5);
const seconds = Number(process.argv[3] ?? 5);
const mtus = (process.argv[4] ?? '1500,1550').split(',').map(Number);
for (const m of mtus) if (!Number.isInteger(m) || m < 1280 || m > 9000) throw new Error(`underlay MTU ${m}: a whole number from 1280 to 9000`);

const SUBNET = { id: 'bench', vpcId: 'bench', name: 'bench', cidr: '198.18.7.0/24', vni: 4242, vlan: 0, gateway: '' };
const hostsOf = [1, 2] as const;
const nicOf = (b: BenchLab, i: number): NicSpec => benchNic(b, i, SUBNET.id);
const addr = (cidr: string): string => cidr.split('/')[0]!;

async function setUnderlayMtu(b: BenchLab, mtu: number): Promise<void> {
  for (const h of b.lab.hosts) {
    await b.run('ip', ['-n', b.lab.underlayNamespace, 'link', 'set', 'dev', h.name, 'mtu', String(mtu)], 10_000);
    await b.run('ip', ['-n', h.namespace, 'link', 'set', 'dev', 'eth0', 'mtu', String(mtu)], 10_000);
  }
  await b.restartAgents();
}

/** The subnet on both hosts, a NIC on each, and tables that point each host at the other's NIC. */
async function overlayUp(b: BenchLab, mtu: number): Promise<void> {
  for (const i of hostsOf) {
    const net = b.client(`h${i}`).network;
    await net.putVpc({ vpc: { id: 'bench', name: 'bench', tenant: 'bench', cidr: '198.18.0.0/16' } });
    await net.putSubnet({ subnet: SUBNET });
    await net.putNic({ nic: nicOf(b, i) });
  }
  for (const i of hostsOf) {
    const peer = nicOf(b, 3 - i);
    const vtep = b.lab.hosts[2 - i]!.underlayAddress;
    await b.client(`h${i}`).network.putVtepTable({
      table: { subnetId: SUBNET.id, floodVteps: [vtep], fdb: [{ mac: peer.mac, vtep }], neighbors: [{ ip: addr(peer.ip), mac: peer.mac }] },
    });
  }
  // The agents must have read the new underlay MTU, or the round would measure the old one.
  const { stdout } = await b.exec(nicOf(b, 1).namespace, ['ip', '-j', 'link', 'show', 'dev', 'eth0'], 10_000);
  const got = (JSON.parse(stdout) as { mtu: number }[])[0]?.mtu;
  if (got !== mtu - 50) throw new Error(`NIC MTU ${got}, expected ${mtu - 50} (underlay ${mtu})`);
  await b.exec(nicOf(b, 1).namespace, ['ping', '-c', '3', '-i', '0.2', '-W', '2', addr(nicOf(b, 2).ip)], 15_000);
}

async function overlayDown(b: BenchLab): Promise<void> {
  for (const i of hostsOf) {
    const net = b.client(`h${i}`).network;
    await net.deleteNic({ id: `n${i}` });
    await net.deleteSubnet({ id: SUBNET.id });
  }
}

async function round(b: BenchLab, mtu: number): Promise<void> {
  await overlayUp(b, mtu);
  try {
    const [h1, h2] = b.lab.hosts;
    const paths = {
      overlay: () => iperf(b, nicOf(b, 2).namespace, nicOf(b, 1).namespace, addr(nicOf(b, 2).ip), seconds),
      underlay: () => iperf(b, h2!.namespace, h1!.namespace, h2!.underlayAddress, seconds),
    };
    const got = { overlay: [] as number[], underlay: [] as number[] };
    const retr = { overlay: 0, underlay: 0 };
    for (let i = 0; i < reps; i++) {
      for (const p of i % 2 ? (['underlay', 'overlay'] as const) : (['overlay', 'underlay'] as const)) {
        const r = await paths[p]();
        got[p].push(r.gbps);
        retr[p] += r.retr;
      }
    }
    const mo = median(got.overlay);
    const mu = median(got.underlay);
    console.log(`  underlay MTU ${mtu}, workload MTU ${mtu - 50}:`);
    console.log(`    overlay  (NIC→NIC, VXLAN)   : median ${mo.toFixed(2)} Gbit/s  ${samples(got.overlay, 2)}  retransmits ${retr.overlay}`);
    console.log(`    underlay (host→host)        : median ${mu.toFixed(2)} Gbit/s  ${samples(got.underlay, 2)}  retransmits ${retr.underlay}`);
    console.log(`  ratio overlay/underlay, underlay MTU ${mtu}: ${(mo / mu).toFixed(2)}  (goal >= 0.8)`);
  } finally {
    await overlayDown(b);
  }
}

await withLab('t', { hosts: 2, controlPlane: 'static' }, async (b) => {
  console.log(
    `l2-throughput bench: iperf3 TCP, 1 stream, ${seconds} s (+1 s omitted) x ${reps} repetitions per path, kernel ${os.release()}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`,
  );
  let current = 1500; // the lab sets no MTU: veths start at the kernel's 1500
  for (const mtu of mtus) {
    if (mtu !== current) await setUnderlayMtu(b, mtu);
    current = mtu;
    await round(b, mtu);
  }
});
