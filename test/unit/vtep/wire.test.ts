import { describe, expect, it } from 'vitest';
import { arpReply, arpRequestTarget, flowPort, fold, ipv6Text, naReply, nsTarget, OUTER, parseVxlan, sum16, writeOuter } from '../../../agent/vtep/wire.js';

/** True when the ICMPv6 message of an IPv6 frame has a valid checksum (pseudo-header included). */
function icmpv6ChecksumOk(f: Uint8Array): boolean {
  const len = (f[18]! << 8) | f[19]!;
  return fold(sum16(f, 54, len, sum16(f, 22, 32) + len + 58)) === 0xffff;
}

const mac = (s: string): number[] => s.split(':').map((x) => parseInt(x, 16));
const ip4 = (s: string): number[] => s.split('.').map(Number);

function arpRequest(sender: string, spa: string, tpa: string): Buffer {
  return Buffer.from([
    ...mac('ff:ff:ff:ff:ff:ff'),
    ...mac(sender),
    0x08,
    0x06,
    0,
    1,
    8,
    0,
    6,
    4,
    0,
    1,
    ...mac(sender),
    ...ip4(spa),
    0,
    0,
    0,
    0,
    0,
    0,
    ...ip4(tpa),
  ]);
}

/** An IPv4 TCP frame between two addresses and ports (headers only). */
function tcpFrame(src: string, dst: string, sport: number, dport: number): Buffer {
  const f = Buffer.alloc(14 + 20 + 20);
  f.set(mac('02:00:00:00:00:01'), 0);
  f.set(mac('02:00:00:00:00:02'), 6);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f[23] = 6;
  f.set(ip4(src), 26);
  f.set(ip4(dst), 30);
  f.writeUInt16BE(sport, 34);
  f.writeUInt16BE(dport, 36);
  return f;
}

function neighbourSolicitation(src: Buffer, target: Buffer, srcMac: string): Buffer {
  const f = Buffer.alloc(14 + 40 + 32);
  f.set(mac('33:33:ff:00:00:12'), 0);
  f.set(mac(srcMac), 6);
  f.writeUInt16BE(0x86dd, 12);
  f.writeUInt32BE(0x60000000, 14);
  f.writeUInt16BE(32, 18);
  f[20] = 58;
  f[21] = 255;
  src.copy(f, 22);
  f[54] = 135;
  target.copy(f, 62);
  return f;
}
const v6 = (hex: string): Buffer => Buffer.from(hex, 'hex');

describe('VXLAN header', () => {
  it('reads the VNI of a datagram with the I flag, ignoring reserved bits', () => {
    const d = Buffer.alloc(8 + 14);
    d[0] = 0x08 | 0x80;
    d.writeUIntBE(0xabcdef, 4, 3);
    expect(parseVxlan(d, d.length)).toBe(0xabcdef);
  });

  it('refuses datagrams without the I flag and ones too short for a header and an Ethernet frame', () => {
    const d = Buffer.alloc(8 + 14);
    expect(parseVxlan(d, d.length)).toBe('bad-flags');
    d[0] = 0x08;
    expect(parseVxlan(d, 8 + 13)).toBe('short');
    expect(parseVxlan(d, 0)).toBe('short');
  });

  it('writes IPv4, UDP and VXLAN headers in front of the frame, leaving to the kernel what it fills', () => {
    const pkt = Buffer.alloc(OUTER + 60);
    writeOuter(pkt, 60, 5001, 0xc000020b, 0xc000020c, 50000, 4789);
    expect(pkt.subarray(0, OUTER).toString('hex')).toBe(
      '45' + '00' + '0000' + '0000' + '0000' + '40' + '11' + '0000' + 'c000020b' + 'c000020c' + 'c350' + '12b5' + '004c' + '0000' + '08000000' + '00138900',
    );
  });
});

describe('flow hash', () => {
  it('is in 49152..65535, the same for a flow, and spreads different flows', () => {
    const ports = new Set<number>();
    for (let p = 40000; p < 40064; p++) {
      const f = tcpFrame('198.18.1.11', '198.18.1.12', p, 7000);
      const port = flowPort(f, 0, f.length);
      expect(port).toBeGreaterThanOrEqual(49152);
      expect(port).toBeLessThanOrEqual(65535);
      expect(flowPort(Buffer.from(f), 0, f.length)).toBe(port);
      ports.add(port);
    }
    expect(ports.size).toBeGreaterThan(56);
  });

  it('hashes a frame that is not IPv4 by its MACs and ethertype, and a short frame without reading past it', () => {
    const a = arpRequest('02:00:00:00:00:01', '198.18.1.11', '198.18.1.12');
    expect(flowPort(a, 0, a.length)).toBe(flowPort(a, 0, a.length));
    expect(flowPort(a, 0, 3)).toBeGreaterThanOrEqual(49152);
  });
});

describe('ARP', () => {
  it('finds what a broadcast request asks for, and skips gratuitous ARP and replies', () => {
    expect(arpRequestTarget(arpRequest('02:00:00:00:00:01', '198.18.1.11', '198.18.1.12'), 42)).toBe('198.18.1.12');
    expect(arpRequestTarget(arpRequest('02:00:00:00:00:01', '198.18.1.11', '198.18.1.11'), 42)).toBeUndefined();
    const reply = arpRequest('02:00:00:00:00:01', '198.18.1.11', '198.18.1.12');
    reply[21] = 2;
    expect(arpRequestTarget(reply, 42)).toBeUndefined();
    expect(arpRequestTarget(reply, 41)).toBeUndefined();
  });

  it('answers from the target MAC to the requester', () => {
    const r = arpReply(arpRequest('02:00:00:00:00:01', '198.18.1.11', '198.18.1.12'), '02:00:00:00:00:02');
    expect(r.toString('hex')).toBe('020000000001' + '020000000002' + '0806' + '0001080006040002' + '020000000002' + 'c612010c' + '020000000001' + 'c612010b');
  });
});

describe('Neighbour Discovery', () => {
  const src = v6('fe800000000000000000000000000001');
  const target = v6('20010db8000000000000000000000012');

  it('finds the target of a solicitation, in RFC 5952 text, and leaves DAD probes alone', () => {
    expect(nsTarget(neighbourSolicitation(src, target, '02:00:00:00:00:01'), 86)).toBe('2001:db8::12');
    expect(nsTarget(neighbourSolicitation(Buffer.alloc(16), target, '02:00:00:00:00:01'), 86)).toBeUndefined();
    expect(ipv6Text(v6('00000000000000000000000000000001'), 0)).toBe('::1');
    expect(ipv6Text(v6('20010db8000000010000000000000001'), 0)).toBe('2001:db8:0:1::1');
  });

  it('answers with a solicited advertisement carrying the MAC, with a valid checksum', () => {
    const na = naReply(neighbourSolicitation(src, target, '02:00:00:00:00:01'), '02:00:00:00:00:12');
    expect(na.subarray(0, 12).toString('hex')).toBe('020000000001' + '020000000012');
    expect(na.subarray(22, 38)).toEqual(target); // from the target address
    expect(na.subarray(38, 54)).toEqual(src); // to the solicitor
    expect(na[54]).toBe(136);
    expect(na[58]).toBe(0x60);
    expect(na.subarray(62, 78)).toEqual(target);
    expect(na.subarray(78, 86).toString('hex')).toBe('0201' + '020000000012');
    expect(icmpv6ChecksumOk(na)).toBe(true);
    na.writeUInt8(na[80]! ^ 1, 80);
    expect(icmpv6ChecksumOk(na)).toBe(false);
  });
});
