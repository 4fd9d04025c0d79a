// Validation rules for VPCs, subnets, NICs and volumes. Pure and shared: the provider runs them at plan
// time (on the attribute's path) and the agent runs them again on every call.

import { contains, containsIp, formatCidr, isHostAddress, overlaps, parseCidr, parseIp } from './ipv4.js';

/** Why a value was refused: INVALID_ARGUMENT (bad value), ALREADY_EXISTS (clash with another
 *  object), FAILED_PRECONDITION (wrong order, e.g. a parent missing or children left). */
export type ProblemCode = 'INVALID_ARGUMENT' | 'ALREADY_EXISTS' | 'FAILED_PRECONDITION';

export interface Problem {
  code: ProblemCode;
  /** The field (snake_case, as in the API and the Terraform schema). */
  field: string;
  /** What is wrong and how to fix it. */
  message: string;
}

export const VNI_MAX = 16_777_215;
const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NETNS = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

const bad = (field: string, message: string): Problem => ({ code: 'INVALID_ARGUMENT', field, message });

export function checkId(field: string, value: string): Problem[] {
  return ID.test(value) ? [] : [bad(field, `"${value}" is not a valid id: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`)];
}

export function checkCidr(field: string, value: string): Problem[] {
  if (parseCidr(value, false) === undefined) {
    return [bad(field, `"${value}" is not an IPv4 CIDR: write it as a.b.c.d/n, e.g. 198.18.0.0/16`)];
  }
  const net = parseCidr(value, true);
  if (net === undefined) {
    const loose = parseCidr(value, false)!;
    return [bad(field, `"${value}" has host bits set: the network is ${formatCidr(loose)}`)];
  }
  if (net.prefix > 30) return [bad(field, `"${value}" is too small for hosts: use a prefix of /30 or shorter`)];
  return [];
}

export function checkVni(field: string, value: number): Problem[] {
  return Number.isInteger(value) && value >= 1 && value <= VNI_MAX ? [] : [bad(field, `${value} is out of range: a VNI is 1..${VNI_MAX}`)];
}

export function checkVlan(field: string, value: number): Problem[] {
  return Number.isInteger(value) && value >= 1 && value <= 4094 ? [] : [bad(field, `${value} is out of range: a VLAN is 1..4094`)];
}

export function checkMac(field: string, value: string): Problem[] {
  if (!MAC.test(value)) return [bad(field, `"${value}" is not a MAC address: write six lower-case hex pairs, e.g. 02:00:c6:12:00:0a`)];
  if (parseInt(value.slice(0, 2), 16) & 1) return [bad(field, `"${value}" is a multicast MAC: the first octet must be even, e.g. 02:...`)];
  if (value === '00:00:00:00:00:00') return [bad(field, `"${value}" is the zero MAC: give a unicast address`)];
  return [];
}

export function checkNetns(field: string, value: string): Problem[] {
  return NETNS.test(value) && value !== '.' && value !== '..'
    ? []
    : [bad(field, `"${value}" is not a namespace name: use 1-64 letters, digits, '.', '_' or '-'`)];
}

export function checkIfname(field: string, value: string): Problem[] {
  return IFNAME.test(value) ? [] : [bad(field, `"${value}" is not an interface name: use 1-15 letters, digits, '.', '_' or '-'`)];
}

/** Volume sizes are whole 4 KiB blocks: the page size, and what every client can address. */
export const VOLUME_SIZE_ALIGNMENT = 4096;
/** A volume id is also its NBD export name and a host's data directory name. */
const VOLUME_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function checkVolumeId(field: string, value: string): Problem[] {
  return VOLUME_ID.test(value) ? [] : [bad(field, `"${value}": 1-63 lower-case letters, digits or '-', starting with a letter or digit`)];
}

export function checkVolumeSize(field: string, value: number): Problem[] {
  if (!Number.isFinite(value) || value <= 0) return [bad(field, `${value} is not a positive number of bytes`)];
  if (!Number.isInteger(value)) return [bad(field, `${value} is not a whole number of bytes`)];
  if (!Number.isSafeInteger(value)) return [bad(field, `${value} bytes is more than the largest size, ${Number.MAX_SAFE_INTEGER}`)];
  if (value % VOLUME_SIZE_ALIGNMENT !== 0) return [bad(field, `${value} is not a multiple of ${VOLUME_SIZE_ALIGNMENT}`)];
  return [];
}

export interface VpcInput {
  id: string;
  cidr: string;
}

export function validateVpc(vpc: VpcInput): Problem[] {
  return [...checkId('id', vpc.id), ...checkCidr('cidr', vpc.cidr)];
}

export interface SubnetInput {
  id: string;
  vpc_id: string;
  cidr: string;
  vni: number;
  vlan: number;
  gateway: string;
}

/** What can be wrong with a subnet's own fields; vni 0 (to be allocated) passes. */
export function subnetFieldProblems(s: SubnetInput): Problem[] {
  const problems = [...checkId('id', s.id), ...checkId('vpc_id', s.vpc_id), ...checkCidr('cidr', s.cidr)];
  if (s.vni !== 0) problems.push(...checkVni('vni', s.vni));
  if (s.vlan !== 0) problems.push(...checkVlan('vlan', s.vlan));
  const net = parseCidr(s.cidr);
  if (s.gateway !== '') {
    const gw = parseIp(s.gateway);
    if (gw === undefined) problems.push(bad('gateway', `"${s.gateway}" is not an IPv4 address`));
    else if (net && !isHostAddress(net, gw)) problems.push(bad('gateway', `${s.gateway} is not a host address of ${s.cidr}: pick one inside it`));
  }
  return problems;
}

/** `vpc` is the parent (undefined when unknown); `others` the other subnets known on the host. */
export function validateSubnet(s: SubnetInput, vpc: VpcInput | undefined, others: SubnetInput[]): Problem[] {
  const problems = [...subnetFieldProblems(s), ...(s.vni === 0 ? checkVni('vni', 0) : [])];
  if (problems.length > 0) return problems;
  const net = parseCidr(s.cidr);
  if (vpc === undefined) {
    return [{ code: 'FAILED_PRECONDITION', field: 'vpc_id', message: `VPC "${s.vpc_id}" does not exist: create it first` }];
  }
  const vpcNet = parseCidr(vpc.cidr)!;
  if (!contains(vpcNet, net!)) problems.push(bad('cidr', `${s.cidr} is not inside the VPC's ${vpc.cidr}: pick a subnet of it`));
  for (const o of others) {
    if (o.id === s.id) continue;
    if (o.vni === s.vni) {
      problems.push({ code: 'ALREADY_EXISTS', field: 'vni', message: `VNI ${s.vni} is already used by subnet "${o.id}": pick another` });
    }
    if (o.vpc_id !== s.vpc_id) continue;
    if (overlaps(parseCidr(o.cidr)!, net!)) {
      problems.push({ code: 'ALREADY_EXISTS', field: 'cidr', message: `${s.cidr} overlaps subnet "${o.id}" (${o.cidr}) in the same VPC` });
    }
    if (s.vlan !== 0 && o.vlan === s.vlan) {
      problems.push({ code: 'ALREADY_EXISTS', field: 'vlan', message: `VLAN ${s.vlan} is already used by subnet "${o.id}" in this VPC` });
    }
  }
  return problems;
}

export interface NicInput {
  id: string;
  subnet_id: string;
  kind: 'veth' | 'tap';
  mac: string;
  ip: string;
  namespace: string;
  ifname: string;
  dhcp?: boolean;
}

/** What can be wrong with a NIC's own fields; an empty MAC (to be allocated) passes. */
export function nicFieldProblems(n: NicInput): Problem[] {
  const problems = [...checkId('id', n.id), ...checkId('subnet_id', n.subnet_id), ...(n.mac === '' ? [] : checkMac('mac', n.mac))];
  if (n.kind === 'veth') {
    if (n.namespace === '') problems.push(bad('namespace', 'a veth NIC needs the namespace its far end moves into'));
    else problems.push(...checkNetns('namespace', n.namespace));
    problems.push(...checkIfname('ifname', n.ifname));
  } else if (n.namespace !== '') {
    problems.push(bad('namespace', 'a TAP NIC has no namespace: leave it empty (the VM opens the TAP)'));
  }
  if (n.dhcp && n.kind !== 'veth') problems.push(bad('dhcp', "a TAP NIC's VM runs its own DHCP client: leave dhcp off"));
  if (n.ip !== '' && parseCidr(n.ip, false) === undefined)
    problems.push(bad('ip', `"${n.ip}" is not an address with prefix: write it as a.b.c.d/n, e.g. 198.18.1.10/24`));
  return problems;
}

/**
 * A NIC's `ip` (a.b.c.d/n, already well-formed) against its subnet: inside it with the subnet's
 * prefix, a host address, not the gateway ('' = the first host; undefined = not known, unchecked).
 */
export function checkNicAddress(ip: string, cidr: string, gateway: string | undefined): Problem[] {
  const addr = parseCidr(ip, false)!;
  const net = parseCidr(cidr)!;
  if (addr.prefix !== net.prefix || !containsIp(net, addr.address))
    return [bad('ip', `${ip} is not in subnet ${cidr}: use an address of it with /${net.prefix}`)];
  if (!isHostAddress(net, addr.address)) return [bad('ip', `${ip} is the network or broadcast address of ${cidr}`)];
  if (gateway !== undefined && (gateway !== '' ? parseIp(gateway) === addr.address : addr.address === net.network + 1)) {
    return [{ code: 'ALREADY_EXISTS', field: 'ip', message: `${ip} is the subnet's gateway address: pick another` }];
  }
  return [];
}

/** `subnet` is the parent (undefined when unknown); `others` the other NICs on the host. */
export function validateNic(n: NicInput, subnet: SubnetInput | undefined, others: NicInput[]): Problem[] {
  const problems = [...nicFieldProblems(n), ...(n.mac === '' ? checkMac('mac', n.mac) : [])];
  if (problems.length > 0) return problems;
  if (subnet === undefined) {
    return [{ code: 'FAILED_PRECONDITION', field: 'subnet_id', message: `subnet "${n.subnet_id}" does not exist on this host: create it first` }];
  }
  if (n.ip !== '') problems.push(...checkNicAddress(n.ip, subnet.cidr, subnet.gateway));
  for (const o of others) {
    if (o.id === n.id) continue;
    if (o.mac === n.mac && o.subnet_id === n.subnet_id) {
      problems.push({ code: 'ALREADY_EXISTS', field: 'mac', message: `MAC ${n.mac} is already used by NIC "${o.id}" in this subnet` });
    }
    if (n.ip !== '' && o.subnet_id === n.subnet_id && o.ip.split('/')[0] === n.ip.split('/')[0]) {
      problems.push({ code: 'ALREADY_EXISTS', field: 'ip', message: `${n.ip} is already used by NIC "${o.id}"` });
    }
    if (n.kind === 'veth' && o.kind === 'veth' && o.namespace === n.namespace && o.ifname === n.ifname) {
      problems.push({
        code: 'ALREADY_EXISTS',
        field: 'ifname',
        message: `namespace "${n.namespace}" already has ${n.ifname} from NIC "${o.id}": pick another ifname`,
      });
    }
  }
  return problems;
}

export interface VtepTableInput {
  subnet_id: string;
  flood_vteps: string[];
  fdb: { mac: string; vtep: string }[];
  neighbors: { ip: string; mac: string }[];
}

export function validateVtepTable(t: VtepTableInput): Problem[] {
  const ip = (field: string, v: string): Problem[] => (parseIp(v) === undefined ? [bad(field, `"${v}" is not an IPv4 address`)] : []);
  return [
    ...checkId('subnet_id', t.subnet_id),
    ...t.flood_vteps.flatMap((v, i) => ip(`flood_vteps[${i}]`, v)),
    ...t.fdb.flatMap((e, i) => [...checkMac(`fdb[${i}].mac`, e.mac), ...ip(`fdb[${i}].vtep`, e.vtep)]),
    ...t.neighbors.flatMap((e, i) => [...ip(`neighbors[${i}].ip`, e.ip), ...checkMac(`neighbors[${i}].mac`, e.mac)]),
  ];
}
