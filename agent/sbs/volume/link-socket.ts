// Frames (link-frames.ts) over a raft link's TLS socket, for both of its ends.

import type { TLSSocket } from 'node:tls';
import { encodeFrame, FrameReader, type Frame } from './link-frames.js';

/** Writes one frame in one go; false when the socket asks to wait for 'drain' (or is gone). */
export function writeFrame(socket: TLSSocket, f: Frame): boolean {
  if (socket.destroyed) return false;
  const bufs = encodeFrame(f);
  if (bufs.length === 1) return socket.write(bufs[0]!);
  socket.cork();
  let ok = true;
  for (const b of bufs) ok = socket.write(b);
  socket.uncork();
  return ok;
}

/** Hands each frame read off the socket to `onFrame`; a stream that is not our frames ends in `broken`. */
export function readFrames(socket: TLSSocket, onFrame: (f: Frame) => void, broken: (why: string) => void): void {
  const reader = new FrameReader();
  socket.on('data', (chunk: Buffer) => {
    let frames: Frame[];
    try {
      frames = reader.push(chunk);
    } catch (e) {
      broken((e as Error).message);
      return;
    }
    for (const f of frames) onFrame(f);
  });
}
