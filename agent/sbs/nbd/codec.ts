// Pure encoders and decoders for every NBD message this server exchanges, both directions, so that
// tests (and a future replica-to-replica client) speak the same bytes the server does.
import {
  EXPORT_NAME_PADDING,
  IHAVEOPT,
  MAX_STRING_LENGTH,
  NBD_FLAG_FIXED_NEWSTYLE,
  NBD_FLAG_NO_ZEROES,
  NBD_INFO_BLOCK_SIZE,
  NBD_INFO_DESCRIPTION,
  NBD_INFO_EXPORT,
  NBD_INFO_NAME,
  NBD_MAGIC,
  OPTION_HEADER_LENGTH,
  OPTION_REPLY_MAGIC,
  REQUEST_HEADER_LENGTH,
  REQUEST_MAGIC,
  SIMPLE_REPLY_HEADER_LENGTH,
  SIMPLE_REPLY_MAGIC,
} from './protocol.js';

/** Bytes that do not form the expected message; the peer broke a MUST, so the session ends. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** An NBD string: valid UTF-8, no NUL, at most 4096 bytes. Undefined when it is not one. */
export function decodeString(bytes: Buffer): string | undefined {
  if (bytes.length > MAX_STRING_LENGTH || bytes.includes(0)) return undefined;
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Encodes a human-readable string, cut at a character boundary to the protocol's limit. */
export function encodeString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_STRING_LENGTH) return bytes;
  let end = MAX_STRING_LENGTH;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--; // back off continuation bytes
  return bytes.subarray(0, end);
}

// ---- Greeting and client flags -------------------------------------------------------------

export const GREETING_LENGTH = 18;
export const SERVER_HANDSHAKE_FLAGS = NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES;

export function encodeGreeting(handshakeFlags: number = SERVER_HANDSHAKE_FLAGS): Buffer {
  const buf = Buffer.alloc(GREETING_LENGTH);
  buf.writeBigUInt64BE(NBD_MAGIC, 0);
  buf.writeBigUInt64BE(IHAVEOPT, 8);
  buf.writeUInt16BE(handshakeFlags, 16);
  return buf;
}

export function decodeGreeting(buf: Buffer): { handshakeFlags: number } {
  if (buf.length !== GREETING_LENGTH) throw new ProtocolError('greeting must be 18 bytes');
  if (buf.readBigUInt64BE(0) !== NBD_MAGIC || buf.readBigUInt64BE(8) !== IHAVEOPT) {
    throw new ProtocolError('not a fixed newstyle NBD server');
  }
  return { handshakeFlags: buf.readUInt16BE(16) };
}

export function encodeClientFlags(flags: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt32BE(flags >>> 0, 0);
  return buf;
}

export function decodeClientFlags(buf: Buffer): number {
  if (buf.length !== 4) throw new ProtocolError('client flags must be 4 bytes');
  return buf.readUInt32BE(0);
}

// ---- Options ------------------------------------------------------------------------------

export interface OptionHeader {
  readonly option: number;
  readonly length: number;
}

export function encodeOption(option: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const buf = Buffer.alloc(OPTION_HEADER_LENGTH + data.length);
  buf.writeBigUInt64BE(IHAVEOPT, 0);
  buf.writeUInt32BE(option >>> 0, 8);
  buf.writeUInt32BE(data.length, 12);
  data.copy(buf, OPTION_HEADER_LENGTH);
  return buf;
}

export function decodeOptionHeader(buf: Buffer): OptionHeader {
  if (buf.length !== OPTION_HEADER_LENGTH) throw new ProtocolError('option header must be 16 bytes');
  if (buf.readBigUInt64BE(0) !== IHAVEOPT) throw new ProtocolError('bad option magic');
  return { option: buf.readUInt32BE(8), length: buf.readUInt32BE(12) };
}

export const OPTION_REPLY_HEADER_LENGTH = 20;

export interface OptionReply {
  readonly option: number;
  readonly type: number;
  readonly data: Buffer;
}

export function encodeOptionReply(option: number, type: number, data: Buffer = Buffer.alloc(0)): Buffer {
  const buf = Buffer.alloc(OPTION_REPLY_HEADER_LENGTH + data.length);
  buf.writeBigUInt64BE(OPTION_REPLY_MAGIC, 0);
  buf.writeUInt32BE(option >>> 0, 8);
  buf.writeUInt32BE(type >>> 0, 12);
  buf.writeUInt32BE(data.length, 16);
  data.copy(buf, OPTION_REPLY_HEADER_LENGTH);
  return buf;
}

/** Decodes the 20-byte header; the caller then reads `length` bytes of data. */
export function decodeOptionReplyHeader(buf: Buffer): { option: number; type: number; length: number } {
  if (buf.length !== OPTION_REPLY_HEADER_LENGTH) throw new ProtocolError('option reply header must be 20 bytes');
  if (buf.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) throw new ProtocolError('bad option reply magic');
  return { option: buf.readUInt32BE(8), type: buf.readUInt32BE(12), length: buf.readUInt32BE(16) };
}

/** NBD_OPT_EXPORT_NAME's reply: no option-reply framing, for historical reasons. */
export function encodeExportNameReply(size: number, transmissionFlags: number, noZeroes: boolean): Buffer {
  const buf = Buffer.alloc(10 + (noZeroes ? 0 : EXPORT_NAME_PADDING));
  buf.writeBigUInt64BE(BigInt(size), 0);
  buf.writeUInt16BE(transmissionFlags, 8);
  return buf;
}

export function decodeExportNameReply(buf: Buffer): { size: number; transmissionFlags: number } {
  if (buf.length < 10) throw new ProtocolError('export name reply is at least 10 bytes');
  return { size: Number(buf.readBigUInt64BE(0)), transmissionFlags: buf.readUInt16BE(8) };
}

/** Data of NBD_OPT_INFO and NBD_OPT_GO. */
export interface InfoRequest {
  readonly name: string;
  readonly infos: readonly number[];
}

export function encodeInfoRequest(request: InfoRequest): Buffer {
  const name = Buffer.from(request.name, 'utf8');
  const buf = Buffer.alloc(4 + name.length + 2 + 2 * request.infos.length);
  buf.writeUInt32BE(name.length, 0);
  name.copy(buf, 4);
  buf.writeUInt16BE(request.infos.length, 4 + name.length);
  request.infos.forEach((info, i) => buf.writeUInt16BE(info, 4 + name.length + 2 + 2 * i));
  return buf;
}

/** Returns a reason string when the data is malformed (the server answers NBD_REP_ERR_INVALID). */
export function decodeInfoRequest(data: Buffer): InfoRequest | string {
  if (data.length < 6) return 'option data too short';
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 6) return 'export name length exceeds option data';
  const name = decodeString(data.subarray(4, 4 + nameLength));
  if (name === undefined) return 'export name is not a valid NBD string';
  const count = data.readUInt16BE(4 + nameLength);
  if (data.length !== 4 + nameLength + 2 + 2 * count) return 'information request count does not match length';
  const infos: number[] = [];
  for (let i = 0; i < count; i++) infos.push(data.readUInt16BE(4 + nameLength + 2 + 2 * i));
  return { name, infos };
}

/** Payload of one NBD_REP_SERVER reply (NBD_OPT_LIST). */
export function encodeServerEntry(name: string, description?: string): Buffer {
  const nameBytes = encodeString(name);
  const descBytes = description === undefined ? Buffer.alloc(0) : encodeString(description);
  const buf = Buffer.alloc(4 + nameBytes.length + descBytes.length);
  buf.writeUInt32BE(nameBytes.length, 0);
  nameBytes.copy(buf, 4);
  descBytes.copy(buf, 4 + nameBytes.length);
  return buf;
}

export function decodeServerEntry(data: Buffer): { name: string; description: string } {
  if (data.length < 4) throw new ProtocolError('server entry too short');
  const nameLength = data.readUInt32BE(0);
  if (nameLength > data.length - 4) throw new ProtocolError('server entry name length too large');
  return {
    name: data.subarray(4, 4 + nameLength).toString('utf8'),
    description: data.subarray(4 + nameLength).toString('utf8'),
  };
}

export type Info =
  | { readonly type: typeof NBD_INFO_EXPORT; readonly size: number; readonly transmissionFlags: number }
  | { readonly type: typeof NBD_INFO_NAME; readonly name: string }
  | { readonly type: typeof NBD_INFO_DESCRIPTION; readonly description: string }
  | {
      readonly type: typeof NBD_INFO_BLOCK_SIZE;
      readonly minimum: number;
      readonly preferred: number;
      readonly maximum: number;
    };

/** Payload of one NBD_REP_INFO reply. */
export function encodeInfo(info: Info): Buffer {
  switch (info.type) {
    case NBD_INFO_EXPORT: {
      const buf = Buffer.alloc(12);
      buf.writeUInt16BE(NBD_INFO_EXPORT, 0);
      buf.writeBigUInt64BE(BigInt(info.size), 2);
      buf.writeUInt16BE(info.transmissionFlags, 10);
      return buf;
    }
    case NBD_INFO_NAME:
    case NBD_INFO_DESCRIPTION: {
      const text = encodeString(info.type === NBD_INFO_NAME ? info.name : info.description);
      const buf = Buffer.alloc(2 + text.length);
      buf.writeUInt16BE(info.type, 0);
      text.copy(buf, 2);
      return buf;
    }
    case NBD_INFO_BLOCK_SIZE: {
      const buf = Buffer.alloc(14);
      buf.writeUInt16BE(NBD_INFO_BLOCK_SIZE, 0);
      buf.writeUInt32BE(info.minimum, 2);
      buf.writeUInt32BE(info.preferred, 6);
      buf.writeUInt32BE(info.maximum, 10);
      return buf;
    }
  }
}

export function decodeInfo(data: Buffer): Info {
  if (data.length < 2) throw new ProtocolError('info reply too short');
  const type = data.readUInt16BE(0);
  switch (type) {
    case NBD_INFO_EXPORT:
      if (data.length !== 12) throw new ProtocolError('NBD_INFO_EXPORT must be 12 bytes');
      return { type, size: Number(data.readBigUInt64BE(2)), transmissionFlags: data.readUInt16BE(10) };
    case NBD_INFO_NAME:
      return { type, name: data.subarray(2).toString('utf8') };
    case NBD_INFO_DESCRIPTION:
      return { type, description: data.subarray(2).toString('utf8') };
    case NBD_INFO_BLOCK_SIZE:
      if (data.length !== 14) throw new ProtocolError('NBD_INFO_BLOCK_SIZE must be 14 bytes');
      return { type, minimum: data.readUInt32BE(2), preferred: data.readUInt32BE(6), maximum: data.readUInt32BE(10) };
    default:
      throw new ProtocolError(`unknown info type ${type}`);
  }
}

// ---- Transmission -------------------------------------------------------------------------

export interface RequestHeader {
  readonly flags: number;
  readonly type: number;
  /** Opaque to the server; echoed in the reply. */
  readonly handle: bigint;
  /** Unsigned 64-bit, so kept as bigint until range-checked against the export size. */
  readonly offset: bigint;
  readonly length: number;
}

export function encodeRequestHeader(req: RequestHeader): Buffer {
  const buf = Buffer.allocUnsafe(REQUEST_HEADER_LENGTH);
  buf.writeUInt32BE(REQUEST_MAGIC, 0);
  buf.writeUInt16BE(req.flags, 4);
  buf.writeUInt16BE(req.type, 6);
  buf.writeBigUInt64BE(req.handle, 8);
  buf.writeBigUInt64BE(req.offset, 16);
  buf.writeUInt32BE(req.length, 24);
  return buf;
}

export function decodeRequestHeader(buf: Buffer): RequestHeader {
  if (buf.length !== REQUEST_HEADER_LENGTH) throw new ProtocolError('request header must be 28 bytes');
  if (buf.readUInt32BE(0) !== REQUEST_MAGIC) throw new ProtocolError('bad request magic');
  return {
    flags: buf.readUInt16BE(4),
    type: buf.readUInt16BE(6),
    handle: buf.readBigUInt64BE(8),
    offset: buf.readBigUInt64BE(16),
    length: buf.readUInt32BE(24),
  };
}

export function encodeSimpleReplyHeader(error: number, handle: bigint): Buffer {
  const buf = Buffer.allocUnsafe(SIMPLE_REPLY_HEADER_LENGTH);
  buf.writeUInt32BE(SIMPLE_REPLY_MAGIC, 0);
  buf.writeUInt32BE(error, 4);
  buf.writeBigUInt64BE(handle, 8);
  return buf;
}

export function decodeSimpleReplyHeader(buf: Buffer): { error: number; handle: bigint } {
  if (buf.length !== SIMPLE_REPLY_HEADER_LENGTH) throw new ProtocolError('simple reply header must be 16 bytes');
  if (buf.readUInt32BE(0) !== SIMPLE_REPLY_MAGIC) throw new ProtocolError('bad simple reply magic');
  return { error: buf.readUInt32BE(4), handle: buf.readBigUInt64BE(8) };
}
