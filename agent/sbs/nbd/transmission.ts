// The transmission phase: parses pipelined requests, runs them concurrently against the device
// and writes simple replies as each completes (possibly out of order).
import type { Duplex } from 'node:stream';

import { BlockDeviceError, type BlockDevice, type BlockSizeConstraints } from '../backend/block-device.js';
import { decodeRequestHeader, encodeSimpleReplyHeader, ProtocolError, type RequestHeader } from './codec.js';
import type { NbdExport } from './exports.js';
import type { BufferPool } from './buffer-pool.js';
import { effectiveBlockSize } from './handshake.js';
import {
  NBD_CMD_DISC,
  NBD_CMD_FLAG_FUA,
  NBD_CMD_FLAG_NO_HOLE,
  NBD_CMD_FLUSH,
  NBD_CMD_READ,
  NBD_CMD_TRIM,
  NBD_CMD_WRITE,
  NBD_CMD_WRITE_ZEROES,
  NbdErrno,
  REQUEST_HEADER_LENGTH,
} from './protocol.js';
import { StreamClosedError, type StreamReader } from './reader.js';

export interface TransmissionLimits {
  /** Largest READ/WRITE payload, whatever the device would take (see effectiveBlockSize). */
  readonly maxPayloadBytes: number;
  /** Requests accepted but not yet answered; past it the server stops reading the socket. */
  readonly maxInFlightRequests: number;
  /**
   * Payload bytes held for accepted requests (write data received, read data not yet handed to
   * the kernel). A single request larger than this still runs, alone.
   */
  readonly maxInFlightBytes: number;
}

export interface TransmissionStats {
  readonly inFlightRequests: number;
  readonly inFlightBytes: number;
  /** High-water marks since the phase began, to show that backpressure held. */
  readonly peakInFlightRequests: number;
  readonly peakInFlightBytes: number;
}

/** Told of every request served: for the agent's metrics. */
export type NbdIoObserver = (exportName: string, op: 'read' | 'write' | 'flush' | 'trim' | 'write_zeroes', bytes: number) => void;

export interface NbdLogger {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Why the phase ended: the caller closes softly after 'disconnect', hard otherwise. */
export type TransmissionEnd = 'disconnect' | 'closed' | 'protocol-error';

export class Transmission {
  private readonly device: BlockDevice;
  private readonly blockSize: BlockSizeConstraints;
  private inFlight = 0;
  private inFlightBytes = 0;
  private peakInFlight = 0;
  private peakInFlightBytes = 0;
  private wake: (() => void) | undefined;
  private drained: (() => void) | undefined;
  private shuttingDown = false;
  private corked = false;

  readonly exportName: string;

  constructor(
    private readonly socket: Duplex,
    private readonly reader: StreamReader,
    exp: NbdExport,
    private readonly limits: TransmissionLimits,
    private readonly log: NbdLogger,
    private readonly buffers: BufferPool,
    private readonly io?: NbdIoObserver,
  ) {
    this.exportName = exp.name;
    this.device = exp.device;
    this.blockSize = effectiveBlockSize(exp.device, limits.maxPayloadBytes);
    // A closed socket must not leave the request loop parked on the in-flight budget.
    socket.once('close', () => this.wake?.());
  }

  stats(): TransmissionStats {
    return {
      inFlightRequests: this.inFlight,
      inFlightBytes: this.inFlightBytes,
      peakInFlightRequests: this.peakInFlight,
      peakInFlightBytes: this.peakInFlightBytes,
    };
  }

  /**
   * From now on requests are answered with ESHUTDOWN (the client must then disconnect); resolves
   * once nothing is in flight or after `graceMs`.
   */
  shutdown(graceMs: number): Promise<void> {
    this.shuttingDown = true;
    return this.waitIdle(graceMs);
  }

  /** Runs until the client disconnects or breaks the protocol; in-flight requests finish first. */
  async run(drainMs: number): Promise<TransmissionEnd> {
    let end: TransmissionEnd;
    try {
      end = await this.loop();
    } catch (err) {
      end = err instanceof ProtocolError ? 'protocol-error' : 'closed';
      this.log.debug({ err }, 'nbd transmission ended');
    }
    await this.waitIdle(drainMs);
    return end;
  }

  private async loop(): Promise<TransmissionEnd> {
    const maxPayload = this.blockSize.maximum;
    for (;;) {
      const header = decodeRequestHeader(await this.reader.read(REQUEST_HEADER_LENGTH));
      if (header.type === NBD_CMD_DISC) return 'disconnect';
      const carriesPayload = header.type === NBD_CMD_WRITE || header.type === NBD_CMD_READ;
      const cost = carriesPayload && header.length <= maxPayload ? header.length : 0;
      await this.acquire(cost);
      let payload: Buffer | undefined;
      try {
        if (this.socket.destroyed) throw new StreamClosedError('connection closed');
        if (header.type === NBD_CMD_WRITE) {
          if (header.length > maxPayload) {
            // Too big to hold: drain it from the socket so the stream stays in sync, then refuse.
            await this.reader.skip(header.length);
          } else {
            payload = await this.reader.read(header.length);
          }
        }
      } catch (err) {
        this.release(cost); // the request never started
        throw err;
      }
      void this.execute(header, payload, cost);
    }
  }

  private async acquire(cost: number): Promise<void> {
    const { maxInFlightRequests, maxInFlightBytes } = this.limits;
    while (!this.socket.destroyed && (this.inFlight >= maxInFlightRequests || (this.inFlight > 0 && this.inFlightBytes + cost > maxInFlightBytes))) {
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
    this.inFlight++;
    this.inFlightBytes += cost;
    this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    this.peakInFlightBytes = Math.max(this.peakInFlightBytes, this.inFlightBytes);
  }

  private release(cost: number): void {
    this.inFlight--;
    this.inFlightBytes -= cost;
    this.wake?.();
    if (this.inFlight === 0) this.drained?.();
  }

  private waitIdle(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const previous = this.drained;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.drained = () => {
        previous?.();
        done();
      };
    });
  }

  private async execute(header: RequestHeader, payload: Buffer | undefined, cost: number): Promise<void> {
    let error: number;
    let data: Buffer | undefined;
    try {
      error = this.shuttingDown ? NbdErrno.ESHUTDOWN : this.validate(header);
      if (error === 0) data = await this.perform(header, payload);
    } catch (err) {
      error = errnoOf(err);
      this.log.warn({ err, type: header.type, offset: header.offset.toString(), length: header.length }, 'nbd request failed');
    }
    this.reply(header.handle, error, data, cost);
  }

  /** The request's error number, or 0 when it may run. */
  private validate(h: RequestHeader): number {
    const device = this.device;
    // FUA is accepted exactly when advertised (transmissionFlags: never on a read-only export).
    let allowedFlags = device.fua && !device.readOnly ? NBD_CMD_FLAG_FUA : 0;
    switch (h.type) {
      case NBD_CMD_READ:
      case NBD_CMD_WRITE:
        break;
      case NBD_CMD_FLUSH:
        if (!device.flush) return NbdErrno.EINVAL;
        // Offset and length are reserved and must be zero.
        if (h.offset !== 0n || h.length !== 0) return NbdErrno.EINVAL;
        return h.flags & ~allowedFlags ? NbdErrno.EINVAL : 0;
      case NBD_CMD_TRIM:
        if (!device.trim) return NbdErrno.EINVAL;
        break;
      case NBD_CMD_WRITE_ZEROES:
        if (!device.writeZeroes) return NbdErrno.EINVAL;
        allowedFlags |= NBD_CMD_FLAG_NO_HOLE;
        break;
      default:
        return NbdErrno.EINVAL;
    }
    if (h.flags & ~allowedFlags) return NbdErrno.EINVAL;
    const writes = h.type !== NBD_CMD_READ;
    if (writes && device.readOnly) return NbdErrno.EPERM;
    if (h.length === 0) return NbdErrno.EINVAL;
    if (h.offset + BigInt(h.length) > BigInt(device.size)) return writes ? NbdErrno.ENOSPC : NbdErrno.EINVAL;
    const { minimum, maximum } = this.blockSize;
    if (minimum > 1 && (Number(h.offset) % minimum !== 0 || h.length % minimum !== 0)) return NbdErrno.EINVAL;
    if ((h.type === NBD_CMD_READ || h.type === NBD_CMD_WRITE) && h.length > maximum) return NbdErrno.EINVAL;
    return 0;
  }

  private async perform(h: RequestHeader, payload: Buffer | undefined): Promise<Buffer | undefined> {
    const device = this.device;
    const offset = Number(h.offset); // validate() bounded it by the (safe-integer) device size
    const fua = (h.flags & NBD_CMD_FLAG_FUA) !== 0;
    switch (h.type) {
      case NBD_CMD_READ: {
        const data = await device.read(offset, h.length, this.buffers.take(h.length));
        this.io?.(this.exportName, 'read', h.length);
        return data;
      }
      case NBD_CMD_WRITE:
        if (!payload) throw new Error('write without payload');
        await device.write(offset, payload, { fua });
        this.io?.(this.exportName, 'write', h.length);
        return undefined;
      case NBD_CMD_FLUSH:
        await device.flush?.();
        this.io?.(this.exportName, 'flush', 0);
        return undefined;
      case NBD_CMD_TRIM:
        await device.trim?.(offset, h.length, { fua });
        this.io?.(this.exportName, 'trim', h.length);
        return undefined;
      case NBD_CMD_WRITE_ZEROES:
        await device.writeZeroes?.(offset, h.length, { fua, noHole: (h.flags & NBD_CMD_FLAG_NO_HOLE) !== 0 });
        this.io?.(this.exportName, 'write_zeroes', h.length);
        return undefined;
      default:
        throw new BlockDeviceError('EINVAL', `command ${h.type} passed validation`);
    }
  }

  private reply(handle: bigint, error: number, data: Buffer | undefined, cost: number): void {
    if (this.socket.destroyed || this.socket.writableEnded) {
      this.release(cost);
      return;
    }
    const header = encodeSimpleReplyHeader(error, handle);
    // Bytes count as in flight until the kernel has them, so a client that stops reading
    // replies stops the server from reading (and queueing) further requests.
    const done = (): void => this.release(cost);
    this.batchReplies();
    if (data && error === 0) {
      this.socket.write(header);
      this.socket.write(data, () => {
        this.buffers.give(data);
        done();
      });
    } else {
      this.socket.write(header, done);
    }
  }

  /**
   * Holds replies back until the event loop's check phase, so that every request completed in
   * this poll phase leaves in one writev: on loopback each send costs about as much as the
   * 4 KiB I/O it answers.
   */
  private batchReplies(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
    setImmediate(() => {
      this.corked = false;
      this.socket.uncork();
    });
  }
}

/** Maps whatever a backend threw to the protocol's small errno set. */
export function errnoOf(err: unknown): number {
  if (err instanceof BlockDeviceError) return NbdErrno[err.code];
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case 'ENOSPC':
    case 'EDQUOT':
    case 'EFBIG':
      return NbdErrno.ENOSPC;
    case 'EPERM':
    case 'EACCES':
    case 'EROFS':
      return NbdErrno.EPERM;
    case 'ENOMEM':
      return NbdErrno.ENOMEM;
    case 'EINVAL':
      return NbdErrno.EINVAL;
    default:
      return NbdErrno.EIO;
  }
}
