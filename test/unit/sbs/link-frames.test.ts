// The raft link's frames (agent/sbs/volume/link-frames.ts): the layout agents of different
// versions share, and a reader that must cope with any cut of the TLS byte stream.

import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameError, FrameReader, MAX_FRAME_BYTES, type Frame } from '../../../agent/sbs/volume/link-frames.js';

const bytesOf = (f: Frame): Buffer => Buffer.concat(encodeFrame(f));
const readAll = (chunks: readonly Buffer[]): Frame[] => {
  const r = new FrameReader();
  return chunks.flatMap((c) => r.push(c));
};
const cutEvery = (b: Buffer, n: number): Buffer[] => {
  const out: Buffer[] = [];
  for (let at = 0; at < b.length; at += n) out.push(b.subarray(at, at + n));
  return out;
};

describe('raft link frames', () => {
  // FROZEN, written by hand from the layout in link-frames.ts: a change here is a new link version.
  it('lays frames out as documented', () => {
    expect(bytesOf({ kind: 'step', volumeId: 'v1', parts: [Buffer.from([0xaa]), Buffer.alloc(0)] }).toString('hex')).toBe(
      //  length    kind  str8 "v1"  part 1       part 0
      '0000000d' + '01' + '027631' + '00000001aa' + '00000000',
    );
    expect(bytesOf({ kind: 'forward', id: 258, volumeId: 'v', parts: [Buffer.from([1, 2])] }).toString('hex')).toBe(
      //  length    kind  id          str8 "v"  part
      '0000000d' + '02' + '00000102' + '0176' + '000000020102',
    );
    expect(bytesOf({ kind: 'forwarded', id: 7, error: 'no' }).toString('hex')).toBe('00000007' + '03' + '00000007' + '6e6f');
    expect(bytesOf({ kind: 'missing', volumeId: 'v1' }).toString('hex')).toBe('00000003' + '04' + '7631');
  });

  it('reads back every kind, whatever the cut of the stream, and large parts without copying them in the encoder', () => {
    const big = Buffer.alloc(3 << 20, 7);
    const frames: Frame[] = [
      { kind: 'step', volumeId: 'vol-é', parts: [Buffer.alloc(0), Buffer.from([1]), Buffer.alloc(64 * 1024, 2), Buffer.alloc(64 * 1024 + 1, 3), big] },
      { kind: 'forward', id: 0xffffffff, volumeId: 'v'.repeat(255), parts: [Buffer.alloc(4096, 9)] },
      { kind: 'forwarded', id: 1, error: '' },
      { kind: 'forwarded', id: 2, error: 'h2 leads: volume "x" is not here' },
      { kind: 'missing', volumeId: 'gone' },
    ];
    // The 3 MiB part goes to the socket as the caller's own buffer.
    expect(encodeFrame(frames[0]!).some((b) => b.buffer === big.buffer)).toBe(true);
    const stream = Buffer.concat(frames.flatMap(encodeFrame));
    for (const cut of [1, 3, 4096, 65_537, stream.length]) {
      const back = readAll(cut === 1 ? cutEvery(stream.subarray(0, 200_000), 1).concat([stream.subarray(200_000)]) : cutEvery(stream, cut));
      expect(back.map((f) => ('parts' in f ? { ...f, parts: f.parts.map((p) => Buffer.from(p).toString('base64')) } : f))).toEqual(
        frames.map((f) => ('parts' in f ? { ...f, parts: f.parts.map((p) => Buffer.from(p).toString('base64')) } : f)),
      );
    }
  });

  it('hands out views of a chunk that holds the whole frame', () => {
    const chunk = bytesOf({ kind: 'step', volumeId: 'v', parts: [Buffer.alloc(100, 5)] });
    const [f] = new FrameReader().push(chunk);
    expect(f?.kind === 'step' && f.parts[0]!.buffer).toBe(chunk.buffer);
  });

  it('refuses what no agent sends: unknown kinds, oversized or truncated frames, long volume ids', () => {
    const frame = (body: string): Buffer => {
      const b = Buffer.from(body, 'hex');
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      return Buffer.concat([len, b]);
    };
    expect(() => new FrameReader().push(frame('09'))).toThrow(FrameError);
    expect(() => new FrameReader().push(frame('0102763100000005aa'))).toThrow(/ends inside a part/);
    expect(() => new FrameReader().push(frame('0105'))).toThrow(/ends inside the volume id/);
    expect(() => new FrameReader().push(frame('0300'))).toThrow(/ends inside the forward id/);
    const huge = Buffer.alloc(4);
    huge.writeUInt32BE(MAX_FRAME_BYTES + 1);
    expect(() => new FrameReader().push(huge)).toThrow(/frame of/);
    expect(() => new FrameReader().push(Buffer.alloc(4))).toThrow(/frame of 0 bytes/);
    expect(() => encodeFrame({ kind: 'step', volumeId: 'v'.repeat(256), parts: [] })).toThrow(/at most 255/);
  });
});
