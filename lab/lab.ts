// A lab: many vxcloud hosts on one machine. Each host is a network namespace with one leg on an
// underlay bridge that lives in a namespace of its own (192.0.2.0/24), and runs a real agent with
// its own certificate, config and state. Nothing is added to the root namespace; `labDown` stops
// the agents by their own PIDs and removes every namespace whose name starts with the lab's.

import { RAFT_PORT } from '../agent/config/config.js';
import { execFile, spawn } from 'node:child_process';
import { chmod, copyFile, mkdir, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { createCa, issue, writeNbdClientDir, writePair } from '../lib/certs.js';
import { isAlive } from '../lib/process.js';
import { AgentClient, readTls } from '../lib/agent-client.js';
import { openNet } from '../agent/net/index.js';
import type { Net } from '../agent/net/types.js';
import { setSysctl } from '../agent/net/sysctl.js';
import { stopLeftoverDaemons } from '../agent/l3/routers.js';
import { pidFile, stopIn } from '../agent/process/supervisor.js';
import { spawnInNetns } from '../agent/net/nsexec.js';
import { etcdArgv } from '../agent/registry/etcd-member.js';
import { labDir, labFilePath, readLabFile, writeLabFile, type LabFile, type LabHost } from './labfile.js';
import { startVmHost } from './vm/host.js';
import { freePort, VM_HOST_API } from './vm/qemu.js';

export const UNDERLAY_CIDR = '192.0.2.0/24';
export const DEFAULT_TENANTS = ['t1', 't2'];
export const AGENT_PORT = 7443;
export const NBD_PORT = 10809;
const NBD_SOCKET = 'nbd.sock';
const RAFT_SOCKET = 'raft.sock';
/** A storage host's NBD server on a unix socket, for clients outside the lab's namespaces. */
export const nbdSocketPath = (lab: LabFile, host: string): string => join(lab.dir, host, NBD_SOCKET);
/** A storage host's raft link, reachable from the root namespace (tests dial it with certificates of their own). */
export const raftSocketPath = (lab: LabFile, host: string): string => join(lab.dir, host, RAFT_SOCKET);
/**
 * The lab's client certificate laid out for libnbd/qemu (`tls-certificates=DIR` in an NBD URI),
 * for storage hosts whose NBD listeners use TLS (LabOptions.nbdTls).
 */
export const nbdClientCertDir = (lab: LabFile): string => join(lab.dir, 'pki', 'nbd');
const UNDERLAY_BRIDGE = 'ul0';
// The built agent, whether this module runs from dist/ (vxctl) or from source (vitest).
const here = fileURLToPath(import.meta.url);
/** The repository, whose dist/ holds the agent (VM hosts mount it). */
const REPO = resolve(here, here.includes('/dist/') ? '../../..' : '../..');
const AGENT_ENTRY = join(REPO, 'dist/agent/main.js');
/** As bin/vxcloud-agent runs it (see there why). */
const AGENT_NODE_FLAGS = ['--initial-old-space-size=128', '--max-semi-space-size=32'];

export interface LabOptions {
  name: string;
  hosts: number;
  /** Roles of host i (1-based); default every host is compute. */
  roles?: (i: number) => string[];
  /** Directory for certificates, configs, state and logs; default /run/vxcloud/labs/NAME. */
  dir?: string;
  reconcileIntervalSeconds?: number;
  logLevel?: string;
  /**
   * Who fills the VTEP tables: `registry` (default: each agent derives them from the lab's
   * registry), `evpn` (FRR run by each agent; hosts with the management role are the route
   * reflectors) or `static` (the caller, through the API). The registry runs in every lab.
   */
  controlPlane?: 'registry' | 'evpn' | 'static';
  /** evpn settings merged into each agent's `controlPlane` (asn, timers, coalesceTimeMs, ...). */
  evpn?: Record<string, unknown>;
  /** Settings merged into each agent's `registry` section (leaseSeconds, prefix). */
  registry?: Record<string, unknown>;
  /** Tenants to mint client certificates for (pki/tenant-T.pem); default DEFAULT_TENANTS. */
  tenants?: string[];
  /** Members of the lab's etcd: 1 (default) or 3, at 192.0.2.253, .252 and .251. */
  registryMembers?: 1 | 3;
  /**
   * The registry's members run by the agents of hosts h1.. (registry.managed) on their underlay
   * addresses, instead of etcd namespaces of the lab's own.
   */
  managedRegistry?: boolean;
  /**
   * An "internet" namespace (NAME-inet: 203.0.113.1/24, forwarding, and a leg on the underlay at
   * 192.0.2.254 like a real upstream that also reaches management) that each route host's
   * external bridge `brext` connects to. Route hosts then also get a default route via it and
   * listen on their underlay address, so a router that leaked onto the underlay would be seen.
   */
  internet?: boolean;
  /** Storage hosts' `storage.nbdTls` (off, optional, required); left out of the config when unset. */
  nbdTls?: 'off' | 'optional' | 'required';
  /** Storage hosts' `storage.rebuildAfterSeconds` (left out when unset: never). */
  rebuildAfterSeconds?: number;
  /**
   * Hosts after the `hosts` namespace hosts that are QEMU VMs (lab/vm): Debian's stock kernel
   * running the real agent, on the same underlay and registry. Compute hosts; the registry or
   * static control plane.
   */
  vmHosts?: number;
  /** Hosts (by name) whose VTEPs use the tap transport: TAP devices the agent encapsulates for. */
  tapHosts?: string[];
}

/**
 * The lab's registry: etcd (one member, or three with `registryMembers`), each member in a
 * namespace of its own on the underlay, serving mutual TLS — to clients and to its peers — with a
 * CA of its own (pki/registry-ca), so that only hosts, not the tenants and operators the deployment
 * CA signs for, can reach it. Data dirs, logs and pid files live under the lab dir, so that labDown
 * finds leftovers.
 */
export interface EtcdMember {
  name: string;
  namespace: string;
  address: string;
  endpoint: string;
  runDir: string;
}
/** Member i of a managed registry: the agent of host hi runs it on its underlay address. */
const managedMember = (i: number): Pick<EtcdMember, 'name' | 'address' | 'endpoint'> => ({
  name: `h${i}`,
  address: underlayAddress(i),
  endpoint: `https://${underlayAddress(i)}:2379`,
});

export function etcdMember(lab: string, dir: string, i: number): EtcdMember {
  const address = `192.0.2.${254 - i}`;
  return {
    name: `${lab}m${i}`,
    namespace: i === 1 ? `${lab}-etcd` : `${lab}-etcd${i}`,
    address,
    endpoint: `https://${address}:2379`,
    runDir: join(dir, i === 1 ? 'etcd' : `etcd${i}`),
  };
}
/** The registry's CA and a client pair of it, for tools (etcdctl) and tests: LABDIR/pki/registry-*.pem. */
export const registryPki = (dir: string) => ({
  ca: join(dir, 'pki', 'registry-ca.pem'),
  cert: join(dir, 'pki', 'registry-client.pem'),
  key: join(dir, 'pki', 'registry-client-key.pem'),
});
/** etcdctl's TLS arguments for the lab's registry. */
export const etcdctlTls = (dir: string): string[] => {
  const p = registryPki(dir);
  return ['--cacert', p.ca, '--cert', p.cert, '--key', p.key];
};
const ETCDCTL = '/usr/bin/etcdctl';

/** Where a lab host's managed FRR keeps its pid files, sockets, logs and config. */
export const frrRunDir = (hostDir: string): string => join(hostDir, 'frr');
const FRR_DAEMONS = ['zebra', 'bgpd'];

export function checkLabName(name: string): void {
  // Namespace names are NAME-ul, NAME-h12, NAME-...: keep them short and shell-free.
  if (!/^[a-z][a-z0-9]{0,15}$/.test(name)) throw new Error(`lab name "${name}": use 1-16 lower-case letters and digits, starting with a letter`);
}

export const hostNamespace = (lab: string, i: number): string => `${lab}-h${i}`;
export const underlayNamespace = (lab: string): string => `${lab}-ul`;
export const underlayAddress = (i: number): string => `192.0.2.${10 + i}`;
export const internetNamespace = (lab: string): string => `${lab}-inet`;
export const INTERNET = { cidr: '203.0.113.0/24', gateway: '203.0.113.1', underlayLeg: '192.0.2.254' } as const;
const EXTERNAL_BRIDGE = 'brext';
/**
 * Router namespaces carry the host's namespace name: labDown removes them with the rest, and no
 * agent takes another host's routers (all share /run/netns) for its own stale ones.
 */
const routerNamespacePrefix = (lab: string, i: number): string => `${hostNamespace(lab, i)}-vxr-`;

async function buildInternet(net: Net, lab: string, routeHosts: number[]): Promise<void> {
  const inet = internetNamespace(lab);
  await net.createNetns(inet);
  const n = await net.netns(inet);
  const u = await net.netns(underlayNamespace(lab));
  try {
    await n.setLink('lo', { up: true });
    await n.createBridge('inet0', {});
    await n.setLink('inet0', { up: true });
    await n.replaceAddress('inet0', `${INTERNET.gateway}/24`);
    setSysctl(inet, 'net.ipv4.ip_forward', '1');
    await u.createVeth('inet', { peer: { name: 'ul', netns: inet } });
    await u.setLink('inet', { master: UNDERLAY_BRIDGE, up: true });
    await n.setLink('ul', { up: true });
    await n.replaceAddress('ul', `${INTERNET.underlayLeg}/24`);
    for (const i of routeHosts) {
      const h = await net.netns(hostNamespace(lab, i));
      try {
        await h.createBridge(EXTERNAL_BRIDGE, {});
        await h.setLink(EXTERNAL_BRIDGE, { up: true });
        await h.createVeth('extup', { peer: { name: `r${i}`, netns: inet } });
        await h.setLink('extup', { master: EXTERNAL_BRIDGE, up: true });
        await n.setLink(`r${i}`, { master: 'inet0', up: true });
        await h.replaceDefaultRoute(INTERNET.underlayLeg, 'eth0');
      } finally {
        h.close();
      }
    }
  } finally {
    n.close();
    u.close();
  }
}

function routerConfig(opts: LabOptions, i: number): Record<string, unknown> {
  const external =
    opts.internet && hostRoles(opts, i).includes('route')
      ? { external: { name: 'internet', bridge: EXTERNAL_BRIDGE, cidr: INTERNET.cidr, gateway: INTERNET.gateway } }
      : {};
  return { namespacePrefix: routerNamespacePrefix(opts.name, i), ...external };
}

/** Bounded wait for a condition; throws with `what` when the time is up. */
export async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * `finishChecksums`: hosts' underlay NICs complete checksums before sending, as a physical NIC
 * does. A veth leaves a TCP segment's checksum for later; across a kernel VTEP that is fine (the
 * skb's state travels with it), but a userspace VTEP (transport tap) receives the inner frame as
 * bytes and would write it to its TAP with the checksum unfinished.
 */
async function buildUnderlay(net: Net, lab: string, hosts: number, vmHosts: number, finishChecksums: boolean): Promise<void> {
  const ul = underlayNamespace(lab);
  await net.createNetns(ul);
  const u = await net.netns(ul);
  try {
    await u.createBridge(UNDERLAY_BRIDGE, {});
    await u.setLink(UNDERLAY_BRIDGE, { up: true });
    for (let i = 1; i <= hosts; i++) {
      const ns = hostNamespace(lab, i);
      await net.createNetns(ns);
      await u.createVeth(`h${i}`, { peer: { name: 'eth0', netns: ns } });
      await u.setLink(`h${i}`, { master: UNDERLAY_BRIDGE, up: true });
      const h = await net.netns(ns);
      try {
        await h.setLink('lo', { up: true });
        await h.setLink('eth0', { up: true });
        await h.replaceAddress('eth0', `${underlayAddress(i)}/24`);
      } finally {
        h.close();
      }
      if (finishChecksums) await promisify(execFile)('ip', ['netns', 'exec', ns, 'ethtool', '-K', 'eth0', 'tx', 'off']);
    }
    // A VM host's underlay NIC: a TAP on the bridge, which its QEMU opens (startVmHost).
    for (let i = hosts + 1; i <= hosts + vmHosts; i++) {
      await u.createTap(`h${i}`, {});
      await u.setLink(`h${i}`, { master: UNDERLAY_BRIDGE, up: true });
    }
  } finally {
    u.close();
  }
}

/** The registry's members, each in a namespace with one leg on the underlay bridge; returns once all answer. */
async function startEtcd(net: Net, lab: string, dir: string, members: EtcdMember[], tls: { ca: string; cert: string; key: string }): Promise<void> {
  const u = await net.netns(underlayNamespace(lab));
  try {
    for (const [i, m] of members.entries()) {
      await net.createNetns(m.namespace);
      const e = await net.netns(m.namespace);
      try {
        await u.createVeth(`etcd${i + 1}`, { peer: { name: 'eth0', netns: m.namespace } });
        await u.setLink(`etcd${i + 1}`, { master: UNDERLAY_BRIDGE, up: true });
        await e.setLink('lo', { up: true });
        await e.setLink('eth0', { up: true });
        await e.replaceAddress('eth0', `${m.address}/24`);
      } finally {
        e.close();
      }
    }
  } finally {
    u.close();
  }
  const peer = (m: EtcdMember): string => `https://${m.address}:2380`;
  const cluster = members.map((m) => `${m.name}=${peer(m)}`);
  // Members start together: each waits for the others to form a quorum.
  const pids = await Promise.all(
    members.map(async (m) => {
      await mkdir(m.runDir, { recursive: true, mode: 0o700 });
      const log = await open(join(m.runDir, 'etcd.log'), 'a');
      let pid: number | undefined;
      try {
        const argv = etcdArgv({ name: m.name, dataDir: join(m.runDir, 'data'), clientUrl: m.endpoint, peerUrl: peer(m), cluster, tls });
        const child = spawnInNetns(m.namespace, argv, log.fd);
        child.unref();
        pid = child.pid;
      } finally {
        await log.close();
      }
      if (pid === undefined) throw new Error(`could not start etcd member ${m.name}`);
      // Where the agent's supervisor keeps its pid files, so that stopIn finds it (stopLabEtcd).
      await writeFile(pidFile(m.runDir), `${pid}\n`);
      return pid;
    }),
  );
  await Promise.all(
    members.map((m, i) =>
      waitFor(`etcd member ${m.name} of lab ${lab} to answer (log: ${join(m.runDir, 'etcd.log')})`, 30_000, async () => {
        if (!isAlive(pids[i]!)) throw new Error('etcd exited');
        await promisify(execFile)(
          'nsenter',
          [`--net=/run/netns/${m.namespace}`, '--', ETCDCTL, '--endpoints', m.endpoint, ...etcdctlTls(dir), '--dial-timeout', '1s', 'endpoint', 'health'],
          { timeout: 5000 },
        );
        return true;
      }),
    ),
  );
}

/** Stops the lab's etcd members by the PIDs in their pid files, each only if that PID still runs etcd of its run dir. */
async function stopLabEtcd(dir: string): Promise<void> {
  for (const entry of await readdir(dir).catch((): string[] => [])) if (/^etcd\d*$/.test(entry)) await stopIn(join(dir, entry));
}

async function startAgent(host: LabHost): Promise<number> {
  if (host.vm) return startVmHost(host, REPO);
  const log = await open(host.logFile, 'a');
  try {
    // nsenter switches only the network namespace (`ip netns exec` would also give the agent a
    // private mount namespace, hiding the NIC namespaces it mounts under /run/netns), and execs
    // node in place, so the PID we get is the agent's own.
    const child = spawn(
      'nsenter',
      [`--net=/run/netns/${host.namespace}`, '--', process.execPath, ...AGENT_NODE_FLAGS, AGENT_ENTRY, '--config', host.configFile],
      {
        detached: true,
        stdio: ['ignore', log.fd, log.fd],
      },
    );
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start the agent of ${host.name}`);
    return child.pid;
  } finally {
    await log.close();
  }
}

export async function waitAgentReady(lab: LabFile, host: LabHost, timeoutMs = 30_000): Promise<void> {
  const client = new AgentClient(host.endpoint, await readTls(lab.tls));
  try {
    await waitFor(`the agent of ${host.name} (log: ${host.logFile})`, timeoutMs, async () => {
      if (!isAlive(host.pid)) return 'exited' as const;
      return (await client.host.getHost({}, 2000)).name === host.name && ('serving' as const);
    }).then(async (outcome) => {
      if (outcome === 'exited') throw new Error(`the agent of ${host.name} exited: ${(await readFile(host.logFile, 'utf8').catch(() => '')).slice(-2000)}`);
    });
  } finally {
    client.close();
  }
}

/** (Re)starts one host's agent, e.g. after a test killed it. */
export async function restartAgent(lab: LabFile, name: string): Promise<LabHost> {
  const host = lab.hosts.find((h) => h.name === name);
  if (!host) throw new Error(`no host ${name} in lab ${lab.name}`);
  // Its state lives in the VM's memory: stopping the VM would lose it.
  if (host.vm) throw new Error(`${name} is a VM host: the lab does not restart its agent`);
  await stopAgent(host);
  host.pid = await startAgent(host);
  await writeLabFile(lab);
  await waitAgentReady(lab, host);
  return host;
}

export async function labUp(opts: LabOptions): Promise<LabFile> {
  checkLabName(opts.name);
  if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 200) throw new Error('--hosts: a whole number from 1 to 200');
  const vmHosts = opts.vmHosts ?? 0;
  if (!Number.isInteger(vmHosts) || vmHosts < 0 || vmHosts > 4) throw new Error('--vm-hosts: a whole number from 0 to 4 (each VM is a TCG guest)');
  if (vmHosts > 0 && opts.controlPlane === 'evpn') throw new Error('--vm-hosts: VM hosts take the registry or static control plane, not evpn');
  for (let i = opts.hosts + 1; i <= opts.hosts + vmHosts; i++) {
    const roles = hostRoles(opts, i);
    if (roles.join() !== 'compute') throw new Error(`--vm-hosts: h${i} is a VM host, which is a compute host only (roles asked: ${roles.join(', ')})`);
  }
  const dir = opts.dir ?? labDir(opts.name);
  await labDown(opts.name, dir); // leftovers of an earlier lab of the same name
  await mkdir(dir, { recursive: true, mode: 0o700 });

  const pki = join(dir, 'pki');
  const ca = await createCa(`vxcloud lab ${opts.name} CA`);
  const caFiles = await writePair(pki, 'ca', ca);
  // The lab's own client (vxctl, tests, the provider by lab_file) is an operator; each tenant
  // gets a certificate of its own (LabFile.tenants).
  const clientPair = await issue(ca, { commonName: 'vxctl', role: 'client', identity: { kind: 'operator' } });
  const client = await writePair(pki, 'client', clientPair);
  const tenants: NonNullable<LabFile['tenants']> = {};
  for (const tenant of opts.tenants ?? DEFAULT_TENANTS) {
    tenants[tenant] = await writePair(pki, `tenant-${tenant}`, await issue(ca, { commonName: tenant, role: 'client', identity: { kind: 'tenant', tenant } }));
  }
  const lab: LabFile = {
    name: opts.name,
    dir,
    underlayNamespace: underlayNamespace(opts.name),
    underlayCidr: UNDERLAY_CIDR,
    tls: { ca: caFiles.cert, cert: client.cert, key: client.key },
    tenants,
    hosts: [],
  };
  await writeNbdClientDir(nbdClientCertDir(lab), { ca: ca.cert, ...clientPair });
  const registryCa = await createCa(`vxcloud lab ${opts.name} registry CA`);
  const regCa = await writePair(pki, 'registry-ca', registryCa);
  const memberCount = opts.registryMembers ?? 1;
  if (opts.managedRegistry && memberCount > opts.hosts)
    throw new Error(`--registry-members ${memberCount}: the managed registry runs on hosts h1..h${memberCount}, and the lab has ${opts.hosts}`);
  const members = Array.from({ length: memberCount }, (_, i) => (opts.managedRegistry ? managedMember(i + 1) : etcdMember(opts.name, dir, i + 1)));
  const regServer = await writePair(pki, 'registry-server', await issue(registryCa, { commonName: 'etcd', role: 'host', ips: members.map((m) => m.address) }));
  await writePair(pki, 'registry-client', await issue(registryCa, { commonName: 'vxctl', role: 'client' }));

  const net = await openNet();
  try {
    await buildUnderlay(net, opts.name, opts.hosts, vmHosts, (opts.tapHosts ?? []).length > 0);
    if (opts.internet) {
      const routeHosts = Array.from({ length: opts.hosts }, (_, k) => k + 1).filter((i) => hostRoles(opts, i).includes('route'));
      await buildInternet(net, opts.name, routeHosts);
      lab.internet = { namespace: internetNamespace(opts.name), cidr: INTERNET.cidr, gateway: INTERNET.gateway };
    }
    if (!opts.managedRegistry) await startEtcd(net, opts.name, dir, members as EtcdMember[], { ca: regCa.cert, ...regServer });
  } finally {
    net.close();
  }

  for (let i = 1; i <= opts.hosts + vmHosts; i++) {
    const name = `h${i}`;
    const hdir = join(dir, name);
    const address = underlayAddress(i);
    // A VM host's files go to the folder its VM mounts at /vx; its agent is reached through a
    // loopback port that QEMU forwards, as localhost (which every host's certificate names).
    const vm =
      i > opts.hosts ? { dir: join(hdir, 'vm'), apiPort: await freePort(), helperPort: await freePort(), underlayNamespace: lab.underlayNamespace } : undefined;
    const files = vm?.dir ?? hdir;
    const seen = (path: string): string => (vm ? `/vx/${basename(path)}` : path);
    const pair = await writePair(
      files,
      'agent',
      await issue(ca, { commonName: name, role: 'host', dnsNames: [name, 'localhost'], ips: [address], identity: { kind: 'host', host: name } }),
    );
    const roles = hostRoles(opts, i);
    const regPair = await writePair(files, 'registry', await issue(registryCa, { commonName: name, role: 'client' }));
    if (vm) {
      for (const f of [caFiles.cert, regCa.cert]) await copyFile(f, join(vm.dir, basename(f)));
      await writeFile(join(vm.dir, 'guest.json'), JSON.stringify({ repo: REPO, config: '/vx/agent.yaml' }));
    }
    const socket = join(hdir, 'agent.sock');
    const host: LabHost = {
      name,
      namespace: vm ? '' : hostNamespace(opts.name, i),
      roles,
      underlayAddress: address,
      endpoint: vm ? `localhost:${vm.apiPort}` : `unix://${socket}`,
      configFile: join(files, 'agent.yaml'),
      stateDir: vm ? '' : join(hdir, 'state'),
      logFile: join(hdir, 'agent.log'),
      pid: 0,
      ...(vm ? { vm } : { metrics: `unix://${join(hdir, 'metrics.sock')}` }),
    };
    await mkdir(hdir, { recursive: true });
    await writeFile(
      host.configFile,
      stringify({
        host: { name, roles },
        underlay: { interface: vm ? 'eth1' : 'eth0', address },
        // Storage hosts replicate to each other over the underlay.
        listen: vm
          ? [VM_HOST_API, `${address}:${AGENT_PORT}`]
          : (opts.internet && roles.includes('route')) || roles.includes('storage')
            ? [host.endpoint, `${address}:${AGENT_PORT}`]
            : [host.endpoint],
        tls: { ca: seen(caFiles.cert), cert: seen(pair.cert), key: seen(pair.key) },
        stateDir: vm ? '/var/lib/vxcloud' : host.stateDir,
        logLevel: opts.logLevel ?? 'info',
        reconcile: { intervalSeconds: opts.reconcileIntervalSeconds ?? 10 },
        ...(opts.tapHosts?.includes(name) ? { transport: 'tap' } : {}),
        ...(host.metrics ? { metrics: { listen: [host.metrics] } } : {}),
        registry: {
          endpoints: members.map((m) => m.endpoint),
          tls: { ca: seen(regCa.cert), cert: seen(regPair.cert), key: seen(regPair.key) },
          ...(opts.managedRegistry && i <= memberCount
            ? { managed: { dataDir: join(host.stateDir, 'etcd'), cluster: members.map((m) => `${m.name}=https://${m.address}:2380`), ...regServer } }
            : {}),
          ...opts.registry,
        },
        controlPlane: controlPlaneConfig(opts, hdir),
        router: routerConfig(opts, i),
        ...(roles.includes('storage')
          ? {
              storage: {
                dataDir: join(hdir, 'storage'),
                nbdListen: [`${address}:${NBD_PORT}`, `unix://${join(hdir, NBD_SOCKET)}`],
                raftListen: [`${address}:${RAFT_PORT}`, `unix://${join(hdir, RAFT_SOCKET)}`],
                ...(opts.nbdTls ? { nbdTls: opts.nbdTls } : {}),
                ...(opts.rebuildAfterSeconds ? { rebuildAfterSeconds: opts.rebuildAfterSeconds } : {}),
              },
            }
          : {}),
      }),
    );
    lab.hosts.push(host);
  }
  if (opts.controlPlane === 'evpn') {
    // The FRR daemons drop to user frr: it must be able to reach its run dir (only traverse, no listing).
    for (const d of [resolve(dir, '../..'), resolve(dir, '..'), dir, ...lab.hosts.map((h) => join(dir, h.name))]) await chmod(d, 0o711);
  }
  // Reflectors first, so that VTEPs find them listening instead of waiting out a connect retry.
  const reflectors = lab.hosts.filter((h) => h.roles.includes('management'));
  for (const group of [reflectors, lab.hosts.filter((h) => !reflectors.includes(h))]) {
    for (const h of group) h.pid = await startAgent(h);
    await writeLabFile(lab);
    // A VM host boots under TCG, and node in it runs ~20× slower than here.
    await Promise.all(group.map((h) => waitAgentReady(lab, h, h.vm ? 240_000 : 30_000)));
  }
  return lab;
}

function hostRoles(opts: LabOptions, i: number): string[] {
  return opts.roles?.(i) ?? ['compute'];
}

function controlPlaneConfig(opts: LabOptions, hostDir: string): Record<string, unknown> {
  if (opts.controlPlane !== 'evpn') return { kind: opts.controlPlane ?? 'registry' };
  const reflectors: string[] = [];
  for (let i = 1; i <= opts.hosts; i++) if (hostRoles(opts, i).includes('management')) reflectors.push(underlayAddress(i));
  if (reflectors.length === 0) throw new Error('an evpn lab needs at least one host with the management role (the route reflectors)');
  return {
    kind: 'evpn',
    reflectors,
    // Agents of a lab start within seconds of each other: retry a reflector quickly.
    timers: { connectRetrySeconds: 1 },
    ...opts.evpn,
    frr: { mode: 'managed', runDir: frrRunDir(hostDir) },
  };
}

/** Stops FRR daemons of the lab's hosts that SIGKILLed agents left (agents stop theirs), as the supervisor would. */
async function stopLabDaemons(dir: string): Promise<void> {
  const hosts = (await readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory());
  for (const entry of hosts) {
    for (const d of FRR_DAEMONS) await stopIn(join(frrRunDir(join(dir, entry.name)), d));
  }
}

/** Stops an agent by its own PID, and only if that PID still runs that host's agent. */
export async function stopAgent(host: LabHost, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (host.pid <= 0) return;
  const cmdline = await readFile(`/proc/${host.pid}/cmdline`, 'utf8').catch(() => '');
  // A VM host's PID is its QEMU's, whose command line names the VM's folder.
  if (!cmdline.includes(host.vm?.dir ?? host.configFile)) return;
  process.kill(host.pid, signal);
  try {
    await waitFor(`agent ${host.name} to exit`, 5000, async () => !isAlive(host.pid));
  } catch {
    process.kill(host.pid, 'SIGKILL');
    await waitFor(`agent ${host.name} to die`, 5000, async () => !isAlive(host.pid));
  }
}

/** Removes everything a lab of this name made; safe to call when nothing is there. */
export async function labDown(name: string, dir = labDir(name)): Promise<void> {
  checkLabName(name);
  const lab = await readLabFile(labFilePath(dir)).catch(() => undefined);
  // All at once: each agent's orderly stop takes about two seconds, and they do not depend on each other.
  const owned = (
    await Promise.all(
      (lab?.hosts ?? []).map(async (h) => {
        await stopAgent(h);
        if (h.vm) return []; // what its agent made lived in the VM
        await stopIn(join(h.stateDir, 'etcd')); // a managed registry member, left by a SIGKILLed agent
        // Namespaces the agents created for NICs may carry any name the user gave them.
        const state = await readFile(join(h.stateDir, 'desired-state.json'), 'utf8').catch(() => '{}');
        return (JSON.parse(state) as { ownedNamespaces?: string[] }).ownedNamespaces ?? [];
      }),
    )
  ).flat();
  await stopLabDaemons(dir);
  await stopLabEtcd(dir);
  // dnsmasq and DHCP clients of agents that were SIGKILLed (a stopped agent stops its own).
  for (const entry of await readdir(dir).catch(() => [])) await stopLeftoverDaemons(join(dir, entry, 'state'));
  const net = await openNet();
  try {
    for (const ns of await net.listNetns()) if (ns.startsWith(`${name}-`) || owned.includes(ns)) await net.deleteNetns(ns);
  } finally {
    net.close();
  }
  await rm(dir, { recursive: true, force: true });
}

export interface HostHealth {
  host: LabHost;
  serving: boolean;
  detail: string;
}

export async function labStatus(lab: LabFile): Promise<HostHealth[]> {
  const tls = await readTls(lab.tls);
  return Promise.all(
    lab.hosts.map(async (host) => {
      const client = new AgentClient(host.endpoint, tls);
      try {
        const h = await client.host.getHost({}, 3000);
        return { host, serving: true, detail: `${h.objectsReady}/${h.objectsDesired} objects ready` };
      } catch (e) {
        return { host, serving: false, detail: (e as Error).message };
      } finally {
        client.close();
      }
    }),
  );
}
