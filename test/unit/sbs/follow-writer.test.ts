import { describe, expect, it } from 'vitest';
import { WriterFollower } from '../../../agent/sbs/volume/follow-writer.js';

/** Feeds `windows` half-second windows of counts; returns what each window's end decided. */
function run(w: WriterFollower, start: number, windows: number, counts: { local?: number; from?: Record<string, number> }): (string | null)[] {
  const out: (string | null)[] = [];
  for (let i = 1; i <= windows; i++) {
    w.wrote(counts.local ?? 0);
    for (const [h, n] of Object.entries(counts.from ?? {})) w.forwardedFrom(h, n);
    out.push(w.decide(start + i * 500));
  }
  return out;
}

describe('leadership follows the writer', () => {
  it('moves to a follower that carries nearly all writes for two windows, once', () => {
    const w = new WriterFollower(0);
    expect(run(w, 0, 3, { local: 5, from: { h2: 500 } })).toEqual([null, 'h2', null]);
  });

  it('stays for light traffic, for a leader with clients of its own, and for a follower that does not keep it up', () => {
    expect(run(new WriterFollower(0), 0, 4, { from: { h2: 20 } })).toEqual([null, null, null, null]);
    expect(run(new WriterFollower(0), 0, 4, { local: 200, from: { h2: 500 } })).toEqual([null, null, null, null]);
    const w = new WriterFollower(0);
    expect([...run(w, 0, 1, { from: { h2: 500 } }), ...run(w, 500, 1, { from: { h3: 500 } }), ...run(w, 1000, 1, { from: { h2: 500 } })]).toEqual([
      null,
      null,
      null,
    ]);
  });

  it('does not bounce: a second move waits out the cool-down', () => {
    const w = new WriterFollower(0);
    expect(run(w, 0, 2, { from: { h2: 500 } })).toEqual([null, 'h2']);
    // Two writers on two hosts: h3 dominates right after, but the cool-down holds it.
    const later = run(w, 1000, 12, { from: { h3: 500 } });
    expect(later.slice(0, 7).every((x) => x === null)).toBe(true);
    expect(later).toContain('h3');
  });

  it('decides nothing before a window is over, and forgets the counts of a former term', () => {
    const w = new WriterFollower(0);
    w.forwardedFrom('h2', 10_000);
    expect(w.decide(100)).toBeNull();
    w.reset(100);
    expect(w.decide(600)).toBeNull();
  });
});
