// Real NBD clients (libnbd's nbdinfo/nbdcopy, qemu-img, qemu-io) against the in-process server.
import { randomFillSync } from 'node:crypto';
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { makeTempDir, MiB, run, runOk, sha256File, startServer, type RunningServer } from './harness.js';

let srv: RunningServer;
let work: string;

beforeAll(async () => {
  work = await makeTempDir('clients');
  srv = await startServer([
    { name: 'vol', size: 256 * MiB, description: 'replicated volume' },
    { name: 'small', size: 8 * MiB },
    { name: 'scratch', size: 4 * MiB },
  ]);
});

afterAll(async () => {
  await srv?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

/** Writes `size` bytes of random data to a new file, 1 MiB at a time. */
async function randomImage(path: string, size: number): Promise<void> {
  const fh = await open(path, 'w');
  try {
    const chunk = Buffer.alloc(MiB);
    for (let at = 0; at < size; at += MiB) {
      randomFillSync(chunk);
      await fh.write(chunk, 0, Math.min(MiB, size - at), at);
    }
  } finally {
    await fh.close();
  }
}

interface NbdinfoExport {
  'export-name': string;
  description?: string;
  'export-size': number;
  is_read_only: boolean;
  can_flush: boolean;
  can_fua: boolean;
  can_trim: boolean;
  can_zero: boolean;
  can_multi_conn: boolean;
  block_size_minimum: number;
  block_size_preferred: number;
  block_size_maximum: number;
}

describe('nbdinfo', () => {
  test('reports size, flags and block sizes of an export', async () => {
    const { stdout } = await runOk('nbdinfo', ['--json', srv.uri('vol')]);
    const info = JSON.parse(stdout) as { protocol: string; exports: NbdinfoExport[] };
    expect(info.protocol).toBe('newstyle-fixed');
    expect(info.exports).toHaveLength(1);
    const e = info.exports[0]!;
    expect(e['export-name']).toBe('vol');
    expect(e.description).toBe('replicated volume');
    expect(e['export-size']).toBe(256 * MiB);
    expect(e).toMatchObject({
      is_read_only: false,
      can_flush: true,
      can_fua: true,
      can_trim: true,
      can_zero: true,
      can_multi_conn: true,
      block_size_minimum: 1,
      block_size_preferred: 4096,
      block_size_maximum: 32 * MiB,
    });
  });

  test('--list shows every export with its description', async () => {
    const { stdout } = await runOk('nbdinfo', ['--json', '--list', srv.uri('')]);
    const info = JSON.parse(stdout) as { exports: NbdinfoExport[] };
    const byName = new Map(info.exports.map((e) => [e['export-name'], e]));
    expect([...byName.keys()].sort()).toEqual(['scratch', 'small', 'vol']);
    expect(byName.get('vol')?.description).toBe('replicated volume');
    expect(byName.get('small')?.['export-size']).toBe(8 * MiB);
  });

  test('an unknown export name is refused as unknown', async () => {
    const result = await run('nbdinfo', ['--json', srv.uri('no-such-volume')], 30_000, { LIBNBD_DEBUG: '1' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/server error message: unknown export "no-such-volume"/);
    // libnbd reports NBD_REP_ERR_UNKNOWN as ENOENT.
    expect(result.stderr).toMatch(/server replied with error to opt_go request: No such file or directory/);
    expect(result.stdout).not.toMatch(/export-size/);
  });
});

describe('nbdcopy', () => {
  test('a 256 MiB random image goes in and comes back out bit for bit', async () => {
    const source = join(work, 'source.img');
    const back = join(work, 'back.img');
    await randomImage(source, 256 * MiB);
    const want = await sha256File(source);

    await runOk('nbdcopy', ['--flush', source, srv.uri('vol')], 120_000);
    expect(await sha256File(srv.path('vol'))).toBe(want);

    await runOk('nbdcopy', [srv.uri('vol'), back], 120_000);
    expect((await stat(back)).size).toBe(256 * MiB);
    expect(await sha256File(back)).toBe(want);
    await rm(back);
    await rm(source);
  });

  test('zero runs in the source become WRITE_ZEROES and read back as zeroes', async () => {
    // 8 MiB: random, then 4 MiB of zeroes nbdcopy sends as zero requests, then random again.
    const source = join(work, 'holes.img');
    const image = Buffer.alloc(8 * MiB);
    randomFillSync(image, 0, 2 * MiB);
    randomFillSync(image, 6 * MiB, 2 * MiB);
    await writeFile(source, image);
    // Fill the target with non-zero bytes first so that a skipped zero request would show.
    const fh = await open(srv.path('small'), 'r+');
    await fh.write(Buffer.alloc(8 * MiB, 0xee), 0, 8 * MiB, 0);
    await fh.close();

    await runOk('nbdcopy', ['--flush', source, srv.uri('small')]);
    expect((await readFile(srv.path('small'))).equals(image)).toBe(true);
    await rm(source);
  });
});

describe('qemu', () => {
  test('qemu-img info sees the raw size', async () => {
    const { stdout } = await runOk('qemu-img', ['info', '--output=json', srv.uri('small')]);
    const info = JSON.parse(stdout) as { format: string; 'virtual-size': number };
    expect(info.format).toBe('raw');
    expect(info['virtual-size']).toBe(8 * MiB);
  });

  test('qemu-img convert copies to and from the export', async () => {
    const source = join(work, 'q-source.img');
    const out = join(work, 'q-out.img');
    await randomImage(source, 4 * MiB);
    await runOk('qemu-img', ['convert', '-n', '-f', 'raw', '-O', 'raw', source, srv.uri('scratch')]);
    expect(await sha256File(srv.path('scratch'))).toBe(await sha256File(source));
    await runOk('qemu-img', ['convert', '-f', 'raw', '-O', 'raw', srv.uri('scratch'), out]);
    expect(await sha256File(out)).toBe(await sha256File(source));
    await rm(source);
    await rm(out);
  });

  test('qemu-io pattern writes land where they should and read back', async () => {
    const uri = srv.uri('small');
    const { stdout } = await runOk('qemu-io', [
      '-f',
      'raw',
      '-c',
      'write -P 0xab 0 64k',
      '-c',
      'write -P 0xcd 1m 4k',
      '-c',
      'write -P 0x5a 8388096 512', // the last sector
      '-c',
      'read -P 0xab 0 64k',
      '-c',
      'read -P 0xcd 1m 4k',
      '-c',
      'read -P 0x5a 8388096 512',
      uri,
    ]);
    expect(stdout).not.toMatch(/fail/i);
    expect(stdout.match(/^read \d+\/\d+ bytes/gm)).toHaveLength(3);

    const disk = await readFile(srv.path('small'));
    expect(disk.subarray(0, 64 * 1024).every((b) => b === 0xab)).toBe(true);
    expect(disk.subarray(MiB, MiB + 4096).every((b) => b === 0xcd)).toBe(true);
    expect(disk.subarray(8 * MiB - 512).every((b) => b === 0x5a)).toBe(true);

    // The check must be able to fail: a wrong pattern is reported.
    const wrong = await run('qemu-io', ['-f', 'raw', '-c', 'read -P 0x11 0 4k', uri]);
    expect(wrong.stdout + wrong.stderr).toMatch(/Pattern verification failed/);
  });

  test('the advertised size is the end: qemu-io cannot write one sector past it', async () => {
    const result = await run('qemu-io', ['-f', 'raw', '-c', 'write -P 0x01 8388608 512', srv.uri('small')]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^write failed/m);
  });

  test('qemu-img refuses an unknown export and shows the server message', async () => {
    const result = await run('qemu-img', ['info', srv.uri('missing')]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/unknown export "missing"/);
  });
});
