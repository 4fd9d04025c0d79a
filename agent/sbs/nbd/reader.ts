import type { Duplex } from 'node:stream';

export class StreamClosedError extends Error {
  override readonly name = 'StreamClosedError';
}

/**
 * Reads exact-length messages from a stream. It buffers at most `highWaterMark` bytes beyond what
 * a pending read needs and pauses the stream past that, so a client that sends faster than the
 * server consumes is held back by TCP flow control rather than by server memory.
 * `detach` hands the stream over (STARTTLS) without losing or stealing bytes.
 */
export class StreamReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private waiter: { length: number; resolve: (buf: Buffer) => void; reject: (err: Error) => void } | undefined;
  private closed: Error | undefined;
  private readonly onData = (chunk: Buffer): void => this.push(chunk);
  private readonly onEnd = (): void => this.fail(new StreamClosedError('peer closed the connection'));
  private readonly onError = (err: Error): void => this.fail(err);

  constructor(
    private readonly stream: Duplex,
    private readonly highWaterMark: number,
  ) {
    stream.on('data', this.onData);
    stream.on('end', this.onEnd);
    stream.on('close', this.onEnd);
    stream.on('error', this.onError);
  }

  /** Resolves with exactly `length` bytes; one read at a time. */
  read(length: number): Promise<Buffer> {
    if (this.waiter) return Promise.reject(new Error('concurrent read on StreamReader'));
    if (this.buffered >= length) return Promise.resolve(this.take(length));
    if (this.closed) return Promise.reject(this.closed);
    return new Promise((resolve, reject) => {
      this.waiter = { length, resolve, reject };
      this.stream.resume();
    });
  }

  /** Discards `length` bytes without holding more than one chunk of them. */
  async skip(length: number): Promise<void> {
    let left = length;
    while (left > 0) {
      const step = Math.min(left, 64 * 1024);
      await this.read(step);
      left -= step;
    }
  }

  /** Stops listening; returns bytes already received but not yet read. */
  detach(): Buffer {
    this.stream.off('data', this.onData);
    this.stream.off('end', this.onEnd);
    this.stream.off('close', this.onEnd);
    this.stream.off('error', this.onError);
    this.stream.pause();
    const rest = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [];
    this.buffered = 0;
    this.fail(new StreamClosedError('reader detached'));
    return rest;
  }

  private push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const waiter = this.waiter;
    if (waiter && this.buffered >= waiter.length) {
      this.waiter = undefined;
      waiter.resolve(this.take(waiter.length));
    }
    if (this.buffered >= this.highWaterMark && !this.waiter) this.stream.pause();
  }

  private take(length: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= length) {
      // Common case: the message sits inside one chunk, so hand out a view instead of a copy.
      out = first.subarray(0, length);
      if (first.length === length) this.chunks.shift();
      else this.chunks[0] = first.subarray(length);
    } else {
      out = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const chunk = this.chunks[0];
        if (chunk === undefined) throw new Error('StreamReader accounting broken');
        const n = Math.min(chunk.length, length - filled);
        chunk.copy(out, filled, 0, n);
        filled += n;
        if (n === chunk.length) this.chunks.shift();
        else this.chunks[0] = chunk.subarray(n);
      }
    }
    this.buffered -= length;
    if (this.buffered < this.highWaterMark && !this.closed) this.stream.resume();
    return out;
  }

  private fail(err: Error): void {
    if (this.closed) return;
    this.closed = err;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.reject(err);
  }
}
