// A tenant's virtual machine on a vxcloud TAP NIC: QEMU runs on lab host h1 (in its namespace, as
// a hypervisor on that host would) with the NIC's TAP as the guest's network. The guest takes its
// reserved address by DHCP from the subnet's router on h3, talks to a NIC on h2 both ways, goes
// out to the internet namespace through SNAT and is reached through a floating IP.

import type { ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatProtocol, NatType } from '../../../gen/vxcloud/agent/v1/router.js';
import { applyTenant, stopServer, tcpGet, tcpServer, type Tenant } from '../../harness/l3.js';
import { ping, startLab, type TestLab } from '../../harness/lab.js';
import { vmArtefacts } from './artefacts.js';
import { runPrefix, sweepDeadRuns, Vm } from './qemu.js';

const REPO = resolve(import.meta.dirname, '../../..');
const VM_IP = '198.18.1.11';
const FLOATING_IP = '203.0.113.20';

/** busybox udhcpc's hook: `mask` is a prefix length; the router offers the overlay's MTU. */
const UDHCPC_SCRIPT = `#!/bb/sh
case "$1" in
  bound|renew)
    [ -n "$mtu" ] && ip link set dev "$interface" mtu "$mtu"
    ip addr flush dev "$interface"
    ip addr add "$ip/$mask" dev "$interface"
    [ -n "$router" ] && ip route replace default via "\${router%% *}" dev "$interface"
    echo "lease $ip/$mask via $router mtu $mtu";;
esac
`;

const t0 = Date.now();
const timings: string[] = [];
const mark = (what: string): void => {
  timings.push(`${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
};

let t: TestLab;
let tenant: Tenant;
let dir: string;
let guest: Vm | undefined;
const servers: ChildProcess[] = [];
const peer = () => tenant.nics[1]!;

beforeAll(async () => {
  await sweepDeadRuns(tmpdir());
  const artefacts = await vmArtefacts();
  t = await startLab({ hosts: 3, roles: (i) => (i === 3 ? ['route'] : ['compute']), internet: true, controlPlane: 'static' });
  tenant = {
    vpc: 't1',
    cidr: '198.18.0.0/16',
    subnets: [{ id: 'web', cidr: '198.18.1.0/24', vni: 2101 }],
    router: { id: 'r1', host: 'h3', externalIp: '203.0.113.10', snat: true },
    nics: [
      { id: 'vm1', subnet: 'web', host: 'h1', mac: '02:00:c6:12:01:0b', ip: VM_IP, namespace: '', tap: true },
      { id: 'web2', subnet: 'web', host: 'h2', mac: '02:00:c6:12:01:0c', ip: '198.18.1.12', namespace: `${t.lab.name}-web2` },
    ],
  };
  await applyTenant(t.lab, (h) => t.client(h), tenant);
  const tap = (await t.client('h1').network.getNic({ id: 'vm1' })).observed!.hostIfname;
  dir = await mkdtemp(join(tmpdir(), runPrefix()));
  await writeFile(join(dir, 'guest.json'), JSON.stringify({ repo: REPO, channel: 'vx' }));
  await writeFile(join(dir, 'udhcpc.sh'), UDHCPC_SCRIPT);
  await chmod(join(dir, 'udhcpc.sh'), 0o755);
  mark('lab up, tenant applied');
  guest = Vm.guest({ name: 'vm1', artefacts, repo: REPO, shareDir: dir, netns: t.lab.hosts[0]!.namespace, tap, mac: tenant.nics[0]!.mac });
}, 300_000);

afterAll(async () => {
  console.log(`guest on a TAP NIC: ${timings.join('; ')}`);
  for (const s of servers) stopServer(s);
  guest?.kill();
  await guest?.exit();
  await t?.down();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 120_000);

/** Runs argv in the guest; fails with its output unless it exits 0. */
async function inGuest(argv: string[], timeoutMs = 20_000): Promise<string> {
  const r = await guest!.exec(argv, timeoutMs);
  if (r.code !== 0) throw new Error(`${argv.join(' ')} in the guest: exit ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

describe('a guest on a TAP NIC', () => {
  it("boots, and takes the NIC's reserved address by DHCP from the subnet's router", async () => {
    await guest!.waitConsole(/vx-guest: ready/, 180_000);
    mark('guest booted');
    await inGuest(['/bb/hostname', 'vm1']);
    await inGuest(['ip', 'link', 'set', 'eth0', 'up']);
    const lease = await inGuest(['/bb/udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '10', '-T', '2', '-O', 'mtu', '-s', '/vx/udhcpc.sh'], 60_000);
    mark('DHCP lease');
    expect(lease).toContain(`lease ${VM_IP}/24 via 198.18.1.1`);
    const [eth0] = JSON.parse(await inGuest(['ip', '-j', 'addr', 'show', 'eth0'])) as { mtu: number; address: string; addr_info: { local: string }[] }[];
    expect(eth0!.address).toBe(tenant.nics[0]!.mac);
    expect(eth0!.addr_info.map((a) => a.local)).toContain(VM_IP);
    // The MTU of the overlay, as for a veth NIC: full-size frames fit in the VXLAN underlay.
    expect(eth0!.mtu).toBe((await t.client('h1').network.getNic({ id: 'vm1' })).observed!.mtu);
    const leases = (await t.client('h3').router.getRouter({ id: 'r1' })).observed!.leases.map((l) => [l.mac, l.ip]);
    expect(leases).toContainEqual([tenant.nics[0]!.mac, VM_IP]);
  }, 240_000);

  it('reaches a NIC on another host, and is reached from it', async () => {
    await inGuest(['ping', '-c', '2', '-W', '2', peer().ip]);
    mark('first ping across hosts');
    expect(await ping(t, peer().namespace, VM_IP)).toBe(true);
    servers.push(await tcpServer(peer().namespace, 8080, 'web2'));
    expect(await inGuest(['/bb/nc', '-w', '5', peer().ip, '8080'])).toBe(`web2 ${VM_IP}`);
  }, 60_000);

  it("goes out to the internet behind the router's address, and is reached through a floating IP", async () => {
    const inet = t.lab.internet!.namespace;
    servers.push(await tcpServer(inet, 8000, 'internet'));
    expect(await inGuest(['/bb/nc', '-w', '5', '203.0.113.1', '8000'])).toBe('internet 203.0.113.10');
    await t.client('h3').router.putNatRule({
      rule: {
        id: 'fip-vm1',
        routerId: 'r1',
        type: NatType.NAT_TYPE_DNAT_AND_SNAT,
        protocol: NatProtocol.NAT_PROTOCOL_UNSPECIFIED,
        externalIp: FLOATING_IP,
        externalPort: 0,
        internalIp: VM_IP,
        internalPort: 0,
      },
    });
    // A server in the guest answers each connection with the guest's name.
    await guest!.spawn(['/bb/nc', '-ll', '-p', '22', '-e', '/bb/hostname']);
    expect(await ping(t, inet, FLOATING_IP)).toBe(true);
    expect(await tcpGet(inet, FLOATING_IP, 22, 10_000)).toBe('vm1');
    // And its own traffic now leaves as the floating IP.
    expect(await inGuest(['/bb/nc', '-w', '5', '203.0.113.1', '8000'])).toBe(`internet ${FLOATING_IP}`);
  }, 60_000);
});
