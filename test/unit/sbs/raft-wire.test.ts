// The raft wire format (agent/sbs/volume/wire.ts): golden vectors, round trips, refusals.
import { encode as msgpack } from '@msgpack/msgpack';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { ConfState, Entry, Message, NormalEntry, Snapshot } from '../../../agent/sbs/raft/index.js';
import { encodeFrame, FrameReader } from '../../../agent/sbs/volume/link-frames.js';
import { decodeMessage, encodeMessage, WIRE_VERSION } from '../../../agent/sbs/volume/wire.js';

/** Hex written field by field (spaces and field breaks are only for the reader). */
const hex = (...fields: string[]): string => fields.join('').replace(/\s+/g, '');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h, 'hex'));
const encodedHex = (m: Message): string => encodeMessage(m).toString('hex');

// FROZEN. These bytes are the protocol between agents of different versions, written by hand from
// the layout at the top of wire.ts. Never regenerate them from the encoder: a test failing here
// means the wire format changed, which needs a new WIRE_VERSION (and new vectors under it).
// Common prefix: 01 = wire version 1, then the type tag; "02 6831" is the string "h1".
const GOLDEN: readonly { readonly name: string; readonly message: Message; readonly hex: string }[] = [
  {
    name: 'vote',
    message: { type: 'vote', from: 'h1', to: 'h2', term: 3, pre: true, lastIndex: 9, lastTerm: 2, transfer: false },
    //       ver type  from     to       term  pre lastIndex lastTerm transfer
    hex: hex('01 01', '02 6831', '02 6832', '03', '01', '09', '02', '00'),
  },
  {
    name: 'vote for a leader transfer',
    message: { type: 'vote', from: 'h1', to: 'h2', term: 4, pre: false, lastIndex: 9, lastTerm: 3, transfer: true },
    hex: hex('01 01', '02 6831', '02 6832', '04', '00', '09', '03', '01'),
  },
  {
    name: 'voteResp',
    message: { type: 'voteResp', from: 'h2', to: 'h1', term: 3, pre: false, granted: true },
    //       ver type  from     to       term  pre granted
    hex: hex('01 02', '02 6832', '02 6831', '03', '00', '01'),
  },
  {
    name: 'append with a normal and a conf entry, multi-byte varints',
    message: {
      type: 'append',
      from: 'h1',
      to: 'h3',
      term: 300,
      prevIndex: 200,
      prevTerm: 2,
      commit: 4,
      entries: [
        { kind: 'normal', index: 201, term: 300, data: new Uint8Array([9, 9]) },
        { kind: 'conf', index: 202, term: 300, change: { type: 'removeNode', node: 'h2' }, conf: { voters: ['h1', 'h3'], learners: [] } },
      ],
    },
    hex: hex(
      '01 03 02 6831 02 6833',
      'ac02', // term 300
      'c801', // prevIndex 200
      '02', // prevTerm
      '04', // commit
      '02', // two entries
      '01 c901 ac02 02 0909', // normal, index 201, term 300, data [9, 9]
      '02 ca01 ac02', // conf, index 202, term 300
      '03 02 6832', // removeNode h2
      '02 02 6831 02 6833', // voters h1, h3
      '00', // no learners
    ),
  },
  {
    name: 'append: empty normal entry, addVoter, addLearner',
    message: {
      type: 'append',
      from: 'h1',
      to: 'h2',
      term: 5,
      prevIndex: 10,
      prevTerm: 4,
      commit: 10,
      entries: [
        { kind: 'normal', index: 11, term: 5, data: new Uint8Array(0) },
        { kind: 'conf', index: 12, term: 5, change: { type: 'addLearner', node: 'h4' }, conf: { voters: ['h1'], learners: ['h4'] } },
        { kind: 'conf', index: 13, term: 5, change: { type: 'addVoter', node: 'h4' }, conf: { voters: ['h1', 'h4'], learners: [] } },
      ],
    },
    hex: hex(
      '01 03 02 6831 02 6832 05',
      '0a 04 0a', // prevIndex, prevTerm, commit
      '03', // three entries
      '01 0b 05 00', // normal, index 11, term 5, no data
      '02 0c 05 02 02 6834 01 02 6831 01 02 6834', // conf: addLearner h4; voters [h1], learners [h4]
      '02 0d 05 01 02 6834 02 02 6831 02 6834 00', // conf: addVoter h4; voters [h1, h4], no learners
    ),
  },
  {
    name: 'append without entries',
    message: { type: 'append', from: 'h1', to: 'h2', term: 3, prevIndex: 0, prevTerm: 0, commit: 0, entries: [] },
    hex: hex('01 03 02 6831 02 6832 03', '00 00 00', '00'),
  },
  {
    name: 'appendResp, rejected with a hint',
    message: { type: 'appendResp', from: 'h3', to: 'h1', term: 3, index: 7, reject: true, hintIndex: 5, hintTerm: 2 },
    //       ver type  from     to       term index reject hintIndex hintTerm
    hex: hex('01 04', '02 6833', '02 6831', '03', '07', '01', '05', '02'),
  },
  {
    name: 'heartbeat',
    message: { type: 'heartbeat', from: 'h1', to: 'h2', term: 3, commit: 12, readSeq: 0 },
    hex: hex('01 05 02 6831 02 6832 03', '0c', '00'),
  },
  {
    name: 'heartbeat at the largest integers, non-ASCII node id',
    message: { type: 'heartbeat', from: 'hé', to: '', term: Number.MAX_SAFE_INTEGER, commit: 2 ** 32, readSeq: 127 },
    hex: hex(
      '01 05',
      '03 68c3a9', // "hé" is 3 bytes of UTF-8
      '00', // empty string
      'ffffffffffffff0f', // 2^53-1: seven groups of 7 one-bits, then 4
      '8080808010', // 2^32
      '7f',
    ),
  },
  {
    name: 'heartbeatResp',
    message: { type: 'heartbeatResp', from: 'h2', to: 'h1', term: 3, readSeq: 128 },
    hex: hex('01 06 02 6832 02 6831 03', '8001'),
  },
  {
    name: 'snapshot',
    message: {
      type: 'snapshot',
      from: 'h1',
      to: 'h2',
      term: 3,
      snapshot: { index: 66, term: 3, conf: { voters: ['h1', 'h2'], learners: ['h3'] }, data: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) },
    },
    hex: hex(
      '01 07 02 6831 02 6832 03',
      '42 03', // snapshot index 66, term 3
      '02 02 6831 02 6832', // voters h1, h2
      '01 02 6833', // learners h3
      '04 deadbeef', // data
    ),
  },
  {
    name: 'timeoutNow',
    message: { type: 'timeoutNow', from: 'h1', to: 'h2', term: 3 },
    hex: hex('01 08 02 6831 02 6832 03'),
  },
  {
    name: 'readIndex',
    message: { type: 'readIndex', from: 'h2', to: 'h1', term: 3, ctx: 'h2:7' },
    hex: hex('01 09 02 6832 02 6831 03', '04 68323a37'),
  },
  {
    name: 'readIndexResp',
    message: { type: 'readIndexResp', from: 'h1', to: 'h2', term: 3, ctx: 'h2:7', index: 12 },
    hex: hex('01 0a 02 6831 02 6832 03', '04 68323a37', '0c'),
  },
];

describe('raft wire format: frozen golden vectors', () => {
  it('speaks version 1 (bumping it means new golden vectors)', () => {
    expect(WIRE_VERSION).toBe(1);
  });

  it('covers every message type', () => {
    const types: Record<Message['type'], true> = {
      vote: true,
      voteResp: true,
      append: true,
      appendResp: true,
      heartbeat: true,
      heartbeatResp: true,
      snapshot: true,
      timeoutNow: true,
      readIndex: true,
      readIndexResp: true,
    };
    expect(new Set(GOLDEN.map((g) => g.message.type))).toEqual(new Set(Object.keys(types)));
  });

  for (const g of GOLDEN) {
    it(`${g.name}: encodes to exactly the frozen bytes and decodes back`, () => {
      expect(encodedHex(g.message)).toBe(g.hex);
      expect(decodeMessage(bytes(g.hex))).toEqual(g.message);
    });
  }
});

describe('raft wire format: round trips', () => {
  it('decodes what it encodes, from a Buffer or a plain Uint8Array', () => {
    for (const g of GOLDEN) {
      const b = encodeMessage(g.message);
      expect(decodeMessage(b)).toEqual(g.message);
      expect(decodeMessage(new Uint8Array(b))).toEqual(g.message);
    }
  });

  it('carries megabytes of entry data, and decoding returns views of the input rather than copies', () => {
    const entries: NormalEntry[] = [1, 2, 3].map((i) => ({ kind: 'normal', index: i, term: 1, data: new Uint8Array((1 << 20) + i).fill(i) }));
    const m: Message = { type: 'append', from: 'h1', to: 'h2', term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries };
    const b = encodeMessage(m);
    const d = decodeMessage(b);
    if (d.type !== 'append') throw new Error(`decoded a ${d.type}`);
    // toEqual walks megabytes element by element (seconds); compare the data as buffers.
    const same = (x: Uint8Array, y: Uint8Array): boolean => Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(y);
    expect(d.entries.map((e) => [e.kind, e.index, e.term])).toEqual(entries.map((e) => [e.kind, e.index, e.term]));
    d.entries.forEach((e, i) => {
      expect(e.kind === 'normal' && same(e.data, entries[i]!.data)).toBe(true);
      expect(e.kind === 'normal' && e.data.buffer === b.buffer).toBe(true);
    });
    const image = new Uint8Array(3 << 20).fill(5);
    const snap: Message = {
      type: 'snapshot',
      from: 'h1',
      to: 'h2',
      term: 1,
      snapshot: { index: 9, term: 1, conf: { voters: ['h1'], learners: [] }, data: image },
    };
    const ds = decodeMessage(encodeMessage(snap));
    if (ds.type !== 'snapshot') throw new Error(`decoded a ${ds.type}`);
    expect({ ...ds.snapshot, data: null }).toEqual({ ...snap.snapshot, data: null });
    expect(same(ds.snapshot.data, image)).toBe(true);
  });

  it('survives link framing: the receiver decodes views at any offset into a frame, however the stream is cut', () => {
    const bytes = Buffer.concat(encodeFrame({ kind: 'step', volumeId: 'vol-1', parts: GOLDEN.map((g) => encodeMessage(g.message)) }));
    for (const cut of [1, 7, 64, bytes.length]) {
      const reader = new FrameReader();
      const frames = [];
      for (let at = 0; at < bytes.length; at += cut) frames.push(...reader.push(bytes.subarray(at, at + cut)));
      expect(frames).toHaveLength(1);
      const f = frames[0]!;
      expect(f.kind === 'step' && f.parts.map(decodeMessage)).toEqual(GOLDEN.map((g) => g.message));
    }
  });

  it('encodes one message after another without one output sharing bytes with the next', () => {
    const big = (fill: number): Message => ({
      type: 'append',
      from: 'h1',
      to: 'h2',
      term: 1,
      prevIndex: 0,
      prevTerm: 0,
      commit: 0,
      entries: [{ kind: 'normal', index: 1, term: 1, data: new Uint8Array(3 << 20).fill(fill) }],
    });
    const small: Message = { type: 'heartbeat', from: 'h1', to: 'h2', term: 1, commit: 0, readSeq: 0 };
    const a = encodeMessage(big(1));
    const s1 = encodeMessage(small);
    const b = encodeMessage(big(2));
    const s2 = encodeMessage(small);
    const data = (m: Message): Buffer => Buffer.from(((m as Message & { type: 'append' }).entries[0] as NormalEntry).data);
    expect(data(decodeMessage(a)).equals(Buffer.alloc(3 << 20, 1))).toBe(true);
    expect(data(decodeMessage(b)).equals(Buffer.alloc(3 << 20, 2))).toBe(true);
    expect(decodeMessage(s1)).toEqual(small);
    expect(s1.equals(s2)).toBe(true);
  });
});

describe('raft wire format: refusals', () => {
  const vote = GOLDEN[0]!.hex;
  const withByte = (h: string, at: number, byte: number): Uint8Array => {
    const b = bytes(h);
    b[at] = byte;
    return b;
  };

  it('refuses an unknown version, naming it and the version this agent speaks', () => {
    expect(() => decodeMessage(withByte(vote, 0, 2))).toThrow('raft message: unknown wire version 2; this agent speaks version 1 only');
    expect(() => decodeMessage(withByte(vote, 0, 0))).toThrow(/unknown wire version 0; this agent speaks version 1/);
    expect(() => decodeMessage(withByte(vote, 0, 255))).toThrow(/unknown wire version 255; /);
  });

  it('recognises the unversioned msgpack encoding of older agents', () => {
    const old = msgpack({ type: 'heartbeat', from: 'h1', to: 'h2', term: 3, commit: 12, readSeq: 0 });
    expect(() => decodeMessage(old)).toThrow(
      /unknown wire version 134 \(this looks like the unversioned msgpack encoding .*\); this agent speaks version 1 only/,
    );
  });

  it('refuses an empty message and every truncation of every golden vector', () => {
    expect(() => decodeMessage(new Uint8Array(0))).toThrow('raft message: empty');
    for (const g of GOLDEN) {
      const b = bytes(g.hex);
      for (let n = 1; n < b.length; n++) expect(() => decodeMessage(b.subarray(0, n)), `${g.name}, ${n} bytes`).toThrow(/^raft message: malformed .*truncated/);
    }
  });

  it('refuses trailing bytes', () => {
    expect(() => decodeMessage(bytes(vote + '00'))).toThrow('raft message: malformed end at byte 13 of 14: 1 trailing bytes');
  });

  it('refuses unknown tags, bad booleans, non-canonical or oversized integers and bad UTF-8, saying where', () => {
    const cases: [string, RegExp][] = [
      [hex('01 00'), /malformed type at byte 2 of 2: unknown message type 0/],
      [hex('01 0b 02 6831 02 6832 03'), /malformed type .*unknown message type 11/],
      [hex('01 01 02 6831 02 6832 03 02 09 02 00'), /malformed pre at byte 10 of 13: boolean byte 2/],
      [hex('01 05 02 6831 02 6832 8300 00 00'), /malformed term .*varint not in its shortest form/],
      [hex('01 05 02 6831 02 6832 8080808080808010 00 00'), /malformed term .*integer above 2\^53-1/],
      [hex('01 05 02 6831 02 6832 ffffffffffffffff01 00 00'), /malformed term .*varint longer than 8 bytes/],
      [hex('01 05 02 68ff 02 6832 03 00 00'), /malformed from at byte 3 of 11: not UTF-8/],
      [hex('01 05 02 c0af 02 6832 03 00 00'), /malformed from .*not UTF-8/], // overlong "/"
      [hex('01 03 02 6831 02 6832 03 00 00 00 01', '03 01 01 00'), /malformed entry.kind .*unknown entry kind 3/],
      [hex('01 03 02 6831 02 6832 03 00 00 00 01', '02 01 01 04 02 6832 00 00'), /malformed entry.change.type .*unknown conf change type 4/],
      [hex('01 03 02 6831 02 6832 03 00 00 00 ffff03'), /malformed entries.length .*truncated: 65535 items cannot fit in 0 bytes/],
      [hex('01 07 02 6831 02 6832 03 42 03 00 00 05 dead'), /malformed snapshot.data .*truncated: needs 5 bytes, 2 left/],
    ];
    for (const [h, error] of cases) expect(() => decodeMessage(bytes(h)), h).toThrow(error);
  });

  it('refuses to encode a value the layout cannot carry', () => {
    const hb = { type: 'heartbeat', from: 'h1', to: 'h2', term: 3, commit: 1, readSeq: 0 } as const;
    expect(() => encodeMessage({ ...hb, term: -1 })).toThrow('raft message: cannot encode term = -1: not a non-negative safe integer');
    expect(() => encodeMessage({ ...hb, commit: 1.5 })).toThrow(/cannot encode commit = 1.5/);
    expect(() => encodeMessage({ ...hb, readSeq: 2 ** 53 })).toThrow(/cannot encode readSeq/);
    expect(() => encodeMessage({ ...hb, type: 'bogus' } as unknown as Message)).toThrow(/cannot encode type = bogus: not a raft message type/);
    const badChange = { kind: 'conf', index: 1, term: 1, change: { type: 'promote', node: 'h2' }, conf: { voters: [], learners: [] } } as unknown as Entry;
    expect(() => encodeMessage({ type: 'append', from: 'h1', to: 'h2', term: 1, prevIndex: 0, prevTerm: 0, commit: 0, entries: [badChange] })).toThrow(
      /cannot encode entry.change.type = promote/,
    );
  });
});

describe('raft wire format: properties', () => {
  const uint = fc.oneof(fc.nat(300), fc.nat(), fc.maxSafeNat());
  const id = fc.string({ unit: 'binary', maxLength: 6 });
  const data = fc.uint8Array({ maxLength: 40 });
  const conf: fc.Arbitrary<ConfState> = fc.record({ voters: fc.array(id, { maxLength: 4 }), learners: fc.array(id, { maxLength: 3 }) });
  const entry: fc.Arbitrary<Entry> = fc.oneof(
    fc.record({ kind: fc.constant('normal' as const), index: uint, term: uint, data }),
    fc.record({
      kind: fc.constant('conf' as const),
      index: uint,
      term: uint,
      change: fc.record({ type: fc.constantFrom('addVoter' as const, 'addLearner' as const, 'removeNode' as const), node: id }),
      conf,
    }),
  );
  const snapshot: fc.Arbitrary<Snapshot> = fc.record({ index: uint, term: uint, conf, data });
  const env = { from: id, to: id, term: uint };
  const message: fc.Arbitrary<Message> = fc.oneof(
    fc.record({ type: fc.constant('vote' as const), ...env, pre: fc.boolean(), lastIndex: uint, lastTerm: uint, transfer: fc.boolean() }),
    fc.record({ type: fc.constant('voteResp' as const), ...env, pre: fc.boolean(), granted: fc.boolean() }),
    fc.record({ type: fc.constant('append' as const), ...env, prevIndex: uint, prevTerm: uint, commit: uint, entries: fc.array(entry, { maxLength: 4 }) }),
    fc.record({ type: fc.constant('appendResp' as const), ...env, index: uint, reject: fc.boolean(), hintIndex: uint, hintTerm: uint }),
    fc.record({ type: fc.constant('heartbeat' as const), ...env, commit: uint, readSeq: uint }),
    fc.record({ type: fc.constant('heartbeatResp' as const), ...env, readSeq: uint }),
    fc.record({ type: fc.constant('snapshot' as const), ...env, snapshot }),
    fc.record({ type: fc.constant('timeoutNow' as const), ...env }),
    fc.record({ type: fc.constant('readIndex' as const), ...env, ctx: id }),
    fc.record({ type: fc.constant('readIndexResp' as const), ...env, ctx: id, index: uint }),
  );

  it('decode(encode(m)) equals m for random messages', () => {
    fc.assert(
      fc.property(message, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      { numRuns: 2000 },
    );
  });

  // Every input is either refused with a raft message error or is the one encoding of what it decodes to.
  const refusedOrCanonical = (b: Uint8Array): void => {
    let m: Message;
    try {
      m = decodeMessage(b);
    } catch (e) {
      expect((e as Error).message).toMatch(/^raft message: /);
      return;
    }
    expect(encodeMessage(m).equals(b)).toBe(true);
  };

  it('garbled encodings are refused cleanly or are canonical encodings of another message', () => {
    const garbled = fc.tuple(message, fc.nat(), fc.nat(255), fc.constantFrom('set', 'insert', 'delete')).map(([m, at, byte, how]) => {
      const b = Buffer.from(encodeMessage(m));
      const i = at % b.length;
      if (how === 'set') b[i] = byte;
      if (how === 'insert') return Buffer.concat([b.subarray(0, i), Buffer.from([byte]), b.subarray(i)]);
      if (how === 'delete') return Buffer.concat([b.subarray(0, i), b.subarray(i + 1)]);
      return b;
    });
    fc.assert(fc.property(garbled, refusedOrCanonical), { numRuns: 3000 });
  });

  it('random bytes after the version byte are refused cleanly or canonical', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (tail) => refusedOrCanonical(Buffer.concat([Buffer.from([WIRE_VERSION]), tail]))),
      { numRuns: 3000 },
    );
  });
});
