// The frames of the raft link between storage agents (link.ts): raft messages, forwarded writes
// and their answers on a plain mutual-TLS stream. No I/O here.
//
// Layout, link version 1 (ALPN "vxraft/1"); integers big-endian:
//
//   frame = length:u32 (of kind and body)  kind:u8  body
//   kind 1 step       volume:str8  part*      raft messages of one volume (wire.ts), in order
//   kind 2 forward    id:u32  volume:str8  part*   client writes (commands.ts) for the leader to propose
//   kind 3 forwarded  id:u32  error:utf8 (the rest; empty = applied)
//   kind 4 missing    volume:utf8 (the rest)   a volume placed here that this host holds no replica of
//   str8  = len:u8  UTF-8[len]
//   part  = len:u32  bytes[len]
//
// Decoding returns views of the received bytes: an append's entries are not copied again.

export const LINK_PROTOCOL = 'vxraft/1';

/** A larger frame is a broken peer: the sender splits raft messages into frames of a few MiB. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export type Frame =
  | { readonly kind: 'step'; readonly volumeId: string; readonly parts: Uint8Array[] }
  | { readonly kind: 'forward'; readonly id: number; readonly volumeId: string; readonly parts: Uint8Array[] }
  | { readonly kind: 'forwarded'; readonly id: number; readonly error: string }
  | { readonly kind: 'missing'; readonly volumeId: string };

const KIND = { step: 1, forward: 2, forwarded: 3, missing: 4 } as const satisfies Record<Frame['kind'], number>;

export class FrameError extends Error {}

/** The frame as buffers to write in order (parts over 64 KiB are not copied). */
export function encodeFrame(f: Frame): Buffer[] {
  if (f.kind === 'forwarded' || f.kind === 'missing') {
    const text = Buffer.from(f.kind === 'forwarded' ? f.error : f.volumeId, 'utf8');
    const idBytes = f.kind === 'forwarded' ? 4 : 0;
    const out = Buffer.allocUnsafe(5 + idBytes + text.length);
    out.writeUInt32BE(1 + idBytes + text.length, 0);
    out[4] = KIND[f.kind];
    if (f.kind === 'forwarded') out.writeUInt32BE(f.id, 5);
    text.copy(out, 5 + idBytes);
    return [out];
  }
  const volume = Buffer.from(f.volumeId, 'utf8');
  if (volume.length > 255) throw new FrameError(`volume id of ${volume.length} bytes: at most 255`);
  const idBytes = f.kind === 'forward' ? 4 : 0;
  let length = 1 + idBytes + 1 + volume.length;
  for (const p of f.parts) length += 4 + p.length;
  if (length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${length} bytes: at most ${MAX_FRAME_BYTES}`);
  // Small parts are copied into the header buffer (one write); large ones go as they are.
  const large = (p: Uint8Array): boolean => p.length > 64 * 1024;
  const head = Buffer.allocUnsafe(4 + length - f.parts.reduce((n, p) => n + (large(p) ? p.length : 0), 0));
  let at = head.writeUInt32BE(length, 0);
  head[at++] = KIND[f.kind];
  if (f.kind === 'forward') at = head.writeUInt32BE(f.id, at);
  head[at++] = volume.length;
  at += volume.copy(head, at);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of f.parts) {
    at = head.writeUInt32BE(p.length, at);
    if (!large(p)) {
      head.set(p, at);
      at += p.length;
      continue;
    }
    out.push(head.subarray(from, at), Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    from = at;
  }
  if (at > from) out.push(head.subarray(from, at));
  return out;
}

/** Splits a received byte stream into frames. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;

  /** The frames completed by `chunk`, in order. Throws FrameError on a frame no peer of ours sends. */
  push(chunk: Buffer): Frame[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Frame[] = [];
    for (;;) {
      if (this.buffered < 4) return frames;
      const length = this.peekLength();
      if (length < 1 || length > MAX_FRAME_BYTES) throw new FrameError(`frame of ${length} bytes`);
      if (this.buffered < 4 + length) return frames;
      frames.push(decodeFrame(this.take(4 + length).subarray(4)));
    }
  }

  private peekLength(): number {
    if (this.chunks[0]!.length < 4) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.readUInt32BE(0);
  }

  /** The next n bytes: a view when the first chunk holds them, else the chunks joined once. */
  private take(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    const first = this.chunks[0]!;
    const out = first.subarray(0, n);
    if (first.length === n) this.chunks.shift();
    else this.chunks[0] = first.subarray(n);
    this.buffered -= n;
    return out;
  }
}

function decodeFrame(b: Buffer): Frame {
  const kind = b[0];
  let at = 1;
  const u32 = (what: string): number => {
    if (at + 4 > b.length) throw new FrameError(`frame ends inside ${what}`);
    const v = b.readUInt32BE(at);
    at += 4;
    return v;
  };
  const str8 = (): string => {
    const len = b[at++];
    if (len === undefined || at + len > b.length) throw new FrameError('frame ends inside the volume id');
    const s = b.toString('utf8', at, at + len);
    at += len;
    return s;
  };
  const parts = (): Uint8Array[] => {
    const out: Uint8Array[] = [];
    while (at < b.length) {
      const len = u32('a part length');
      if (at + len > b.length) throw new FrameError('frame ends inside a part');
      out.push(b.subarray(at, at + len));
      at += len;
    }
    return out;
  };
  switch (kind) {
    case KIND.step: {
      const volumeId = str8();
      return { kind: 'step', volumeId, parts: parts() };
    }
    case KIND.forward: {
      const id = u32('the forward id');
      const volumeId = str8();
      return { kind: 'forward', id, volumeId, parts: parts() };
    }
    case KIND.forwarded: {
      const id = u32('the forward id');
      return { kind: 'forwarded', id, error: b.toString('utf8', at) };
    }
    case KIND.missing:
      return { kind: 'missing', volumeId: b.toString('utf8', at) };
    default:
      throw new FrameError(`unknown frame kind ${String(kind)}`);
  }
}
