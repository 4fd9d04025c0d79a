// The router's DHCP server: one dnsmasq per router namespace, DHCP only (DNS off), configured by a
// file rendered from validated records, with a lease file that outlives restarts.

import { broadcast, firstHost, formatIp, mask, parseCidr, parseIp } from '../../lib/ipv4.js';

export const DEFAULT_LEASE_SECONDS = 3600;

export interface DhcpSubnet {
  /** dnsmasq tag of the subnet: `s` + VNI. */
  vni: number;
  /** The router's leg in the subnet. */
  ifname: string;
  cidr: string;
  gateway: string;
  mtu: number;
  reservations: { mac: string; ip: string; hostname: string }[];
}

export interface DnsmasqConfig {
  leaseFile: string;
  pidFile: string;
  leaseSeconds: number;
  subnets: DhcpSubnet[];
}

/** The subnet's host addresses minus the gateway, as one or two ranges. */
export function dhcpRanges(cidr: string, gateway: string): [string, string][] {
  const net = parseCidr(cidr)!;
  const first = firstHost(net);
  const last = net.prefix >= 31 ? broadcast(net) : broadcast(net) - 1;
  const gw = parseIp(gateway)!;
  const ranges: [number, number][] = [];
  if (gw > first) ranges.push([first, gw - 1]);
  if (gw < last) ranges.push([Math.max(first, gw + 1), last]);
  return ranges.map(([a, b]) => [formatIp(a), formatIp(b)]);
}

export function renderDnsmasqConf(c: DnsmasqConfig): string {
  const lines = [
    '# Rendered by vxcloud-agent for one router; replaced on every change.',
    // DHCP only: the router serves no DNS, and reads nothing of the host's resolver setup.
    'port=0',
    'no-resolv',
    'no-hosts',
    'dhcp-authoritative',
    `dhcp-leasefile=${c.leaseFile}`,
    `pid-file=${c.pidFile}`,
    'log-facility=-',
    'log-dhcp',
    'except-interface=lo',
  ];
  for (const s of c.subnets) {
    const tag = `s${s.vni}`;
    const netmask = formatIp(mask(parseCidr(s.cidr)!.prefix));
    lines.push(`interface=${s.ifname}`);
    for (const [a, b] of dhcpRanges(s.cidr, s.gateway)) lines.push(`dhcp-range=set:${tag},${a},${b},${netmask},${c.leaseSeconds}`);
    lines.push(`dhcp-option=tag:${tag},option:router,${s.gateway}`);
    lines.push(`dhcp-option=tag:${tag},option:mtu,${s.mtu}`);
    for (const r of s.reservations) lines.push(`dhcp-host=${r.mac},${r.ip}${r.hostname ? `,${r.hostname}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

export function dnsmasqArgv(confFile: string): string[] {
  return ['dnsmasq', '--keep-in-foreground', `--conf-file=${confFile}`];
}

export interface Lease {
  /** Unix seconds; 0 = infinite. */
  expires: number;
  mac: string;
  ip: string;
  hostname: string;
}

/** dnsmasq's lease file: `expiry mac ip hostname client-id` per line (IPv6 lines skipped). */
export function parseLeases(text: string): Lease[] {
  const out: Lease[] = [];
  for (const line of text.split('\n')) {
    const [expires, mac, ip, hostname] = line.trim().split(/\s+/);
    if (!expires || !mac || !ip || parseIp(ip) === undefined || !/^\d+$/.test(expires)) continue;
    out.push({ expires: Number(expires), mac, ip, hostname: hostname && hostname !== '*' ? hostname : '' });
  }
  return out;
}
