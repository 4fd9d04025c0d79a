import fs, { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

import type { BlockDevice, BlockSizeConstraints, WriteOptions, WriteZeroesOptions } from './block-device.js';
import { BlockDeviceError } from './block-device.js';
import { pread, pwrite } from '../../../lib/fd-io.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, fallocate } from './fallocate.js';

/** Zero-fill fallback writes this much at a time so a huge WRITE_ZEROES never allocates its length. */
const ZERO_CHUNK = 1 << 20;
const ZEROES = Buffer.alloc(ZERO_CHUNK);
/** The page size writeNow writes in (4 KiB on the hosts we run on; a larger page still works). */
const PAGE = 4096;

export interface SparseFileOptions {
  /** Export size in bytes; the file is created or grown (never shrunk) to it. Defaults to the file's size. */
  readonly size?: number;
  readonly readOnly?: boolean;
  readonly blockSize?: BlockSizeConstraints;
}

export const DEFAULT_BLOCK_SIZE: BlockSizeConstraints = {
  minimum: 1,
  preferred: 4096,
  // 32 MiB: the largest request the protocol says interoperable clients send.
  maximum: 32 * 1024 * 1024,
};

/**
 * A block device on one regular file through a single FileHandle. Every connection shares that
 * handle and the kernel page cache, so a datasync on any connection covers all of them
 * (multi-conn is safe).
 */
export class SparseFileDevice implements BlockDevice {
  readonly multiConn = true;
  readonly fua = true;
  private inFlight = 0;
  private closed = false;
  private drained: (() => void) | undefined;

  private constructor(
    private readonly handle: FileHandle,
    readonly size: number,
    readonly readOnly: boolean,
    readonly blockSize: BlockSizeConstraints,
  ) {}

  static async open(path: string, options: SparseFileOptions = {}): Promise<SparseFileDevice> {
    const readOnly = options.readOnly ?? false;
    const flags = readOnly ? constants.O_RDONLY : constants.O_RDWR | constants.O_CREAT;
    const handle = await open(path, flags, 0o600);
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
      let size = stat.size;
      if (options.size !== undefined && options.size !== size) {
        if (readOnly || options.size < size) {
          throw new Error(`${path} is ${size} bytes, expected ${options.size}`);
        }
        await handle.truncate(options.size); // extends with a hole
        size = options.size;
      }
      if (!Number.isSafeInteger(size) || size < 0) throw new Error(`bad size ${size}`);
      return new SparseFileDevice(handle, size, readOnly, options.blockSize ?? DEFAULT_BLOCK_SIZE);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    return this.track(async () => {
      const buf = into?.length === length ? into : Buffer.allocUnsafe(length);
      let done = 0;
      while (done < length) {
        const n = await pread(this.handle.fd, buf, done, length - done, offset + done);
        if (n === 0) {
          // Someone shrank the file underneath us; what is past its end reads as zeroes.
          buf.fill(0, done);
          break;
        }
        done += n;
      }
      return buf;
    });
  }

  write(offset: number, data: Buffer, options: WriteOptions): Promise<void> {
    return this.track(async () => {
      this.assertWritable();
      await this.writeAll(offset, data);
      if (options.fua) await this.handle.datasync();
    });
  }

  /**
   * Writes on the calling thread, for a caller that applies small writes one after another
   * anyway (a replica applying its log): a 4 KiB pwrite into the page cache takes microseconds,
   * a round trip through libuv's thread pool two context switches on a busy machine.
   *
   * One pwrite per page: the kernel sizes the page-cache folios it creates by the write, and a
   * later 4 KiB overwrite inside a large folio walks all of its blocks (ext4_block_write_begin
   * was 13% of three replicas' CPU under 4 KiB random writes after a 1 MiB sequential fill).
   */
  writeNow(offset: number, data: Buffer): void {
    if (this.closed) throw new BlockDeviceError('ESHUTDOWN', 'device is closed');
    this.assertWritable();
    for (let done = 0; done < data.length;) {
      const page = Math.min(PAGE - ((offset + done) % PAGE), data.length - done);
      done += fs.writeSync(this.handle.fd, data, done, page, offset + done);
    }
  }

  flush(): Promise<void> {
    return this.track(async () => {
      if (!this.readOnly) await this.handle.datasync();
    });
  }

  trim(offset: number, length: number, options: WriteOptions): Promise<void> {
    return this.track(async () => {
      this.assertWritable();
      // Trim is advisory: where holes cannot be punched, keeping the data is a valid outcome.
      if (await fallocate(this.handle.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)) {
        if (options.fua) await this.handle.datasync();
      }
    });
  }

  writeZeroes(offset: number, length: number, options: WriteZeroesOptions): Promise<void> {
    return this.track(async () => {
      this.assertWritable();
      const fd = this.handle.fd;
      const zeroed =
        (!options.noHole && (await fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length))) ||
        (await fallocate(fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length));
      if (!zeroed) {
        for (let at = offset; at < offset + length; at += ZERO_CHUNK) {
          await this.writeAll(at, ZEROES.subarray(0, Math.min(ZERO_CHUNK, offset + length - at)));
        }
      }
      if (options.fua) await this.handle.datasync();
    });
  }

  /** Waits for operations already started, refuses new ones, then closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.inFlight > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    await this.handle.close();
  }

  /**
   * Hot paths use the descriptor directly, which FileHandle cannot protect from being closed and
   * reused under them; this count keeps close() from running while any operation holds it.
   */
  private async track<T>(op: () => Promise<T>): Promise<T> {
    if (this.closed) throw new BlockDeviceError('ESHUTDOWN', 'device is closed');
    this.inFlight++;
    try {
      return await op();
    } finally {
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  private assertWritable(): void {
    if (this.readOnly) throw new BlockDeviceError('EPERM', 'device is read-only');
  }

  private async writeAll(offset: number, data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) {
      done += await pwrite(this.handle.fd, data, done, data.length - done, offset + done);
    }
  }
}
