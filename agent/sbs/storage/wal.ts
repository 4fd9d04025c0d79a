// A segmented write-ahead log of raft entries and hard state (format and replay: records.ts).
//
// Segments are named SEQ-BASE.wal (16 hex digits each): BASE is the last log index when the
// segment was started, so every live entry of earlier segments is at or below it. Each segment
// begins with the hard state of its start, which lets compaction delete whole segments once a
// snapshot covers their BASE successor. Every save() is one writev to a file opened O_DSYNC —
// durable when it returns, in one trip through the thread pool (a writev then an fdatasync took
// two: 241 µs against 175 for a 4 KiB save here) — so raft's promises (votes, acknowledged
// appends) are made only after it resolves. A save that only moves the commit index writes
// nothing: the commit index is volatile in raft (a restarted node relearns it, and open() clamps
// a stale one), so its record rides with the next save. (Written unsynced, it could be the hole
// of zeroes a crash leaves before a later, synced save: O_DSYNC syncs only its own range.)
//
// Segments are written ahead with zeroes, PREALLOCATE_BYTES at a time, in the writev of the save
// that needs the room: an fdatasync of records that overwrite zeroes changes no file size, so
// the filesystem has no journal to commit — about a third of the time of a 4 KiB save here
// (measured 165 µs against 250–290 µs appending; more with three agents syncing at once).
// records.ts tells a torn save from the zeroes it stopped short of.

import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry, HardState } from '../raft/index.js';
import { fsyncDir } from '../../../lib/atomic-file.js';
import { encodeRecord, replayRecords, scanRecords, WalCorruptError, type WalRecord } from './records.js';

export interface WalOptions {
  /** A segment past this size is sealed and a new one started. */
  readonly segmentBytes: number;
}

export const DEFAULT_WAL_OPTIONS: WalOptions = { segmentBytes: 64 * 1024 * 1024 };

const PREALLOCATE_BYTES = 4 * 1024 * 1024;
/**
 * A save this large goes past the zeroes without writing more: its journal commit costs little
 * beside it, and zeroes ahead of large writes had been a third of the disk's write traffic
 * (three replicas writing log, zeroes and data on one disk).
 */
const LARGE_SAVE_BYTES = 256 * 1024;
const OPEN_SYNCED = constants.O_RDWR | constants.O_DSYNC;
const CREATE_SYNCED = OPEN_SYNCED | constants.O_CREAT | constants.O_EXCL;
const ZEROES = Buffer.alloc(PREALLOCATE_BYTES);

interface Segment {
  readonly seq: number;
  readonly base: number;
  readonly path: string;
}

const NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;
const hex = (n: number): string => n.toString(16).padStart(16, '0');

/** Where the log starts: the snapshot it follows. */
export interface LogBase {
  readonly index: number;
  readonly term: number;
}

export interface OpenedWal {
  readonly wal: Wal;
  readonly hardState: HardState;
  /** Entries after `base.index`, contiguous. */
  readonly entries: Entry[];
}

export class Wal {
  private constructor(
    private readonly dir: string,
    private readonly opts: WalOptions,
    private segments: Segment[],
    private handle: FileHandle,
    private size: number,
    /** Bytes of the segment written (records, then zeroes): past `size`, zeroes. */
    private allocated: number,
    private lastIndex: number,
    private hardState: HardState,
  ) {}

  /** A hard state whose commit index is all that moved, not yet written. */
  private unwrittenCommit: HardState | null = null;

  static async open(dir: string, base: LogBase, opts: WalOptions = DEFAULT_WAL_OPTIONS): Promise<OpenedWal> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const segments: Segment[] = [];
    for (const name of await readdir(dir)) {
      const m = NAME.exec(name);
      if (m) segments.push({ seq: parseInt(m[1]!, 16), base: parseInt(m[2]!, 16), path: join(dir, name) });
    }
    segments.sort((a, b) => a.seq - b.seq);
    const replayed = replayRecords([]);
    let size = 0;
    for (const [i, seg] of segments.entries()) {
      const buf = await readFile(seg.path);
      const last = i === segments.length - 1;
      const { records, validBytes } = scanRecords(buf, last, seg.path);
      if (validBytes < buf.length) {
        // Preallocated zeroes, or a torn tail: that save never completed, so it was never
        // acknowledged. Cut either way, so that nothing of it follows the records written next.
        const h = await open(seg.path, 'r+');
        try {
          await h.truncate(validBytes);
          await h.sync();
        } finally {
          await h.close();
        }
      }
      if (last) size = validBytes;
      replayRecords(records, replayed);
    }
    const entries = afterBase(replayed.entries, base);
    const lastIndex = entries.length > 0 ? entries[entries.length - 1]!.index : base.index;
    const hardState = { ...replayed.hardState, commit: Math.min(Math.max(replayed.hardState.commit, base.index), lastIndex) };
    let handle: FileHandle;
    if (segments.length === 0) {
      const seg = { seq: 0, base: lastIndex, path: join(dir, `${hex(0)}-${hex(lastIndex)}.wal`) };
      handle = await open(seg.path, CREATE_SYNCED, 0o600);
      await fsyncDir(dir);
      segments.push(seg);
    } else {
      handle = await open(segments[segments.length - 1]!.path, OPEN_SYNCED);
    }
    // The last segment was cut at its last whole record: its zeroes are written again as needed.
    const wal = new Wal(dir, opts, segments, handle, size, size, lastIndex, hardState);
    return { wal, hardState, entries };
  }

  /**
   * Appends a Ready's durable part — a restored snapshot point (its data and metadata stored
   * first by the caller), entries, hard state — durably, except a hard state whose commit index
   * is all that changed: that waits for the next save.
   */
  async save(hardState: HardState | null, entries: readonly Entry[], restore: LogBase | null): Promise<void> {
    const commitOnly =
      restore === null && entries.length === 0 && hardState !== null && hardState.term === this.hardState.term && hardState.vote === this.hardState.vote;
    if (commitOnly) {
      this.unwrittenCommit = hardState;
      this.hardState = hardState;
      return;
    }
    const records: WalRecord[] = [];
    if (restore) records.push({ type: 'restore', ...restore });
    for (const entry of entries) records.push({ type: 'entry', entry });
    const hs = hardState ?? this.unwrittenCommit;
    if (hs) records.push({ type: 'hardState', hardState: hs });
    if (records.length === 0) return;
    await this.append(records);
    if (restore) this.lastIndex = restore.index;
    if (entries.length > 0) this.lastIndex = entries[entries.length - 1]!.index;
    if (hs) this.hardState = hs;
    if (this.size >= this.opts.segmentBytes) await this.roll();
  }

  /** Writes records after the last, durably, with zeroes ahead of them as needed. */
  private async append(records: readonly WalRecord[]): Promise<void> {
    const bufs = records.map(encodeRecord);
    let bytes = 0;
    for (const b of bufs) bytes += b.length;
    const end = this.size + bytes;
    if (bytes >= LARGE_SAVE_BYTES) this.allocated = Math.max(this.allocated, end);
    else if (end > this.allocated) {
      const upTo = (Math.floor(end / PREALLOCATE_BYTES) + 1) * PREALLOCATE_BYTES;
      bufs.push(ZEROES.subarray(0, upTo - end));
      this.allocated = upTo;
    }
    await writeAll(this.handle, bufs, this.size);
    this.unwrittenCommit = null;
    this.size += bytes;
  }

  /** Deletes segments whose live entries are all at or below `snapshotIndex` (already durable elsewhere). */
  async compact(snapshotIndex: number): Promise<void> {
    let drop = 0;
    while (drop + 1 < this.segments.length && this.segments[drop + 1]!.base <= snapshotIndex) drop++;
    if (drop === 0) return;
    for (const seg of this.segments.slice(0, drop)) await rm(seg.path, { force: true });
    this.segments = this.segments.slice(drop);
    await fsyncDir(this.dir);
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  async close(): Promise<void> {
    // A clean stop keeps the commit index (a crash may lose it: it is relearned).
    if (this.unwrittenCommit) await this.append([{ type: 'hardState', hardState: this.unwrittenCommit }]).catch(() => undefined);
    await this.handle.close();
  }

  private async roll(): Promise<void> {
    const seq = this.segments[this.segments.length - 1]!.seq + 1;
    const seg = { seq, base: this.lastIndex, path: join(this.dir, `${hex(seq)}-${hex(this.lastIndex)}.wal`) };
    const h = await open(seg.path, CREATE_SYNCED, 0o600);
    const head = encodeRecord({ type: 'hardState', hardState: this.hardState });
    await writeAll(h, [head], 0);
    await fsyncDir(this.dir);
    await this.handle.close();
    this.handle = h;
    this.size = head.length;
    this.allocated = head.length;
    this.segments.push(seg);
  }
}

async function writeAll(h: FileHandle, bufs: Buffer[], position: number): Promise<void> {
  let at = position;
  let rest = bufs;
  while (rest.length > 0) {
    const { bytesWritten } = await h.writev(rest, at);
    at += bytesWritten;
    let n = bytesWritten;
    const next: Buffer[] = [];
    for (const b of rest) {
      if (n >= b.length) n -= b.length;
      else {
        next.push(n > 0 ? b.subarray(n) : b);
        n = 0;
      }
    }
    rest = next;
  }
}

/** The replayed entries that follow the snapshot; none when they disagree with it. */
export function afterBase(entries: readonly Entry[], base: LogBase): Entry[] {
  if (entries.length === 0) return [];
  const first = entries[0]!.index;
  if (first > base.index + 1) throw new WalCorruptError(`the log starts at ${first} but the snapshot ends at ${base.index}: entries are missing`);
  const at = entries[base.index - first];
  // A snapshot restored from a leader whose RESTORE record never made it to the log: our old
  // entries past it may conflict with the leader's, so they go.
  if (base.index >= first && at?.term !== base.term) return [];
  return entries.slice(Math.max(0, base.index + 1 - first));
}
