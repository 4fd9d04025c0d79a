// NBD server: fixed newstyle handshake, optional or mandatory STARTTLS, then the transmission
// phase over any ExportResolver's devices.
import { identityOfAltNames } from '../../../lib/identity.js';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';

import { decodeClientFlags, decodeOptionHeader, encodeGreeting, encodeOptionReply, encodeString, ProtocolError } from './codec.js';
import type { ExportResolver } from './exports.js';
import { BufferPool } from './buffer-pool.js';
import { Negotiation, type TlsMode } from './handshake.js';
import { NBD_OPT_EXPORT_NAME, NBD_REP_ERR_TOO_BIG, OPTION_HEADER_LENGTH } from './protocol.js';
import { StreamReader } from './reader.js';
import { Transmission, type NbdIoObserver, type NbdLogger, type TransmissionLimits, type TransmissionStats } from './transmission.js';

export interface NbdTlsOptions {
  /** PEM server key and certificate chain. */
  readonly key: string | Buffer;
  readonly cert: string | Buffer;
  /** PEM CA bundle that client certificates must chain to (needed with requireClientCert). */
  readonly ca?: string | Buffer;
  /** Refuse the TLS handshake unless the client presents a certificate signed by `ca`. */
  readonly requireClientCert: boolean;
  /** FORCEDTLS: refuse every option but STARTTLS/ABORT with NBD_REP_ERR_TLS_REQD until TLS is up. */
  readonly mandatory: boolean;
}

export interface NbdServerLimits extends TransmissionLimits {
  /** The whole option phase, TLS handshake included, must finish within this. */
  readonly handshakeTimeoutMs: number;
  /** Options one connection may send before it is dropped as abusive. */
  readonly maxOptions: number;
  /** Larger option data is discarded and answered with NBD_REP_ERR_TOO_BIG. */
  readonly maxOptionLength: number;
  readonly maxConnections: number;
  /** Bytes read ahead of the parser before the socket is paused. */
  readonly readAheadBytes: number;
  /** After NBD_CMD_DISC or on server close, how long in-flight requests may take to finish. */
  readonly drainTimeoutMs: number;
}

export const DEFAULT_LIMITS: NbdServerLimits = {
  // The largest request the protocol says interoperable clients send.
  maxPayloadBytes: 32 * 1024 * 1024,
  maxInFlightRequests: 128,
  maxInFlightBytes: 64 * 1024 * 1024,
  handshakeTimeoutMs: 30_000,
  maxOptions: 256,
  // An export name (4096 bytes) plus a generous list of info requests.
  maxOptionLength: 16 * 1024,
  maxConnections: 1024,
  readAheadBytes: 1024 * 1024,
  drainTimeoutMs: 30_000,
};

export interface NbdServerOptions {
  readonly resolver: ExportResolver;
  readonly tls?: NbdTlsOptions;
  readonly limits?: Partial<NbdServerLimits>;
  readonly io?: NbdIoObserver;
  readonly log?: NbdLogger;
}

const silent: NbdLogger = { debug() {}, warn() {} };

interface Connection {
  readonly socket: net.Socket;
  stream: Duplex;
  transmission?: Transmission;
}

export class NbdServer {
  private readonly server: net.Server;
  private readonly limits: NbdServerLimits;
  private readonly log: NbdLogger;
  private readonly tlsMode: TlsMode;
  private readonly secureContext: tls.SecureContext | undefined;
  private readonly connections = new Set<Connection>();
  /** Shared by the connections: nbdcopy and the kernel client read over several at once. */
  private readonly buffers = new BufferPool(32 * 1024 * 1024);
  private closing = false;

  constructor(private readonly options: NbdServerOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    for (const [name, value] of Object.entries(this.limits)) {
      if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`limit ${name} must be a positive integer`);
    }
    this.log = options.log ?? silent;
    const tlsOptions = options.tls;
    if (tlsOptions) {
      if (tlsOptions.requireClientCert && tlsOptions.ca === undefined) {
        throw new Error('requireClientCert needs a CA to verify client certificates against');
      }
      this.secureContext = tls.createSecureContext({
        key: tlsOptions.key,
        cert: tlsOptions.cert,
        ...(tlsOptions.ca !== undefined ? { ca: tlsOptions.ca } : {}),
        minVersion: 'TLSv1.2', // the protocol's floor
      });
      this.tlsMode = tlsOptions.mandatory ? 'required' : 'optional';
    } else {
      this.tlsMode = 'none';
    }
    this.server = net.createServer({ noDelay: true }, (socket) => void this.serve(socket));
    this.server.maxConnections = this.limits.maxConnections;
  }

  async listen(port: number, host: string): Promise<AddressInfo> {
    this.server.listen(port, host);
    await once(this.server, 'listening');
    return this.server.address() as AddressInfo;
  }

  /** A unix socket instead (nbd+unix://): reachable from outside the host's network namespace. */
  async listenPath(path: string): Promise<void> {
    this.server.listen(path);
    await once(this.server, 'listening');
  }

  /** The export of each connection in transmission (one entry per connection). */
  exportNames(): string[] {
    return [...this.connections].flatMap((c) => (c.transmission ? [c.transmission.exportName] : []));
  }

  /** Per-connection transmission counters (connections still negotiating are left out). */
  stats(): TransmissionStats[] {
    return [...this.connections].flatMap((c) => (c.transmission ? [c.transmission.stats()] : []));
  }

  /**
   * Stops accepting, lets in-flight requests finish (new ones get ESHUTDOWN) within the drain
   * timeout, then closes every connection.
   */
  async close(): Promise<void> {
    this.closing = true;
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    await Promise.all(
      [...this.connections].map(async (c) => {
        if (c.transmission) await c.transmission.shutdown(this.limits.drainTimeoutMs);
        c.stream.destroy();
        c.socket.destroy();
      }),
    );
    await stopped;
  }

  private async serve(socket: net.Socket): Promise<void> {
    if (this.closing) {
      socket.destroy();
      return;
    }
    const conn: Connection = { socket, stream: socket };
    this.connections.add(conn);
    // Errors surface through reads and writes; this listener only keeps them from being fatal.
    socket.on('error', (err) => this.log.debug({ err }, 'nbd socket error'));
    const deadline = setTimeout(() => {
      this.log.warn({ remote: socket.remoteAddress }, 'nbd handshake timed out');
      conn.stream.destroy();
      socket.destroy();
    }, this.limits.handshakeTimeoutMs);
    try {
      const entered = await this.negotiate(conn, deadline);
      if (entered) {
        const end = await entered.run(this.limits.drainTimeoutMs);
        if (end === 'disconnect') conn.stream.end();
        else conn.stream.destroy();
      }
    } catch (err) {
      this.log.debug({ err, remote: socket.remoteAddress }, 'nbd connection dropped');
      conn.stream.destroy();
    } finally {
      clearTimeout(deadline);
      this.connections.delete(conn);
      if (!socket.destroyed) {
        // A soft close still gets a bound: a client that never closes its end is cut off.
        const reaper = setTimeout(() => socket.destroy(), this.limits.drainTimeoutMs).unref();
        socket.once('close', () => clearTimeout(reaper));
      }
    }
  }

  /** Runs option haggling; returns the transmission phase to run, or undefined if the session ended. */
  private async negotiate(conn: Connection, deadline: NodeJS.Timeout): Promise<Transmission | undefined> {
    const { limits } = this;
    let reader = new StreamReader(conn.socket, limits.readAheadBytes);
    conn.socket.write(encodeGreeting());
    const negotiation = new Negotiation(this.options.resolver, this.tlsMode, decodeClientFlags(await reader.read(4)), limits.maxPayloadBytes);
    for (let count = 1; ; count++) {
      if (count > limits.maxOptions) throw new ProtocolError(`more than ${limits.maxOptions} options`);
      const { option, length } = decodeOptionHeader(await reader.read(OPTION_HEADER_LENGTH));
      if (length > limits.maxOptionLength) {
        if (option === NBD_OPT_EXPORT_NAME) throw new ProtocolError('export name too long');
        await reader.skip(length);
        conn.stream.write(encodeOptionReply(option, NBD_REP_ERR_TOO_BIG, encodeString('option data too large')));
        continue;
      }
      const outcome = await negotiation.handle(option, await reader.read(length));
      for (const reply of outcome.replies) conn.stream.write(reply);
      switch (outcome.kind) {
        case 'continue':
          break;
        case 'close':
          this.log.debug({ reason: outcome.reason }, 'nbd negotiation ended');
          conn.stream.end();
          return undefined;
        case 'starttls': {
          // The client may not send anything until it has our ACK, so leftover bytes are a breach.
          if (reader.detach().length !== 0) throw new ProtocolError('data sent before the STARTTLS reply');
          const secure = await this.upgrade(conn.socket);
          conn.stream = secure;
          reader = new StreamReader(conn.stream, limits.readAheadBytes);
          negotiation.tlsEstablished(identityOfAltNames(secure.getPeerCertificate()?.subjectaltname));
          break;
        }
        case 'transmit':
          clearTimeout(deadline);
          if (this.closing) throw new Error('server is closing');
          conn.transmission = new Transmission(conn.stream, reader, outcome.export, limits, this.log, this.buffers, this.options.io);
          return conn.transmission;
      }
    }
  }

  private async upgrade(socket: net.Socket): Promise<tls.TLSSocket> {
    const tlsOptions = this.options.tls;
    if (!tlsOptions || !this.secureContext) throw new Error('STARTTLS accepted without TLS configured');
    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: this.secureContext,
      requestCert: tlsOptions.requireClientCert,
      rejectUnauthorized: tlsOptions.requireClientCert,
    });
    secure.on('error', (err: Error) => this.log.debug({ err }, 'nbd tls error'));
    await new Promise<void>((resolve, reject) => {
      secure.once('secure', resolve);
      secure.once('close', () => reject(new Error('connection closed during the TLS handshake')));
    });
    // Outside a tls.Server, a TLSSocket checks only that a certificate was presented (OpenSSL's
    // FAIL_IF_NO_PEER_CERT); the chain verdict is left for us to read, as tls.Server itself does.
    if (tlsOptions.requireClientCert) {
      const handle = (secure as unknown as { ssl?: { verifyError(): Error | null } }).ssl;
      const verifyError = handle ? handle.verifyError() : new Error('TLS handle unavailable');
      if (verifyError) {
        secure.destroy();
        throw new Error(`client certificate rejected: ${verifyError.message}`);
      }
    }
    return secure;
  }
}
