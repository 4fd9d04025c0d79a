// IPv4 address and prefix arithmetic on 32-bit unsigned integers. Pure, shared by the agent and
// the provider so both validate with the same rules.

export interface Cidr {
  /** Network address (host bits zero). */
  network: number;
  prefix: number;
}

const OCTET = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

export function parseIp(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((p) => OCTET.test(p))) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

export function formatIp(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 255).join('.');
}

export function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; with `strict`, host bits must be zero (a network, not an address). */
export function parseCidr(text: string, strict = true): (Cidr & { address: number }) | undefined {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(text);
  if (!m) return undefined;
  const address = parseIp(m[1]!);
  const prefix = Number(m[2]);
  if (address === undefined || prefix > 32) return undefined;
  const network = (address & mask(prefix)) >>> 0;
  if (strict && network !== address) return undefined;
  return { network, prefix, address };
}

export function formatCidr(c: Cidr): string {
  return `${formatIp(c.network)}/${c.prefix}`;
}

export function contains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix && (inner.network & mask(outer.prefix)) >>> 0 === outer.network;
}

export function containsIp(net: Cidr, ip: number): boolean {
  return (ip & mask(net.prefix)) >>> 0 === net.network;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b) || contains(b, a);
}

export function broadcast(net: Cidr): number {
  return (net.network | ~mask(net.prefix)) >>> 0;
}

/** The first usable host address, the conventional gateway. */
export function firstHost(net: Cidr): number {
  return net.prefix >= 31 ? net.network : net.network + 1;
}

/** True when `ip` may be given to a host in `net` (not the network or broadcast address). */
export function isHostAddress(net: Cidr, ip: number): boolean {
  if (!containsIp(net, ip)) return false;
  if (net.prefix >= 31) return true;
  return ip !== net.network && ip !== broadcast(net);
}
