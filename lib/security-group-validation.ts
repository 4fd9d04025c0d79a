// Validation rules for security groups, their rules and a NIC's filtering fields. Pure and shared:
// the provider runs them at plan time, the agent again on every call.

import { formatCidr, parseCidr, parseIp } from './ipv4.js';
import { checkId, type Problem } from './validation.js';

export const DIRECTIONS = ['ingress', 'egress'] as const;
export const PROTOCOLS = ['tcp', 'udp', 'icmp', 'any'] as const;
export const MAX_GROUPS_PER_NIC = 16;

const bad = (field: string, message: string): Problem => ({ code: 'INVALID_ARGUMENT', field, message });

export interface GroupInput {
  id: string;
  name: string;
  description: string;
}

export function groupProblems(g: GroupInput): Problem[] {
  const problems = checkId('id', g.id);
  if (g.name.length > 255) problems.push(bad('name', 'is longer than 255 characters'));
  if (g.description.length > 1024) problems.push(bad('description', 'is longer than 1024 characters'));
  return problems;
}

export interface RuleInput {
  id: string;
  security_group_id: string;
  direction: string;
  protocol: string;
  port_min: number;
  port_max: number;
  cidr: string;
  remote_group_id: string;
}

/** An IPv4 CIDR with no host bits (a /0 is allowed: anywhere). */
export function checkRuleCidr(field: string, value: string): Problem[] {
  const loose = parseCidr(value, false);
  if (!loose) return [bad(field, `"${value}" is not an IPv4 CIDR: write it as a.b.c.d/n, e.g. 198.18.0.0/16 or 0.0.0.0/0`)];
  if (!parseCidr(value, true)) return [bad(field, `"${value}" has host bits set: the network is ${formatCidr(loose)}`)];
  return [];
}

export function checkPorts(protocol: string, min: number, max: number): Problem[] {
  if (protocol !== 'tcp' && protocol !== 'udp') {
    return min !== 0 || max !== 0 ? [bad('port_min', `protocol ${protocol} has no ports: leave port_min and port_max unset`)] : [];
  }
  if (min === 0 && max === 0) return [];
  const problems: Problem[] = [];
  for (const [f, v] of [
    ['port_min', min],
    ['port_max', max],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 65535) problems.push(bad(f, `${v} is not a port: use 1..65535 (both unset: every port)`));
  }
  if (problems.length === 0 && min > max) problems.push(bad('port_max', `${max} is below port_min ${min}: port_max is the last port of the range`));
  return problems;
}

export function ruleProblems(r: RuleInput): Problem[] {
  const problems = [...checkId('id', r.id), ...checkId('security_group_id', r.security_group_id)];
  if (!(DIRECTIONS as readonly string[]).includes(r.direction)) problems.push(bad('direction', `"${r.direction}" is not a direction: use ingress or egress`));
  if (!(PROTOCOLS as readonly string[]).includes(r.protocol)) problems.push(bad('protocol', `"${r.protocol}" is not a protocol: use tcp, udp, icmp or any`));
  else problems.push(...checkPorts(r.protocol, r.port_min, r.port_max));
  if (r.cidr !== '' && r.remote_group_id !== '') {
    problems.push(bad('remote_group_id', 'a rule names either a cidr or a remote group, not both: remove one'));
  }
  if (r.cidr !== '') problems.push(...checkRuleCidr('cidr', r.cidr));
  if (r.remote_group_id !== '') problems.push(...checkId('remote_group_id', r.remote_group_id));
  return problems;
}

export interface NicFilterInput {
  security_group_ids: string[];
  port_security: boolean;
  allowed_addresses: string[];
}

/** An allowed address is an IPv4 address or CIDR (a.b.c.d or a.b.c.d/n). */
export function checkAllowedAddress(field: string, value: string): Problem[] {
  if (value.includes('/')) return checkRuleCidr(field, value);
  return parseIp(value) === undefined ? [bad(field, `"${value}" is not an IPv4 address or CIDR, e.g. 198.18.1.100 or 198.18.1.96/28`)] : [];
}

export function nicFilterProblems(n: NicFilterInput): Problem[] {
  const problems: Problem[] = [];
  if (n.security_group_ids.length > MAX_GROUPS_PER_NIC)
    problems.push(bad('security_group_ids', `${n.security_group_ids.length} groups: a NIC is in at most ${MAX_GROUPS_PER_NIC}`));
  if (new Set(n.security_group_ids).size !== n.security_group_ids.length) problems.push(bad('security_group_ids', 'names a group twice: list each once'));
  for (const g of n.security_group_ids) problems.push(...checkId('security_group_ids', g));
  if (!n.port_security && n.security_group_ids.length > 0) {
    problems.push(
      bad('port_security', 'port security off leaves the port unfiltered, so security_group_ids would not apply: remove them, or keep port security on'),
    );
  }
  if (!n.port_security && n.allowed_addresses.length > 0) {
    problems.push(bad('allowed_addresses', 'with port security off the NIC may send from any address already: remove allowed_addresses'));
  }
  for (const a of n.allowed_addresses) problems.push(...checkAllowedAddress('allowed_addresses', a));
  return problems;
}
