import { mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Entry } from '../../../agent/sbs/raft/index.js';
import { crc32c } from '../../../agent/sbs/storage/crc32c.js';
import { decodeEntry, encodeEntry, encodeRecord, replayRecords, scanRecords, WalCorruptError, type WalRecord } from '../../../agent/sbs/storage/records.js';
import { decodeSnapshotMeta, encodeSnapshotMeta } from '../../../agent/sbs/storage/snapshot.js';
import { SyncedLogFile } from '../../../agent/sbs/storage/synced-log-file.js';
import { afterBase, Wal } from '../../../agent/sbs/storage/wal.js';

const normal = (index: number, term: number, fill = index): Entry => ({ kind: 'normal', index, term, data: new Uint8Array(37).fill(fill & 0xff) });

describe('crc32c', () => {
  it('matches the Castagnoli check value and continues across calls', () => {
    const data = Buffer.from('123456789');
    expect(crc32c(data)).toBe(0xe3069283);
    expect(crc32c(data.subarray(4), crc32c(data.subarray(0, 4)))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
  });
});

describe('WAL records', () => {
  const samples: WalRecord[] = [
    { type: 'entry', entry: normal(1, 1) },
    { type: 'entry', entry: { kind: 'normal', index: 2 ** 40, term: 7, data: new Uint8Array(0) } },
    { type: 'entry', entry: { kind: 'conf', index: 3, term: 2, change: { type: 'addVoter', node: 'h4' }, conf: { voters: ['h1', 'h4'], learners: ['h9'] } } },
    { type: 'hardState', hardState: { term: 9, vote: 'h2', commit: 12 } },
    { type: 'hardState', hardState: { term: 0, vote: null, commit: 0 } },
    { type: 'restore', index: 100, term: 4 },
  ];

  it('round-trip through encode and scan', () => {
    const buf = Buffer.concat(samples.map(encodeRecord));
    const { records, validBytes } = scanRecords(buf, false, 'seg');
    expect(validBytes).toBe(buf.length);
    expect(records).toEqual(samples);
  });

  it('round-trip entries', () => {
    for (const r of samples) if (r.type === 'entry') expect(decodeEntry(encodeEntry(r.entry))).toEqual(r.entry);
  });

  it('a cut or damaged last record is a torn tail; the same damage in the middle is an error', () => {
    const bufs = samples.map(encodeRecord);
    const whole = Buffer.concat(bufs);
    const lastStart = whole.length - bufs[bufs.length - 1]!.length;
    for (let cut = lastStart; cut < whole.length; cut++) {
      const { records, validBytes } = scanRecords(whole.subarray(0, cut), true, 'seg');
      expect(validBytes).toBe(lastStart);
      expect(records).toEqual(samples.slice(0, -1));
      if (cut > lastStart) expect(() => scanRecords(whole.subarray(0, cut), false, 'seg')).toThrow(WalCorruptError);
    }
    const flippedLast = Buffer.from(whole);
    flippedLast[whole.length - 1]! ^= 1;
    expect(scanRecords(flippedLast, true, 'seg').validBytes).toBe(lastStart);
    const flippedMiddle = Buffer.from(whole);
    flippedMiddle[bufs[0]!.length + 12]! ^= 1;
    expect(() => scanRecords(flippedMiddle, true, 'seg')).toThrow(/checksum mismatch/);
    const zeroTail = Buffer.concat([whole, Buffer.alloc(100)]);
    expect(scanRecords(zeroTail, true, 'seg').validBytes).toBe(whole.length);
    expect(scanRecords(zeroTail, false, 'seg').validBytes).toBe(whole.length);
  });

  it('a save cut short in a preallocated segment (sectors still zero) is a torn tail, whatever landed after it', () => {
    const first = encodeRecord({ type: 'entry', entry: normal(1, 1) });
    const big = encodeRecord({ type: 'entry', entry: { kind: 'normal', index: 2, term: 1, data: new Uint8Array(4096).fill(9) } });
    const after = encodeRecord({ type: 'entry', entry: normal(3, 1) });
    const seg = Buffer.concat([first, big, after, Buffer.alloc(8192)]);
    // A middle sector of the big record never reached the disk; the record after it did.
    const cut = Buffer.from(seg);
    cut.fill(0, 1024, 1536);
    expect(scanRecords(cut, true, 'seg')).toEqual({ records: [{ type: 'entry', entry: normal(1, 1) }], validBytes: first.length });
    expect(() => scanRecords(cut, false, 'seg')).toThrow(/sealed segment/);
    // Its header's sector never did: a zero length with data after it.
    const headless = Buffer.from(seg);
    headless.fill(0, first.length, 512);
    expect(scanRecords(headless, true, 'seg').validBytes).toBe(first.length);
    // A flipped bit is not a torn save: the entries after it were acknowledged.
    const flipped = Buffer.from(seg);
    flipped[1200]! ^= 1;
    expect(() => scanRecords(flipped, true, 'seg')).toThrow(/checksum mismatch/);
  });

  it('replay: an entry replaces its index and everything after; restore drops the log', () => {
    const r = (e: Entry): WalRecord => ({ type: 'entry', entry: e });
    const out = replayRecords([
      r(normal(1, 1)),
      r(normal(2, 1)),
      r(normal(3, 1)),
      r(normal(2, 2)),
      { type: 'hardState', hardState: { term: 2, vote: 'a', commit: 1 } },
    ]);
    expect(out.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 2],
    ]);
    expect(out.hardState).toEqual({ term: 2, vote: 'a', commit: 1 });
    const restored = replayRecords([r(normal(1, 1)), { type: 'restore', index: 50, term: 3 }, r(normal(51, 3))]);
    expect(restored.entries.map((e) => e.index)).toEqual([51]);
    expect(() => replayRecords([r(normal(1, 1)), r(normal(3, 1))])).toThrow(/missing/);
  });

  it('afterBase keeps what follows a matching snapshot and drops a conflicting log', () => {
    const log = [normal(5, 1), normal(6, 2), normal(7, 2)];
    expect(afterBase(log, { index: 5, term: 1 }).map((e) => e.index)).toEqual([6, 7]);
    expect(afterBase(log, { index: 4, term: 1 }).map((e) => e.index)).toEqual([5, 6, 7]);
    expect(afterBase(log, { index: 6, term: 3 })).toEqual([]);
    expect(afterBase(log, { index: 9, term: 3 })).toEqual([]);
    expect(() => afterBase(log, { index: 2, term: 1 })).toThrow(/missing/);
  });

  it('snapshot metadata round-trips', () => {
    const m = { index: 42, term: 3, conf: { voters: ['h1', 'h2'], learners: [] } };
    expect(decodeSnapshotMeta(encodeSnapshotMeta(m))).toEqual(m);
    expect(() => decodeSnapshotMeta('{"index":"x"}')).toThrow(/malformed/);
  });
});

describe('Wal on disk', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vxcloud-wal-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const base0 = { index: 0, term: 0 };

  async function segmentFiles(d: string): Promise<string[]> {
    return (await readdir(d)).filter((n) => n.endsWith('.wal')).sort();
  }

  it('a segment file takes appends of any length back to back, across blocks and reopenings', async () => {
    const path = join(dir, 'seg');
    const written: Buffer[] = [];
    let file = await SyncedLogFile.open(path, null);
    for (const [i, n] of [1, 4095, 4096, 4097, 300_000, 13, 8191].entries()) {
      const b = Buffer.alloc(n, i + 1);
      await file.append([b.subarray(0, n >> 1), b.subarray(n >> 1)]);
      written.push(b);
      const records = Buffer.concat(written);
      expect(file.size).toBe(records.length);
      if (i % 2 === 1) {
        // As the WAL reopens a segment: cut after its records, then append.
        await file.close();
        await truncate(path, records.length);
        file = await SyncedLogFile.open(path, await readFile(path));
      }
    }
    await file.close();
    const records = Buffer.concat(written);
    const back = await readFile(path);
    expect(back.subarray(0, records.length).equals(records)).toBe(true);
    expect(back.subarray(records.length).every((b) => b === 0)).toBe(true);
  });

  it('reopens with what was saved, conflicts truncated', async () => {
    const { wal } = await Wal.open(dir, base0);
    await wal.save({ term: 1, vote: 'a', commit: 0 }, [normal(1, 1), normal(2, 1), normal(3, 1)], null);
    await wal.save({ term: 2, vote: 'b', commit: 2 }, [normal(3, 2)], null);
    await wal.close();
    const again = await Wal.open(dir, base0);
    expect(again.hardState).toEqual({ term: 2, vote: 'b', commit: 2 });
    expect(again.entries.map((e) => [e.index, e.term])).toEqual([
      [1, 1],
      [2, 1],
      [3, 2],
    ]);
    await again.wal.close();
  });

  it('survives a torn last append at every byte, and appends after the cut', async () => {
    const { wal } = await Wal.open(dir, base0);
    await wal.save({ term: 1, vote: 'a', commit: 1 }, [normal(1, 1), normal(2, 1)], null);
    await wal.save(null, [normal(3, 1)], null);
    await wal.close();
    const [seg] = await segmentFiles(dir);
    const path = join(dir, seg!);
    const written = await readFile(path);
    const full = written.subarray(0, scanRecords(written, true, seg!).validBytes);
    const lastLen = encodeRecord({ type: 'entry', entry: normal(3, 1) }).length;
    for (let cut = full.length - lastLen; cut < full.length; cut++) {
      await writeFile(path, full.subarray(0, cut));
      const o = await Wal.open(dir, base0);
      expect(o.entries.map((e) => e.index)).toEqual([1, 2]);
      expect(o.hardState).toEqual({ term: 1, vote: 'a', commit: 1 });
      expect((await stat(path)).size).toBe(full.length - lastLen);
      await o.wal.save(null, [normal(3, 5)], null);
      await o.wal.close();
      const p = await Wal.open(dir, base0);
      expect(p.entries.map((e) => [e.index, e.term])).toEqual([
        [1, 1],
        [2, 1],
        [3, 5],
      ]);
      await p.wal.close();
    }
  });

  it('writes segments ahead with zeroes, so that a save changes no file size; a reopened log appends where its records end', async () => {
    const { wal } = await Wal.open(dir, base0);
    await wal.save({ term: 1, vote: 'a', commit: 0 }, [normal(1, 1)], null);
    const path = join(dir, (await segmentFiles(dir))[0]!);
    const size = (await stat(path)).size;
    expect(size % (4 * 1024 * 1024)).toBe(0);
    for (let i = 2; i <= 50; i++) await wal.save(null, [normal(i, 1)], null);
    expect((await stat(path)).size).toBe(size);
    // Large saves write no zeroes ahead: the file ends in the 4 KiB block their records end in.
    const big = (i: number): Entry => ({ kind: 'normal', index: i, term: 1, data: new Uint8Array(1 << 20).fill(i) });
    await wal.save(null, [big(51), big(52), big(53), big(54)], null);
    const end = (await stat(path)).size;
    expect(end).toBeGreaterThan(size);
    expect(end % 4096).toBe(0);
    expect(end - scanRecords(await readFile(path), true, 'seg').validBytes).toBeLessThan(4096);
    await wal.close();
    for (const round of [1, 2]) {
      const o = await Wal.open(dir, base0);
      expect(o.entries.map((e) => e.index)).toEqual(Array.from({ length: 53 + round }, (_, i) => i + 1));
      await o.wal.save(null, [normal(54 + round, 1)], null);
      await o.wal.close();
    }
  });

  it('a save that only moves the commit index writes nothing; the next save, or a clean close, carries it', async () => {
    const { wal } = await Wal.open(dir, base0);
    await wal.save({ term: 1, vote: 'a', commit: 0 }, [normal(1, 1), normal(2, 1)], null);
    const path = join(dir, (await segmentFiles(dir))[0]!);
    const used = async (): Promise<number> => scanRecords(await readFile(path), true, 'seg').validBytes;
    const before = await used();
    await wal.save({ term: 1, vote: 'a', commit: 1 }, [], null);
    expect(await used()).toBe(before);
    await wal.save(null, [normal(3, 1)], null);
    await wal.save({ term: 1, vote: 'a', commit: 3 }, [], null);
    await wal.close();
    const o = await Wal.open(dir, base0);
    expect(o.hardState).toEqual({ term: 1, vote: 'a', commit: 3 });
    await o.wal.close();
  });

  it('refuses a log damaged in the middle', async () => {
    const { wal } = await Wal.open(dir, base0);
    await wal.save({ term: 1, vote: 'a', commit: 0 }, [normal(1, 1), normal(2, 1), normal(3, 1)], null);
    await wal.close();
    const path = join(dir, (await segmentFiles(dir))[0]!);
    const buf = await readFile(path);
    buf[20]! ^= 0x40;
    await writeFile(path, buf);
    await expect(Wal.open(dir, base0)).rejects.toThrow(WalCorruptError);
  });

  it('rolls segments and compaction deletes only those a snapshot covers', async () => {
    const { wal } = await Wal.open(dir, base0, { segmentBytes: 200 });
    for (let i = 1; i <= 20; i++) await wal.save({ term: 1, vote: 'a', commit: i - 1 }, [normal(i, 1)], null);
    expect(wal.segmentCount).toBeGreaterThan(5);
    await wal.compact(12);
    await wal.close();
    const names = await segmentFiles(dir);
    const bases = names.map((n) => parseInt(n.slice(17, 33), 16));
    // The first kept segment may hold entries at or below 12; the one after it starts above 12.
    expect(bases[1]).toBeGreaterThan(12);
    const o = await Wal.open(dir, { index: 12, term: 1 });
    expect(o.entries.map((e) => e.index)).toEqual([13, 14, 15, 16, 17, 18, 19, 20]);
    expect(o.hardState.commit).toBe(19);
    await o.wal.close();
  });

  it('a restore point replaces the log', async () => {
    const { wal } = await Wal.open(dir, base0);
    await wal.save({ term: 1, vote: 'a', commit: 2 }, [normal(1, 1), normal(2, 1), normal(3, 1)], null);
    await wal.save({ term: 4, vote: null, commit: 90 }, [], { index: 90, term: 3 });
    await wal.save(null, [normal(91, 4)], null);
    await wal.close();
    const o = await Wal.open(dir, { index: 90, term: 3 });
    expect(o.entries.map((e) => e.index)).toEqual([91]);
    expect(o.hardState).toEqual({ term: 4, vote: null, commit: 90 });
    await o.wal.close();
    // Cut the restore record off: the old log must not be glued to the new snapshot.
    const path = join(dir, (await segmentFiles(dir))[0]!);
    const tail =
      encodeRecord({ type: 'entry', entry: normal(91, 4) }).length + encodeRecord({ type: 'hardState', hardState: { term: 4, vote: null, commit: 90 } }).length;
    await truncate(path, (await stat(path)).size - tail - 1);
    const p = await Wal.open(dir, { index: 90, term: 3 });
    expect(p.entries).toEqual([]);
    await p.wal.close();
  });
});
