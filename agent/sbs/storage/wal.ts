// A segmented write-ahead log of raft entries and hard state (format and replay: records.ts).
//
// Segments are named SEQ-BASE.wal (16 hex digits each): BASE is the last log index when the
// segment was started, so every live entry of earlier segments is at or below it. Each segment
// begins with the hard state of its start, which lets compaction delete whole segments once a
// snapshot covers their BASE successor. Every save() is one synced write (synced-log-file.ts;
// two when it writes zeroes ahead) — durable when it resolves — so raft's promises (votes,
// acknowledged appends) are made only after it resolves. A save that only moves the commit
// index writes nothing: the commit index is volatile in raft (a restarted node relearns it, and
// open() clamps a stale one), so its record rides with the next save. (Written unsynced, it
// could be the hole of zeroes a crash leaves before a later, synced save.)
// records.ts tells a torn save from the zeroes it stopped short of.

import { mkdir, open, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Entry, HardState } from '../raft/index.js';
import { fsyncDir } from '../../../lib/atomic-file.js';
import { encodeRecord, replayRecords, scanRecords, WalCorruptError, type WalRecord } from './records.js';
import { SyncedLogFile } from './synced-log-file.js';

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
    private file: SyncedLogFile,
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
    let lastRecords: Buffer | null = null;
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
      if (last) lastRecords = buf.subarray(0, validBytes);
      replayRecords(records, replayed);
    }
    const entries = afterBase(replayed.entries, base);
    const lastIndex = entries.length > 0 ? entries[entries.length - 1]!.index : base.index;
    const hardState = { ...replayed.hardState, commit: Math.min(Math.max(replayed.hardState.commit, base.index), lastIndex) };
    let file: SyncedLogFile;
    if (segments.length === 0) {
      const seg = { seq: 0, base: lastIndex, path: join(dir, `${hex(0)}-${hex(lastIndex)}.wal`) };
      file = await SyncedLogFile.open(seg.path, null);
      await fsyncDir(dir);
      segments.push(seg);
    } else {
      // The last segment was cut at its last whole record: its zeroes are written again as needed.
      file = await SyncedLogFile.open(segments[segments.length - 1]!.path, lastRecords);
    }
    const wal = new Wal(dir, opts, segments, file, lastIndex, hardState);
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
    await this.file.append(records.map(encodeRecord));
    this.unwrittenCommit = null;
    if (restore) this.lastIndex = restore.index;
    if (entries.length > 0) this.lastIndex = entries[entries.length - 1]!.index;
    if (hs) this.hardState = hs;
    if (this.file.size >= this.opts.segmentBytes) await this.roll();
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
    if (this.unwrittenCommit) await this.file.append([encodeRecord({ type: 'hardState', hardState: this.unwrittenCommit })]).catch(() => undefined);
    await this.file.close();
  }

  private async roll(): Promise<void> {
    const seq = this.segments[this.segments.length - 1]!.seq + 1;
    const seg = { seq, base: this.lastIndex, path: join(this.dir, `${hex(seq)}-${hex(this.lastIndex)}.wal`) };
    const file = await SyncedLogFile.open(seg.path, null);
    await file.append([encodeRecord({ type: 'hardState', hardState: this.hardState })]);
    await fsyncDir(this.dir);
    await this.file.close();
    this.file = file;
    this.segments.push(seg);
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
