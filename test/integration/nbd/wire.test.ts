// Byte-level protocol checks against the in-process server: what real clients never send.
import { readFile, writeFile } from 'node:fs/promises';

import { afterEach, describe, expect, test } from 'vitest';

import type { BlockDevice } from '../../../agent/sbs/backend/block-device.js';
import { decodeExportNameReply, decodeServerEntry } from '../../../agent/sbs/nbd/codec.js';
import type { NbdServerLimits } from '../../../agent/sbs/nbd/server.js';
import {
  NBD_CMD_BLOCK_STATUS,
  NBD_CMD_CACHE,
  NBD_CMD_DISC,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_WRITE,
  NBD_FLAG_C_FIXED_NEWSTYLE,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_OPT_LIST,
  NBD_REP_ACK,
  NBD_REP_ERR_TOO_BIG,
  NBD_REP_SERVER,
  NbdErrno,
} from '../../../agent/sbs/nbd/protocol.js';
import { MiB, startServer, type ExportSpec, type RunningServer } from './harness.js';
import { RawClient, withTimeout } from './raw-client.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function server(limits: Partial<NbdServerLimits> = {}, extra: ExportSpec[] = []): Promise<RunningServer> {
  const srv = await startServer([{ name: 'vol', size: 4 * MiB }, ...extra], { limits });
  cleanups.push(() => srv.stop());
  return srv;
}

async function client(srv: RunningServer): Promise<RawClient> {
  const c = await RawClient.connect(srv.port);
  cleanups.push(() => c.destroy());
  return c;
}

async function transmitting(srv: RunningServer, name = 'vol'): Promise<RawClient> {
  const c = await client(srv);
  await c.start();
  await c.exportName(name, 10);
  return c;
}

const req = (type: number, handle: bigint, offset: number, length: number, flags = 0) => ({
  type,
  handle,
  offset: BigInt(offset),
  length,
  flags,
});

describe('handshake on the wire', () => {
  test('the server offers fixed newstyle and NO_ZEROES', async () => {
    const c = await client(await server());
    expect(await c.start()).toBe(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
  });

  test('unknown client flags make the server hang up', async () => {
    const c = await client(await server());
    await c.start(NBD_FLAG_C_FIXED_NEWSTYLE | 0x100);
    expect(await c.closedWithin(2000)).toBe(true);
  });

  test('without NO_ZEROES the export reply carries 124 zero bytes, and transmission follows', async () => {
    const srv = await server();
    const c = await client(srv);
    await c.start(NBD_FLAG_C_FIXED_NEWSTYLE);
    const reply = await c.exportName('vol', 134);
    expect(decodeExportNameReply(reply).size).toBe(4 * MiB);
    expect(reply.subarray(10).every((b) => b === 0)).toBe(true);
    c.send(req(NBD_CMD_READ, 1n, 0, 512));
    expect(await c.readReply(512)).toMatchObject({ error: 0, handle: 1n });
  });

  test('an oversized option is drained and refused with NBD_REP_ERR_TOO_BIG; the session goes on', async () => {
    const c = await client(await server({ maxOptionLength: 1024 }));
    await c.start();
    c.sendOption(99, Buffer.alloc(256 * 1024, 7));
    expect(await c.readOptionReply()).toMatchObject({ option: 99, type: NBD_REP_ERR_TOO_BIG });
    c.sendOption(NBD_OPT_LIST);
    const first = await c.readOptionReply();
    expect(first.type).toBe(NBD_REP_SERVER);
    expect(decodeServerEntry(first.data).name).toBe('vol');
    expect((await c.readOptionReply()).type).toBe(NBD_REP_ACK);
  });

  test('a client that keeps haggling is cut off after maxOptions', async () => {
    const c = await client(await server({ maxOptions: 3 }));
    await c.start();
    for (let i = 0; i < 3; i++) {
      c.sendOption(NBD_OPT_LIST);
      await c.readOptionReply();
      await c.readOptionReply();
    }
    c.sendOption(NBD_OPT_LIST);
    expect(await c.closedWithin(2000)).toBe(true);
  });

  test('an idle handshake is dropped after the handshake timeout', async () => {
    const c = await client(await server({ handshakeTimeoutMs: 200 }));
    await c.start();
    expect(await c.closedWithin(3000)).toBe(true);
  });
});

describe('transmission on the wire', () => {
  test('unknown or unadvertised commands, bad flush and zero length are EINVAL', async () => {
    const c = await transmitting(await server());
    const cases = [
      req(NBD_CMD_CACHE, 1n, 0, 512),
      req(NBD_CMD_BLOCK_STATUS, 2n, 0, 512),
      req(99, 3n, 0, 512),
      req(NBD_CMD_FLUSH, 4n, 512, 0),
      req(NBD_CMD_READ, 5n, 0, 0),
    ];
    for (const r of cases) c.send(r);
    const errors = new Map<bigint, number>();
    for (const _ of cases) {
      const reply = await c.readReply();
      errors.set(reply.handle, reply.error);
    }
    expect(errors).toEqual(new Map(cases.map((r) => [r.handle, NbdErrno.EINVAL])));
    c.send(req(NBD_CMD_FLUSH, 6n, 0, 0));
    expect(await c.readReply()).toMatchObject({ handle: 6n, error: 0 });
  });

  test('requests not aligned to the minimum block size are EINVAL; aligned ones work', async () => {
    const aligned = (device: BlockDevice): BlockDevice =>
      Object.assign(Object.create(device) as BlockDevice, {
        blockSize: { minimum: 4096, preferred: 4096, maximum: 1 * MiB },
      });
    const srv = await server({}, [{ name: 'a4k', size: 4 * MiB, wrap: aligned }]);
    const c = await transmitting(srv, 'a4k');
    const cases: [bigint, number, number, number][] = [
      [1n, NBD_CMD_READ, 512, 4096],
      [2n, NBD_CMD_READ, 0, 512],
      [3n, NBD_CMD_READ, 0, 1 * MiB + 4096], // over the 1 MiB maximum payload
    ];
    for (const [handle, type, offset, length] of cases) {
      c.send(req(type, handle, offset, length));
      expect(await c.readReply()).toMatchObject({ handle, error: NbdErrno.EINVAL });
    }
    c.send(req(NBD_CMD_WRITE, 4n, 4096, 4096), Buffer.alloc(4096, 9));
    expect(await c.readReply()).toMatchObject({ handle: 4n, error: 0 });
    c.send(req(NBD_CMD_READ, 5n, 4096, 4096));
    const read = await c.readReply(4096);
    expect(read.error).toBe(0);
    expect(read.data.every((b) => b === 9)).toBe(true);
  });

  test('a bad request magic ends the session', async () => {
    const c = await transmitting(await server());
    c.socket.write(Buffer.alloc(28, 0xff));
    expect(await c.closedWithin(2000)).toBe(true);
  });

  test('NBD_CMD_DISC: requests already sent are completed before the server closes', async () => {
    const srv = await server();
    const c = await transmitting(srv);
    const data = Buffer.alloc(64 * 1024, 0x3c);
    c.send(req(NBD_CMD_WRITE, 9n, 4096, data.length), data);
    c.send(req(NBD_CMD_DISC, 10n, 0, 0));
    expect(await c.readReply()).toMatchObject({ handle: 9n, error: 0 });
    expect(await c.closedWithin(2000)).toBe(true);
    const disk = await readFile(srv.path('vol'));
    expect(disk.subarray(4096, 4096 + data.length).equals(data)).toBe(true);
  });

  test('a client that stops reading replies holds the server at its in-flight budget', async () => {
    const limits = { maxInFlightRequests: 8, maxInFlightBytes: 1 * MiB };
    const srv = await server(limits);
    const file = Buffer.alloc(4 * MiB);
    for (let i = 0; i < file.length; i += 4) file.writeUInt32BE(i, i);
    await writeFile(srv.path('vol'), file);
    const c = await transmitting(srv);
    c.socket.pause(); // do not read anything until told

    // 2000 x 64 KiB = 125 MiB of replies asked for in one go.
    const count = 2000;
    const len = 64 * 1024;
    const offsetOf = (i: number): number => (i * len) % (4 * MiB);
    for (let i = 0; i < count; i++) c.send(req(NBD_CMD_READ, BigInt(i), offsetOf(i), len));
    await new Promise((r) => setTimeout(r, 500));
    const [stats] = srv.server.stats();
    expect(stats).toBeDefined();
    expect(stats!.peakInFlightRequests).toBeLessThanOrEqual(8);
    expect(stats!.peakInFlightBytes).toBeLessThanOrEqual(1 * MiB);
    expect(stats!.inFlightRequests).toBeGreaterThan(0); // stuck waiting on us, as it should be

    const seen = new Set<bigint>();
    await withTimeout(
      (async () => {
        for (let i = 0; i < count; i++) {
          const reply = await c.readReply(len);
          expect(reply.error).toBe(0);
          const offset = offsetOf(Number(reply.handle));
          expect(reply.data.equals(file.subarray(offset, offset + len))).toBe(true);
          seen.add(reply.handle);
        }
      })(),
      60_000,
      'reading every reply',
    );
    expect(seen.size).toBe(count);
    expect(srv.server.stats()[0]!.peakInFlightBytes).toBeLessThanOrEqual(1 * MiB);
  });

  test('a client sending writes faster than the device takes them is held at the byte budget', async () => {
    const slowWrites = (device: BlockDevice): BlockDevice =>
      Object.assign(Object.create(device) as BlockDevice, {
        write: async (offset: number, data: Buffer, options: { fua: boolean }) => {
          await new Promise((r) => setTimeout(r, 5));
          return device.write(offset, data, options);
        },
      });
    const srv = await server({ maxInFlightBytes: 4 * MiB }, [{ name: 'big', size: 64 * MiB, wrap: slowWrites }]);
    const c = await transmitting(srv, 'big');
    const count = 64;
    const blocks = Array.from({ length: count }, (_, i) => Buffer.alloc(MiB, i + 1));
    blocks.forEach((block, i) => c.send(req(NBD_CMD_WRITE, BigInt(i), i * MiB, MiB), block));
    for (let i = 0; i < count; i++) expect((await c.readReply()).error).toBe(0);
    expect(srv.server.stats()[0]!.peakInFlightBytes).toBeLessThanOrEqual(4 * MiB);
    const disk = await readFile(srv.path('big'));
    blocks.forEach((block, i) => expect(disk.subarray(i * MiB, (i + 1) * MiB).equals(block)).toBe(true));
  });

  test('a client that vanishes in the middle of a write payload is cleaned up at once', async () => {
    const srv = await server();
    const c = await transmitting(srv);
    c.send(req(NBD_CMD_WRITE, 1n, 0, MiB), Buffer.alloc(1000));
    await withTimeout(
      (async () => {
        while (srv.server.stats()[0]?.inFlightRequests !== 1) await new Promise((r) => setTimeout(r, 10));
      })(),
      2000,
      'the write to be accepted',
    );
    c.destroy();
    // Without the slot being released this would wait out the 30 s drain timeout.
    await withTimeout(
      (async () => {
        while (srv.server.stats().length > 0) await new Promise((r) => setTimeout(r, 10));
      })(),
      2000,
      'the connection to be dropped',
    );
  });

  test('on server close, in-flight requests finish and later ones get ESHUTDOWN', async () => {
    let release: (() => void) | undefined;
    const held = new Promise<void>((r) => (release = r));
    const slow = (device: BlockDevice): BlockDevice =>
      Object.assign(Object.create(device) as BlockDevice, {
        read: async (offset: number, length: number) => {
          if (offset === 0) await held;
          return device.read(offset, length);
        },
      });
    const srv = await server({ drainTimeoutMs: 5000 }, [{ name: 'slow', size: 1 * MiB, wrap: slow }]);
    const c = await transmitting(srv, 'slow');
    c.send(req(NBD_CMD_READ, 1n, 0, 512));
    await new Promise((r) => setTimeout(r, 100));
    const closing = srv.server.close();
    c.send(req(NBD_CMD_READ, 2n, 512, 512));
    const second = await c.readReply();
    expect(second).toMatchObject({ handle: 2n, error: NbdErrno.ESHUTDOWN });
    release?.();
    expect(await c.readReply(512)).toMatchObject({ handle: 1n, error: 0 });
    await withTimeout(closing, 5000, 'server close');
    expect(await c.closedWithin(2000)).toBe(true);
  });
});
