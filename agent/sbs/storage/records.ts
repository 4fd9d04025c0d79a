// The write-ahead log's on-disk format, as pure functions over buffers.
//
// A segment is a sequence of records:  length u32 LE | crc32c u32 LE | type u8 | body
// `length` counts type + body; the CRC covers type + body. Bodies:
//   ENTRY      a raft entry (msgpack)
//   HARD_STATE term, vote, commit (msgpack)
//   RESTORE    index, term of a snapshot received from a leader: the log is replaced from there
// Replay rules (replayRecords): an entry at index i replaces every entry at or after i; RESTORE
// drops every entry; the last HARD_STATE wins.

import { decode, Encoder } from '@msgpack/msgpack';
import type { ConfState, Entry, HardState } from '../raft/index.js';
import { crc32c } from './crc32c.js';

export const HEADER_BYTES = 9;
/** No record is ever this large (entries are bounded by the NBD maximum payload): a length past it is damage. */
export const MAX_RECORD_BYTES = 64 * 1024 * 1024;

export const RecordType = { entry: 1, hardState: 2, restore: 3 } as const;
type RecordTypeValue = (typeof RecordType)[keyof typeof RecordType];

export type WalRecord =
  | { readonly type: 'entry'; readonly entry: Entry }
  | { readonly type: 'hardState'; readonly hardState: HardState }
  | { readonly type: 'restore'; readonly index: number; readonly term: number };

export class WalCorruptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WalCorruptError';
  }
}

type WireEntry =
  [kind: 0, index: number, term: number, data: Uint8Array] | [kind: 1, index: number, term: number, change: [string, string], conf: [string[], string[]]];

/**
 * One encoder for every record, its buffer reused: encodeRecord copies each body out before the
 * next. (msgpack's encode() grew a fresh buffer per call: three allocations per 4 KiB entry,
 * and on a busy replica the garbage collector ran a full mark every ~100 ms for such buffers.)
 */
const encoder = new Encoder({ initialBufferSize: 64 * 1024 });

function wireEntry(e: Entry): WireEntry {
  return e.kind === 'normal' ? [0, e.index, e.term, e.data] : [1, e.index, e.term, [e.change.type, e.change.node], [[...e.conf.voters], [...e.conf.learners]]];
}

export function encodeEntry(e: Entry): Uint8Array {
  return encoder.encode(wireEntry(e));
}

export function decodeEntry(body: Uint8Array): Entry {
  const w = decode(body) as WireEntry;
  if (!Array.isArray(w) || typeof w[1] !== 'number' || typeof w[2] !== 'number') throw new WalCorruptError('entry: malformed');
  if (w[0] === 0) {
    const d = w[3];
    // A plain view: decoding out of a Buffer hands back Buffer slices.
    return { kind: 'normal', index: w[1], term: w[2], data: new Uint8Array(d.buffer, d.byteOffset, d.byteLength) };
  }
  const [type, node] = w[3];
  const conf: ConfState = { voters: w[4][0], learners: w[4][1] };
  return { kind: 'conf', index: w[1], term: w[2], change: { type: type as 'addVoter' | 'addLearner' | 'removeNode', node }, conf };
}

function encodeBody(r: WalRecord): { type: RecordTypeValue; body: Uint8Array } {
  switch (r.type) {
    case 'entry':
      return { type: RecordType.entry, body: encoder.encodeSharedRef(wireEntry(r.entry)) };
    case 'hardState':
      return { type: RecordType.hardState, body: encoder.encodeSharedRef([r.hardState.term, r.hardState.vote, r.hardState.commit]) };
    case 'restore':
      return { type: RecordType.restore, body: encoder.encodeSharedRef([r.index, r.term]) };
  }
}

/** One record, framed and checksummed, in a buffer of its own. */
export function encodeRecord(r: WalRecord): Buffer {
  const { type, body } = encodeBody(r);
  const out = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  out.writeUInt32LE(1 + body.length, 0);
  out[8] = type;
  out.set(body, HEADER_BYTES);
  out.writeUInt32LE(crc32c(out.subarray(8)), 4);
  return out;
}

function decodeBody(type: number, body: Uint8Array): WalRecord {
  switch (type) {
    case RecordType.entry:
      return { type: 'entry', entry: decodeEntry(body) };
    case RecordType.hardState: {
      const [term, vote, commit] = decode(body) as [number, string | null, number];
      return { type: 'hardState', hardState: { term, vote, commit } };
    }
    case RecordType.restore: {
      const [index, term] = decode(body) as [number, number];
      return { type: 'restore', index, term };
    }
    default:
      throw new WalCorruptError(`unknown record type ${type}`);
  }
}

export interface ScanResult {
  readonly records: WalRecord[];
  /** Bytes of whole, valid records; anything after is a torn tail. */
  readonly validBytes: number;
}

/** The disk writes sectors whole: a write cut by a crash leaves some of its sectors as they were. */
const SECTOR = 512;

/**
 * Whether a sector overlapping the record at buf[from, to) was never written: all zeroes (from
 * `from` in the first, which may end an older record; whole in the others).
 */
function zeroSectorIn(buf: Buffer, from: number, to: number): boolean {
  for (let s = from - (from % SECTOR); s < to; s += SECTOR) {
    const a = Math.max(s, from);
    const b = Math.min(s + SECTOR, buf.length);
    if (b > a && buf.subarray(a, b).every((x) => x === 0)) return true;
  }
  return false;
}

/**
 * Reads every record of one segment. Segments are preallocated with zeroes (wal.ts), so the
 * records end where a zero length starts a tail of zeroes. A save cut short by a crash leaves
 * some of its sectors unwritten — still zero — and its records after them may have landed or not;
 * none was acknowledged (the fdatasync never returned). So a damaged record in the last segment
 * is a torn tail when it holds a zero sector, or reaches the end of the buffer: scanning stops
 * there and `validBytes` says where to cut. Any other damage — a flipped bit, damage in a sealed
 * segment — is corruption: an error, not a silent loss of acknowledged entries.
 */
export function scanRecords(buf: Buffer, last: boolean, what: string): ScanResult {
  const records: WalRecord[] = [];
  let at = 0;
  while (at < buf.length) {
    const torn = (why: string, tornIf: boolean): ScanResult => {
      if (!last || !tornIf) throw new WalCorruptError(`${what}: ${why} at byte ${at}${last ? '' : ' of a sealed segment'}`);
      return { records, validBytes: at };
    };
    if (buf.subarray(at, at + HEADER_BYTES).every((b) => b === 0) && buf.subarray(at).every((b) => b === 0)) return { records, validBytes: at };
    if (buf.length - at < HEADER_BYTES) return torn('short header', true);
    const length = buf.readUInt32LE(at);
    const end = at + 8 + length;
    if (length === 0 || length > MAX_RECORD_BYTES) return torn(`bad record length ${length}`, zeroSectorIn(buf, at, at + HEADER_BYTES));
    if (end > buf.length) return torn('record cut short', true);
    const payload = buf.subarray(at + 8, end);
    if (crc32c(payload) !== buf.readUInt32LE(at + 4)) {
      return torn('checksum mismatch in the record', end === buf.length || zeroSectorIn(buf, at, end));
    }
    try {
      records.push(decodeBody(payload[0]!, payload.subarray(1)));
    } catch (e) {
      throw new WalCorruptError(`${what}: record at byte ${at}: ${(e as Error).message}`);
    }
    at = end;
  }
  return { records, validBytes: at };
}

export interface Replayed {
  hardState: HardState;
  /** Contiguous. */
  entries: Entry[];
}

/** Folds records (of every segment, in order) into the log they describe. */
export function replayRecords(records: Iterable<WalRecord>, into: Replayed = { hardState: { term: 0, vote: null, commit: 0 }, entries: [] }): Replayed {
  const { entries } = into;
  for (const r of records) {
    if (r.type === 'hardState') into.hardState = r.hardState;
    else if (r.type === 'restore') entries.length = 0;
    else {
      const first = entries[0]?.index;
      const i = r.entry.index;
      if (first === undefined) entries.push(r.entry);
      else if (i < first) {
        entries.length = 0;
        entries.push(r.entry);
      } else if (i <= first + entries.length) {
        entries.length = i - first;
        entries.push(r.entry);
      } else {
        throw new WalCorruptError(`entry ${i} follows entry ${first + entries.length - 1}: entries are missing`);
      }
    }
  }
  return into;
}
