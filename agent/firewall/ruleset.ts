// The host's firewall as nftables tables, and the script that takes the kernel from one version to
// the next in one transaction. Pure.
//
// Bridged IPv4 reaches conntrack only through br_netfilter, whose IPv4 hooks see the bridge, not
// the port (and the bridge family's own `ct` needs nf_conntrack_bridge). So the bridge family
// marks each frame with the port it came in on (high 16 bits) and the port it goes out of (low 16
// bits), and checks port security, which needs no state; the inet family's forward chain, which
// br_netfilter runs between the two bridge hooks, dispatches on the mark to the NICs' chains with
// conntrack. Each bridge gets a conntrack zone, so equal addresses of two tenants never share a
// connection.

export const TABLE = 'vxsg';

export type RuleProtocol = 'tcp' | 'udp' | 'icmp' | 'any';

export interface PortRule {
  /** The security group rule's id, or "default" for the default group's. */
  id: string;
  protocol: RuleProtocol;
  portMin: number;
  portMax: number;
  /** The other end: a CIDR, a named set of group members, or anywhere. */
  peer?: { cidr: string } | { set: string };
}

export interface Port {
  nic: string;
  /** The host-side device on the bridge. */
  device: string;
  bridge: string;
  /** 1..65535, stable while the NIC lives: the frame mark's half for this port. */
  index: number;
  mac: string;
  /** Addresses and CIDRs the NIC may send from; empty = unknown (no address check). */
  addresses: string[];
  ingress: PortRule[];
  egress: PortRule[];
}

export interface FirewallPlan {
  ports: Port[];
  /** Set name → member addresses/CIDRs. */
  sets: Map<string, string[]>;
  /** Bridge → conntrack zone (1..65535). */
  zones: Map<string, number>;
}

export interface Chain {
  /** A base chain's hook line; undefined for a regular chain. */
  hook?: string;
  rules: string[];
}

export interface Table {
  family: 'bridge' | 'inet';
  chains: Map<string, Chain>;
  sets: Map<string, string[]>;
}

const q = (s: string): string => `"${s}"`;
const hex = (n: number): string => `0x${n.toString(16)}`;
const chainName = (prefix: string, device: string): string => `${prefix}_${device.replace(/[^A-Za-z0-9]/g, '_')}`;
export const ingressChain = (device: string): string => chainName('in', device);
export const egressChain = (device: string): string => chainName('out', device);
export const portSecurityChain = (device: string): string => chainName('ps', device);
const markChain = (device: string): string => chainName('om', device);
const anon = (xs: readonly string[]): string => `{ ${xs.join(', ')} }`;

function match(dir: 'ingress' | 'egress', r: PortRule): string {
  const parts: string[] = [];
  const field = dir === 'ingress' ? 'saddr' : 'daddr';
  if (r.peer && 'cidr' in r.peer) parts.push(`ip ${field} ${r.peer.cidr}`);
  else if (r.peer) parts.push(`ip ${field} @${r.peer.set}`);
  else parts.push('meta nfproto ipv4');
  if (r.protocol === 'tcp' || r.protocol === 'udp') {
    parts.push(r.portMin === 0 ? `meta l4proto ${r.protocol}` : `${r.protocol} dport ${r.portMin === r.portMax ? r.portMin : `${r.portMin}-${r.portMax}`}`);
  } else if (r.protocol === 'icmp') parts.push('meta l4proto icmp');
  return `${parts.join(' ')} counter return comment ${q(r.id)}`;
}

/** Port security: only the NIC's MAC, its addresses in ARP and IPv4, no DHCP server, nothing but IPv4 and ARP. */
function portSecurity(p: Port): string[] {
  const rules = [`ether saddr != ${p.mac} counter drop comment "spoofed mac"`, `ether type != { ip, arp } counter drop comment "not ipv4"`];
  rules.push(`arp saddr ether != ${p.mac} counter drop comment "spoofed arp"`);
  if (p.addresses.length > 0) rules.push(`arp saddr ip != ${anon(['0.0.0.0', ...p.addresses])} counter drop comment "spoofed arp"`);
  // A DHCP client asks from 0.0.0.0 before it has its address.
  rules.push('ip saddr 0.0.0.0 udp sport 68 udp dport 67 return');
  if (p.addresses.length > 0) rules.push(`ip saddr != ${anon(p.addresses)} counter drop comment "spoofed ip"`);
  rules.push('udp sport 67 counter drop comment "dhcp server"');
  return rules;
}

export function render(plan: FirewallPlan): Table[] {
  const ports = [...plan.ports].sort((a, b) => a.index - b.index);
  const bridge: Table = { family: 'bridge', chains: new Map(), sets: new Map() };
  const inet: Table = { family: 'inet', chains: new Map(), sets: new Map() };
  const pre = ['meta mark set 0x0'];
  const forward: string[] = [];
  if (ports.length > 0) {
    pre.push(`iifname vmap ${anon(ports.map((p) => `${q(p.device)} : jump ${portSecurityChain(p.device)}`))}`);
    pre.push(`meta mark set iifname map ${anon(ports.map((p) => `${q(p.device)} : ${hex(p.index << 16)}`))}`);
    forward.push(`oifname vmap ${anon(ports.map((p) => `${q(p.device)} : jump ${markChain(p.device)}`))}`);
  }
  bridge.chains.set('prerouting', { hook: 'type filter hook prerouting priority -200; policy accept;', rules: pre });
  bridge.chains.set('forward', { hook: 'type filter hook forward priority -200; policy accept;', rules: forward });
  for (const p of ports) {
    bridge.chains.set(portSecurityChain(p.device), { rules: portSecurity(p) });
    bridge.chains.set(markChain(p.device), { rules: [`meta mark set meta mark or ${hex(p.index)}`] });
  }

  const zones = [...plan.zones].sort(([a], [b]) => a.localeCompare(b));
  inet.chains.set('raw', {
    hook: 'type filter hook prerouting priority -300; policy accept;',
    rules: zones.length > 0 ? [`ct zone set iifname map ${anon(zones.map(([b, z]) => `${q(b)} : ${z}`))}`] : [],
  });
  const dispatch = ['ct state established,related accept'];
  if (ports.length > 0) {
    dispatch.push(`meta mark and 0xffff0000 vmap ${anon(ports.map((p) => `${hex(p.index << 16)} : jump ${egressChain(p.device)}`))}`);
    dispatch.push(`meta mark and 0xffff vmap ${anon(ports.map((p) => `${hex(p.index)} : jump ${ingressChain(p.device)}`))}`);
  }
  inet.chains.set('forward', { hook: 'type filter hook forward priority 0; policy accept;', rules: dispatch });
  for (const p of ports) {
    // The router's DHCP answers and a NIC's DHCP asks pass whatever the groups say, as in every cloud.
    inet.chains.set(egressChain(p.device), {
      rules: ['udp sport 68 udp dport 67 return', ...p.egress.map((r) => match('egress', r)), 'counter drop comment "drop"'],
    });
    inet.chains.set(ingressChain(p.device), {
      rules: ['udp sport 67 udp dport 68 return', ...p.ingress.map((r) => match('ingress', r)), 'counter drop comment "drop"'],
    });
  }
  const used = new Set(ports.flatMap((p) => [...p.ingress, ...p.egress]).flatMap((r) => (r.peer && 'set' in r.peer ? [r.peer.set] : [])));
  for (const name of [...used].sort()) inet.sets.set(name, [...new Set(plan.sets.get(name) ?? [])].sort());
  return [bridge, inet];
}

const SET_TYPE = 'type ipv4_addr; flags interval; auto-merge;';
const same = (a: readonly string[] | undefined, b: readonly string[]): boolean => a !== undefined && a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * The nft script from `prev` (what the kernel has; undefined = unknown) to `next`, for `nft -f`:
 * one transaction. With `prev` it touches only chains and sets that differ, so the counters of a
 * NIC whose rules did not change keep counting; without, it replaces both tables.
 */
export function script(prev: Table[] | undefined, next: Table[]): string {
  const out: string[] = [];
  for (const t of next) {
    const was = prev?.find((p) => p.family === t.family);
    const id = `${t.family} ${TABLE}`;
    if (!was) out.push(`table ${id} {}`, `delete table ${id}`, `table ${id} {}`);
    // Chains and sets first, empty, so that any rule may name them; then contents; then what went.
    for (const [name, c] of t.chains) if (!was?.chains.has(name)) out.push(`add chain ${id} ${name}${c.hook ? ` { ${c.hook} }` : ''}`);
    for (const [name, elements] of t.sets) {
      const before = was?.sets.get(name);
      if (same(before, elements)) continue;
      if (before) out.push(`flush set ${id} ${name}`);
      else out.push(`add set ${id} ${name} { ${SET_TYPE} }`);
      if (elements.length > 0) out.push(`add element ${id} ${name} ${anon(elements)}`);
    }
    for (const [name, c] of t.chains) {
      const before = was?.chains.get(name);
      if (same(before?.rules, c.rules)) continue;
      if (before) out.push(`flush chain ${id} ${name}`);
      for (const r of c.rules) out.push(`add rule ${id} ${name} ${r}`);
    }
    for (const name of was?.chains.keys() ?? []) if (!t.chains.has(name)) out.push(`flush chain ${id} ${name}`);
    for (const name of was?.chains.keys() ?? []) if (!t.chains.has(name)) out.push(`delete chain ${id} ${name}`);
    for (const name of was?.sets.keys() ?? []) if (!t.sets.has(name)) out.push(`delete set ${id} ${name}`);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}
