// One router on a route host: a namespace with a veth leg in each attached subnet's bridge (holding
// the subnet's gateway address) and one on the external bridge, forwarding on, a default route via
// the external gateway, an nftables ruleset and a dnsmasq. Converge, problems, observation and
// removal all work from the same plan, so status and convergence use the same rules.

import { readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseCidr } from '../../lib/ipv4.js';
import { subnetGateway } from '../../lib/router-validation.js';
import type { RouterConfig } from '../config/router.js';
import { ensureLink, linkProblems, type Fix, type LinkSpec } from '../l2/links.js';
import { listNftTable, applyNftables } from '../net/nft.js';
import { getSysctl, setSysctl } from '../net/sysctl.js';
import type { Link, Net, NetHandle } from '../net/types.js';
import type { DesiredState, NatRuleRecord, RouterRecord, SubnetRecord } from '../state/model.js';
import type { Tx } from '../state/reconciler.js';
import { DEFAULT_LEASE_SECONDS, dnsmasqArgv, parseLeases, renderDnsmasqConf, type Lease } from './dnsmasq.js';
import { legHostDevice, legIfname, legMac, routerNamespace } from './names.js';
import { NFT_FAMILY, NFT_TABLE, natCounters, renderRuleset, ruleCount, tableRuleCount, type RuleCounters } from './nftables.js';
import { pidFile, type ProcessSpec, type Supervisor } from '../process/supervisor.js';

export interface L3Env {
  net: Net;
  cfg: RouterConfig;
  /** The agent's state directory; routers keep rulesets, dnsmasq configs and leases under it. */
  stateDir: string;
  /** MTU of workloads in the overlay (the subnet bridges). */
  overlayMtu: number;
  /** Networks no router may reach: the route host's underlay, the agent's listen addresses, management. */
  protectedCidrs: string[];
  supervisor: Supervisor;
  /** Addresses the registry holds for the NICs of a subnet (on every host); none without a registry. */
  reservations?: (subnetId: string) => { mac: string; ip: string }[];
}

export interface LegPlan {
  /** null for the external leg. */
  subnetId: string | null;
  cidr: string;
  ifname: string;
  mac: string;
  /** The router's addresses on the leg (CIDR), the primary one first. */
  addresses: string[];
  /** The veth end on the route host, plugged into the subnet's or the external bridge. */
  port: LinkSpec;
  dhcp: boolean;
}

export const routerDir = (env: L3Env, ns: string): string => join(env.stateDir, 'routers', ns);
export const dnsmasqDir = (env: L3Env, ns: string): string => join(routerDir(env, ns), 'dnsmasq');

const prefixOf = (cidr: string): number => parseCidr(cidr)!.prefix;

/** The router's NAT rules, in id order so that the rendered ruleset is stable. */
export function rulesOf(state: Readonly<DesiredState>, routerId: string): NatRuleRecord[] {
  return Object.values(state.natRules)
    .filter((n) => n.router_id === routerId)
    .sort((a, b) => a.id.localeCompare(b.id));
}

export function externalAddresses(r: RouterRecord, rules: NatRuleRecord[], cidr: string): string[] {
  const ips = [r.external_ip];
  for (const n of rules) if (!ips.includes(n.external_ip)) ips.push(n.external_ip);
  return ips.map((ip) => `${ip}/${prefixOf(cidr)}`);
}

export async function planLegs(env: L3Env, tx: Tx, r: RouterRecord): Promise<LegPlan[]> {
  const legs: LegPlan[] = [];
  for (const id of r.subnet_ids) {
    const s: SubnetRecord | undefined = tx.state.subnets[id];
    if (!s) throw new Error(`subnet "${id}" is not on this host`);
    const port = { ...tx.subnetPort(legHostDevice(r.id, id), s), mtu: env.overlayMtu };
    legs.push({
      subnetId: id,
      cidr: s.cidr,
      ifname: legIfname(s.vni),
      mac: legMac(r.id, id),
      addresses: [`${subnetGateway(s)}/${prefixOf(s.cidr)}`],
      port,
      dhcp: !r.dhcp_disabled_subnet_ids.includes(id),
    });
  }
  const ext = env.cfg.external;
  if (r.external_network !== '' && ext) {
    const bridge = await env.net.host.link(ext.bridge);
    if (!bridge || bridge.kind !== 'bridge')
      throw new Error(`router.external.bridge: no bridge "${ext.bridge}" on this host: create it and connect it to the external network`);
    legs.push({
      subnetId: null,
      cidr: ext.cidr,
      ifname: legIfname(null),
      mac: legMac(r.id, null),
      addresses: externalAddresses(r, rulesOf(tx.state, r.id), ext.cidr),
      port: { name: legHostDevice(r.id, null), kind: 'veth', mtu: bridge.mtu, master: ext.bridge },
      dhcp: false,
    });
  }
  return legs;
}

export function renderRouterRuleset(env: L3Env, state: Readonly<DesiredState>, r: RouterRecord, legs: LegPlan[]): string {
  const ext = legs.find((l) => l.subnetId === null);
  return renderRuleset({
    legs: legs.filter((l) => l.subnetId !== null).map((l) => ({ ifname: l.ifname, cidr: l.cidr, dhcp: l.dhcp })),
    external: ext ? { ifname: ext.ifname, ip: r.external_ip, snat: r.snat } : undefined,
    rules: ext ? rulesOf(state, r.id) : [],
    protectedCidrs: env.protectedCidrs,
  });
}

/** The dnsmasq of a router, or undefined when no leg serves DHCP. */
export function dnsmasqPlan(env: L3Env, state: Readonly<DesiredState>, r: RouterRecord, legs: LegPlan[]): { spec: ProcessSpec; conf: string } | undefined {
  const dhcp = legs.filter((l) => l.subnetId !== null && l.dhcp);
  if (dhcp.length === 0) return undefined;
  const ns = routerNamespace(env.cfg.namespacePrefix, r.id);
  const dir = dnsmasqDir(env, ns);
  const conf = renderDnsmasqConf({
    leaseFile: join(dir, 'leases'),
    pidFile: pidFile(dir),
    leaseSeconds: r.dhcp_lease_seconds || DEFAULT_LEASE_SECONDS,
    subnets: dhcp.map((l) => {
      const s = state.subnets[l.subnetId!]!;
      const reserved = r.reservations.filter((v) => v.subnet_id === s.id).map((v) => ({ mac: v.mac, ip: v.ip, hostname: v.hostname }));
      // Every NIC of the subnet the registry knows, and the static NICs on this host, are reserved
      // too, so that each gets its own address and no address of theirs is handed to another.
      const local = Object.values(state.nics)
        .filter((n) => n.subnet_id === s.id)
        .map((n) => ({ mac: n.mac, ip: n.ip.split('/')[0]! }));
      for (const v of [...(env.reservations?.(s.id) ?? []), ...local]) {
        if (v.ip !== '' && !reserved.some((o) => o.mac === v.mac || o.ip === v.ip)) reserved.push({ mac: v.mac, ip: v.ip, hostname: '' });
      }
      return { vni: s.vni, ifname: l.ifname, cidr: s.cidr, gateway: subnetGateway(s), mtu: env.overlayMtu, reservations: reserved };
    }),
  });
  return { spec: { key: `dnsmasq ${r.id}`, netns: ns, argv: dnsmasqArgv(join(dir, 'dnsmasq.conf')), dir }, conf };
}

const vanished = (what: string) => async (): Promise<void> => {
  throw new Error(`${what} vanished while it was being configured`);
};

async function convergeLeg(env: L3Env, h: NetHandle, ns: string, hostLinks: Map<string, Link>, leg: LegPlan): Promise<void> {
  const { net } = env;
  let hostLink = hostLinks.get(leg.port.name);
  const inner = await h.link(leg.ifname);
  // A veth pair lives and dies as one; if either end is gone or foreign, rebuild the pair.
  if (!hostLink || hostLink.kind !== 'veth' || !inner || inner.kind !== 'veth') {
    if (hostLink) await net.host.deleteLink(leg.port.name);
    if (inner) await h.deleteLink(leg.ifname);
    await net.host.createVeth(leg.port.name, { mtu: leg.port.mtu, peer: { name: leg.ifname, netns: ns, mac: leg.mac, mtu: leg.port.mtu } });
    hostLink = await net.host.link(leg.port.name);
  }
  await ensureLink(net.host, leg.port, hostLink, vanished(leg.port.name));
  await ensureLink(h, innerSpec(leg), await h.link(leg.ifname), vanished(`${leg.ifname} in ${ns}`));
}

/** What differs inside the router's namespace beyond its legs' links: addresses, the default route, forwarding. */
async function namespaceDiff(env: L3Env, h: NetHandle, ns: string, legs: LegPlan[]): Promise<Fix[]> {
  const fixes: Fix[] = [];
  for (const leg of legs) {
    const have = await h.addresses(leg.ifname).catch((): string[] => []);
    // The primary address is the first one added: start over when it is not the router's own.
    if (have.length > 0 && have[0] !== leg.addresses[0]) {
      fixes.push({
        problem: `${leg.ifname}'s primary address is ${have[0]}, want ${leg.addresses[0]}`,
        fix: async () => {
          for (const a of have) await h.deleteAddress(leg.ifname, a);
          for (const a of leg.addresses) await h.replaceAddress(leg.ifname, a);
        },
      });
      continue;
    }
    for (const a of have)
      if (!leg.addresses.includes(a)) fixes.push({ problem: `${leg.ifname} has address ${a}, not its own`, fix: () => h.deleteAddress(leg.ifname, a) });
    for (const a of leg.addresses)
      if (!have.includes(a)) fixes.push({ problem: `${leg.ifname} lacks address ${a}`, fix: () => h.replaceAddress(leg.ifname, a) });
  }
  const gw = env.cfg.external?.gateway;
  if (legs.some((l) => l.subnetId === null) && gw && (await h.defaultGateway()) !== gw) {
    fixes.push({ problem: `no default route via ${gw}`, fix: () => h.replaceDefaultRoute(gw, legIfname(null)) });
  }
  if (getSysctl(ns, 'net.ipv4.ip_forward') !== '1') fixes.push({ problem: 'forwarding is off', fix: async () => setSysctl(ns, 'net.ipv4.ip_forward', '1') });
  return fixes;
}

const innerSpec = (leg: LegPlan): LinkSpec => ({ name: leg.ifname, kind: 'veth', mtu: leg.port.mtu, mac: leg.mac });

/** Builds or repairs everything of `r`; what it does not ask for in its namespace goes. */
export async function convergeRouter(env: L3Env, tx: Tx, r: RouterRecord): Promise<void> {
  const { net } = env;
  const ns = routerNamespace(env.cfg.namespacePrefix, r.id);
  const legs = await planLegs(env, tx, r);
  // A namespace deleted by hand lives on in the daemons that were in it: a new one needs new daemons.
  const created = !(await net.listNetns()).includes(ns);
  if (created) await net.createNetns(ns);
  const dir = routerDir(env, ns);
  await mkdir(dir, { recursive: true, mode: 0o755 });
  const h = await net.netns(ns);
  try {
    const lo = await h.link('lo');
    if (lo && !lo.up) await h.setLink('lo', { up: true });
    const hostLinks = new Map((await net.host.links()).map((l) => [l.name, l]));
    for (const leg of legs) await convergeLeg(env, h, ns, hostLinks, leg);
    const wanted = new Set(['lo', ...legs.map((l) => l.ifname)]);
    for (const l of await h.links()) if (!wanted.has(l.name)) await h.deleteLink(l.name);
    for (const f of await namespaceDiff(env, h, ns, legs)) await f.fix?.();
    const ruleset = renderRouterRuleset(env, tx.state, r, legs);
    const file = join(dir, 'ruleset.nft');
    const onDisk = await readFile(file, 'utf8').catch(() => '');
    // Replacing the table zeroes the rule counters: only when the ruleset changed or the kernel's differs.
    if (onDisk !== ruleset || tableRuleCount(await listNftTable(ns, NFT_FAMILY, NFT_TABLE)) !== ruleCount(ruleset)) {
      await writeFile(file, ruleset);
      await applyNftables(ns, file);
    }
  } finally {
    h.close();
  }
  const dm = dnsmasqPlan(env, tx.state, r, legs);
  if (!dm) {
    await env.supervisor.stop(dnsmasqDir(env, ns));
    return;
  }
  await mkdir(dm.spec.dir, { recursive: true, mode: 0o755 });
  const confFile = join(dm.spec.dir, 'dnsmasq.conf');
  const changed = (await readFile(confFile, 'utf8').catch(() => '')) !== dm.conf;
  if (changed) await writeFile(confFile, dm.conf);
  await env.supervisor.ensure(dm.spec, changed || created);
}

/** Why the kernel does not match `r`; empty when it does. */
export async function routerProblems(env: L3Env, tx: Tx, r: RouterRecord): Promise<string[]> {
  const { net } = env;
  const ns = routerNamespace(env.cfg.namespacePrefix, r.id);
  let legs: LegPlan[];
  try {
    legs = await planLegs(env, tx, r);
  } catch (e) {
    return [(e as Error).message];
  }
  if (!(await net.listNetns()).includes(ns)) return [`namespace ${ns} is missing`];
  const p: string[] = [];
  const hostLinks = new Map((await net.host.links()).map((l) => [l.name, l]));
  const h = await net.netns(ns);
  try {
    for (const leg of legs) {
      p.push(...linkProblems(leg.port, hostLinks.get(leg.port.name)));
      p.push(...linkProblems(innerSpec(leg), await h.link(leg.ifname)).map((x) => `${ns}: ${x}`));
    }
    p.push(...(await namespaceDiff(env, h, ns, legs)).map((f) => `${ns}: ${f.problem}`));
  } finally {
    h.close();
  }
  const want = ruleCount(renderRouterRuleset(env, tx.state, r, legs));
  const have = tableRuleCount(await listNftTable(ns, NFT_FAMILY, NFT_TABLE).catch(() => undefined));
  if (have !== want) p.push(`${ns}: nftables table ${NFT_TABLE} has ${have} rules, want ${want}`);
  if (dnsmasqPlan(env, tx.state, r, legs) && (await env.supervisor.info(dnsmasqDir(env, ns))).pid === 0) p.push(`${ns}: dnsmasq is not running`);
  return p;
}

export interface LegObservation {
  plan: LegPlan;
  link: Link | undefined;
  addresses: string[];
}

export interface RouterObservation {
  namespace: string;
  legs: LegObservation[];
  leases: (Lease & { subnetId: string })[];
  dhcp: { pid: number; restarts: number };
  forwarding: boolean;
  counters: Map<string, RuleCounters>;
}

export async function observeRouter(env: L3Env, tx: Tx, r: RouterRecord): Promise<RouterObservation> {
  const ns = routerNamespace(env.cfg.namespacePrefix, r.id);
  const legs = await planLegs(env, tx, r).catch((): LegPlan[] => []);
  const exists = (await env.net.listNetns()).includes(ns);
  const obs: LegObservation[] = [];
  if (exists) {
    const h = await env.net.netns(ns);
    try {
      for (const plan of legs) obs.push({ plan, link: await h.link(plan.ifname), addresses: await h.addresses(plan.ifname).catch((): string[] => []) });
    } finally {
      h.close();
    }
  } else obs.push(...legs.map((plan) => ({ plan, link: undefined, addresses: [] })));
  const leaseText = await readFile(join(dnsmasqDir(env, ns), 'leases'), 'utf8').catch(() => '');
  const subnets = r.subnet_ids.map((id) => tx.state.subnets[id]).filter((s): s is SubnetRecord => s !== undefined);
  const leases = parseLeases(leaseText).map((l) => ({
    ...l,
    subnetId:
      subnets.find((s) => {
        const net = parseCidr(s.cidr)!;
        return parseCidr(`${l.ip}/${net.prefix}`, false)?.network === net.network;
      })?.id ?? '',
  }));
  return {
    namespace: ns,
    legs: obs,
    leases,
    dhcp: await env.supervisor.info(dnsmasqDir(env, ns)),
    forwarding: exists && getSysctl(ns, 'net.ipv4.ip_forward') === '1',
    counters: exists ? natCounters(await listNftTable(ns, NFT_FAMILY, NFT_TABLE).catch(() => undefined)) : new Map<string, RuleCounters>(),
  };
}

/** Stops the router's dnsmasq and removes its legs, namespace and files (leases included). */
export async function removeRouterNamespace(env: L3Env, ns: string, hostLegs: string[]): Promise<void> {
  await env.supervisor.stop(dnsmasqDir(env, ns));
  // Deleting the host end of a veth takes the router's end with it.
  for (const name of hostLegs) await env.net.host.deleteLink(name);
  await env.net.deleteNetns(ns);
  await rm(routerDir(env, ns), { recursive: true, force: true });
}

export function routerHostLegs(r: RouterRecord): string[] {
  return [...r.subnet_ids.map((id) => legHostDevice(r.id, id)), legHostDevice(r.id, null)];
}
