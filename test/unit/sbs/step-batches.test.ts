import { describe, expect, it } from 'vitest';
import { stepBatches } from '../../../agent/sbs/volume/transport.js';

const buf = (n: number, fill: number): Buffer => Buffer.alloc(n, fill);

describe('stepBatches', () => {
  it('keeps the order and puts messages together up to the limit', () => {
    const ms = [buf(400, 1), buf(400, 2), buf(400, 3), buf(100, 4)];
    const out = stepBatches(ms, 1000);
    expect(out.map((b) => b.map((m) => m[0]))).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(out.flat()).toEqual(ms);
  });

  it('sends a message larger than the limit alone', () => {
    const out = stepBatches([buf(10, 1), buf(2000, 2), buf(10, 3)], 1000);
    expect(out.map((b) => b.map((m) => m[0]))).toEqual([[1], [2], [3]]);
  });

  it('eight 1 MiB appends go as four requests of two', () => {
    const out = stepBatches(
      Array.from({ length: 8 }, (_, i) => buf(1024 * 1024 + 64, i)),
      3 * 1024 * 1024,
    );
    expect(out.map((b) => b.length)).toEqual([2, 2, 2, 2]);
    expect(stepBatches([], 10)).toEqual([]);
  });
});
