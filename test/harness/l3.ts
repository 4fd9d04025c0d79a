// A tenant for router tests and benches: a VPC with subnets on every lab host, a router on the
// route host, NICs on compute hosts that take their address by DHCP (reserved in the router), and
// the static VTEP tables that tell each host where the NICs and the router's legs are, and a
// security group that lets anything in and out of the NICs. A NIC may be a TAP, for a VM.

import { spawn, type ChildProcess } from 'node:child_process';
import { NicKind } from '../../gen/vxcloud/agent/v1/network.js';
import type { Router, RouterSpec } from '../../gen/vxcloud/agent/v1/router.js';
import type { LabFile } from '../../lab/labfile.js';
import type { AgentClient } from '../../lib/agent-client.js';
import { ruleSpec } from './security-groups.js';

export interface TenantNic {
  id: string;
  subnet: string;
  host: string;
  mac: string;
  /** Reserved for the NIC in the router (no prefix). */
  ip: string;
  /** A veth NIC's namespace; a TAP NIC (a VM's: `tap`) has none. */
  namespace: string;
  tap?: boolean;
}

export interface Tenant {
  vpc: string;
  cidr: string;
  subnets: { id: string; cidr: string; vni: number }[];
  router: { id: string; host: string; externalIp: string; snat: boolean };
  nics: TenantNic[];
}

const prefixLen = (cidr: string): string => cidr.split('/')[1]!;
export const gatewayOf = (cidr: string): string => cidr.replace(/\.0\/\d+$/, '.1');

/** Builds the tenant through the agent API; returns the router as its host reports it. */
export async function applyTenant(lab: LabFile, client: (host: string) => AgentClient, t: Tenant): Promise<Router> {
  const vtep = (host: string): string => lab.hosts.find((h) => h.name === host)!.underlayAddress;
  for (const h of lab.hosts) {
    const c = client(h.name).network;
    await c.putVpc({ vpc: { id: t.vpc, name: t.vpc, tenant: t.vpc, cidr: t.cidr } });
    for (const s of t.subnets) await c.putSubnet({ subnet: { id: s.id, vpcId: t.vpc, name: s.id, cidr: s.cidr, vni: s.vni, vlan: 0, gateway: '' } });
  }
  const spec: RouterSpec = {
    id: t.router.id,
    vpcId: t.vpc,
    name: t.router.id,
    subnetIds: t.subnets.map((s) => s.id),
    externalNetwork: 'internet',
    externalIp: t.router.externalIp,
    snat: t.router.snat,
    dhcpDisabledSubnetIds: [],
    reservations: t.nics.map((n) => ({ subnetId: n.subnet, mac: n.mac, ip: n.ip, hostname: n.id })),
    dhcpLeaseSeconds: 0,
  };
  const router = await client(t.router.host).router.putRouter({ router: spec });
  const legMac = (subnet: string): string => router.observed!.legs.find((l) => l.subnetId === subnet)!.mac;
  // Static control plane: compute hosts learn the router's legs, the route host learns the NICs.
  for (const s of t.subnets) {
    const nics = t.nics.filter((n) => n.subnet === s.id);
    for (const h of new Set(nics.map((n) => n.host))) {
      await client(h).network.putVtepTable({
        table: {
          subnetId: s.id,
          floodVteps: [vtep(t.router.host), ...new Set(nics.filter((n) => n.host !== h).map((n) => vtep(n.host)))],
          fdb: [{ mac: legMac(s.id), vtep: vtep(t.router.host) }, ...nics.filter((n) => n.host !== h).map((n) => ({ mac: n.mac, vtep: vtep(n.host) }))],
          neighbors: [{ ip: gatewayOf(s.cidr), mac: legMac(s.id) }, ...nics.filter((n) => n.host !== h).map((n) => ({ ip: n.ip, mac: n.mac }))],
        },
      });
    }
    await client(t.router.host).network.putVtepTable({
      table: {
        subnetId: s.id,
        floodVteps: [...new Set(nics.map((n) => vtep(n.host)))],
        fdb: nics.map((n) => ({ mac: n.mac, vtep: vtep(n.host) })),
        neighbors: nics.map((n) => ({ ip: n.ip, mac: n.mac })),
      },
    });
  }
  // The NICs serve the internet (port forwards, floating IPs): a group open both ways, since the
  // default group admits only its own members.
  const open = `${t.vpc}-open`;
  const groups = client(t.router.host).securityGroups;
  await groups.putSecurityGroup({ group: { id: open, tenant: t.vpc, name: 'open', description: 'anything in, anything out' } });
  for (const direction of ['ingress', 'egress'] as const) {
    await groups.putSecurityGroupRule({ rule: ruleSpec(`${open}-${direction}`, open, direction, 'any', { cidr: '0.0.0.0/0' }) });
  }
  for (const n of t.nics) {
    await client(n.host).network.putNic({
      nic: {
        id: n.id,
        subnetId: n.subnet,
        kind: n.tap ? NicKind.NIC_KIND_TAP : NicKind.NIC_KIND_VETH,
        mac: n.mac,
        ip: `${n.ip}/${prefixLen(t.subnets.find((s) => s.id === n.subnet)!.cidr)}`,
        namespace: n.tap ? '' : n.namespace,
        createNamespace: !n.tap,
        ifname: n.tap ? '' : 'eth0',
        dhcp: !n.tap,
        filter: { securityGroupIds: [open], portSecurityDisabled: false, allowedAddresses: [] },
      },
    });
  }
  return router;
}

/** The address the NIC's DHCP client holds, once it holds the expected one. */
export async function waitLease(client: AgentClient, n: TenantNic, subnetCidr: string, timeoutMs: number): Promise<number> {
  const start = Date.now();
  const want = `${n.ip}/${prefixLen(subnetCidr)}`;
  for (;;) {
    const got = (await client.network.getNic({ id: n.id })).observed!.dhcpAddress;
    if (got === want) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`NIC ${n.id} has "${got}" after ${timeoutMs} ms, want ${want}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A TCP server in `ns` that answers every connection with `name` and the peer's address, then
 * closes. `ip netns exec` execs in place: the PID is the server's, stopped by stopServer.
 */
export function tcpServer(ns: string, port: number, name: string): Promise<ChildProcess> {
  const program = `require('net').createServer((s) => s.end(process.argv[2] + ' ' + s.remoteAddress)).listen(Number(process.argv[1]), '0.0.0.0', () => console.log('listening'))`;
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', program, String(port), name], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server in ${ns} did not listen within 10 s`)), 10_000);
    child.stdout.once('data', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server in ${ns} exited with ${code}`));
    });
  });
}

export function stopServer(child: ChildProcess): void {
  if (child.exitCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
}

/** Connects from `ns` and returns what the server said; rejects on refusal or after `timeoutMs`. */
export function tcpGet(ns: string, ip: string, port: number, timeoutMs = 3000): Promise<string> {
  const program = `const s = require('net').connect(Number(process.argv[2]), process.argv[1]); let d = ''; s.on('data', (b) => (d += b)); s.on('end', () => { console.log(d); process.exit(0); }); s.on('error', (e) => { console.error(e.message); process.exit(1); }); setTimeout(() => { console.error('timeout'); process.exit(2); }, Number(process.argv[3]));`;
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', program, ip, String(port), String(timeoutMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (err += b));
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 5000);
    child.once('exit', (code) => {
      clearTimeout(kill);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`tcp ${ip}:${port} from ${ns}: ${err.trim() || `exit ${code}`}`));
    });
  });
}

/** True when a TCP connection from `ns` to ip:port opens within `timeoutMs` (nothing is exchanged). */
export function tcpConnects(ns: string, ip: string, port: number, timeoutMs = 1500): Promise<boolean> {
  const program = `const s = require('net').connect(Number(process.argv[2]), process.argv[1], () => process.exit(0)); s.on('error', () => process.exit(1)); setTimeout(() => process.exit(2), Number(process.argv[3]));`;
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', program, ip, String(port), String(timeoutMs)], { stdio: 'ignore' });
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 5000);
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve(code === 0);
    });
  });
}
