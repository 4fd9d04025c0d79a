import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

import type { BlockDevice, BlockSizeConstraints, WriteOptions, WriteZeroesOptions } from './block-device.js';
import { BlockDeviceError } from './block-device.js';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE, fallocate } from './fallocate.js';

/** Zero-fill fallback writes this much at a time so a huge WRITE_ZEROES never allocates its length. */
const ZERO_CHUNK = 1 << 20;
const ZEROES = Buffer.alloc(ZERO_CHUNK);

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

  async read(offset: number, length: number): Promise<Buffer> {
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.handle.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) {
        // Someone shrank the file underneath us; what is past its end reads as zeroes.
        buf.fill(0, done);
        break;
      }
      done += bytesRead;
    }
    return buf;
  }

  async write(offset: number, data: Buffer, options: WriteOptions): Promise<void> {
    this.assertWritable();
    await this.writeAll(offset, data);
    if (options.fua) await this.handle.datasync();
  }

  async flush(): Promise<void> {
    if (!this.readOnly) await this.handle.datasync();
  }

  async trim(offset: number, length: number, options: WriteOptions): Promise<void> {
    this.assertWritable();
    // Trim is advisory: where holes cannot be punched, keeping the data is a valid outcome.
    if (await fallocate(this.handle.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length)) {
      if (options.fua) await this.handle.datasync();
    }
  }

  async writeZeroes(offset: number, length: number, options: WriteZeroesOptions): Promise<void> {
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
  }

  async close(): Promise<void> {
    await this.handle.close();
  }

  private assertWritable(): void {
    if (this.readOnly) throw new BlockDeviceError('EPERM', 'device is read-only');
  }

  private async writeAll(offset: number, data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, offset + done);
      done += bytesWritten;
    }
  }
}
