// A volume replica as an NBD BlockDevice: writes become raft commands (forwarded to the leader
// from a follower), reads are linearizable (ReadIndex), flush has nothing to wait for because
// every acknowledged write is already committed and applied.

import type { BlockDevice, BlockSizeConstraints, WriteOptions, WriteZeroesOptions } from '../backend/block-device.js';
import type { Replica } from './replica.js';

/**
 * A write is one raft entry, and entries travel between agents in raft link frames of a few MiB:
 * the NBD server refuses larger requests with EINVAL, clients split them.
 */
export const VOLUME_BLOCK_SIZE: BlockSizeConstraints = { minimum: 1, preferred: 4096, maximum: 2 * 1024 * 1024 };

export class VolumeDevice implements BlockDevice {
  readonly readOnly = false;
  readonly blockSize = VOLUME_BLOCK_SIZE;
  readonly multiConn = true;
  readonly fua = true;

  constructor(private readonly replica: Replica) {}

  get size(): number {
    return this.replica.size;
  }

  read(offset: number, length: number, into?: Buffer): Promise<Buffer> {
    return this.replica.read(offset, length, into);
  }

  write(offset: number, data: Buffer, _options: WriteOptions): Promise<void> {
    return this.replica.submit({ op: 'write', offset, data });
  }

  async flush(): Promise<void> {}

  trim(offset: number, length: number, _options: WriteOptions): Promise<void> {
    return this.replica.submit({ op: 'trim', offset, length });
  }

  writeZeroes(offset: number, length: number, options: WriteZeroesOptions): Promise<void> {
    return this.replica.submit({ op: 'zero', offset, length, noHole: options.noHole });
  }
}
