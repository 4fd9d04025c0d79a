import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../../agent/sbs/nbd/buffer-pool.js';

describe('BufferPool', () => {
  it('hands a returned buffer out again for the same length', () => {
    const pool = new BufferPool(4 << 20);
    const a = pool.take(1 << 20);
    expect(a.length).toBe(1 << 20);
    pool.give(a);
    expect(pool.take(1 << 20)).toBe(a);
    expect(pool.take(1 << 20)).not.toBe(a);
  });

  it('keeps sizes apart', () => {
    const pool = new BufferPool(4 << 20);
    const a = pool.take(1 << 20);
    pool.give(a);
    const b = pool.take(128 << 10);
    expect(b.length).toBe(128 << 10);
    expect(b.buffer).not.toBe(a.buffer);
  });

  it('ignores buffers it did not make, and small ones', () => {
    const pool = new BufferPool(4 << 20);
    const foreign = Buffer.alloc(1 << 20);
    pool.give(foreign);
    expect(pool.take(1 << 20)).not.toBe(foreign);
    const small = pool.take(4096);
    pool.give(small);
    expect(pool.take(4096)).not.toBe(small);
  });

  it('keeps at most maxBytes idle', () => {
    const pool = new BufferPool(2 << 20);
    const bufs = [pool.take(1 << 20), pool.take(1 << 20), pool.take(1 << 20)];
    for (const b of bufs) pool.give(b);
    const again = [pool.take(1 << 20), pool.take(1 << 20), pool.take(1 << 20)];
    expect(again.filter((b) => bufs.includes(b))).toHaveLength(2);
  });
});
