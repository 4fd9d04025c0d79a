// The storage side of an NBD export. The sparse-file backend implements it today; the raft volume
// (writes as log entries, applied to a sparse file per replica) implements the same contract later.

/** Alignment and size hints advertised through NBD_INFO_BLOCK_SIZE and enforced by the server. */
export interface BlockSizeConstraints {
  /** Power of two, 1..65536: requests not aligned to it fail with EINVAL. */
  readonly minimum: number;
  /** Power of two, at least max(512, minimum): the size that avoids read-modify-write. */
  readonly preferred: number;
  /** Largest READ/WRITE payload accepted; a multiple of minimum. */
  readonly maximum: number;
}

export interface WriteOptions {
  /** Force unit access: resolve only once the data is on non-volatile storage. */
  readonly fua: boolean;
}

export interface WriteZeroesOptions extends WriteOptions {
  /** The range must stay allocated (no hole punched) after being zeroed. */
  readonly noHole: boolean;
}

/**
 * A fixed-size byte range. Callers (the NBD server) check bounds and alignment before calling,
 * so implementations may assume `offset + length <= size`. Optional operations are advertised to
 * clients only when present.
 */
export interface BlockDevice {
  readonly size: number;
  readonly readOnly: boolean;
  readonly blockSize: BlockSizeConstraints;
  /** True when flush/FUA on one connection covers writes completed on every connection. */
  readonly multiConn: boolean;
  /** True when `fua` is honoured by write, trim and writeZeroes. */
  readonly fua: boolean;
  /**
   * `into`, when given, holds `length` bytes the device may fill and return instead of allocating
   * (the server recycles its reply buffers); a device may ignore it and return its own.
   */
  read(offset: number, length: number, into?: Buffer): Promise<Buffer>;
  write(offset: number, data: Buffer, options: WriteOptions): Promise<void>;
  flush?(): Promise<void>;
  /** Advisory discard: the range's contents are unspecified until written again. */
  trim?(offset: number, length: number, options: WriteOptions): Promise<void>;
  writeZeroes?(offset: number, length: number, options: WriteZeroesOptions): Promise<void>;
}

/** The NBD errors a backend may report; anything else thrown becomes EIO unless its errno maps. */
export type BlockErrorCode = 'EPERM' | 'EIO' | 'ENOMEM' | 'EINVAL' | 'ENOSPC' | 'EOVERFLOW' | 'ESHUTDOWN';

export class BlockDeviceError extends Error {
  constructor(
    readonly code: BlockErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'BlockDeviceError';
  }
}
