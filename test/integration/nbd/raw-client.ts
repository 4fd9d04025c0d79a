// A byte-level NBD client for the cases real clients never produce: bad magic, unknown flags,
// oversized options, requests sent without reading replies.
import net from 'node:net';

import {
  decodeGreeting,
  decodeOptionReplyHeader,
  decodeSimpleReplyHeader,
  encodeClientFlags,
  encodeOption,
  encodeRequestHeader,
  OPTION_REPLY_HEADER_LENGTH,
  type RequestHeader,
} from '../../../agent/sbs/nbd/codec.js';
import { NBD_FLAG_C_FIXED_NEWSTYLE, NBD_FLAG_C_NO_ZEROES, NBD_OPT_EXPORT_NAME, SIMPLE_REPLY_HEADER_LENGTH } from '../../../agent/sbs/nbd/protocol.js';
import { StreamReader } from '../../../agent/sbs/nbd/reader.js';

export class RawClient {
  private readonly closedPromise: Promise<void>;

  private constructor(
    readonly socket: net.Socket,
    readonly reader: StreamReader,
  ) {
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {}); // surfaced through reads and `closed`
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    // A huge read-ahead: tests decide themselves when to stop reading.
    return new RawClient(socket, new StreamReader(socket, 1 << 30));
  }

  /** Reads the greeting and answers with client flags. */
  async start(clientFlags = NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES): Promise<number> {
    const { handshakeFlags } = decodeGreeting(await this.read(18));
    this.socket.write(encodeClientFlags(clientFlags));
    return handshakeFlags;
  }

  sendOption(option: number, data: Buffer = Buffer.alloc(0)): void {
    this.socket.write(encodeOption(option, data));
  }

  async readOptionReply(): Promise<{ option: number; type: number; data: Buffer }> {
    const h = decodeOptionReplyHeader(await this.read(OPTION_REPLY_HEADER_LENGTH));
    return { option: h.option, type: h.type, data: await this.read(h.length) };
  }

  /** Enters transmission with NBD_OPT_EXPORT_NAME; returns the raw reply (10 or 134 bytes). */
  async exportName(name: string, replyLength: number): Promise<Buffer> {
    this.sendOption(NBD_OPT_EXPORT_NAME, Buffer.from(name));
    return this.read(replyLength);
  }

  send(request: RequestHeader, payload?: Buffer): void {
    this.socket.write(encodeRequestHeader(request));
    if (payload) this.socket.write(payload);
  }

  async readReply(dataLength = 0): Promise<{ error: number; handle: bigint; data: Buffer }> {
    const { error, handle } = decodeSimpleReplyHeader(await this.read(SIMPLE_REPLY_HEADER_LENGTH));
    const data = error === 0 && dataLength > 0 ? await this.read(dataLength) : Buffer.alloc(0);
    return { error, handle, data };
  }

  read(length: number, timeoutMs = 10_000): Promise<Buffer> {
    return withTimeout(this.reader.read(length), timeoutMs, `reading ${length} bytes`);
  }

  /** Resolves true if the server closes the connection within the time given. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    return withTimeout(
      this.closedPromise.then(() => true),
      timeoutMs,
      'close',
    ).catch(() => false);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
