// Receive coalescing for the `in` thread, pure: consecutive TCP segments of one flow that arrived
// in one burst of VXLAN datagrams become one large frame, written to the TAP with a virtio-net
// header that tells the kernel it is a TCPv4 GSO frame of `mss`-sized segments. The bridge, the
// veth and the receiving TCP then handle one packet instead of dozens, as the kernel's GRO does
// for a NIC. Only what GRO would merge is merged: IPv4 without options or fragments, the same
// addresses, ports, ACK, window and TCP options, ACK (and PSH on the last) only, contiguous
// sequence numbers, equal-sized segments but the last, and each segment's checksum verified.

import { fold, sum16 } from './wire.js';

/** struct virtio_net_hdr (no num_buffers): flags, gso_type, hdr_len, gso_size, csum_start, csum_offset. */
export const VNET_HDR = 10;
const VIRTIO_NET_HDR_F_NEEDS_CSUM = 1;
const VIRTIO_NET_HDR_GSO_TCPV4 = 1;
const ETH = 14;
const IP = 20;
/** A GSO frame's IPv4 total length is 16 bits. */
const MAX_IP_LEN = 65535;
const ACK = 0x10;
const PSH = 0x08;

/** The pseudo-header sum of an IPv4 TCP segment whose TCP header and payload are `tcpLen` bytes. */
function pseudo(f: Uint8Array, off: number, tcpLen: number): number {
  return sum16(f, off + ETH + 12, 8, 6 + tcpLen);
}

/** The TCP header's offset and the payload's, or -1 when the frame is not one coalescing takes. */
export function tcpPayload(f: Uint8Array, off: number, len: number): number {
  if (len < ETH + IP + 20 || f[off + 12] !== 0x08 || f[off + 13] !== 0x00) return -1;
  const ip = off + ETH;
  if (f[ip] !== 0x45 || f[ip + 9] !== 6) return -1;
  if ((f[ip + 6]! & 0x3f) !== 0 || f[ip + 7] !== 0) return -1; // MF or a fragment offset
  const total = (f[ip + 2]! << 8) | f[ip + 3]!;
  if (total !== len - ETH) return -1; // padding or truncation: leave it to the kernel
  const flags = f[ip + IP + 13]!;
  if ((flags & ~PSH) !== ACK) return -1;
  const payload = ip + IP + (f[ip + IP + 12]! >> 4) * 4;
  return payload < off + len ? payload - off : -1;
}

/** True when the segment's TCP checksum is right. */
export function tcpChecksumOk(f: Uint8Array, off: number, len: number): boolean {
  const tcpLen = len - ETH - IP;
  return fold(sum16(f, off + ETH + IP, tcpLen, pseudo(f, off, tcpLen))) === 0xffff;
}

const seq = (f: Uint8Array, off: number): number =>
  ((f[off + ETH + IP + 4]! << 24) | (f[off + ETH + IP + 5]! << 16) | (f[off + ETH + IP + 6]! << 8) | f[off + ETH + IP + 7]!) >>> 0;

/** A run of segments of one flow being collected. */
export class Run {
  /** Buffers and offsets of the segments' frames, and their lengths. */
  readonly frames: { b: Buffer; off: number; len: number }[] = [];
  private headerLen = 0;
  private mss = 0;
  private next = 0;
  private total = 0;
  private closed = false;

  get size(): number {
    return this.frames.length;
  }

  /** Starts the run with a segment whose payload begins at `payload` (from tcpPayload). */
  start(b: Buffer, off: number, len: number, payload: number): void {
    this.frames.length = 0;
    this.frames.push({ b, off, len });
    this.headerLen = payload;
    this.mss = len - payload;
    this.next = (seq(b, off) + this.mss) >>> 0;
    this.total = len - ETH;
    this.closed = (b[off + ETH + IP + 13]! & PSH) !== 0;
  }

  /** Adds the segment if it continues the run; false leaves the run as it was. */
  add(b: Buffer, off: number, len: number, payload: number): boolean {
    const first = this.frames[0]!;
    const data = len - payload;
    if (this.closed || payload !== this.headerLen || data > this.mss || this.total + data > MAX_IP_LEN) return false;
    if (seq(b, off) !== this.next) return false;
    const f = first.b;
    const o = first.off;
    // MACs and ethertype; IPv4 TOS, TTL, protocol, addresses; ports; ACK number, flags but PSH, window; options.
    for (let i = 0; i < 14; i++) if (b[off + i] !== f[o + i]) return false;
    if (b[off + ETH + 1] !== f[o + ETH + 1] || b[off + ETH + 8] !== f[o + ETH + 8]) return false;
    for (let i = ETH + 12; i < ETH + IP + 4; i++) if (b[off + i] !== f[o + i]) return false;
    for (let i = ETH + IP + 8; i < ETH + IP + 12; i++) if (b[off + i] !== f[o + i]) return false;
    if (b[off + ETH + IP + 14] !== f[o + ETH + IP + 14] || b[off + ETH + IP + 15] !== f[o + ETH + IP + 15]) return false;
    for (let i = ETH + IP + 20; i < payload; i++) if (b[off + i] !== f[o + i]) return false;
    this.frames.push({ b, off, len });
    this.next = (this.next + data) >>> 0;
    this.total += data;
    // A short segment or PSH ends what GRO would merge.
    this.closed = data < this.mss || (b[off + ETH + IP + 13]! & PSH) !== 0;
    return true;
  }

  /**
   * Writes the run as one frame with its virtio-net header into `out` (from 0) and returns its
   * length: the first segment's headers, every payload, the last one's PSH, IPv4 length and
   * checksum fixed, the TCP checksum left partial for the kernel (NEEDS_CSUM).
   */
  merge(out: Buffer): number {
    const first = this.frames[0]!;
    const h = this.headerLen;
    out.fill(0, 0, VNET_HDR);
    first.b.copy(out, VNET_HDR, first.off, first.off + h);
    let at = VNET_HDR + h;
    for (const s of this.frames) at += s.b.copy(out, at, s.off + h, s.off + s.len);
    const f = VNET_HDR; // the frame within out
    const last = this.frames[this.frames.length - 1]!;
    out[f + ETH + IP + 13] = (out[f + ETH + IP + 13]! & ~PSH) | (last.b[last.off + ETH + IP + 13]! & PSH);
    const ipLen = at - f - ETH;
    out.writeUInt16BE(ipLen, f + ETH + 2);
    out.writeUInt16BE(0, f + ETH + 10);
    out.writeUInt16BE(~fold(sum16(out, f + ETH, IP)) & 0xffff, f + ETH + 10);
    out.writeUInt16BE(fold(pseudo(out, f, ipLen - IP)), f + ETH + IP + 16);
    out[0] = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    out[1] = VIRTIO_NET_HDR_GSO_TCPV4;
    out.writeUInt16LE(h, 2);
    out.writeUInt16LE(this.mss, 4);
    out.writeUInt16LE(ETH + IP, 6);
    out.writeUInt16LE(16, 8);
    return at;
  }
}
