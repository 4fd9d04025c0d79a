import { describe, expect, it } from 'vitest';
import { Run, tcpChecksumOk, tcpPayload, VNET_HDR } from '../../../agent/vtep/coalesce.js';

/** An Ethernet + IPv4 + TCP (with 12 bytes of options) segment with a valid checksum. */
function segment(seq: number, data: number, o: { flags?: number; sport?: number; tsval?: number } = {}): Buffer {
  const f = Buffer.alloc(14 + 20 + 32 + data);
  Buffer.from('020000000002020000000001', 'hex').copy(f, 0);
  f.writeUInt16BE(0x0800, 12);
  f[14] = 0x45;
  f.writeUInt16BE(20 + 32 + data, 16);
  f[14 + 8] = 64;
  f[14 + 9] = 6;
  Buffer.from('c612010bc612010c', 'hex').copy(f, 26);
  f.writeUInt16BE(o.sport ?? 40000, 34);
  f.writeUInt16BE(7000, 36);
  f.writeUInt32BE(seq, 38);
  f.writeUInt32BE(12345, 42);
  f[46] = 8 << 4;
  f[47] = o.flags ?? 0x10;
  f.writeUInt16BE(501, 48);
  Buffer.from('0101080a', 'hex').copy(f, 54); // NOP NOP timestamps
  f.writeUInt32BE(o.tsval ?? 7, 58);
  for (let i = 0; i < data; i++) f[66 + i] = (seq + i) & 0xff;
  let acc = 6 + 32 + data;
  for (let i = 26; i < 34; i += 2) acc += f.readUInt16BE(i);
  for (let i = 34; i < f.length; i += 2) acc += i + 1 < f.length ? f.readUInt16BE(i) : f[i]! << 8;
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  f.writeUInt16BE(~acc & 0xffff, 50);
  return f;
}

function collect(frames: Buffer[]): Run {
  const run = new Run();
  const p = tcpPayload(frames[0]!, 0, frames[0]!.length);
  run.start(frames[0]!, 0, frames[0]!.length, p);
  for (const f of frames.slice(1)) if (!run.add(f, 0, f.length, tcpPayload(f, 0, f.length))) break;
  return run;
}

describe('receive coalescing', () => {
  it('takes IPv4 TCP data segments with a valid checksum, and nothing else', () => {
    const s = segment(1000, 100);
    expect(tcpPayload(s, 0, s.length)).toBe(66);
    expect(tcpChecksumOk(s, 0, s.length)).toBe(true);
    s.writeUInt8(s[70]! ^ 1, 70);
    expect(tcpChecksumOk(s, 0, s.length)).toBe(false);
    expect(tcpPayload(segment(1000, 0), 0, 66)).toBe(-1); // a bare ACK
    expect(tcpPayload(segment(1000, 10, { flags: 0x11 }), 0, 76)).toBe(-1); // FIN
    const frag = segment(1000, 10);
    frag[20] = 0x20; // MF
    expect(tcpPayload(frag, 0, frag.length)).toBe(-1);
  });

  it('merges contiguous segments of one flow into a GSO frame whose bytes and checksum are right', () => {
    const frames = [segment(1000, 100), segment(1100, 100), segment(1200, 40, { flags: 0x18 })];
    const run = collect(frames);
    expect(run.size).toBe(3);
    const out = Buffer.alloc(VNET_HDR + 65536);
    const len = run.merge(out);
    expect(len).toBe(VNET_HDR + 66 + 240);
    // virtio-net header: NEEDS_CSUM, TCPv4, headers 66 bytes, mss 100, checksum from 34 at 16.
    expect([out[0], out[1], out.readUInt16LE(2), out.readUInt16LE(4), out.readUInt16LE(6), out.readUInt16LE(8)]).toEqual([1, 1, 66, 100, 34, 16]);
    const f = out.subarray(VNET_HDR, len);
    expect(f.readUInt16BE(16)).toBe(20 + 32 + 240);
    expect(f[47]).toBe(0x18); // the last segment's PSH
    expect(f.subarray(66)).toEqual(Buffer.concat(frames.map((s) => s.subarray(66))));
    let ip = 0;
    for (let i = 14; i < 34; i += 2) ip += f.readUInt16BE(i);
    while (ip > 0xffff) ip = (ip & 0xffff) + (ip >>> 16);
    expect(ip).toBe(0xffff);
    // Finish the partial checksum as the kernel would; the frame is then a valid segment.
    let acc = 0;
    for (let i = 34; i < f.length; i += 2) acc += i + 1 < f.length ? f.readUInt16BE(i) : f[i]! << 8;
    while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
    f.writeUInt16BE(~acc & 0xffff, 50);
    expect(tcpChecksumOk(f, 0, f.length)).toBe(true);
  });

  it('stops at a gap, another flow, other options, a longer segment, or after PSH or a short one', () => {
    expect(collect([segment(1000, 100), segment(1200, 100)]).size).toBe(1);
    expect(collect([segment(1000, 100), segment(1100, 100, { sport: 40001 })]).size).toBe(1);
    expect(collect([segment(1000, 100), segment(1100, 100, { tsval: 8 })]).size).toBe(1);
    expect(collect([segment(1000, 100), segment(1100, 120)]).size).toBe(1);
    expect(collect([segment(1000, 100, { flags: 0x18 }), segment(1100, 100)]).size).toBe(1);
    expect(collect([segment(1000, 100), segment(1100, 50), segment(1150, 50)]).size).toBe(2);
  });

  it('never makes an IPv4 packet longer than 65535 bytes', () => {
    const frames = Array.from({ length: 50 }, (_, i) => segment(1000 + i * 1400, 1400));
    const run = collect(frames);
    expect(20 + 32 + run.size * 1400).toBeLessThanOrEqual(65535);
    expect(run.size).toBe(46);
  });
});
