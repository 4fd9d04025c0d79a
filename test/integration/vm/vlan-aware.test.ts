// The VLAN-aware data plane on a kernel that has bridge VLAN filtering (this machine's lacks it):
// two QEMU TCG VMs with Debian's stock kernel run the real agent, which picks VLAN-aware by
// itself; a VPC with two subnets and a NIC per VM per subnet goes in through the agent API, with
// static VTEP tables, and NICs ping across the VMs in both subnets. Then one VM's agent restarts
// forced to bridge-per-subnet: it rebuilds its links, and the two modes talk on the wire.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataplaneMode } from '../../../gen/vxcloud/agent/v1/host.js';
import { NicKind } from '../../../gen/vxcloud/agent/v1/network.js';
import { AgentClient } from '../../../lib/agent-client.js';
import { createCa, issue } from '../../../lib/certs.js';
import { vmArtefacts } from '../../../lab/vm/artefacts.js';
import { freePort } from '../../../lab/vm/qemu.js';
import { lockVms, runPrefix, VM_LOCK_WAIT_MS, sweepDeadRuns, Vm } from '../../harness/vm/qemu.js';

const REPO = resolve(import.meta.dirname, '../../..');
const VPC = { id: 'vpc-1', name: 'vpc-1', tenant: 't1', cidr: '198.18.0.0/16' };
/** Subnet a has vlan 0, so its VLAN is derived from the VNI (101); b names its VLAN. */
const SUBNETS = [
  { id: 'a', vpcId: VPC.id, name: 'a', cidr: '198.18.1.0/24', vni: 100, vlan: 0, gateway: '' },
  { id: 'b', vpcId: VPC.id, name: 'b', cidr: '198.18.2.0/24', vni: 200, vlan: 20, gateway: '' },
];
const HOSTS = [
  { name: 'vm1', underlay: '192.0.2.11', index: 1 },
  { name: 'vm2', underlay: '192.0.2.12', index: 2 },
];
const nicOf = (h: (typeof HOSTS)[number], s: (typeof SUBNETS)[number]) => ({
  id: `${s.id}-${h.name}`,
  subnetId: s.id,
  kind: NicKind.NIC_KIND_VETH,
  mac: `02:00:00:00:0${s.vni / 100}:0${h.index}`,
  ip: `198.18.${s.vni / 100}.${10 + h.index}/24`,
  namespace: `ns-${s.id}`,
  createNamespace: true,
  ifname: 'eth0',
  dhcp: false,
  filter: undefined,
});
const addr = (cidr: string): string => cidr.split('/')[0]!;

const t0 = Date.now();
const timings: string[] = [];
const mark = (what: string): void => {
  timings.push(`${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
};

let dir: string;
const vms: Vm[] = [];
const clients: AgentClient[] = [];

function agentYaml(h: (typeof HOSTS)[number], dataplane: string): string {
  return [
    `host: { name: ${h.name}, roles: [compute] }`,
    `underlay: { interface: eth1, address: ${h.underlay} }`,
    'listen: ["198.51.100.15:7443"]',
    'tls: { ca: /vx/ca.pem, cert: /vx/agent.pem, key: /vx/agent-key.pem }',
    'stateDir: /var/lib/vxcloud',
    'logLevel: warn',
    'reconcile: { intervalSeconds: 30 }',
    `dataplane: ${dataplane}`,
    '',
  ].join('\n');
}

/** Retries `f` until it resolves, at most `timeoutMs`. */
async function eventually<T>(what: string, f: () => Promise<T>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await f();
    } catch (e) {
      if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms: ${(e as Error).message}`, { cause: e });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function ping(vm: Vm, ns: string, ip: string): Promise<boolean> {
  const r = await vm.exec(['nsenter', `--net=/run/netns/${ns}`, 'ping', '-c', '2', '-i', '0.3', '-W', '2', ip], 20_000);
  return r.code === 0;
}

async function waitAgent(i: number, mode: DataplaneMode): Promise<void> {
  await eventually(
    `${HOSTS[i]!.name} agent serving in mode ${mode}`,
    async () => {
      const h = await clients[i]!.host.getHost({}, 5000);
      if (h.dataplaneMode !== mode) throw new Error(`mode ${h.dataplaneMode}`);
    },
    90_000,
  );
}

let unlockVms: (() => Promise<void>) | undefined;

// Waiting for another file's VMs has a bound of its own, apart from this file's setup.
beforeAll(async () => {
  unlockVms = await lockVms();
}, VM_LOCK_WAIT_MS);

beforeAll(async () => {
  const artefacts = await vmArtefacts();
  mark(`artefacts (${artefacts.kernelPackage})`);
  await sweepDeadRuns(tmpdir());
  dir = await mkdtemp(join(tmpdir(), runPrefix()));
  const ca = await createCa('vxcloud vm test');
  const client = await issue(ca, { commonName: 'test', role: 'client', identity: { kind: 'operator' } });
  const tls = { ca: Buffer.from(ca.cert), cert: Buffer.from(client.cert), key: Buffer.from(client.key) };
  const linkPorts = [await freePort(), await freePort()];
  for (const [i, h] of HOSTS.entries()) {
    const share = join(dir, h.name);
    const pair = await issue(ca, { commonName: h.name, role: 'host', dnsNames: [h.name, 'localhost'], identity: { kind: 'host', host: h.name } });
    await mkdir(share);
    await writeFile(join(share, 'ca.pem'), ca.cert);
    await writeFile(join(share, 'agent.pem'), pair.cert);
    await writeFile(join(share, 'agent-key.pem'), pair.key, { mode: 0o600 });
    await writeFile(join(share, 'auto.yaml'), agentYaml(h, 'auto'));
    await writeFile(join(share, 'bridge-per-subnet.yaml'), agentYaml(h, 'bridge-per-subnet'));
    await writeFile(join(share, 'guest.json'), JSON.stringify({ repo: REPO, config: '/vx/auto.yaml' }));
    vms.push(
      await Vm.start({
        name: h.name,
        artefacts,
        repo: REPO,
        shareDir: share,
        underlayAddress: h.underlay,
        linkPort: linkPorts[i]!,
        peerLinkPort: linkPorts[1 - i]!,
      }),
    );
  }
  for (const vm of vms) clients.push(new AgentClient(`127.0.0.1:${vm.apiPort}`, tls, 'localhost'));
  await Promise.all(vms.map((vm) => vm.waitConsole(/vx-guest: ready/, 90_000)));
  mark('guests up');
  await Promise.all(HOSTS.map((_, i) => waitAgent(i, DataplaneMode.DATAPLANE_MODE_VLAN_AWARE_BRIDGE)));
  mark('agents serving');
}, 200_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const vm of vms) vm.kill();
  await Promise.all(vms.map((vm) => vm.exit()));
  if (dir) await rm(dir, { recursive: true, force: true });
  mark('torn down');
  await unlockVms?.();
  console.log(`vm test timings: ${timings.join('; ')}`);
});

describe('VLAN-aware bridges on a stock Debian kernel', () => {
  it('the agents detect bridge VLAN filtering and report the VLAN-aware mode', async () => {
    for (const c of clients) {
      const h = await c.host.getHost({}, 10_000);
      expect(h.capabilities?.bridgeVlanFiltering).toBe(true);
      expect(h.dataplaneMode).toBe(DataplaneMode.DATAPLANE_MODE_VLAN_AWARE_BRIDGE);
    }
  });

  it('a VPC with two subnets and a NIC per VM per subnet: NICs ping across the VMs in both subnets', async () => {
    await Promise.all(
      HOSTS.map(async (h, i) => {
        const c = clients[i]!.network;
        await c.putVpc({ vpc: VPC });
        for (const s of SUBNETS) await c.putSubnet({ subnet: s });
        for (const s of SUBNETS) {
          const peer = HOSTS[1 - i]!;
          const nic = nicOf(peer, s);
          await c.putVtepTable({
            table: {
              subnetId: s.id,
              floodVteps: [peer.underlay],
              fdb: [{ mac: nic.mac, vtep: peer.underlay }],
              neighbors: [{ ip: addr(nic.ip), mac: nic.mac }],
            },
          });
          await c.putNic({ nic: nicOf(h, s) });
        }
      }),
    );
    mark('objects put');
    for (const [i, c] of clients.entries()) {
      for (const s of (await c.network.listSubnets({ parentId: VPC.id }, 20_000)).subnets)
        expect(s.status, `${HOSTS[i]!.name} ${s.spec!.id}`).toMatchObject({ ready: true, problems: [] });
      for (const n of (await c.network.listNics({ parentId: '' }, 20_000)).nics)
        expect(n.status, `${HOSTS[i]!.name} ${n.spec!.id}`).toMatchObject({ ready: true, problems: [] });
    }
    // What the kernel has: the VTEPs as access ports, untagged on the subnet's VLAN.
    const vlans = JSON.parse((await vms[0]!.exec(['bridge', '-j', 'vlan', 'show'])).stdout) as {
      ifname: string;
      vlans: { vlan: number; flags?: string[] }[];
    }[];
    const of = (dev: string) => vlans.find((v) => v.ifname === dev)?.vlans;
    expect(of('vxlan100')).toEqual([{ vlan: 101, flags: ['PVID', 'Egress Untagged'] }]);
    expect(of('vxlan200')).toEqual([{ vlan: 20, flags: ['PVID', 'Egress Untagged'] }]);
    for (const s of SUBNETS) {
      const [a, b] = HOSTS.map((h) => nicOf(h, s));
      expect(await ping(vms[0]!, a!.namespace, addr(b!.ip)), `subnet ${s.id} vm1 -> vm2`).toBe(true);
      expect(await ping(vms[1]!, b!.namespace, addr(a!.ip)), `subnet ${s.id} vm2 -> vm1`).toBe(true);
    }
    mark('pings in vlan-aware mode');
  });

  it('the VTEP table’s neighbours sit on the subnet’s 802.1Q device and stay there once NIC ports have joined the bridge', async () => {
    for (const [i, c] of clients.entries()) {
      for (const s of SUBNETS) {
        const t = await c.network.getVtepTable({ id: s.id }, 20_000);
        expect(t.status, `${HOSTS[i]!.name} ${s.id}`).toMatchObject({ ready: true, problems: [] });
        expect(t.observed).toMatchObject({ floodEntries: 1, fdbEntries: 1, neighborEntries: 1 });
      }
    }
    const peer = nicOf(HOSTS[1]!, SUBNETS[0]!);
    const neigh = JSON.parse((await vms[0]!.exec(['ip', '-j', 'neigh', 'show', 'dev', 'vxsv100'])).stdout) as {
      dst: string;
      lladdr: string;
      state: string[];
    }[];
    expect(neigh).toEqual([{ dst: addr(peer.ip), lladdr: peer.mac, state: ['PERMANENT'] }]);
  });

  it('a VM restarted in bridge-per-subnet mode rebuilds its links and still talks to the VLAN-aware one', async () => {
    await vms[1]!.restartAgent('/vx/bridge-per-subnet.yaml');
    await waitAgent(1, DataplaneMode.DATAPLANE_MODE_BRIDGE_PER_SUBNET);
    mark('vm2 restarted in bridge-per-subnet mode');
    const links = (JSON.parse((await vms[1]!.exec(['ip', '-j', 'link', 'show'])).stdout) as { ifname: string; master?: string }[]).filter((l) =>
      l.ifname.startsWith('vx'),
    );
    expect(links.filter((l) => l.ifname.startsWith('vxvpc') || l.ifname.startsWith('vxsv'))).toEqual([]);
    expect(links.find((l) => l.ifname === 'vxlan100')?.master).toBe('vxbr100');
    expect(links.find((l) => l.ifname === 'vxlan200')?.master).toBe('vxbr200');
    for (const n of (await clients[1]!.network.listNics({ parentId: '' }, 20_000)).nics) expect(n.status).toMatchObject({ ready: true, problems: [] });
    for (const s of SUBNETS) {
      const [a, b] = HOSTS.map((h) => nicOf(h, s));
      expect(await ping(vms[0]!, a!.namespace, addr(b!.ip)), `subnet ${s.id} vlan-aware -> bridge-per-subnet`).toBe(true);
      expect(await ping(vms[1]!, b!.namespace, addr(a!.ip)), `subnet ${s.id} bridge-per-subnet -> vlan-aware`).toBe(true);
    }
    mark('pings across modes');
  });
});
