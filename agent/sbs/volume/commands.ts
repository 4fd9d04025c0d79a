// What a volume's raft entries say: block writes, trims, zeroing, growth and placement. Pure codec.
//
//   op u8 | offset u48 LE | length u48 LE | data (writes: the bytes; place: JSON of the placement)
// 48 bits address 256 TiB, far past any volume this system will hold.

import { decodePlacement, encodePlacement, type Placement } from './placement.js';

export type VolumeCommand =
  | { readonly op: 'write'; readonly offset: number; readonly data: Uint8Array }
  | { readonly op: 'trim'; readonly offset: number; readonly length: number }
  | { readonly op: 'zero'; readonly offset: number; readonly length: number; readonly noHole: boolean }
  | { readonly op: 'grow'; readonly size: number }
  | { readonly op: 'place'; readonly placement: Placement };

const OPS = { write: 1, trim: 2, zero: 3, zeroNoHole: 4, grow: 5, place: 6 } as const;
const HEADER = 13;

export function encodeCommand(c: VolumeCommand): Buffer {
  const data = c.op === 'write' ? c.data : c.op === 'place' ? encodePlacement(c.placement) : undefined;
  const out = Buffer.allocUnsafe(HEADER + (data?.length ?? 0));
  switch (c.op) {
    case 'write':
      out[0] = OPS.write;
      out.writeUIntLE(c.offset, 1, 6);
      out.writeUIntLE(c.data.length, 7, 6);
      out.set(c.data, HEADER);
      break;
    case 'trim':
    case 'zero':
      out[0] = c.op === 'trim' ? OPS.trim : c.noHole ? OPS.zeroNoHole : OPS.zero;
      out.writeUIntLE(c.offset, 1, 6);
      out.writeUIntLE(c.length, 7, 6);
      break;
    case 'grow':
      out[0] = OPS.grow;
      out.writeUIntLE(0, 1, 6);
      out.writeUIntLE(c.size, 7, 6);
      break;
    case 'place':
      out[0] = OPS.place;
      out.writeUIntLE(0, 1, 6);
      out.writeUIntLE(data!.length, 7, 6);
      out.set(data!, HEADER);
      break;
  }
  return out;
}

export function decodeCommand(b: Uint8Array): VolumeCommand {
  if (b.length < HEADER) throw new Error(`volume command: ${b.length} bytes, need at least ${HEADER}`);
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  const offset = buf.readUIntLE(1, 6);
  const length = buf.readUIntLE(7, 6);
  switch (buf[0]) {
    case OPS.write:
      if (buf.length !== HEADER + length) throw new Error(`volume command: write of ${length} bytes carries ${buf.length - HEADER}`);
      return { op: 'write', offset, data: buf.subarray(HEADER) };
    case OPS.trim:
      return { op: 'trim', offset, length };
    case OPS.zero:
    case OPS.zeroNoHole:
      return { op: 'zero', offset, length, noHole: buf[0] === OPS.zeroNoHole };
    case OPS.grow:
      return { op: 'grow', size: length };
    case OPS.place:
      if (buf.length !== HEADER + length) throw new Error(`volume command: placement of ${length} bytes carries ${buf.length - HEADER}`);
      return { op: 'place', placement: decodePlacement(buf.subarray(HEADER)) };
    default:
      throw new Error(`volume command: unknown op ${buf[0]}`);
  }
}
