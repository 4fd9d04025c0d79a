// Validation rules for routers and NAT rules. Pure and shared like validation.ts: the provider runs
// them at plan time with what it knows (vxcloud_router, vxcloud_nat_rule), the agent again on every
// call with what the host holds.

import { contains, firstHost, formatIp, isHostAddress, parseCidr, parseIp } from './ipv4.js';
import { checkId, checkMac, type Problem, type SubnetInput, type VpcInput } from './validation.js';

export interface ReservationInput {
  subnet_id: string;
  mac: string;
  ip: string;
  hostname: string;
}

export interface RouterInput {
  id: string;
  vpc_id: string;
  subnet_ids: string[];
  external_network: string;
  external_ip: string;
  snat: boolean;
  dhcp_disabled_subnet_ids: string[];
  reservations: ReservationInput[];
  dhcp_lease_seconds: number;
}

export interface NatRuleInput {
  id: string;
  router_id: string;
  type: 'dnat' | 'snat' | 'dnat_and_snat';
  protocol: 'tcp' | 'udp' | '';
  external_ip: string;
  external_port: number;
  internal_ip: string;
  internal_port: number;
}

const bad = (field: string, message: string): Problem => ({ code: 'INVALID_ARGUMENT', field, message });
const clash = (field: string, message: string): Problem => ({ code: 'ALREADY_EXISTS', field, message });
const missing = (field: string, message: string): Problem => ({ code: 'FAILED_PRECONDITION', field, message });

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
export const DHCP_LEASE_MIN_SECONDS = 120;

/** The gateway of a subnet: its own, or the first host address. */
export function subnetGateway(s: SubnetInput): string {
  if (s.gateway !== '') return s.gateway;
  return formatIp(firstHost(parseCidr(s.cidr)!));
}

export function checkIp(field: string, v: string): Problem[] {
  return parseIp(v) === undefined ? [bad(field, `"${v}" is not an IPv4 address: write it as a.b.c.d, without prefix length`)] : [];
}

/** A host address of `s` that is not its gateway. */
function checkSubnetHost(field: string, ip: string, s: SubnetInput): Problem[] {
  const net = parseCidr(s.cidr)!;
  if (!isHostAddress(net, parseIp(ip)!)) return [bad(field, `${ip} is not a host address of subnet "${s.id}" (${s.cidr})`)];
  if (ip === subnetGateway(s)) return [bad(field, `${ip} is the gateway of subnet "${s.id}": the router holds it`)];
  return [];
}

export interface RouterEnv {
  /** The router's VPC, undefined when it does not exist. */
  vpc: VpcInput | undefined;
  /** Subnets known where the router goes. */
  subnets: SubnetInput[];
  /** Other routers on the same host. */
  routers: RouterInput[];
  /** The CIDR of the named external network, when known. */
  externalCidr?: string;
}

export function validateRouter(r: RouterInput, env: RouterEnv): Problem[] {
  const p = [...checkId('id', r.id), ...checkId('vpc_id', r.vpc_id)];
  r.subnet_ids.forEach((id, i) => {
    p.push(...checkId(`subnet_ids[${i}]`, id));
    if (r.subnet_ids.indexOf(id) !== i) p.push(bad(`subnet_ids[${i}]`, `subnet "${id}" is listed twice`));
  });
  r.dhcp_disabled_subnet_ids.forEach((id, i) => {
    if (!r.subnet_ids.includes(id)) p.push(bad(`dhcp_disabled_subnet_ids[${i}]`, `"${id}" is not one of subnet_ids`));
  });
  if (r.external_network === '') {
    if (r.external_ip !== '') p.push(bad('external_ip', 'needs external_network: name the external network the address is on'));
    if (r.snat) p.push(bad('snat', "needs external_network: SNAT translates to the router's external address"));
  } else {
    p.push(...checkId('external_network', r.external_network));
    if (r.external_ip === '') p.push(bad('external_ip', "required with external_network: the router's address on it"));
    else p.push(...checkIp('external_ip', r.external_ip));
  }
  if (r.dhcp_lease_seconds !== 0 && !(Number.isInteger(r.dhcp_lease_seconds) && r.dhcp_lease_seconds >= DHCP_LEASE_MIN_SECONDS)) {
    p.push(bad('dhcp_lease_seconds', `${r.dhcp_lease_seconds}: use 0 (the default) or at least ${DHCP_LEASE_MIN_SECONDS} seconds`));
  }
  r.reservations.forEach((v, i) => {
    const f = `reservations[${i}]`;
    if (!r.subnet_ids.includes(v.subnet_id)) p.push(bad(`${f}.subnet_id`, `"${v.subnet_id}" is not one of subnet_ids`));
    p.push(...checkMac(`${f}.mac`, v.mac), ...checkIp(`${f}.ip`, v.ip));
    if (v.hostname !== '' && !HOSTNAME.test(v.hostname)) p.push(bad(`${f}.hostname`, `"${v.hostname}" is not a host name: 1-63 letters, digits or '-'`));
    const dup = r.reservations.findIndex((o) => o.subnet_id === v.subnet_id && (o.mac === v.mac || o.ip === v.ip));
    if (dup !== i)
      p.push(clash(f, `subnet "${v.subnet_id}" already reserves ${r.reservations[dup]!.ip} for ${r.reservations[dup]!.mac} (reservations[${dup}])`));
  });
  if (p.length > 0) return p;

  if (env.vpc === undefined) return [missing('vpc_id', `VPC "${r.vpc_id}" does not exist on this host: create it first`)];
  r.subnet_ids.forEach((id, i) => {
    const s = env.subnets.find((x) => x.id === id);
    if (!s) p.push(missing(`subnet_ids[${i}]`, `subnet "${id}" does not exist on this host: create it here first (the router's leg joins its bridge)`));
    else if (s.vpc_id !== r.vpc_id) p.push(bad(`subnet_ids[${i}]`, `subnet "${id}" belongs to VPC "${s.vpc_id}", not "${r.vpc_id}"`));
  });
  r.reservations.forEach((v, i) => {
    const s = env.subnets.find((x) => x.id === v.subnet_id);
    if (s) p.push(...checkSubnetHost(`reservations[${i}].ip`, v.ip, s));
  });
  if (env.externalCidr !== undefined && r.external_ip !== '') {
    const net = parseCidr(env.externalCidr)!;
    if (!isHostAddress(net, parseIp(r.external_ip)!))
      p.push(bad('external_ip', `${r.external_ip} is not a host address of the external network ${env.externalCidr}`));
  }
  for (const o of env.routers) {
    if (o.id === r.id) continue;
    const shared = r.subnet_ids.filter((id) => o.subnet_ids.includes(id));
    if (shared.length > 0) p.push(clash('subnet_ids', `subnet "${shared[0]}" already has router "${o.id}": a subnet has one gateway`));
    if (r.external_ip !== '' && o.external_network === r.external_network && o.external_ip === r.external_ip) {
      p.push(clash('external_ip', `${r.external_ip} is already router "${o.id}"'s external address`));
    }
  }
  return p;
}

export interface NatEnv {
  /** The rule's router, undefined when it does not exist. */
  router: RouterInput | undefined;
  /** The router's subnets. */
  subnets: SubnetInput[];
  /** Every router on the host (external addresses are shared by the host's external network). */
  routers: RouterInput[];
  /** Every other NAT rule on the host. */
  rules: NatRuleInput[];
  externalCidr?: string;
}

/** The subnet of `subnets` that holds `internal` (an address, or for snat a CIDR), if any. */
function internalSubnet(internal: string, subnets: SubnetInput[]): SubnetInput | undefined {
  const inner = parseCidr(internal, true) ?? (parseIp(internal) !== undefined ? { network: parseIp(internal)!, prefix: 32 } : undefined);
  if (!inner) return undefined;
  return subnets.find((s) => contains(parseCidr(s.cidr)!, inner));
}

export function validateNatRule(n: NatRuleInput, env: NatEnv): Problem[] {
  const p = [...checkId('id', n.id), ...checkId('router_id', n.router_id), ...checkIp('external_ip', n.external_ip)];
  const port = (field: string, v: number, allowZero: boolean): void => {
    if (!Number.isInteger(v) || v < (allowZero ? 0 : 1) || v > 65535)
      p.push(bad(field, `${v} is not a port: 1..65535${allowZero ? ', or 0 for the same as external_port' : ''}`));
  };
  if (n.type === 'dnat') {
    if (n.protocol === '') p.push(bad('protocol', 'a port forward needs tcp or udp'));
    port('external_port', n.external_port, false);
    port('internal_port', n.internal_port, true);
    p.push(...checkIp('internal_ip', n.internal_ip));
  } else {
    if (n.protocol !== '') p.push(bad('protocol', `${n.type} translates every protocol: leave protocol unspecified`));
    if (n.external_port !== 0) p.push(bad('external_port', `${n.type} translates addresses only: leave it 0`));
    if (n.internal_port !== 0) p.push(bad('internal_port', `${n.type} translates addresses only: leave it 0`));
    if (n.type === 'dnat_and_snat') p.push(...checkIp('internal_ip', n.internal_ip));
    else if (parseIp(n.internal_ip) === undefined && parseCidr(n.internal_ip) === undefined) {
      p.push(bad('internal_ip', `"${n.internal_ip}" is neither an IPv4 address nor a network such as 198.18.1.0/24`));
    }
  }
  if (p.length > 0) return p;

  const r = env.router;
  if (r === undefined) return [missing('router_id', `router "${n.router_id}" does not exist on this host: create it first`)];
  if (r.external_network === '') return [missing('router_id', `router "${r.id}" has no external network: give it external_network and external_ip first`)];
  if (env.externalCidr !== undefined) {
    const net = parseCidr(env.externalCidr)!;
    if (!isHostAddress(net, parseIp(n.external_ip)!))
      p.push(bad('external_ip', `${n.external_ip} is not a host address of the external network ${env.externalCidr}`));
  }
  const s = internalSubnet(n.internal_ip, env.subnets);
  if (!s) p.push(bad('internal_ip', `${n.internal_ip} is not inside any subnet of router "${r.id}" (${env.subnets.map((x) => x.cidr).join(', ') || 'none'})`));
  else if (parseIp(n.internal_ip) !== undefined) p.push(...checkSubnetHost('internal_ip', n.internal_ip, s));
  if (n.type === 'dnat_and_snat' && n.external_ip === r.external_ip) {
    p.push(bad('external_ip', `${n.external_ip} is the router's own address: a floating IP needs an address of its own`));
  }
  for (const o of env.routers) {
    if (o.id !== r.id && o.external_network === r.external_network && o.external_ip === n.external_ip) {
      p.push(clash('external_ip', `${n.external_ip} is router "${o.id}"'s external address`));
    }
  }
  for (const o of env.rules) {
    if (o.id === n.id) continue;
    const sameExt = o.external_ip === n.external_ip;
    if (sameExt && (o.type === 'dnat_and_snat' || n.type === 'dnat_and_snat')) {
      p.push(clash('external_ip', `${n.external_ip} is already used by NAT rule "${o.id}" (${o.type})`));
    } else if (sameExt && n.type === 'dnat' && o.type === 'dnat' && o.protocol === n.protocol && o.external_port === n.external_port) {
      p.push(clash('external_port', `${n.protocol} ${n.external_ip}:${n.external_port} is already forwarded by NAT rule "${o.id}"`));
    } else if (sameExt && o.router_id !== n.router_id && o.type !== 'snat' && n.type !== 'snat') {
      p.push(clash('external_ip', `${n.external_ip} is already used by router "${o.router_id}" (NAT rule "${o.id}")`));
    }
    if (o.router_id === n.router_id && o.type !== 'dnat' && n.type !== 'dnat' && o.internal_ip === n.internal_ip) {
      p.push(clash('internal_ip', `${n.internal_ip} is already translated by NAT rule "${o.id}" (${o.type})`));
    }
  }
  return p;
}

/** The external addresses a router answers for: its own, then those of its NAT rules. */
export function routerExternalAddresses(r: RouterInput, rules: NatRuleInput[]): string[] {
  const out = r.external_ip === '' ? [] : [r.external_ip];
  for (const n of rules) if (n.router_id === r.id && !out.includes(n.external_ip)) out.push(n.external_ip);
  return out;
}
