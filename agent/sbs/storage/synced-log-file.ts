// One log segment's file, appended to durably: every append is on the disk when it resolves.
//
// The file is opened O_DIRECT|O_DSYNC where the filesystem allows it, so records go from our
// memory to the disk without a copy into the page cache and without the filesystem writing that
// copy back (on ext4, buffered O_DSYNC saves were a fifth of three replicas' CPU under 4 KiB
// writes). O_DIRECT wants the offset, the length and the memory aligned to the device's blocks:
// the bytes of the last, partial block are kept and written again ahead of the next records,
// and an append is padded with zeroes to a whole block — replay reads those as the zeroes after
// the last record. Where O_DIRECT is refused, the same writes go through the page cache.
//
// Zeroes are written ahead, PREALLOCATE_BYTES at a time, before the records that need the room:
// a synced write over blocks already written changes no file size or extent, so the filesystem
// has no metadata to commit with it (165 µs against 250–290 appending, measured with buffered
// saves).

import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import koffi from 'koffi';
import { pwrite } from '../../../lib/fd-io.js';

/** Offsets, lengths and memory of O_DIRECT writes are multiples of this (every Linux block size divides it). */
const BLOCK = 4096;
const PREALLOCATE_BYTES = 4 * 1024 * 1024;
/**
 * An append this large goes past the zeroes without writing more: its metadata commit costs
 * little beside it, and zeroes ahead of large writes had been a third of the disk's write
 * traffic (three replicas writing log, zeroes and data on one disk).
 */
const LARGE_APPEND_BYTES = 256 * 1024;
const SYNCED = constants.O_RDWR | constants.O_DSYNC;

const alignDown = (n: number): number => n - (n % BLOCK);
const alignUp = (n: number): number => alignDown(n + BLOCK - 1);

/** Zeroed memory starting on a block boundary (Node's allocator promises no such alignment). */
function alignedBuffer(bytes: number): Buffer {
  const raw = Buffer.alloc(bytes + BLOCK);
  const skip = (BLOCK - Number(koffi.address(raw) % BigInt(BLOCK))) % BLOCK;
  return raw.subarray(skip, skip + bytes);
}

let zeroes: Buffer | undefined;

export class SyncedLogFile {
  private staging = alignedBuffer(1024 * 1024);
  /** Bytes of the file written (records, then zeroes): past `end`, zeroes. */
  private allocated: number;

  private constructor(
    private readonly handle: FileHandle,
    /** Bytes of records written. */
    private end: number,
    /** The records of the block `end` falls in, from its start. */
    private tail: Buffer,
  ) {
    this.allocated = end;
  }

  /** Opens a segment holding `records` (the file already cut after them), or creates an empty one. */
  static async open(path: string, records: Buffer | null): Promise<SyncedLogFile> {
    const flags = SYNCED | (records ? 0 : constants.O_CREAT | constants.O_EXCL);
    const handle = await open(path, flags | constants.O_DIRECT, 0o600).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EINVAL') throw e;
      return open(path, flags, 0o600); // a filesystem without O_DIRECT
    });
    const end = records?.length ?? 0;
    return new SyncedLogFile(handle, end, Buffer.from(records?.subarray(alignDown(end)) ?? []));
  }

  get size(): number {
    return this.end;
  }

  /** Writes `bufs` after the records, durably, with zeroes ahead of them as needed. */
  async append(bufs: readonly Buffer[]): Promise<void> {
    let bytes = 0;
    for (const b of bufs) bytes += b.length;
    const end = this.end + bytes;
    if (bytes < LARGE_APPEND_BYTES && end > this.allocated) {
      const upTo = (Math.floor(end / PREALLOCATE_BYTES) + 1) * PREALLOCATE_BYTES;
      zeroes ??= alignedBuffer(PREALLOCATE_BYTES);
      for (let at = alignUp(this.allocated); at < upTo;) at += await pwrite(this.handle.fd, zeroes, 0, Math.min(zeroes.length, upTo - at), at);
      this.allocated = upTo;
    }
    const from = alignDown(this.end);
    const length = alignUp(end) - from;
    if (this.staging.length < length) this.staging = alignedBuffer(2 ** Math.ceil(Math.log2(length)));
    const s = this.staging;
    let at = this.tail.copy(s, 0);
    for (const b of bufs) at += b.copy(s, at);
    s.fill(0, at, length);
    for (let done = 0; done < length;) done += await pwrite(this.handle.fd, s, done, length - done, from + done);
    this.tail = Buffer.from(s.subarray(alignDown(end) - from, end - from));
    this.end = end;
    this.allocated = Math.max(this.allocated, alignUp(end));
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}
