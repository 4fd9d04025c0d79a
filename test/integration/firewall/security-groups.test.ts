// Security groups and port security in a registry lab, with real traffic: three NICs of one
// subnet, two on h1 (one bridge) and one on h2, each serving TCP 80 and 22 and UDP 53. Rules are
// allow-lists and stateful; the default group admits its own members; remote-group rules follow
// membership without a terraform run; spoofed frames are dropped at the sender's port.

import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NicKind, NicSpec, type NicFilter } from '../../../gen/vxcloud/agent/v1/network.js';
import { AgentClient, readTls } from '../../../lib/agent-client.js';
import { restartAgent, waitFor } from '../../../lab/lab.js';
import { labFilePath } from '../../../lab/labfile.js';
import { ingressChain } from '../../../agent/firewall/ruleset.js';
import { nicDevice } from '../../../agent/l2/names.js';
import { host, nicNamespace, pingUntil, putSubnet } from '../../harness/evpn.js';
import { ping, run, type TestLab } from '../../harness/lab.js';
import { startRegistryLab } from '../../harness/registry.js';
import { ruleSpec, type RuleOptions } from '../../harness/security-groups.js';

const PROBE = fileURLToPath(new URL('../../harness/netprobe.py', import.meta.url));
const PY = '/usr/bin/python3';
/** The harness names a VPC's tenant after it. */
const TENANT = 'a';
const SUBNET = '198.18.1.0/24';
/** Bound for a membership change to reach another host's rules (the bench measures the p99). */
const MEMBERSHIP_BOUND_MS = 3000;

interface Nic {
  id: string;
  host: string;
  ip: string;
  mac: string;
}
const n1: Nic = { id: 'n1', host: 'h1', ip: '198.18.1.11', mac: '02:00:c6:12:01:11' };
const n2: Nic = { id: 'n2', host: 'h1', ip: '198.18.1.12', mac: '02:00:c6:12:01:12' };
const n3: Nic = { id: 'n3', host: 'h2', ip: '198.18.1.13', mac: '02:00:c6:12:01:13' };

let t: TestLab;
const servers: ChildProcess[] = [];
const ns = (n: Nic): string => nicNamespace(t, n);
const sg = () => t.client('h1').securityGroups;

async function putNic(n: Nic, filter: Partial<NicFilter> = {}): Promise<void> {
  await t.client(n.host).network.putNic({
    nic: NicSpec.fromPartial({
      id: n.id,
      subnetId: 'web',
      kind: NicKind.NIC_KIND_VETH,
      mac: n.mac,
      ip: `${n.ip}/24`,
      namespace: ns(n),
      createNamespace: true,
      ifname: 'eth0',
      filter: { securityGroupIds: [], portSecurityDisabled: false, allowedAddresses: [], ...filter },
    }),
  });
}

async function reaches(from: Nic, proto: 'tcp' | 'udp', to: Nic, port: number): Promise<boolean> {
  try {
    await t.exec(ns(from), [PY, PROBE, 'connect', proto, to.ip, String(port)], 5000);
    return true;
  } catch {
    return false;
  }
}

/** Until `from` reaches (or, with want=false, no longer reaches) `to`. */
async function until(want: boolean, from: Nic, proto: 'tcp' | 'udp' | 'icmp', to: Nic, port = 0, timeoutMs = MEMBERSHIP_BOUND_MS): Promise<void> {
  await waitFor(`${from.id} ${want ? 'to reach' : 'to be refused by'} ${to.id} ${proto}/${port}`, timeoutMs, async () => {
    const ok = proto === 'icmp' ? await ping(t, ns(from), to.ip, 1) : await reaches(from, proto, to, port);
    return ok === want;
  });
}

const rule = (id: string, group: string, direction: 'ingress' | 'egress', protocol: string, o: RuleOptions = {}) =>
  sg().putSecurityGroupRule({ rule: ruleSpec(id, group, direction, protocol, o) });

/** Frames seen on `n`'s interface matching `filter` while `act` runs. */
async function captured(n: Nic, filter: string[], act: () => Promise<unknown>): Promise<string> {
  const dump = spawn('ip', ['netns', 'exec', ns(n), 'timeout', '3', 'tcpdump', '-i', 'eth0', '-n', '-l', '-c', '1', ...filter], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise((r) => dump.on('exit', r));
  let out = '';
  dump.stdout.on('data', (d: Buffer) => (out += d.toString()));
  await new Promise((r) => setTimeout(r, 700)); // tcpdump has opened its socket
  await act();
  await exited;
  return out.trim();
}

const spoof = (from: Nic, ...args: string[]) => t.exec(ns(from), [PY, PROBE, 'send-spoofed', args[0]!, 'eth0', ...args.slice(1)]);

beforeAll(async () => {
  t = await startRegistryLab({ hosts: 2, leaseSeconds: 5, reconcileIntervalSeconds: 2 });
  await putSubnet(t, ['h1', 'h2'], { vpc: 'a', id: 'web', cidr: SUBNET, vni: 0 });
  for (const n of [n1, n2, n3]) {
    await putNic(n);
    for (const [proto, port] of [
      ['tcp', 80],
      ['tcp', 22],
      ['udp', 53],
    ] as const) {
      const s = spawn('ip', ['netns', 'exec', ns(n), PY, PROBE, 'serve', proto, String(port)], { stdio: 'ignore' });
      servers.push(s);
    }
  }
}, 120_000);

afterAll(async () => {
  for (const s of servers) s.kill('SIGKILL');
  await t?.down();
});

describe('security groups', () => {
  it('enforces with br_netfilter here, and a NIC with no group is in the default group: members reach each other', async () => {
    expect((await t.client('h1').host.getHost({})).firewall).toBe('br_netfilter');
    await pingUntil(t, ns(n1), n2.ip, 10_000);
    await pingUntil(t, ns(n1), n3.ip, 10_000);
    expect(await reaches(n3, 'tcp', n1, 80)).toBe(true);
    expect(await reaches(n2, 'udp', n1, 53)).toBe(true);
    // The router-less subnet's gateway address is not a member: nothing from outside the group gets in.
    const nic = await t.client('h1').network.getNic({ id: 'n1' });
    expect(nic.status!.ready).toBe(true);
    expect(nic.observed!.ruleCounters.find((c) => c.direction === 'ingress' && c.ruleId === 'default')!.packets).toBeGreaterThan(0);
  });

  it('admits by rule kind and refuses the rest, on one bridge and across hosts; replies pass, the reverse does not', async () => {
    await sg().putSecurityGroup({ group: { id: 'sg-web', tenant: TENANT, name: 'web', description: 'web servers' } });
    await sg().putSecurityGroup({ group: { id: 'sg-client', tenant: TENANT, name: 'client', description: '' } });
    await rule('web-http', 'sg-web', 'ingress', 'tcp', { port: 80, cidr: SUBNET });
    await rule('web-dns', 'sg-web', 'ingress', 'udp', { port: 53, remote: 'sg-client' });
    await rule('client-out', 'sg-client', 'egress', 'any', { cidr: '0.0.0.0/0' });
    await putNic(n2, { securityGroupIds: ['sg-web'] });
    await putNic(n3, { securityGroupIds: ['sg-web'] });
    await putNic(n1, { securityGroupIds: ['sg-client'] });
    for (const to of [n2, n3]) {
      await until(true, n1, 'tcp', to, 80);
      await until(true, n1, 'udp', to, 53);
      expect(await reaches(n1, 'tcp', to, 22)).toBe(false);
      expect(await ping(t, ns(n1), to.ip, 1)).toBe(false);
    }
    // n1's connections got their answers (stateful), but nothing may open one towards n1.
    expect(await reaches(n2, 'tcp', n1, 80)).toBe(false);
    expect(await reaches(n3, 'udp', n1, 53)).toBe(false);
    await rule('web-icmp', 'sg-web', 'ingress', 'icmp', { cidr: '198.18.1.0/28' });
    await until(true, n1, 'icmp', n3);
    // The new rule rewrote n3's chain, and its counters with it: count afresh.
    expect(await reaches(n1, 'tcp', n3, 80)).toBe(true);
    expect(await reaches(n1, 'udp', n3, 53)).toBe(true);
    expect(await reaches(n1, 'tcp', n3, 22)).toBe(false);
    const counters = (await t.client('h2').network.getNic({ id: 'n3' })).observed!.ruleCounters;
    for (const id of ['web-http', 'web-dns', 'web-icmp']) expect(counters.find((c) => c.ruleId === id)!.packets).toBeGreaterThan(0);
    expect(counters.find((c) => c.ruleId === 'drop' && c.direction === 'ingress')!.packets).toBeGreaterThan(0);
    // The operator sees the same through vxctl.
    const vxctl = async (...args: string[]) =>
      (await run(process.execPath, ['dist/vxctl/main.js', ...args, '--lab-file', labFilePath(t.lab.dir)], { timeout: 20_000 })).stdout;
    expect(await vxctl('host')).toMatch(/br_netfilter/);
    expect(await vxctl('nic', 'show', 'n3')).toMatch(/ingress\s+web-http\s+[1-9]/);
    expect(await vxctl('sg', 'show', 'sg-web')).toMatch(/web-dns\s+ingress\s+udp\s+53\s+group sg-client/);
  });

  it('a remote-group rule follows a NIC that joins and leaves the group, without touching the rule', async () => {
    // n3 is in web, not client: UDP 53 on n2 (same group web) is closed to it.
    expect(await reaches(n3, 'udp', n2, 53)).toBe(false);
    // web has no egress rule; give its members one to see the ingress side alone.
    await rule('web-out', 'sg-web', 'egress', 'any');
    await putNic(n3, { securityGroupIds: ['sg-web', 'sg-client'] });
    await until(true, n3, 'udp', n2, 53);
    await putNic(n3, { securityGroupIds: ['sg-web'] });
    await until(false, n3, 'udp', n2, 53);
  });

  it('refuses deleting a group in use, naming the NICs, and keeps groups within their tenant', async () => {
    await expect(sg().deleteSecurityGroup({ id: 'sg-web' })).rejects.toThrow(/in use by NICs n2, n3/);
    const base = await readTls(t.lab.tls);
    const pair = t.lab.tenants!['t2']!;
    const t2 = new AgentClient(host(t, 'h1').endpoint, { ca: base.ca, cert: await readFile(pair.cert), key: await readFile(pair.key) });
    try {
      await t2.securityGroups.putSecurityGroup({ group: { id: 'mine', tenant: '', name: 'mine', description: '' } });
      await expect(t2.securityGroups.putSecurityGroupRule({ rule: ruleSpec('peek', 'mine', 'ingress', 'any', { remote: 'sg-web' }) })).rejects.toThrow(
        /security group "sg-web" is not a group of tenant t2/,
      );
      await expect(t2.securityGroups.getSecurityGroup({ id: 'sg-web' })).rejects.toThrow(/does not exist/);
      expect((await t2.securityGroups.listSecurityGroups({ parentId: '' })).groups.map((g) => g.spec!.id)).toEqual(['mine']);
      await t2.securityGroups.deleteSecurityGroup({ id: 'mine' });
    } finally {
      t2.close();
    }
  });

  it('drops spoofed MACs, addresses and gratuitous ARP at the port, and lets an allowed address through', async () => {
    const fake = '02:00:c6:12:01:99';
    expect(await captured(n2, ['ether', 'src', fake], () => spoof(n1, 'mac', fake, n2.ip))).toBe('');
    expect(await captured(n2, ['src', 'host', '198.18.1.99'], () => spoof(n1, 'ip', '198.18.1.99', n2.ip))).toBe('');
    // n1 claims n2's address.
    const garp = ['arp', 'and', 'ether', 'src', n1.mac];
    expect(await captured(n2, garp, () => spoof(n1, 'garp', n2.ip))).toBe('');
    const dropped = (await t.client('h1').network.getNic({ id: 'n1' })).observed!.ruleCounters.find((c) => c.ruleId === 'port_security')!;
    expect(dropped.packets).toBeGreaterThanOrEqual(9);
    // A virtual IP in allowed_addresses may be used, and n1's group admits it where n1 is admitted
    // (the capture is the control for the three above).
    await putNic(n1, { securityGroupIds: ['sg-client'], allowedAddresses: ['198.18.1.100'] });
    expect(await captured(n2, ['src', 'host', '198.18.1.100'], () => spoof(n1, 'ip', '198.18.1.100', n2.ip))).not.toBe('');
    expect(await captured(n2, ['arp', 'and', 'ether', 'src', n1.mac], () => spoof(n1, 'garp', '198.18.1.100'))).not.toBe('');
  });

  it("filters a VM's TAP port the same way: its own frames pass where its group allows, spoofed ones never", async () => {
    const vm = { id: 'vm1', mac: '02:00:c6:12:01:14', ip: '198.18.1.14' };
    await t.client('h1').network.putNic({
      nic: NicSpec.fromPartial({ id: vm.id, subnetId: 'web', kind: NicKind.NIC_KIND_TAP, mac: vm.mac, ip: `${vm.ip}/24` }),
    });
    const tap = (await t.client('h1').network.getNic({ id: vm.id })).observed!.hostIfname;
    const send = (mac: string, ip: string) => t.exec(host(t, 'h1').namespace, [PY, PROBE, 'tap-send', tap, mac, ip, n2.ip]);
    // n2's group admits ICMP from 198.18.1.0/28; the VM is in its tenant's default group (all egress).
    const icmpFrom = (ip: string): string[] => ['icmp', 'and', 'src', 'host', ip];
    expect(await captured(n2, icmpFrom(vm.ip), () => send(vm.mac, vm.ip))).not.toBe('');
    expect(await captured(n2, ['ether', 'src', '02:00:c6:12:01:98'], () => send('02:00:c6:12:01:98', vm.ip))).toBe('');
    expect(await captured(n2, icmpFrom('198.18.1.9'), () => send(vm.mac, '198.18.1.9'))).toBe('');
    await t.client('h1').network.deleteNic({ id: vm.id });
  });

  it('puts back a rule flushed by hand, reporting it in the NIC status until then', async () => {
    const h2 = host(t, 'h2').namespace;
    const chain = ingressChain(nicDevice('veth', 'n3'));
    await t.exec(h2, ['nft', 'flush', 'chain', 'inet', 'vxsg', chain]);
    const broken = await t.client('h2').network.getNic({ id: 'n3' });
    expect(broken.status!.ready).toBe(false);
    expect(broken.status!.problems.join()).toContain(`firewall chain ${chain} has 0 rules`);
    await waitFor('the reconciler to restore n3', 10_000, async () => (await t.client('h2').network.getNic({ id: 'n3' })).status!.ready);
    expect(await reaches(n1, 'tcp', n3, 22)).toBe(false);
    expect(await reaches(n1, 'tcp', n3, 80)).toBe(true);
  });

  it('keeps an established flow while unrelated rules change, and every rule across an agent restart', async () => {
    await rule('web-iperf', 'sg-web', 'ingress', 'tcp', { port: 5201, remote: 'sg-client' });
    const server = spawn('ip', ['netns', 'exec', ns(n3), 'iperf3', '-s', '-1'], { stdio: 'ignore' });
    servers.push(server);
    await new Promise((r) => setTimeout(r, 500));
    const client = t.exec(ns(n1), ['iperf3', '-c', n3.ip, '-t', '6', '-i', '1', '-J'], 30_000);
    for (let i = 0; i < 10; i++) {
      await rule(`churn-${i}`, 'sg-web', 'ingress', 'udp', { port: 1000 + i, cidr: SUBNET });
      await sg().deleteSecurityGroupRule({ id: `churn-${i}` });
    }
    const report = JSON.parse((await client).stdout) as { intervals: { sum: { bits_per_second: number } }[] };
    expect(report.intervals.length).toBeGreaterThanOrEqual(5);
    for (const iv of report.intervals) expect(iv.sum.bits_per_second).toBeGreaterThan(0);

    await restartAgent(t.lab, 'h2');
    expect(await reaches(n1, 'tcp', n3, 22)).toBe(false);
    expect(await reaches(n1, 'tcp', n3, 80)).toBe(true);
    await waitFor('h2 to answer again', 20_000, async () => (await t.client('h2').network.getNic({ id: 'n3' })).status!.ready);
    expect(await reaches(n1, 'tcp', n3, 22)).toBe(false);
  });
});
