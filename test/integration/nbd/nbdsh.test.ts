// Edge cases driven through libnbd's Python binding (nbdsh) with client-side strictness turned
// off, so that bad requests really reach the server and its replies are what gets checked.
import { stat } from 'node:fs/promises';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import type { BlockDevice, WriteOptions, WriteZeroesOptions } from '../../../agent/sbs/backend/block-device.js';
import { MiB, nbdshJson, startServer, type RunningServer } from './harness.js';

type Call =
  | { op: 'read'; offset: number; length: number }
  | { op: 'write'; offset: number; length: number; fua: boolean }
  | { op: 'flush' }
  | { op: 'trim'; offset: number; length: number; fua: boolean }
  | { op: 'zero'; offset: number; length: number; fua: boolean; noHole: boolean };

/** Records what the server asked of the device, and can hold chosen reads back. */
class RecordingDevice implements BlockDevice {
  readonly calls: Call[] = [];
  readonly readDelayMs = new Map<number, number>();

  constructor(private readonly inner: BlockDevice) {}

  get size(): number {
    return this.inner.size;
  }
  get readOnly(): boolean {
    return this.inner.readOnly;
  }
  get blockSize(): BlockDevice['blockSize'] {
    return this.inner.blockSize;
  }
  get multiConn(): boolean {
    return this.inner.multiConn;
  }
  get fua(): boolean {
    return this.inner.fua;
  }

  async read(offset: number, length: number): Promise<Buffer> {
    this.calls.push({ op: 'read', offset, length });
    const delay = this.readDelayMs.get(offset);
    if (delay) await new Promise((r) => setTimeout(r, delay));
    return this.inner.read(offset, length);
  }
  write(offset: number, data: Buffer, options: WriteOptions): Promise<void> {
    this.calls.push({ op: 'write', offset, length: data.length, fua: options.fua });
    return this.inner.write(offset, data, options);
  }
  async flush(): Promise<void> {
    this.calls.push({ op: 'flush' });
    await this.inner.flush?.();
  }
  async trim(offset: number, length: number, options: WriteOptions): Promise<void> {
    this.calls.push({ op: 'trim', offset, length, fua: options.fua });
    await this.inner.trim?.(offset, length, options);
  }
  async writeZeroes(offset: number, length: number, options: WriteZeroesOptions): Promise<void> {
    this.calls.push({ op: 'zero', offset, length, fua: options.fua, noHole: options.noHole });
    await this.inner.writeZeroes?.(offset, length, options);
  }
}

let srv: RunningServer;
const recorders = new Map<string, RecordingDevice>();
const record =
  (name: string) =>
  (device: BlockDevice): BlockDevice => {
    const r = new RecordingDevice(device);
    recorders.set(name, r);
    return r;
  };

beforeAll(async () => {
  srv = await startServer([
    { name: 'disk', size: 16 * MiB, wrap: record('disk') },
    { name: 'errors', size: 64 * MiB },
    { name: 'slow', size: 1 * MiB, wrap: record('slow') },
    { name: 'readonly', size: 1 * MiB, readOnly: true },
  ]);
});

afterAll(async () => {
  await srv?.stop();
});

/** Runs a Python snippet in nbdsh connected to `name`; the snippet fills the dict `r`, returned parsed. */
function nbdsh(name: string, body: string): Promise<Record<string, unknown>> {
  return nbdshJson(srv.uri(name), [
    'h.set_strict_mode(0)',
    "h.connect_uri(os.environ['NBD_URI'])",
    'r = {}',
    'def errnum(f):',
    '    try:',
    '        f()',
    '        return 0',
    '    except nbd.Error as e:',
    '        return e.errnum',
    body,
  ]);
}

describe('writes, flush, trim and zeroes reach the device with their flags', () => {
  test('FUA write, flush, trim, zero and zero with NO_HOLE', async () => {
    const device = recorders.get('disk')!;
    device.calls.length = 0;
    const r = await nbdsh(
      'disk',
      `
a = b'\\x5a' * 4096
h.pwrite(a, 8192, nbd.CMD_FLAG_FUA)
r['fua_readback'] = h.pread(4096, 8192) == a
h.flush()
h.pwrite(b'\\x77' * (2 << 20), 1 << 20)
h.trim(1 << 20, 1 << 20)
r['trimmed_is_zero'] = h.pread(1 << 20, 1 << 20) == bytes(1 << 20)
h.zero(1 << 20, 2 << 20)
r['zeroed'] = h.pread(1 << 20, 2 << 20) == bytes(1 << 20)
h.pwrite(b'\\x33' * (1 << 20), 4 << 20)
h.zero(1 << 20, 4 << 20, nbd.CMD_FLAG_NO_HOLE | nbd.CMD_FLAG_FUA)
r['zeroed_no_hole'] = h.pread(1 << 20, 4 << 20) == bytes(1 << 20)
r['untouched'] = h.pread(4096, 8192) == a
`,
    );
    expect(r).toEqual({ fua_readback: true, trimmed_is_zero: true, zeroed: true, zeroed_no_hole: true, untouched: true });
    const ops = device.calls.filter((c) => c.op !== 'read');
    expect(ops).toEqual([
      { op: 'write', offset: 8192, length: 4096, fua: true },
      { op: 'flush' },
      { op: 'write', offset: 1 * MiB, length: 2 * MiB, fua: false },
      { op: 'trim', offset: 1 * MiB, length: 1 * MiB, fua: false },
      { op: 'zero', offset: 2 * MiB, length: 1 * MiB, fua: false, noHole: false },
      { op: 'write', offset: 4 * MiB, length: 1 * MiB, fua: false },
      { op: 'zero', offset: 4 * MiB, length: 1 * MiB, fua: true, noHole: true },
    ]);
  });

  test('zero punches a hole, zero with NO_HOLE keeps the blocks allocated', async () => {
    const blocks = async (): Promise<number> => (await stat(srv.path('disk'))).blocks;
    await nbdsh('disk', "h.pwrite(b'\\x11' * (8 << 20), 8 << 20)\nh.flush()");
    const full = await blocks();
    await nbdsh('disk', 'h.zero(4 << 20, 8 << 20, nbd.CMD_FLAG_NO_HOLE)\nh.flush()');
    expect(await blocks()).toBe(full);
    await nbdsh('disk', 'h.zero(4 << 20, 8 << 20)\nh.flush()');
    // 4 MiB of 512-byte blocks given back to the filesystem.
    expect(full - (await blocks())).toBeGreaterThanOrEqual(8192);
  });
});

describe('errors come back as the protocol says and leave the connection usable', () => {
  test('out-of-range, oversized and malformed requests', async () => {
    const r = await nbdsh(
      'errors',
      `
size = h.get_size()
h.pwrite(b'\\x42' * 4096, 0)
r['read_past_end'] = errnum(lambda: h.pread(4096, size - 2048))
r['read_huge_offset'] = errnum(lambda: h.pread(512, 1 << 63))
r['write_past_end'] = errnum(lambda: h.pwrite(b'x' * 4096, size - 2048))
r['trim_past_end'] = errnum(lambda: h.trim(4096, size))
r['zero_past_end'] = errnum(lambda: h.zero(8192, size - 4096))
r['read_too_big'] = errnum(lambda: h.pread(33 << 20, 0))
r['write_too_big'] = errnum(lambda: h.pwrite(bytes(33 << 20), 0))
r['write_no_hole_flag'] = errnum(lambda: h.pwrite(b'y' * 512, 0, nbd.CMD_FLAG_NO_HOLE))
r['read_unknown_flag'] = errnum(lambda: h.pread(512, 0, 1 << 9))
r['last_byte'] = h.pread(1, size - 1) == b'\\x00'
r['still_works'] = h.pread(4096, 0) == b'\\x42' * 4096
`,
    );
    expect(r).toEqual({
      read_past_end: 22, // EINVAL
      read_huge_offset: 22,
      write_past_end: 28, // ENOSPC
      trim_past_end: 28,
      zero_past_end: 28,
      read_too_big: 22,
      write_too_big: 22,
      write_no_hole_flag: 22,
      read_unknown_flag: 22,
      last_byte: true,
      still_works: true,
    });
  });

  test('a read-only export refuses writes, trims and zeroes with EPERM', async () => {
    const r = await nbdsh(
      'readonly',
      `
r['is_read_only'] = h.is_read_only()
r['can_trim'] = h.can_trim()
r['can_zero'] = h.can_zero()
r['write'] = errnum(lambda: h.pwrite(b'z' * 512, 0))
r['trim'] = errnum(lambda: h.trim(512, 0))
r['zero'] = errnum(lambda: h.zero(512, 0))
r['flush'] = errnum(lambda: h.flush())
r['read'] = h.pread(512, 0) == bytes(512)
`,
    );
    expect(r).toEqual({ is_read_only: true, can_trim: false, can_zero: false, write: 1, trim: 1, zero: 1, flush: 0, read: true });
  });
});

describe('pipelining', () => {
  test('a slow request does not hold back later ones: replies come out of order', async () => {
    const device = recorders.get('slow')!;
    device.readDelayMs.set(0, 500);
    const r = await nbdsh(
      'slow',
      `
slow_buf = nbd.Buffer(4096)
fast_buf = nbd.Buffer(4096)
slow = h.aio_pread(slow_buf, 0)
fast = h.aio_pread(fast_buf, 4096)
order = []
while len(order) < 2:
    h.poll(-1)
    for name, cookie in (('slow', slow), ('fast', fast)):
        if name not in order and h.aio_command_completed(cookie):
            order.append(name)
r['order'] = order
`,
    ).finally(() => device.readDelayMs.clear());
    expect(r).toEqual({ order: ['fast', 'slow'] });
  });

  test('hundreds of requests in flight keep their data straight', async () => {
    const r = await nbdsh(
      'slow',
      `
n = 256
bufs = []
for i in range(n):
    b = nbd.Buffer.from_bytearray(bytearray([i % 251]) * 4096)
    bufs.append(b)
    h.aio_pwrite(b, i * 4096)
while h.aio_in_flight() > 0:
    h.poll(-1)
reads = [nbd.Buffer(4096) for i in range(n)]
for i in range(n):
    h.aio_pread(reads[i], i * 4096)
while h.aio_in_flight() > 0:
    h.poll(-1)
r['ok'] = all(reads[i].to_bytearray() == bytearray([i % 251]) * 4096 for i in range(n))
`,
    );
    expect(r).toEqual({ ok: true });
  });
});
