// Raft messages between agents, in an explicit versioned binary layout of their own: what goes on
// the wire is defined here, not by the field names of raft/types.ts, which may be renamed freely.
// Peers are authenticated by mutual TLS; decoding still checks every byte so that a bug (or a
// different version) on one side is an error here rather than a corrupt raft state.
//
// Layout, wire version 1 (every message is exactly one of these; nothing may follow it):
//
//   message  = version:u8 (= 1)  type:u8  from:str  to:str  term:uint  body
//   uint     = unsigned LEB128 varint, minimal (no trailing 0x00 group), at most 2^53-1, <= 8 bytes
//   bool     = u8, 0 or 1
//   str      = len:uint  UTF-8[len]
//   bytes    = len:uint  raw[len]
//   list(X)  = count:uint  X{count}
//
//   type  body
//    1 vote           pre:bool  lastIndex:uint  lastTerm:uint  transfer:bool
//    2 voteResp       pre:bool  granted:bool
//    3 append         prevIndex:uint  prevTerm:uint  commit:uint  entries:list(entry)
//    4 appendResp     index:uint  reject:bool  hintIndex:uint  hintTerm:uint
//    5 heartbeat      commit:uint  readSeq:uint
//    6 heartbeatResp  readSeq:uint
//    7 snapshot       index:uint  term:uint  conf  data:bytes
//    8 timeoutNow     (nothing)
//    9 readIndex      ctx:str
//   10 readIndexResp  ctx:str  index:uint
//
//   entry    = kind:u8  index:uint  term:uint  then
//                kind 1 (normal): data:bytes
//                kind 2 (conf):   change:u8 (1 addVoter, 2 addLearner, 3 removeNode)  node:str  conf
//   conf     = voters:list(str)  learners:list(str)
//
// The encoding is canonical: the decoder accepts only what the encoder produces (minimal varints,
// booleans 0/1, valid UTF-8, no trailing bytes), so one message has exactly one encoding.
//
// ANY change to this layout — a field added, removed, reordered or retyped, a new type or tag —
// is a new WIRE_VERSION, and the frozen golden vectors in test/unit/sbs/raft-wire.test.ts change
// with it. An agent refuses a version it does not speak; both sides must speak the same one.
//
// Appends carry up to a megabyte of entries, so encoding copies each byte as few times as it can:
// a first pass measures the message, a second writes it into one buffer of exactly that size, so
// entry data is copied once (msgpack into a shared buffer and out of it had copied it twice).
// Decoding copies no entry or snapshot data: it returns views of the received bytes.

import type { ConfChange, ConfState, Entry, Message, Snapshot } from '../raft/index.js';

/** The layout version this agent writes and the only one it reads. */
export const WIRE_VERSION = 1;

// `satisfies` makes a message type or change type added to raft/types.ts a compile error here.
const TYPE_TAG = {
  vote: 1,
  voteResp: 2,
  append: 3,
  appendResp: 4,
  heartbeat: 5,
  heartbeatResp: 6,
  snapshot: 7,
  timeoutNow: 8,
  readIndex: 9,
  readIndexResp: 10,
} as const satisfies Record<Message['type'], number>;

const ENTRY_NORMAL = 1;
const ENTRY_CONF = 2;

const CHANGE_TAG = { addVoter: 1, addLearner: 2, removeNode: 3 } as const satisfies Record<ConfChange['type'], number>;
const CHANGE_BY_TAG: readonly (ConfChange['type'] | undefined)[] = [undefined, 'addVoter', 'addLearner', 'removeNode'];

const varintLength = (n: number): number => {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
};

function writeVarint(buf: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    // `&` takes the number modulo 2^32, which keeps the low 7 bits right up to 2^53.
    buf[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[at++] = n;
  return at;
}

/** Where the encoder puts fields: first a Measure (which also validates), then a Writer. */
interface Sink {
  u8(n: number): void;
  uint(n: number, field: string): void;
  bool(b: boolean, field: string): void;
  str(s: string, field: string): void;
  bytes(b: Uint8Array, field: string): void;
}

const refuse = (field: string, value: unknown, want: string): never => {
  throw new Error(`raft message: cannot encode ${field} = ${String(value)}: not ${want}`);
};

class Measure implements Sink {
  size = 0;
  u8(): void {
    this.size++;
  }
  uint(n: number, field: string): void {
    if (!Number.isSafeInteger(n) || n < 0) refuse(field, n, 'a non-negative safe integer');
    this.size += varintLength(n);
  }
  bool(b: boolean, field: string): void {
    if (typeof b !== 'boolean') refuse(field, b, 'a boolean');
    this.size++;
  }
  str(s: string, field: string): void {
    if (typeof s !== 'string') refuse(field, s, 'a string');
    const len = Buffer.byteLength(s, 'utf8');
    this.size += varintLength(len) + len;
  }
  bytes(b: Uint8Array, field: string): void {
    if (!(b instanceof Uint8Array)) refuse(field, b, 'a Uint8Array');
    this.size += varintLength(b.length) + b.length;
  }
}

/** Trusts its input: Measure has checked the same calls. */
class Writer implements Sink {
  at = 0;
  constructor(readonly out: Buffer) {}
  u8(n: number): void {
    this.out[this.at++] = n;
  }
  uint(n: number): void {
    this.at = writeVarint(this.out, this.at, n);
  }
  bool(b: boolean): void {
    this.out[this.at++] = b ? 1 : 0;
  }
  str(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    this.at = writeVarint(this.out, this.at, len);
    this.at += this.out.write(s, this.at, len, 'utf8');
  }
  bytes(b: Uint8Array): void {
    this.at = writeVarint(this.out, this.at, b.length);
    this.out.set(b, this.at);
    this.at += b.length;
  }
}

function putConf(w: Sink, c: ConfState): void {
  w.uint(c.voters.length, 'conf.voters.length');
  for (const v of c.voters) w.str(v, 'conf.voters[]');
  w.uint(c.learners.length, 'conf.learners.length');
  for (const l of c.learners) w.str(l, 'conf.learners[]');
}

function putEntry(w: Sink, e: Entry): void {
  switch (e.kind) {
    case 'normal':
      w.u8(ENTRY_NORMAL);
      w.uint(e.index, 'entry.index');
      w.uint(e.term, 'entry.term');
      w.bytes(e.data, 'entry.data');
      return;
    case 'conf': {
      const tag = (CHANGE_TAG as Record<string, number | undefined>)[e.change.type];
      if (tag === undefined) return refuse('entry.change.type', e.change.type, 'a conf change type');
      w.u8(ENTRY_CONF);
      w.uint(e.index, 'entry.index');
      w.uint(e.term, 'entry.term');
      w.u8(tag);
      w.str(e.change.node, 'entry.change.node');
      putConf(w, e.conf);
      return;
    }
    default:
      return refuse('entry.kind', (e as { kind: unknown }).kind, 'an entry kind');
  }
}

function putSnapshot(w: Sink, s: Snapshot): void {
  w.uint(s.index, 'snapshot.index');
  w.uint(s.term, 'snapshot.term');
  putConf(w, s.conf);
  w.bytes(s.data, 'snapshot.data');
}

function putMessage(w: Sink, m: Message): void {
  const tag = (TYPE_TAG as Record<string, number | undefined>)[m.type];
  if (tag === undefined) return refuse('type', m.type, 'a raft message type');
  w.u8(WIRE_VERSION);
  w.u8(tag);
  w.str(m.from, 'from');
  w.str(m.to, 'to');
  w.uint(m.term, 'term');
  switch (m.type) {
    case 'vote':
      w.bool(m.pre, 'pre');
      w.uint(m.lastIndex, 'lastIndex');
      w.uint(m.lastTerm, 'lastTerm');
      w.bool(m.transfer, 'transfer');
      return;
    case 'voteResp':
      w.bool(m.pre, 'pre');
      w.bool(m.granted, 'granted');
      return;
    case 'append':
      w.uint(m.prevIndex, 'prevIndex');
      w.uint(m.prevTerm, 'prevTerm');
      w.uint(m.commit, 'commit');
      w.uint(m.entries.length, 'entries.length');
      for (const e of m.entries) putEntry(w, e);
      return;
    case 'appendResp':
      w.uint(m.index, 'index');
      w.bool(m.reject, 'reject');
      w.uint(m.hintIndex, 'hintIndex');
      w.uint(m.hintTerm, 'hintTerm');
      return;
    case 'heartbeat':
      w.uint(m.commit, 'commit');
      w.uint(m.readSeq, 'readSeq');
      return;
    case 'heartbeatResp':
      w.uint(m.readSeq, 'readSeq');
      return;
    case 'snapshot':
      putSnapshot(w, m.snapshot);
      return;
    case 'timeoutNow':
      return;
    case 'readIndex':
      w.str(m.ctx, 'ctx');
      return;
    case 'readIndexResp':
      w.str(m.ctx, 'ctx');
      w.uint(m.index, 'index');
      return;
  }
}

/** One buffer of exactly the message's size; throws on a value the layout cannot carry (our bug). */
export function encodeMessage(m: Message): Buffer {
  const measure = new Measure();
  putMessage(measure, m);
  const w = new Writer(Buffer.allocUnsafe(measure.size));
  putMessage(w, m);
  if (w.at !== measure.size) throw new Error(`raft message: encoded ${w.at} bytes, measured ${measure.size}`);
  return w.out;
}

// fatal: invalid UTF-8 is refused, not replaced; ignoreBOM: a leading U+FEFF is data, not stripped.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

class Reader {
  at = 0;
  constructor(private readonly b: Uint8Array) {}

  fail(field: string, why: string): never {
    throw new Error(`raft message: malformed ${field} at byte ${this.at} of ${this.b.length}: ${why}`);
  }
  private need(n: number, field: string): void {
    if (n > this.b.length - this.at) this.fail(field, `truncated: needs ${n} bytes, ${this.b.length - this.at} left`);
  }
  u8(field: string): number {
    this.need(1, field);
    return this.b[this.at++]!;
  }
  uint(field: string): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; ; i++) {
      const byte = this.u8(field);
      n += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) this.fail(field, 'varint not in its shortest form');
        // Above 2^53 the sum may round, but never down to a safe integer.
        if (n > Number.MAX_SAFE_INTEGER) this.fail(field, 'integer above 2^53-1');
        return n;
      }
      if (i === 7) this.fail(field, 'varint longer than 8 bytes');
      scale *= 0x80;
    }
  }
  bool(field: string): boolean {
    const v = this.u8(field);
    if (v > 1) this.fail(field, `boolean byte ${v}`);
    return v === 1;
  }
  /** A count of items each at least one byte long, checked against what is left before any loop. */
  count(field: string): number {
    const n = this.uint(field);
    if (n > this.b.length - this.at) this.fail(field, `truncated: ${n} items cannot fit in ${this.b.length - this.at} bytes`);
    return n;
  }
  str(field: string): string {
    const len = this.uint(field);
    this.need(len, field);
    const start = this.at;
    this.at += len;
    try {
      return utf8.decode(this.b.subarray(start, this.at));
    } catch {
      this.at = start;
      return this.fail(field, 'not UTF-8');
    }
  }
  /** A view of the input, not a copy. */
  bytes(field: string): Uint8Array {
    const len = this.uint(field);
    this.need(len, field);
    const view = new Uint8Array(this.b.buffer, this.b.byteOffset + this.at, len);
    this.at += len;
    return view;
  }
  end(): void {
    if (this.at !== this.b.length) this.fail('end', `${this.b.length - this.at} trailing bytes`);
  }
}

// Object literals below are evaluated property by property in source order, which is wire order.

function getConf(r: Reader): ConfState {
  const voters: string[] = [];
  for (let n = r.count('conf.voters.length'); n > 0; n--) voters.push(r.str('conf.voters[]'));
  const learners: string[] = [];
  for (let n = r.count('conf.learners.length'); n > 0; n--) learners.push(r.str('conf.learners[]'));
  return { voters, learners };
}

function getEntry(r: Reader): Entry {
  const kind = r.u8('entry.kind');
  if (kind === ENTRY_NORMAL) return { kind: 'normal', index: r.uint('entry.index'), term: r.uint('entry.term'), data: r.bytes('entry.data') };
  if (kind !== ENTRY_CONF) return r.fail('entry.kind', `unknown entry kind ${kind}`);
  const index = r.uint('entry.index');
  const term = r.uint('entry.term');
  const tag = r.u8('entry.change.type');
  const type = CHANGE_BY_TAG[tag];
  if (type === undefined) return r.fail('entry.change.type', `unknown conf change type ${tag}`);
  return { kind: 'conf', index, term, change: { type, node: r.str('entry.change.node') }, conf: getConf(r) };
}

function versionError(v: number): Error {
  // The unversioned msgpack encoding of older agents starts with a map header (0x80-0x8f).
  const legacy = v >= 0x80 && v <= 0x8f ? ' (this looks like the unversioned msgpack encoding of an agent from before wire versions)' : '';
  return new Error(`raft message: unknown wire version ${v}${legacy}; this agent speaks version ${WIRE_VERSION} only`);
}

/** The whole of `b` as one message, or an error; never a partial message. */
export function decodeMessage(b: Uint8Array): Message {
  if (b.length === 0) throw new Error('raft message: empty');
  if (b[0] !== WIRE_VERSION) throw versionError(b[0]!);
  const r = new Reader(b);
  r.at = 1;
  const tag = r.u8('type');
  if (tag < TYPE_TAG.vote || tag > TYPE_TAG.readIndexResp) r.fail('type', `unknown message type ${tag}`);
  const from = r.str('from');
  const to = r.str('to');
  const term = r.uint('term');
  let m: Message;
  switch (tag) {
    case TYPE_TAG.vote:
      m = { type: 'vote', from, to, term, pre: r.bool('pre'), lastIndex: r.uint('lastIndex'), lastTerm: r.uint('lastTerm'), transfer: r.bool('transfer') };
      break;
    case TYPE_TAG.voteResp:
      m = { type: 'voteResp', from, to, term, pre: r.bool('pre'), granted: r.bool('granted') };
      break;
    case TYPE_TAG.append: {
      const prevIndex = r.uint('prevIndex');
      const prevTerm = r.uint('prevTerm');
      const commit = r.uint('commit');
      const entries: Entry[] = [];
      for (let n = r.count('entries.length'); n > 0; n--) entries.push(getEntry(r));
      m = { type: 'append', from, to, term, prevIndex, prevTerm, entries, commit };
      break;
    }
    case TYPE_TAG.appendResp:
      m = {
        type: 'appendResp',
        from,
        to,
        term,
        index: r.uint('index'),
        reject: r.bool('reject'),
        hintIndex: r.uint('hintIndex'),
        hintTerm: r.uint('hintTerm'),
      };
      break;
    case TYPE_TAG.heartbeat:
      m = { type: 'heartbeat', from, to, term, commit: r.uint('commit'), readSeq: r.uint('readSeq') };
      break;
    case TYPE_TAG.heartbeatResp:
      m = { type: 'heartbeatResp', from, to, term, readSeq: r.uint('readSeq') };
      break;
    case TYPE_TAG.snapshot:
      m = {
        type: 'snapshot',
        from,
        to,
        term,
        snapshot: { index: r.uint('snapshot.index'), term: r.uint('snapshot.term'), conf: getConf(r), data: r.bytes('snapshot.data') },
      };
      break;
    case TYPE_TAG.timeoutNow:
      m = { type: 'timeoutNow', from, to, term };
      break;
    case TYPE_TAG.readIndex:
      m = { type: 'readIndex', from, to, term, ctx: r.str('ctx') };
      break;
    default: // readIndexResp: the tag was range-checked above
      m = { type: 'readIndexResp', from, to, term, ctx: r.str('ctx'), index: r.uint('index') };
  }
  r.end();
  return m;
}
