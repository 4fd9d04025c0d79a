// Security groups and port security at every local NIC's port: renders the host's firewall from
// desired state and the registry (policy.ts, ruleset.ts) and programs it in one nftables
// transaction per change, under the reconciler's mutex. Changes made by hand are found by the
// periodic reconcile and by a Put of the NIC (rule counts per chain) and put back.

import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { RuleCounter } from '../../gen/vxcloud/agent/v1/network.js';
import { nicDevice } from '../l2/names.js';
import { applyNftables, listNftChain, listNftTable } from '../net/nft.js';
import { execInNetns } from '../net/nsexec.js';
import { getSysctl, setSysctl } from '../net/sysctl.js';
import { serial } from '../registry/registry.js';
import type { RegistryView } from '../registry/view.js';
import { ApiError } from '../state/errors.js';
import type { DesiredState, NicRecord } from '../state/model.js';
import type { Reconciler, ReconcilerExtension, Tx } from '../state/reconciler.js';
import { filtered, firewallPlan } from './policy.js';
import { egressChain, ingressChain, portSecurityChain, render, script, TABLE, type Table } from './ruleset.js';

/** How this host enforces groups: "br_netfilter", or "none: why". */
export type FirewallMode = string;

const BRIDGE_NF = 'net.bridge.bridge-nf-call-iptables';

function bridgeNf(): boolean {
  try {
    return getSysctl(null, BRIDGE_NF) !== undefined;
  } catch {
    return false;
  }
}

/**
 * br_netfilter hands bridged IPv4 to conntrack and the inet family; loaded as a module where it
 * is one. Bridge-family conntrack (nf_conntrack_bridge) is not used: the kernels this runs on
 * lack it or have both, and one path is one thing to test.
 */
export async function probeFirewall(registry: boolean): Promise<FirewallMode> {
  if (!registry) return 'none: security groups need a registry (registry in the agent config)';
  if (!bridgeNf()) await execInNetns(null, ['modprobe', 'br_netfilter']).catch(() => undefined);
  if (!bridgeNf()) return 'none: the kernel has no br_netfilter (CONFIG_BRIDGE_NETFILTER), so bridged traffic cannot be tracked';
  setSysctl(null, BRIDGE_NF, '1');
  return 'br_netfilter';
}

interface NftRule {
  rule?: { family: string; chain: string; comment?: string; expr?: { counter?: { packets: number; bytes: number } }[] };
  set?: { family: string; name: string };
  chain?: { family: string; name: string };
}
const items = (json: unknown): NftRule[] => (json as { nftables?: NftRule[] } | undefined)?.nftables ?? [];

/** Rules per chain (and each set) in the kernel's listings, by `family/name`. */
function kernelShape(listings: unknown[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const it of listings.flatMap(items)) {
    if (it.chain) out.set(`${it.chain.family}/${it.chain.name}`, out.get(`${it.chain.family}/${it.chain.name}`) ?? 0);
    if (it.rule) out.set(`${it.rule.family}/${it.rule.chain}`, (out.get(`${it.rule.family}/${it.rule.chain}`) ?? 0) + 1);
    if (it.set) out.set(`${it.set.family}/@${it.set.name}`, 0);
  }
  return out;
}

/** The same of what was programmed; `only`: just these chains. */
function shapeOf(tables: Table[], only?: ReadonlySet<string>): Map<string, number> {
  const out = new Map<string, number>();
  for (const t of tables) {
    for (const [name, c] of t.chains) if (!only || only.has(name)) out.set(`${t.family}/${name}`, c.rules.length);
    if (!only) for (const name of t.sets.keys()) out.set(`${t.family}/@${name}`, 0);
  }
  return out;
}

/** What differs between the kernel and `want`, as problems naming the chain. */
function drift(kernel: Map<string, number>, want: Map<string, number>): string[] {
  const problems: string[] = [];
  for (const [k, n] of want) {
    const have = kernel.get(k);
    const what = k.slice(k.indexOf('/') + 1);
    if (have === undefined) problems.push(`firewall ${what} is missing`);
    else if (have !== n) problems.push(`firewall chain ${what} has ${have} rules, not ${n}`);
  }
  return problems;
}

export class Firewall implements ReconcilerExtension {
  private view: RegistryView | undefined;
  /** What the kernel has, as this process last programmed it; undefined = unknown (replace all). */
  private applied: Table[] | undefined;
  private stopped = false;
  private readonly viewChanged: () => void;

  constructor(
    private readonly r: Reconciler,
    readonly mode: FirewallMode,
    private readonly stateDir: string,
    private readonly log: Logger,
  ) {
    this.viewChanged = serial(
      () => r.transaction((tx) => this.converge(tx, false)),
      (e) => log.error({ err: e }, 'programming the firewall after a registry change failed'),
      () => this.stopped,
    );
  }

  get enforcing(): boolean {
    return this.mode === 'br_netfilter';
  }

  /** The registry changed (a rule, a group's members): ports whose sets or rules moved are reprogrammed. */
  setView(v: RegistryView): void {
    this.view = v;
    if (this.enforcing) this.viewChanged();
  }

  stop(): void {
    this.stopped = true;
  }

  /** A NIC that asks for groups where none are enforced is refused, not left open. */
  requireSupport(n: NicRecord): void {
    if ((n.security_group_ids ?? []).length > 0 && !this.enforcing) {
      throw new ApiError(
        'FAILED_PRECONDITION',
        'security_group_ids',
        `this host does not enforce security groups (${this.mode}): leave security_group_ids empty here`,
      );
    }
  }

  // ---- ReconcilerExtension ----

  async reconcile(tx: Tx): Promise<string[]> {
    try {
      await this.converge(tx, true);
      return [];
    } catch (e) {
      return [`firewall: ${(e as Error).message}`];
    }
  }

  /**
   * Before the NIC's link is on the bridge, so that its first frame is filtered (chains match
   * device names). A Put also repairs the port: chains changed by hand are programmed again.
   */
  async nicPlugging(tx: Tx, n: NicRecord): Promise<void> {
    const drifted = this.applied !== undefined && (await this.observe(n)).problems.length > 0;
    return this.converge(tx, drifted);
  }

  async nicConverged(): Promise<void> {}

  /** The NIC's chains go at the next change or reconcile; until then they match no port. */
  async nicRemoved(): Promise<void> {}

  // ---- reading back ----

  /**
   * What the NIC's port holds in the kernel: the packets each rule admitted or dropped, and how its
   * chains differ from what was programmed. Reads only the port's three chains, not the tables.
   */
  async observe(n: NicRecord): Promise<{ counters: RuleCounter[]; problems: string[] }> {
    if (!this.enforcing || !filtered(n)) return { counters: [], problems: [] };
    const dev = nicDevice(n.kind, n.id);
    const chains = [
      { family: 'inet', name: ingressChain(dev), direction: 'ingress' },
      { family: 'inet', name: egressChain(dev), direction: 'egress' },
      { family: 'bridge', name: portSecurityChain(dev), direction: 'egress' },
    ] as const;
    const listings = await Promise.all(chains.map((c) => listNftChain(null, c.family, TABLE, c.name)));
    const out = new Map<string, RuleCounter>();
    for (const [i, c] of chains.entries()) {
      for (const it of items(listings[i])) {
        const rule = it.rule;
        const id = c.family === 'bridge' ? 'port_security' : (rule?.comment ?? '');
        if (!rule || id === '') continue;
        const key = `${c.direction}/${id}`;
        const counter = out.get(key) ?? { ruleId: id, direction: c.direction, packets: 0, bytes: 0 };
        for (const e of rule.expr ?? []) {
          if (e.counter) {
            counter.packets += e.counter.packets;
            counter.bytes += e.counter.bytes;
          }
        }
        out.set(key, counter);
      }
    }
    const problems = this.applied ? drift(kernelShape(listings), shapeOf(this.applied, new Set(chains.map((c) => c.name)))) : [];
    return { counters: [...out.values()], problems };
  }

  // ---- programming ----

  private read(): Promise<unknown[]> {
    return Promise.all([listNftTable(null, 'bridge', TABLE), listNftTable(null, 'inet', TABLE)]);
  }

  /** Under the reconciler's mutex. `verify`: compare with the kernel first and rewrite what differs. */
  private async converge(tx: Tx, verify: boolean): Promise<void> {
    if (!this.enforcing || !this.view) return;
    const state = await this.allocate(tx);
    const next = render(
      firewallPlan(
        state,
        this.view,
        (id) => state.firewall!.ports[id]!,
        (n) => this.r.subnetBridge(state.subnets[n.subnet_id]!),
        (b) => state.firewall!.zones[b]!,
      ),
    );
    let prev = this.applied;
    if (verify && prev) {
      const problems = drift(kernelShape(await this.read()), shapeOf(prev));
      if (problems.length > 0) {
        this.log.warn({ problems }, 'firewall changed by hand: programming it again');
        prev = undefined;
      }
    }
    const text = script(prev, next);
    if (text === '') return;
    const file = join(this.stateDir, 'firewall.nft');
    await writeFile(file, text);
    this.applied = undefined;
    await applyNftables(null, file);
    this.applied = next;
  }

  /**
   * Port indices and conntrack zones, persisted with desired state: a frame marked by one
   * generation of the ruleset is read by the next, and a zone that moved would orphan every
   * connection in it.
   */
  private async allocate(tx: Tx): Promise<Readonly<DesiredState>> {
    const s = tx.state;
    const nics = Object.values(s.nics).filter((n) => filtered(n) && s.subnets[n.subnet_id]);
    const bridges = new Set(nics.map((n) => this.r.subnetBridge(s.subnets[n.subnet_id]!)));
    const fw = s.firewall ?? { ports: {}, zones: {} };
    const ports = Object.fromEntries(Object.entries(fw.ports).filter(([id]) => nics.some((n) => n.id === id)));
    const zones = Object.fromEntries(Object.entries(fw.zones).filter(([b]) => bridges.has(b)));
    const free = (taken: Record<string, number>): number => {
      const used = new Set(Object.values(taken));
      for (let i = 1; i <= 0xffff; i++) if (!used.has(i)) return i;
      throw new ApiError('FAILED_PRECONDITION', '', 'this host has 65535 filtered ports or bridges already');
    };
    for (const n of nics) ports[n.id] ??= free(ports);
    for (const b of bridges) zones[b] ??= free(zones);
    if (JSON.stringify({ ports, zones }) !== JSON.stringify(fw)) {
      await tx.commit((d) => {
        d.firewall = { ports, zones };
      });
    }
    return tx.state;
  }
}
