// The bytes of the userspace VTEP: RFC 7348 VXLAN over IPv4/UDP, the inner flow hash that picks
// the outer source port, and ARP and Neighbour Discovery answers. Pure: no I/O, unit-tested.

/** Outer IPv4 (20) + UDP (8) + VXLAN (8): a frame read from a TAP lands right after them. */
export const OUTER = 36;
export const VXLAN_HEADER = 8;
const ETH = 14;
/** The I flag: the VNI is valid (RFC 7348 §5). The other bits are reserved and ignored on receipt. */
const FLAG_I = 0x08;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;

/** Why a datagram from the underlay was not delivered. */
export type DecapDrop = 'short' | 'bad-flags';

/** The VNI of a VXLAN datagram (UDP payload), or why it is not one we take. */
export function parseVxlan(d: Uint8Array, length: number): number | DecapDrop {
  if (length < VXLAN_HEADER + ETH) return 'short';
  if ((d[0]! & FLAG_I) === 0) return 'bad-flags';
  return (d[4]! << 16) | (d[5]! << 8) | d[6]!;
}

/**
 * Fills the outer headers in front of a frame at `pkt[OUTER..OUTER+frameLength)`. IPv4 total length,
 * id and checksum are left 0: a raw socket with IP_HDRINCL fills them. The UDP checksum is 0, which
 * IPv4 allows and kernel VTEPs send by default.
 */
export function writeOuter(pkt: Buffer, frameLength: number, vni: number, src: number, dst: number, srcPort: number, dstPort: number): void {
  pkt[0] = 0x45;
  pkt[1] = 0;
  pkt.writeUInt32BE(0, 2); // total length, id
  pkt.writeUInt16BE(0, 6); // flags, fragment offset: DF off, as kernel VTEPs by default
  pkt[8] = 64;
  pkt[9] = 17;
  pkt.writeUInt16BE(0, 10);
  pkt.writeUInt32BE(src >>> 0, 12);
  pkt.writeUInt32BE(dst >>> 0, 16);
  pkt.writeUInt16BE(srcPort, 20);
  pkt.writeUInt16BE(dstPort, 22);
  pkt.writeUInt16BE(8 + VXLAN_HEADER + frameLength, 24);
  pkt.writeUInt16BE(0, 26);
  pkt.writeUInt32BE(FLAG_I << 24, 28);
  pkt.writeUInt32BE((vni << 8) >>> 0, 32);
}

/** Sets only the destination of an already filled outer header (head-end replication). */
export function setOuterDestination(pkt: Buffer, dst: number): void {
  pkt.writeUInt32BE(dst >>> 0, 16);
}

function mix(h: number, b: number): number {
  return Math.imul(h ^ b, 0x01000193);
}

/**
 * The outer UDP source port for the inner frame at `f[off..end)` (RFC 7348 §5: a hash of the inner headers, in
 * 49152..65535): the addresses, protocol and ports of IPv4 TCP/UDP, else the MACs and ethertype,
 * so that underlay ECMP spreads flows and keeps each in order.
 */
export function flowPort(f: Uint8Array, off: number, end: number): number {
  let h = 0x811c9dc5;
  const type = end >= off + ETH ? (f[off + 12]! << 8) | f[off + 13]! : 0;
  if (type === ETHERTYPE_IPV4 && end >= off + ETH + 20) {
    const ip = off + ETH;
    for (let i = ip + 12; i < ip + 20; i++) h = mix(h, f[i]!);
    const proto = f[ip + 9]!;
    h = mix(h, proto);
    const ihl = (f[ip]! & 0x0f) * 4;
    const fragment = ((f[ip + 6]! & 0x1f) << 8) | f[ip + 7]!;
    if ((proto === 6 || proto === 17) && fragment === 0 && end >= ip + ihl + 4) {
      for (let i = ip + ihl; i < ip + ihl + 4; i++) h = mix(h, f[i]!);
    }
  } else {
    for (let i = off; i < off + Math.min(14, end - off); i++) h = mix(h, f[i]!);
  }
  h ^= h >>> 16;
  return 49152 | (h & 0x3fff);
}

/** A MAC as one number (48 bits fit a double exactly): the forwarding table's key. */
export const macNumber = (f: Uint8Array, off: number): number =>
  f[off]! * 2 ** 40 + f[off + 1]! * 2 ** 32 + ((f[off + 2]! << 24) >>> 0) + (f[off + 3]! << 16) + (f[off + 4]! << 8) + f[off + 5]!;

export const parseMac = (mac: string): number => macNumber(Uint8Array.from(macBytes(mac)), 0);

const macBytes = (mac: string): number[] => mac.split(':').map((x) => parseInt(x, 16));

/** The IPv4 a broadcast ARP request asks for, or undefined for any other frame (gratuitous ARP too). */
export function arpRequestTarget(f: Uint8Array, length: number): string | undefined {
  if (length < ETH + 28 || ((f[12]! << 8) | f[13]!) !== ETHERTYPE_ARP) return undefined;
  const a = ETH;
  // Ethernet/IPv4, request.
  if (f[a]! !== 0 || f[a + 1]! !== 1 || f[a + 2]! !== 0x08 || f[a + 3]! !== 0 || f[a + 4]! !== 6 || f[a + 5]! !== 4) return undefined;
  if (f[a + 6]! !== 0 || f[a + 7]! !== 1) return undefined;
  const spa = `${f[a + 14]}.${f[a + 15]}.${f[a + 16]}.${f[a + 17]}`;
  const tpa = `${f[a + 24]}.${f[a + 25]}.${f[a + 26]}.${f[a + 27]}`;
  return spa === tpa ? undefined : tpa;
}

/** The ARP reply `targetMac` would send to the request `req`. */
export function arpReply(req: Uint8Array, targetMac: string): Buffer {
  const r = Buffer.alloc(ETH + 28);
  const mac = macBytes(targetMac);
  const a = ETH;
  r.set(req.subarray(a + 8, a + 14), 0); // to the requester's hardware address
  r.set(mac, 6);
  r.writeUInt16BE(ETHERTYPE_ARP, 12);
  r.set(req.subarray(a, a + 6), a); // htype, ptype, hlen, plen as asked
  r.writeUInt16BE(2, a + 6);
  r.set(mac, a + 8);
  r.set(req.subarray(a + 24, a + 28), a + 14); // sender IP: the address asked for
  r.set(req.subarray(a + 8, a + 18), a + 18); // target: the requester's MAC and IP
  return r;
}

/** The target of an ICMPv6 Neighbour Solicitation (no extension headers), as a lower-case IPv6 text. */
export function nsTarget(f: Uint8Array, length: number): string | undefined {
  const ip = ETH;
  if (length < ip + 40 + 24 || ((f[12]! << 8) | f[13]!) !== ETHERTYPE_IPV6) return undefined;
  if (f[ip + 6]! !== 58 || f[ip + 7]! !== 255 || f[ip + 40]! !== 135 || f[ip + 41]! !== 0) return undefined;
  // Duplicate address detection (from ::) is left to the owner of the address.
  if (f.subarray(ip + 8, ip + 24).every((b) => b === 0)) return undefined;
  return ipv6Text(f, ip + 40 + 8);
}

export function ipv6Text(b: Uint8Array, off: number): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[off + i]! << 8) | b[off + i + 1]!).toString(16));
  return compressIpv6(groups);
}

/** RFC 5952 text: the longest run of two or more zero groups becomes "::". */
function compressIpv6(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Sum of the 16-bit words of `b[off..off+len)`, added to `acc`, for the Internet checksum. */
export function sum16(b: Uint8Array, off: number, len: number, acc = 0): number {
  const end = off + (len & ~1);
  for (let i = off; i < end; i += 2) acc += (b[i]! << 8) | b[i + 1]!;
  if (len & 1) acc += b[end]! << 8;
  return acc;
}

/** A sum folded to 16 bits with end-around carry (its complement is the checksum). */
export const fold = (acc: number): number => {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
};

/**
 * The solicited Neighbour Advertisement (RFC 4861 §7.2.4) for the solicitation `req`: from the
 * target address and `targetMac`, to the soliciting address and MAC, Solicited and Override set,
 * with the target link-layer address option.
 */
export function naReply(req: Uint8Array, targetMac: string): Buffer {
  const ip = ETH;
  const icmp = ip + 40;
  const r = Buffer.alloc(icmp + 32);
  const mac = macBytes(targetMac);
  r.set(req.subarray(6, 12), 0);
  r.set(mac, 6);
  r.writeUInt16BE(ETHERTYPE_IPV6, 12);
  r.writeUInt32BE(0x60000000, ip);
  r.writeUInt16BE(32, ip + 4);
  r[ip + 6] = 58;
  r[ip + 7] = 255;
  r.set(req.subarray(icmp + 8, icmp + 24), ip + 8); // source: the target address
  r.set(req.subarray(ip + 8, ip + 24), ip + 24); // destination: the solicitor
  r[icmp] = 136;
  r[icmp + 4] = 0x60; // Solicited, Override
  r.set(req.subarray(icmp + 8, icmp + 24), icmp + 8);
  r[icmp + 24] = 2; // target link-layer address option, 8 bytes
  r[icmp + 25] = 1;
  r.set(mac, icmp + 26);
  // Pseudo-header: addresses, upper-layer length, next header.
  let acc = sum16(r, ip + 8, 32);
  acc += 32 + 58;
  r.writeUInt16BE(~fold(sum16(r, icmp, 32, acc)) & 0xffff, icmp + 2);
  return r;
}
