import { describe, expect, it } from 'vitest';
import {
  attr,
  be16,
  decodeMsgs,
  encodeMsg,
  errorCode,
  ifaddrmsg,
  ifinfomsg,
  ndmsg,
  nest,
  parseAttrs,
  parseIfaddrmsg,
  parseIfinfomsg,
  parseNdmsg,
  parseRtmsg,
  readStr,
  rtmsg,
  str,
  u32,
  u8,
} from '../../../agent/net/codec.js';

const hex = (b: Buffer): string => b.toString('hex');

describe('netlink messages', () => {
  it('encodes the header in host (little-endian) order and pads to 4 bytes', () => {
    const m = encodeMsg(16, 0x605, 0x01020304, Buffer.from([0xaa, 0xbb, 0xcc]));
    expect(hex(m)).toBe('13000000' + '1000' + '0506' + '04030201' + '00000000' + 'aabbcc' + '00');
  });

  it('splits a datagram of several messages and round-trips each', () => {
    const a = encodeMsg(2, 0, 7, Buffer.from([0xec, 0xff, 0xff, 0xff]));
    const b = encodeMsg(3, 2, 8, Buffer.alloc(4));
    const c = encodeMsg(28, 0x100, 9, Buffer.from('abcde'));
    const msgs = decodeMsgs(Buffer.concat([a, b, c]));
    expect(msgs.map((m) => [m.type, m.flags, m.seq])).toEqual([
      [2, 0, 7],
      [3, 2, 8],
      [28, 0x100, 9],
    ]);
    expect(errorCode(msgs[0]!.data)).toBe(20);
    expect(errorCode(msgs[1]!.data)).toBe(0);
    expect(msgs[2]!.data.toString()).toBe('abcde');
    expect(hex(encodeMsg(msgs[2]!.type, msgs[2]!.flags, msgs[2]!.seq, msgs[2]!.data))).toBe(hex(c));
  });

  it('rejects a message whose length runs past the datagram', () => {
    const m = encodeMsg(16, 0, 1, Buffer.alloc(8));
    expect(() => decodeMsgs(m.subarray(0, 20))).toThrow(/malformed/);
  });
});

describe('attributes', () => {
  it('encodes type-length-value with padding, and nested attributes with or without NLA_F_NESTED', () => {
    expect(hex(attr(3, str('br0')))).toBe('0800' + '0300' + '62723000');
    expect(hex(attr(1, u8(1)))).toBe('0500' + '0100' + '01000000');
    expect(hex(attr(15, be16(4789)))).toBe('0600' + '0f00' + '12b50000');
    expect(hex(nest(12, [attr(8, u8(0))], true))).toBe('0c00' + '0c80' + '0500080000000000');
    expect(hex(nest(18, [attr(1, str('vxlan'))]))).toBe('1000' + '1200' + '0a000100' + '7678' + '6c616e00' + '0000');
  });

  it('parses what it encodes, masking flag bits off the type', () => {
    const buf = Buffer.concat([attr(3, str('vx100')), attr(4, u32(1450)), nest(12, [attr(32, u8(1))], true)]);
    const a = parseAttrs(buf);
    expect(readStr(a.get(3))).toBe('vx100');
    expect(a.get(4)!.readUInt32LE(0)).toBe(1450);
    expect(parseAttrs(a.get(12)!).get(32)).toEqual(Buffer.from([1]));
    expect([...a.keys()]).toEqual([3, 4, 12]);
  });

  it('stops at a truncated attribute instead of reading past the buffer', () => {
    const buf = Buffer.concat([attr(1, u32(5)), Buffer.from([0x20, 0x00, 0x02, 0x00])]);
    expect([...parseAttrs(buf).keys()]).toEqual([1]);
  });
});

describe('fixed headers', () => {
  it('round-trips ifinfomsg', () => {
    const m = { family: 7, type: 1, index: 42, flags: 0x1003, change: 1 };
    const b = ifinfomsg(m);
    expect(hex(b)).toBe('0700' + '0100' + '2a000000' + '03100000' + '01000000');
    expect(parseIfinfomsg(b)).toEqual(m);
  });

  it('round-trips ifaddrmsg', () => {
    const m = { family: 2, prefixlen: 24, flags: 0x80, scope: 0, index: 3 };
    expect(hex(ifaddrmsg(m))).toBe('02188000' + '03000000');
    expect(parseIfaddrmsg(ifaddrmsg(m))).toEqual(m);
  });

  it('round-trips rtmsg', () => {
    const m = { family: 2, dstLen: 0, srcLen: 0, tos: 0, table: 254, protocol: 4, scope: 0, type: 1, flags: 0 };
    expect(hex(rtmsg(m))).toBe('02000000' + 'fe040001' + '00000000');
    expect(parseRtmsg(rtmsg(m))).toEqual(m);
  });

  it('round-trips ndmsg', () => {
    const m = { family: 7, index: 9, state: 0x80, flags: 0x02, type: 0 };
    expect(hex(ndmsg(m))).toBe('07000000' + '09000000' + '8000' + '02' + '00');
    expect(parseNdmsg(ndmsg(m))).toEqual(m);
  });
});
