// NAT cost and DHCP latency of a router: iperf3 from a NIC to a server in the lab's "internet"
// namespace through the router with SNAT vs the same path routed without NAT (the internet side
// routes the subnet back to the router instead), medians and their ratio; and the time from
// PutNic of a dhcp NIC until its address shows in the NIC's status (p50).
//
// Run (as root; `npm run build` first, it builds the agent that the lab starts):
//   npx tsc -p bench/nat/tsconfig.json && node bench/nat/.build/bench/nat/run.js [repetitions=5] [seconds=5] [dhcp samples=15]
//
// Lab vbn<pid>: h1 compute with the NIC, h2 route host with the router (external 203.0.113.10),
// the internet namespace with the iperf3 server at 203.0.113.1. Both paths cross the overlay, the
// router and its conntrack-based filter; they differ only by the SNAT rule, switched with PutRouter
// between runs. Each iperf3 run is `-t SECONDS -O 1`, the figure is what the receiver got.

import os from 'node:os';
import { NicKind } from '../../gen/vxcloud/agent/v1/network.js';
import type { RouterSpec } from '../../gen/vxcloud/agent/v1/router.js';
import { applyTenant, waitLease, type Tenant } from '../../test/harness/l3.js';
import { iperf } from '../common/iperf.js';
import { withLab } from '../common/lab.js';
import { median, samples } from '../common/stats.js';

const reps = Number(process.argv[2] ?? 5);
const seconds = Number(process.argv[3] ?? 5);
const dhcpSamples = Number(process.argv[4] ?? 15);
const SERVER = '203.0.113.1';

await withLab('n', { hosts: 2, roles: (i) => (i === 2 ? ['route'] : ['compute']), internet: true }, async (b) => {
  console.log(
    `nat bench: iperf3 TCP, 1 stream, ${seconds} s (+1 s omitted) x ${reps} repetitions per path; ${dhcpSamples} DHCP leases; kernel ${os.release()}, ${os.cpus().length} CPUs, load ${os.loadavg()[0]!.toFixed(1)}`,
  );
  const nic = { id: 'n1', subnet: 'bench', host: 'h1', mac: '02:00:c6:12:09:0a', ip: '198.18.9.10', namespace: `${b.lab.name}-n1` };
  const tenant: Tenant = {
    vpc: 'bench',
    cidr: '198.18.0.0/16',
    subnets: [{ id: 'bench', cidr: '198.18.9.0/24', vni: 4900 }],
    router: { id: 'r', host: 'h2', externalIp: '203.0.113.10', snat: true },
    nics: [nic],
  };
  const router = await applyTenant(b.lab, (h) => b.client(h), tenant);
  await waitLease(b.client('h1'), nic, '198.18.9.0/24', 30_000);
  // The path without NAT: the internet routes the subnet back through the router.
  await b.exec(b.lab.internet!.namespace, ['ip', 'route', 'replace', '198.18.9.0/24', 'via', tenant.router.externalIp], 10_000);
  const setSnat = async (snat: boolean): Promise<void> => {
    const spec: RouterSpec = { ...router.spec!, snat };
    await b.client('h2').router.putRouter({ router: spec });
  };

  const got = { snat: [] as number[], routed: [] as number[] };
  const retr = { snat: 0, routed: 0 };
  for (let i = 0; i < reps; i++) {
    for (const p of i % 2 ? (['routed', 'snat'] as const) : (['snat', 'routed'] as const)) {
      await setSnat(p === 'snat');
      const r = await iperf(b, b.lab.internet!.namespace, nic.namespace, SERVER, seconds);
      got[p].push(r.gbps);
      retr[p] += r.retr;
    }
  }
  const ms = median(got.snat);
  const mr = median(got.routed);
  console.log(`  SNAT   (NIC→router SNAT→internet): median ${ms.toFixed(2)} Gbit/s  ${samples(got.snat, 2)}  retransmits ${retr.snat}`);
  console.log(`  routed (NIC→router→internet)     : median ${mr.toFixed(2)} Gbit/s  ${samples(got.routed, 2)}  retransmits ${retr.routed}`);
  console.log(`  ratio SNAT/routed: ${(ms / mr).toFixed(2)}`);

  // DHCP: the NIC deleted and put again, a fresh namespace and client each time.
  const leaseMs: number[] = [];
  for (let i = 0; i < dhcpSamples; i++) {
    await b.client('h1').network.deleteNic({ id: nic.id });
    const start = Date.now();
    await b.client('h1').network.putNic({
      nic: {
        id: nic.id,
        subnetId: nic.subnet,
        kind: NicKind.NIC_KIND_VETH,
        mac: nic.mac,
        ip: '',
        namespace: nic.namespace,
        createNamespace: true,
        ifname: 'eth0',
        dhcp: true,
        filter: undefined,
      },
    });
    await waitLease(b.client('h1'), nic, '198.18.9.0/24', 30_000);
    leaseMs.push(Date.now() - start);
  }
  const sorted = [...leaseMs].sort((a, b2) => a - b2);
  console.log(`  DHCP lease (PutNic → address in status): p50 ${median(leaseMs).toFixed(0)} ms, max ${sorted.at(-1)} ms  ${samples(leaseMs, 0)}`);
});
