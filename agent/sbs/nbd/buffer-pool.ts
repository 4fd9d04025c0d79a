/**
 * READ reply buffers, reused once the socket has handed them to the kernel. A fresh 1 MiB buffer
 * per read costs about as much as the read itself: its pages are new to the process, so the
 * kernel zero-fills each on first touch, and the collector frees them later.
 */
export class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  /** Buffers this pool made: a device may answer a read with a buffer of its own instead. */
  private readonly own = new WeakSet<Buffer>();
  private held = 0;

  /**
   * @param maxBytes idle bytes kept for reuse, over all sizes
   * @param minLength smaller requests come from Node's own slab allocator, which is cheap
   */
  constructor(
    private readonly maxBytes: number,
    private readonly minLength = 64 * 1024,
  ) {}

  /** A buffer of exactly `length` bytes, with arbitrary contents. */
  take(length: number): Buffer {
    if (length < this.minLength) return Buffer.allocUnsafe(length);
    const reused = this.free.get(length)?.pop();
    if (reused !== undefined) {
      this.held -= length;
      return reused;
    }
    const buf = Buffer.allocUnsafeSlow(length);
    this.own.add(buf);
    return buf;
  }

  /** Takes back a buffer that nothing uses any more; ignores buffers it did not make. */
  give(buf: Buffer): void {
    if (!this.own.has(buf) || this.held + buf.length > this.maxBytes) return;
    let list = this.free.get(buf.length);
    if (!list) this.free.set(buf.length, (list = []));
    list.push(buf);
    this.held += buf.length;
  }
}
