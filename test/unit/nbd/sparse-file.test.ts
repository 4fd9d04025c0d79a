import { mkdtemp, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, test } from 'vitest';

import { BlockDeviceError } from '../../../agent/sbs/backend/block-device.js';
import { SparseFileDevice } from '../../../agent/sbs/backend/sparse-file.js';

const MiB = 1024 * 1024;
let dir: string;
const open: SparseFileDevice[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vxcloud-sparse-'));
});

afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((d) => d.close()));
  await rm(dir, { recursive: true, force: true });
});

async function device(name: string, options: Parameters<typeof SparseFileDevice.open>[1] = {}): Promise<SparseFileDevice> {
  const d = await SparseFileDevice.open(join(dir, name), options);
  open.push(d);
  return d;
}

describe('opening', () => {
  test('creates a sparse file of the requested size and grows it on a larger reopen', async () => {
    const d = await device('a.img', { size: 8 * MiB });
    expect(d.size).toBe(8 * MiB);
    const st = await stat(join(dir, 'a.img'));
    expect(st.size).toBe(8 * MiB);
    expect(st.blocks).toBe(0);
    await d.close();
    expect((await device('a.img', { size: 16 * MiB })).size).toBe(16 * MiB);
  });

  test('never shrinks, and a read-only open needs an existing file of the right size', async () => {
    await (await device('b.img', { size: 4 * MiB })).close();
    await expect(SparseFileDevice.open(join(dir, 'b.img'), { size: 2 * MiB })).rejects.toThrow(/expected/);
    await expect(SparseFileDevice.open(join(dir, 'b.img'), { size: 8 * MiB, readOnly: true })).rejects.toThrow(/expected/);
    await expect(SparseFileDevice.open(join(dir, 'missing.img'), { readOnly: true })).rejects.toThrow(/ENOENT/);
    expect((await device('b.img', { readOnly: true })).size).toBe(4 * MiB);
  });
});

describe('I/O', () => {
  test('writes read back; a read past a file shrunk behind our back is zero-filled', async () => {
    const d = await device('c.img', { size: 1 * MiB });
    const data = Buffer.alloc(8192, 0x61);
    await d.write(4096, data, { fua: true });
    expect((await d.read(4096, 8192)).equals(data)).toBe(true);
    await truncate(join(dir, 'c.img'), 8192);
    expect((await d.read(4096, 8192)).equals(Buffer.concat([Buffer.alloc(4096, 0x61), Buffer.alloc(4096)]))).toBe(true);
  });

  test('a write on the calling thread that starts and ends inside pages lands whole, its neighbours untouched', async () => {
    const d = await device('g.img', { size: 1 * MiB });
    await d.write(0, Buffer.alloc(64 * 1024, 0x11), { fua: false });
    const data = Buffer.from(Array.from({ length: 3 * 4096 + 1000 }, (_, i) => i % 251));
    d.writeNow(4096 - 700, data);
    const back = await d.read(0, 64 * 1024);
    expect(back.subarray(4096 - 700, 4096 - 700 + data.length).equals(data)).toBe(true);
    expect(back.subarray(0, 4096 - 700).every((b) => b === 0x11)).toBe(true);
    expect(back.subarray(4096 - 700 + data.length).every((b) => b === 0x11)).toBe(true);
  });

  test('write zeroes punches a hole unless NO_HOLE; both read as zero', async () => {
    const d = await device('d.img', { size: 4 * MiB });
    await d.write(0, Buffer.alloc(4 * MiB, 0xff), { fua: true });
    const blocks = async (): Promise<number> => (await stat(join(dir, 'd.img'))).blocks;
    const full = await blocks();
    await d.writeZeroes(0, MiB, { fua: true, noHole: true });
    expect(await blocks()).toBe(full);
    await d.writeZeroes(MiB, MiB, { fua: true, noHole: false });
    expect(await blocks()).toBe(full - 2048);
    expect((await d.read(0, 2 * MiB)).equals(Buffer.alloc(2 * MiB))).toBe(true);
    expect((await d.read(2 * MiB, 4096)).every((b) => b === 0xff)).toBe(true);
  });

  test('trim gives blocks back', async () => {
    const d = await device('e.img', { size: 2 * MiB });
    await d.write(0, Buffer.alloc(2 * MiB, 1), { fua: true });
    await d.trim(0, MiB, { fua: true });
    expect((await stat(join(dir, 'e.img'))).blocks).toBe(2048);
  });

  test('a read-only device refuses writes with EPERM', async () => {
    await writeFile(join(dir, 'f.img'), Buffer.alloc(4096));
    const d = await device('f.img', { readOnly: true });
    const err = await d.write(0, Buffer.alloc(512), { fua: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockDeviceError);
    expect((err as BlockDeviceError).code).toBe('EPERM');
    await d.flush();
  });
});

describe('closing', () => {
  test('waits for operations in flight, then refuses new ones', async () => {
    const d = await device('g.img', { size: 64 * MiB });
    const big = Buffer.alloc(32 * MiB, 7);
    const writing = d.write(0, big, { fua: true });
    const closing = d.close();
    await writing; // completed, not cut off by the close
    await closing;
    await expect(d.read(0, 512)).rejects.toMatchObject({ code: 'ESHUTDOWN' });
    const reopened = await device('g.img');
    expect((await reopened.read(32 * MiB - 4096, 4096)).every((b) => b === 7)).toBe(true);
  });
});
