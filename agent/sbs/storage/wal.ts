// A segmented write-ahead log of raft entries and hard state (format and replay: records.ts).
//
// Segments are named SEQ-BASE.wal (16 hex digits each): BASE is the last log index when the
// segment was started, so every live entry of earlier segments is at or below it. Each segment
// begins with the hard state of its start, which lets compaction delete whole segments once a
// snapshot covers their BASE successor. Every save() is one writev and, unless only the commit
// index moved, one fdatasync: raft's promises (votes, acknowledged appends) are made only after
// it resolves.

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
    private lastIndex: number,
    private hardState: HardState,
  ) {}

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
        // A torn tail: the append never completed, so it was never acknowledged.
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
      handle = await open(seg.path, 'wx+', 0o600);
      await fsyncDir(dir);
      segments.push(seg);
    } else {
      handle = await open(segments[segments.length - 1]!.path, 'r+');
    }
    const wal = new Wal(dir, opts, segments, handle, size, lastIndex, hardState);
    return { wal, hardState, entries };
  }

  /**
   * Appends a Ready's durable part — a restored snapshot point (its data and metadata stored
   * first by the caller), entries, hard state — and fdatasyncs, except when the hard state's
   * commit index is all that changed: the commit index is volatile in raft (a restarted node
   * relearns it, and open() clamps a stale one), so it rides unsynced until the next sync.
   */
  async save(hardState: HardState | null, entries: readonly Entry[], restore: LogBase | null): Promise<void> {
    const records: WalRecord[] = [];
    if (restore) records.push({ type: 'restore', ...restore });
    for (const entry of entries) records.push({ type: 'entry', entry });
    if (hardState) records.push({ type: 'hardState', hardState });
    if (records.length === 0) return;
    const bufs = records.map(encodeRecord);
    let bytes = 0;
    for (const b of bufs) bytes += b.length;
    await writeAll(this.handle, bufs, this.size);
    const commitOnly =
      restore === null && entries.length === 0 && hardState !== null && hardState.term === this.hardState.term && hardState.vote === this.hardState.vote;
    if (!commitOnly) await this.handle.datasync();
    this.size += bytes;
    if (restore) this.lastIndex = restore.index;
    if (entries.length > 0) this.lastIndex = entries[entries.length - 1]!.index;
    if (hardState) this.hardState = hardState;
    if (this.size >= this.opts.segmentBytes) await this.roll();
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
    await this.handle.close();
  }

  private async roll(): Promise<void> {
    const seq = this.segments[this.segments.length - 1]!.seq + 1;
    const seg = { seq, base: this.lastIndex, path: join(this.dir, `${hex(seq)}-${hex(this.lastIndex)}.wal`) };
    const h = await open(seg.path, 'wx+', 0o600);
    const head = encodeRecord({ type: 'hardState', hardState: this.hardState });
    await writeAll(h, [head], 0);
    await h.sync();
    await fsyncDir(this.dir);
    await this.handle.close();
    this.handle = h;
    this.size = head.length;
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
