import fc from 'fast-check';
import { describe, expect, test } from 'vitest';

import {
  decodeClientFlags,
  decodeExportNameReply,
  decodeGreeting,
  decodeInfo,
  decodeInfoRequest,
  decodeOptionHeader,
  decodeOptionReplyHeader,
  decodeRequestHeader,
  decodeServerEntry,
  decodeSimpleReplyHeader,
  decodeString,
  encodeClientFlags,
  encodeExportNameReply,
  encodeGreeting,
  encodeInfo,
  encodeInfoRequest,
  encodeOption,
  encodeOptionReply,
  encodeRequestHeader,
  encodeServerEntry,
  encodeSimpleReplyHeader,
  encodeString,
  OPTION_REPLY_HEADER_LENGTH,
  ProtocolError,
  type Info,
} from '../../../agent/sbs/nbd/codec.js';
import {
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INFO_NAME,
  NBD_OPT_GO,
  NBD_REP_ERR_UNKNOWN,
  OPTION_HEADER_LENGTH,
} from '../../../agent/sbs/nbd/protocol.js';

const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const size = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const nbdString = fc.string({ unit: 'grapheme', maxLength: 200 }).filter((s) => !s.includes('\0'));

describe('handshake messages', () => {
  test('greeting is NBDMAGIC, IHAVEOPT and the handshake flags', () => {
    const g = encodeGreeting();
    expect(g.toString('latin1', 0, 16)).toBe('NBDMAGICIHAVEOPT');
    expect(decodeGreeting(g).handshakeFlags).toBe(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    const bad = Buffer.from(g);
    bad[0] = 0;
    expect(() => decodeGreeting(bad)).toThrow(ProtocolError);
  });

  test('client flags round-trip as 32-bit big endian', () => {
    fc.assert(fc.property(u32, (flags) => decodeClientFlags(encodeClientFlags(flags)) === flags));
    expect(encodeClientFlags(3)).toEqual(Buffer.from([0, 0, 0, 3]));
  });

  test('option header round-trips and rejects a bad magic', () => {
    fc.assert(
      fc.property(u32, fc.uint8Array({ maxLength: 64 }), (option, data) => {
        const wire = encodeOption(option, Buffer.from(data));
        const header = decodeOptionHeader(wire.subarray(0, OPTION_HEADER_LENGTH));
        expect(header).toEqual({ option, length: data.length });
        expect(wire.subarray(OPTION_HEADER_LENGTH)).toEqual(Buffer.from(data));
      }),
    );
    const wire = encodeOption(1);
    wire.writeUInt8(wire.readUInt8(3) ^ 0xff, 3);
    expect(() => decodeOptionHeader(wire)).toThrow(/magic/);
  });

  test('option reply round-trips, error types included', () => {
    fc.assert(
      fc.property(u32, u32, fc.uint8Array({ maxLength: 64 }), (option, type, data) => {
        const wire = encodeOptionReply(option, type, Buffer.from(data));
        expect(decodeOptionReplyHeader(wire.subarray(0, OPTION_REPLY_HEADER_LENGTH))).toEqual({
          option,
          type,
          length: data.length,
        });
      }),
    );
    const err = encodeOptionReply(NBD_OPT_GO, NBD_REP_ERR_UNKNOWN, Buffer.from('nope'));
    expect(err.readUInt32BE(12)).toBe(0x8000_0006);
  });

  test('export name reply has 124 zero bytes unless NO_ZEROES was agreed', () => {
    fc.assert(
      fc.property(size, u16, fc.boolean(), (sz, flags, noZeroes) => {
        const wire = encodeExportNameReply(sz, flags, noZeroes);
        expect(wire.length).toBe(noZeroes ? 10 : 134);
        expect(decodeExportNameReply(wire)).toEqual({ size: sz, transmissionFlags: flags });
        expect(wire.subarray(10).every((b) => b === 0)).toBe(true);
      }),
    );
  });

  test('info requests round-trip', () => {
    fc.assert(
      fc.property(nbdString, fc.array(u16, { maxLength: 8 }), (name, infos) => {
        expect(decodeInfoRequest(encodeInfoRequest({ name, infos }))).toEqual({ name, infos });
      }),
    );
  });

  test('malformed info requests are reasons, not exceptions', () => {
    expect(decodeInfoRequest(Buffer.alloc(5))).toBe('option data too short');
    const good = encodeInfoRequest({ name: 'vol', infos: [NBD_INFO_NAME] });
    expect(decodeInfoRequest(good.subarray(0, good.length - 1))).toMatch(/does not match/);
    expect(decodeInfoRequest(Buffer.concat([good, Buffer.alloc(2)]))).toMatch(/does not match/);
    const longName = Buffer.from(good);
    longName.writeUInt32BE(1000, 0);
    expect(decodeInfoRequest(longName)).toMatch(/exceeds/);
    const nul = encodeInfoRequest({ name: 'a\0b', infos: [] });
    expect(decodeInfoRequest(nul)).toMatch(/not a valid NBD string/);
  });

  test('server entries round-trip with and without a description', () => {
    fc.assert(
      fc.property(nbdString, fc.option(nbdString, { nil: undefined }), (name, description) => {
        expect(decodeServerEntry(encodeServerEntry(name, description))).toEqual({ name, description: description ?? '' });
      }),
    );
  });

  test('every info type round-trips', () => {
    const infos = fc.oneof(
      fc.record({ type: fc.constant(NBD_INFO_EXPORT), size, transmissionFlags: u16 }),
      fc.record({ type: fc.constant(NBD_INFO_NAME), name: nbdString }),
      fc.record({ type: fc.constant(NBD_INFO_DESCRIPTION), description: nbdString }),
      fc.record({ type: fc.constant(NBD_INFO_BLOCK_SIZE), minimum: u32, preferred: u32, maximum: u32 }),
    ) as fc.Arbitrary<Info>;
    fc.assert(
      fc.property(infos, (info) => {
        expect(decodeInfo(encodeInfo(info))).toEqual(info);
      }),
    );
    expect(encodeInfo({ type: NBD_INFO_EXPORT, size: 1, transmissionFlags: 1 })).toHaveLength(12);
    expect(encodeInfo({ type: NBD_INFO_BLOCK_SIZE, minimum: 1, preferred: 4096, maximum: 1 << 25 })).toHaveLength(14);
  });
});

describe('strings', () => {
  test('NUL, invalid UTF-8 and over-long names are rejected', () => {
    expect(decodeString(Buffer.from('vol-1'))).toBe('vol-1');
    expect(decodeString(Buffer.from('é'))).toBe('é');
    expect(decodeString(Buffer.from([0x61, 0, 0x62]))).toBeUndefined();
    expect(decodeString(Buffer.from([0xc3, 0x28]))).toBeUndefined();
    expect(decodeString(Buffer.alloc(4096, 0x61))).toHaveLength(4096);
    expect(decodeString(Buffer.alloc(4097, 0x61))).toBeUndefined();
  });

  test('long messages are cut at a character boundary within 4096 bytes', () => {
    const cut = encodeString('€'.repeat(2000)); // 3 bytes each
    expect(cut.length).toBe(4095);
    expect(decodeString(cut)).toBe('€'.repeat(1365));
  });
});

describe('transmission messages', () => {
  test('request headers round-trip over the full 64-bit ranges', () => {
    fc.assert(
      fc.property(u16, u16, u64, u64, u32, (flags, type, handle, offset, length) => {
        const req = { flags, type, handle, offset, length };
        const wire = encodeRequestHeader(req);
        expect(wire).toHaveLength(28);
        expect(decodeRequestHeader(wire)).toEqual(req);
      }),
    );
  });

  test('a request with the wrong magic is a protocol error', () => {
    const wire = encodeRequestHeader({ flags: 0, type: 0, handle: 1n, offset: 0n, length: 512 });
    wire.writeUInt32BE(0x12345678, 0);
    expect(() => decodeRequestHeader(wire)).toThrow(ProtocolError);
  });

  test('simple reply headers round-trip', () => {
    fc.assert(
      fc.property(u32, u64, (error, handle) => {
        expect(decodeSimpleReplyHeader(encodeSimpleReplyHeader(error, handle))).toEqual({ error, handle });
      }),
    );
    expect(encodeSimpleReplyHeader(22, 7n).toString('hex')).toBe('67446698' + '00000016' + '0000000000000007');
  });
});
