// A tenant's virtual machine on a vxcloud TAP NIC with vxcloud volumes as its disks. QEMU runs on
// lab host h1 (in its namespace, as a hypervisor on that host would) with the NIC's TAP as the
// guest's network. The guest takes its reserved address by DHCP from the subnet's router on h3,
// talks to a NIC on h2 both ways, goes out to the internet namespace through SNAT and is reached
// through a floating IP. Its disks are two of the tenant's 3-replica volumes, reached with the
// tenant's certificate over TLS: one through QEMU's own NBD client (a virtio disk), one through the
// kernel NBD client inside the guest. Each gets ext4 and files written and synced while the
// volume's raft leader is SIGKILLed; fsck is clean and every synced file checks out.

import type { ChildProcess } from 'node:child_process';
import { chmod, copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatProtocol, NatType } from '../../../gen/vxcloud/agent/v1/router.js';
import { AGENT_PORT, nbdSocketPath, restartAgent, stopAgent, waitFor } from '../../../lab/lab.js';
import { readTls } from '../../../lib/agent-client.js';
import { writeNbdClientDir } from '../../../lib/certs.js';
import { VolumeClient } from '../../../agent/sbs/volume/client.js';
import { applyTenant, stopServer, tcpGet, tcpServer, type Tenant } from '../../harness/l3.js';
import { ping, startLab, type TestLab } from '../../harness/lab.js';
import { vmArtefacts } from '../../../lab/vm/artefacts.js';
import { lockVms, runPrefix, VM_LOCK_WAIT_MS, sweepDeadRuns, Vm } from '../../harness/vm/qemu.js';

const REPO = resolve(import.meta.dirname, '../../..');
const VM_IP = '198.18.1.11';
const FLOATING_IP = '203.0.113.20';
const MiB = 1024 * 1024;
const HOSTS = ['h1', 'h2', 'h3'];
/** The guest's storage NIC (QEMU user-mode, only its forwards reachable): port 10809+i reaches host h(i+1)'s NBD socket. */
const STORAGE_NET = '198.51.100.0/24';
const STORAGE_ADDR = '198.51.100.100';
const FILES = 40;

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
/** The tenant's volume API on each host (a killed leader's cannot answer). */
const volumeClients = new Map<string, VolumeClient>();
const volumes = (host: string): VolumeClient['volumes'] => volumeClients.get(host)!.volumes;
/** The host whose NBD listener QEMU's client uses: not disk1's leader when the guest starts. */
let disk1Via: string;
const servers: ChildProcess[] = [];
const peer = () => tenant.nics[1]!;
const labHost = (name: string) => t.lab.hosts.find((h) => h.name === name)!;

async function leaderOf(id: string, ask: string): Promise<string> {
  return waitFor(`volume ${id} to have a leader`, 30_000, async () => (await volumes(ask).getVolume({ id }, 5000)).leader);
}

async function healthy(id: string, ask: string): Promise<void> {
  await waitFor(`volume ${id} healthy`, 60_000, async () => (await volumes(ask).getVolume({ id }, 5000)).status === 'healthy');
}

let unlockVms: (() => Promise<void>) | undefined;

// Waiting for another file's VMs has a bound of its own, apart from this file's setup.
beforeAll(async () => {
  unlockVms = await lockVms();
}, VM_LOCK_WAIT_MS);

beforeAll(async () => {
  await sweepDeadRuns(tmpdir());
  const artefacts = await vmArtefacts();
  t = await startLab({
    hosts: 3,
    roles: (i) => (i === 3 ? ['route', 'storage'] : ['compute', 'storage']),
    internet: true,
    controlPlane: 'static',
    nbdTls: 'optional',
  });
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
  await copyFile(join(REPO, 'test/harness/vm/fill-disk.sh'), join(dir, 'fill-disk.sh'));

  // The tenant's volumes, created and reached with the tenant's own certificate.
  const base = await readTls(t.lab.tls);
  const t1 = t.lab.tenants!.t1!;
  const pem = { ca: base.ca.toString(), cert: await readFile(t1.cert, 'utf8'), key: await readFile(t1.key, 'utf8') };
  for (const h of t.lab.hosts) volumeClients.set(h.name, new VolumeClient(h.endpoint, { ca: base.ca, cert: Buffer.from(pem.cert), key: Buffer.from(pem.key) }));
  const placement = t.lab.hosts.map((h) => ({ name: h.name, endpoint: `${h.underlayAddress}:${AGENT_PORT}` }));
  for (const id of ['disk1', 'disk2']) await volumes('h1').createVolume({ id, sizeBytes: 64 * MiB, replicas: 3, hosts: placement, tenant: '' });
  for (const id of ['disk1', 'disk2']) await healthy(id, 'h1');
  const certs = await writeNbdClientDir(join(dir, 't1'), pem);
  const leader1 = await leaderOf('disk1', 'h1');
  disk1Via = HOSTS.find((h) => h !== leader1)!;
  const extra = [
    // disk1: QEMU's NBD client, TLS with the tenant's certificate, checking the host's name
    ...['-object', `tls-creds-x509,id=t1,dir=${certs},endpoint=client`],
    ...[
      '-blockdev',
      `driver=nbd,node-name=disk1,server.type=unix,server.path=${nbdSocketPath(t.lab, disk1Via)},export=disk1,tls-creds=t1,tls-hostname=${disk1Via}`,
    ],
    ...['-device', 'virtio-blk-pci,drive=disk1,serial=disk1'],
    // disk2: a storage NIC on which the guest's own NBD client reaches every storage host
    ...[
      '-netdev',
      `user,id=stor,restrict=on,net=${STORAGE_NET},${HOSTS.map((h, i) => `guestfwd=tcp:${STORAGE_ADDR}:${10809 + i}-cmd:${process.execPath} ${join(REPO, 'test/harness/vm/relay.mjs')} ${nbdSocketPath(t.lab, h)}`).join(',')}`,
    ],
    ...['-device', 'virtio-net-pci,netdev=stor,mac=52:54:00:00:00:02,romfile='],
  ];
  mark('lab up, tenant applied, volumes healthy');
  guest = Vm.guest({ name: 'vm1', artefacts, repo: REPO, shareDir: dir, nic: { netns: labHost('h1').namespace, tap, mac: tenant.nics[0]!.mac }, extra });
}, 300_000);

afterAll(async () => {
  console.log(`guest on a TAP NIC: ${timings.join('; ')}`);
  for (const s of servers) stopServer(s);
  guest?.kill();
  for (const c of volumeClients.values()) c.close();
  await guest?.exit();
  await t?.down();
  if (dir) await rm(dir, { recursive: true, force: true });
  await unlockVms?.();
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

  /**
   * Makes ext4 on `dev` and writes FILES synced files while the volume's leader is SIGKILLed
   * (never the host the disk's client uses); then fsck and every synced file's checksum.
   */
  async function fillThroughLeaderKill(dev: string, name: string, volume: string, via: string): Promise<void> {
    const leader = await leaderOf(volume, via);
    expect(leader, `${volume}'s client must not be on its leader`).not.toBe(via);
    const started = Date.now();
    await guest!.spawn(['/bb/sh', '/vx/fill-disk.sh', dev, String(FILES), name]);
    const progress = async (): Promise<string> => (await guest!.exec(['/bb/cat', `/tmp/${name}.progress`])).stdout.trim();
    await waitFor(`${name}: 10 files synced`, 120_000, async () => Number(await progress()) >= 10);
    const atKill = Number(await progress());
    await stopAgent(labHost(leader), 'SIGKILL');
    mark(`${name}: leader ${leader} SIGKILLed after ${atKill} files`);
    await waitFor(`${name}: every file synced`, 300_000, async () => (await progress()) === 'done');
    mark(`${name}: ${FILES} files synced in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(await leaderOf(volume, via)).not.toBe(leader);
    await inGuest(['/bb/umount', `/mnt/${name}`]);
    const fsck = await guest!.exec(['fsck.ext4', '-fn', dev], 120_000);
    mark(`${name}: fsck exit ${fsck.code}`);
    expect(fsck.code, `fsck.ext4 -fn ${dev}: ${fsck.stdout}${fsck.stderr}`).toBe(0);
    // Read back from the volume, not from the guest's caches.
    await inGuest(['/bb/sysctl', '-w', 'vm.drop_caches=3']);
    await inGuest(['/bb/mount', '-o', 'ro', '-t', 'ext4', dev, `/mnt/${name}`]);
    const check = await inGuest(['sha256sum', '-c', `/tmp/${name}.sums`], 60_000);
    expect(
      check
        .trim()
        .split('\n')
        .filter((l) => l.endsWith(': OK')),
    ).toHaveLength(FILES);
    await inGuest(['/bb/umount', `/mnt/${name}`]);
    await restartAgent(t.lab, leader);
    await healthy(volume, via);
  }

  it("has a volume as a virtio disk through QEMU's NBD client: ext4 survives its leader's SIGKILL mid-write", async () => {
    // The guest's only virtio disk, named by the serial QEMU gave it.
    expect((await inGuest(['/bb/cat', '/sys/block/vda/serial'])).trim()).toBe('disk1');
    expect((await inGuest(['/bb/blockdev', '--getsize64', '/dev/vda'])).trim()).toBe(String(64 * MiB));
    await fillThroughLeaderKill('/dev/vda', 'disk1', 'disk1', disk1Via);
  }, 600_000);

  it('has a volume through the kernel NBD client in the guest: ext4 survives its leader’s SIGKILL mid-write', async () => {
    const leader = await leaderOf('disk2', 'h1');
    const via = HOSTS.find((h) => h !== leader)!;
    await inGuest(['ip', 'addr', 'add', '198.51.100.15/24', 'dev', 'eth1']);
    await inGuest(['ip', 'link', 'set', 'eth1', 'up']);
    const port = String(10809 + HOSTS.indexOf(via));
    // (long options: this nbd-client refuses the short ones its help lists)
    const tls = ['-certfile', '/vx/t1/client-cert.pem', '-keyfile', '/vx/t1/client-key.pem', '-cacertfile', '/vx/t1/ca-cert.pem', '-tlshostname', via];
    await inGuest(['nbd-client', STORAGE_ADDR, port, '/dev/nbd0', '-N', 'disk2', '-b', '4096', ...tls], 60_000);
    mark('disk2: nbd-client connected');
    expect((await inGuest(['/bb/blockdev', '--getsize64', '/dev/nbd0'])).trim()).toBe(String(64 * MiB));
    await fillThroughLeaderKill('/dev/nbd0', 'disk2', 'disk2', via);
    await inGuest(['nbd-client', '-d', '/dev/nbd0']);
  }, 600_000);
});
