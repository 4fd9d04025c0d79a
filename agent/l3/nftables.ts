// The router's nftables ruleset: NAT (per-subnet SNAT, port forwards, floating IPs) and the filter
// that keeps a router to its own legs. Rendered as one file that replaces the router's table in
// one transaction, so a half-applied ruleset never exists.

import type { NatRuleRecord } from '../state/model.js';

export const NFT_FAMILY = 'inet';
export const NFT_TABLE = 'vxrouter';

export interface RulesetInput {
  /** Legs in attached subnets (inside the namespace), with the subnet CIDR and whether they serve DHCP. */
  legs: { ifname: string; cidr: string; dhcp: boolean }[];
  /** The external leg and the router's own external address; absent = no NAT at all. */
  external?: { ifname: string; ip: string; snat: boolean };
  rules: NatRuleRecord[];
  /** Networks the router never forwards or sends to: the route host's underlay, management. */
  protectedCidrs: string[];
}

const q = (s: string): string => `"${s}"`;
const set = (xs: string[]): string => (xs.length === 1 ? xs[0]! : `{ ${xs.join(', ')} }`);
const tag = (r: NatRuleRecord): string => `comment ${q(`nat:${r.id}`)}`;
const mask = (ip: string): number => (ip.includes('/') ? Number(ip.split('/')[1]) : 32);

/** The ruleset file; applying it replaces the table whether or not it exists. */
export function renderRuleset(i: RulesetInput): string {
  const legs = i.legs.map((l) => q(l.ifname));
  const dhcpLegs = i.legs.filter((l) => l.dhcp).map((l) => q(l.ifname));
  const ext = i.external;
  const prerouting: string[] = [];
  const postrouting: string[] = [];
  const counters: string[] = [];
  if (ext) {
    const x = q(ext.ifname);
    for (const r of i.rules) {
      if (r.type === 'dnat') {
        const to = `${r.internal_ip}:${r.internal_port || r.external_port}`;
        prerouting.push(`iifname ${x} ip daddr ${r.external_ip} ${r.protocol} dport ${r.external_port} dnat ip to ${to} ${tag(r)}`);
        counters.push(
          `ip daddr ${r.internal_ip} ${r.protocol} dport ${r.internal_port || r.external_port} ct status dnat ct original ip daddr ${r.external_ip} counter ${tag(r)}`,
        );
      } else if (r.type === 'dnat_and_snat') {
        prerouting.push(`iifname ${x} ip daddr ${r.external_ip} dnat ip to ${r.internal_ip} ${tag(r)}`);
        counters.push(`ip daddr ${r.internal_ip} ct status dnat ct original ip daddr ${r.external_ip} counter ${tag(r)}`);
        counters.push(`oifname ${x} ip saddr ${r.internal_ip} counter ${tag(r)}`);
      } else {
        counters.push(`oifname ${x} ip saddr ${r.internal_ip} counter ${tag(r)}`);
      }
    }
    // Most specific source first: a floating IP or SNAT rule wins over the router's own SNAT.
    const sources = i.rules.filter((r) => r.type !== 'dnat').sort((a, b) => mask(b.internal_ip) - mask(a.internal_ip));
    for (const r of sources) postrouting.push(`oifname ${x} ip saddr ${r.internal_ip} snat ip to ${r.external_ip} ${tag(r)}`);
    // A fixed address rather than masquerade: the external leg also holds floating IPs, and
    // masquerade would take whichever address the kernel lists first.
    if (ext.snat) for (const l of i.legs) postrouting.push(`oifname ${x} ip saddr ${l.cidr} snat ip to ${ext.ip}`);
  }

  const input = ['iif "lo" accept', 'ct state established,related accept', 'ct state invalid drop'];
  if (dhcpLegs.length > 0) input.push(`iifname ${set(dhcpLegs)} udp dport 67 accept`);
  if (legs.length > 0) input.push(`iifname ${set(legs)} icmp type echo-request accept`);

  const forward: string[] = [];
  const output: string[] = [];
  if (i.protectedCidrs.length > 0) {
    forward.push(`ip daddr ${set(i.protectedCidrs)} drop`);
    output.push(`ip daddr ${set(i.protectedCidrs)} drop`);
  }
  // Counting rules have no verdict, so that they see every packet of a connection.
  forward.push(...counters, 'ct state established,related accept', 'ct state invalid drop');
  if (legs.length > 0) {
    forward.push(`iifname ${set(legs)} oifname ${set(legs)} accept`);
    if (ext) {
      forward.push(`iifname ${set(legs)} oifname ${q(ext.ifname)} accept`);
      // From outside, only what a port forward or floating IP let in.
      forward.push(`iifname ${q(ext.ifname)} oifname ${set(legs)} ct status dnat accept`);
    }
  }

  const chain = (name: string, hook: string, priority: string, policy: string, rules: string[]): string =>
    [
      `  chain ${name} {`,
      `    type ${hook === 'prerouting' || hook === 'postrouting' ? 'nat' : 'filter'} hook ${hook} priority ${priority}; policy ${policy};`,
      ...rules.map((r) => `    ${r}`),
      '  }',
    ].join('\n');
  return (
    [
      '# Rendered by vxcloud-agent for one router; applied with nft -f as one transaction.',
      // Declaring the table first makes the delete succeed when it does not exist yet.
      `table ${NFT_FAMILY} ${NFT_TABLE} {}`,
      `delete table ${NFT_FAMILY} ${NFT_TABLE}`,
      `table ${NFT_FAMILY} ${NFT_TABLE} {`,
      chain('prerouting', 'prerouting', 'dstnat', 'accept', prerouting),
      chain('postrouting', 'postrouting', 'srcnat', 'accept', postrouting),
      chain('input', 'input', 'filter', 'drop', input),
      chain('forward', 'forward', 'filter', 'drop', forward),
      chain('output', 'output', 'filter', 'accept', output),
      '}',
    ].join('\n') + '\n'
  );
}

/** Rules the rendered ruleset has per chain, to tell a table changed by hand from ours. */
export function ruleCount(ruleset: string): number {
  return ruleset.split('\n').filter((l) => l.startsWith('    ') && !l.startsWith('    type ')).length;
}

export interface RuleCounters {
  packets: number;
  bytes: number;
}

interface NftJson {
  nftables?: { rule?: { comment?: string; expr?: { counter?: { packets: number; bytes: number } }[] } }[];
}

/** Sums of the counters of each NAT rule (by id), from `nft -j list table`. */
export function natCounters(json: unknown): Map<string, RuleCounters> {
  const out = new Map<string, RuleCounters>();
  for (const item of (json as NftJson)?.nftables ?? []) {
    const rule = item.rule;
    if (!rule?.comment?.startsWith('nat:')) continue;
    const id = rule.comment.slice('nat:'.length);
    const c = out.get(id) ?? { packets: 0, bytes: 0 };
    for (const e of rule.expr ?? []) {
      if (e.counter) {
        c.packets += e.counter.packets;
        c.bytes += e.counter.bytes;
      }
    }
    out.set(id, c);
  }
  return out;
}

/** Rules the kernel's table has, from `nft -j list table`. */
export function tableRuleCount(json: unknown): number {
  return ((json as NftJson)?.nftables ?? []).filter((i) => i.rule).length;
}
