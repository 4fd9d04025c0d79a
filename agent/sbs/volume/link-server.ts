// The receiving end of the raft link (transport.ts is the sending end): a mutual-TLS listener
// for storage agents only, carrying frames (link-frames.ts) instead of gRPC streams. gRPC's
// HTTP/2 framing of every raft message had been about a third of a leader's CPU per write.

import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { ListenAddress } from '../../../lib/listen.js';
import { describeIdentity, identityOfAltNames, type Identity } from '../../../lib/identity.js';
import { LINK_PROTOCOL, type Frame } from './link-frames.js';
import { readFrames, writeFrame } from './link-socket.js';
import type { Tls } from './client.js';

/** What the link delivers; the caller is always a host (others are refused at connect). */
export interface LinkInbox {
  /** Raft messages for one volume; 'missing' when this host holds no replica of it. */
  step(from: Identity & { kind: 'host' }, volumeId: string, messages: readonly Uint8Array[]): 'missing' | undefined;
  /** Client writes a follower forwarded; resolves once applied here. */
  forward(from: Identity & { kind: 'host' }, volumeId: string, commands: readonly Uint8Array[]): Promise<void>;
}

export interface LinkLog {
  warn(o: object, msg: string): void;
  debug(o: object, msg: string): void;
}

export class LinkServer {
  private readonly server: Server;
  private readonly sockets = new Set<TLSSocket>();

  constructor(tls: Tls, inbox: LinkInbox, log: LinkLog) {
    this.server = createServer(
      { ca: tls.ca, cert: tls.cert, key: tls.key, requestCert: true, rejectUnauthorized: true, ALPNProtocols: [LINK_PROTOCOL] },
      (socket) => {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', (e: Error) => log.debug({ err: e.message }, 'raft link broke'));
        const who = identityOfAltNames(socket.getPeerCertificate().subjectaltname);
        if (who?.kind !== 'host' || socket.alpnProtocol !== LINK_PROTOCOL) {
          log.warn(
            { from: describeIdentity(who), alpn: socket.alpnProtocol },
            'raft link refused: it is for the agents of storage hosts, speaking ' + LINK_PROTOCOL,
          );
          socket.end();
          return;
        }
        socket.setNoDelay(true);
        // A sender that vanished (host down, partition) is noticed and its socket let go.
        socket.setKeepAlive(true, 5000);
        const send = (f: Frame): void => void writeFrame(socket, f);
        readFrames(
          socket,
          (f) => {
            if (f.kind === 'step') {
              if (inbox.step(who, f.volumeId, f.parts) === 'missing') send({ kind: 'missing', volumeId: f.volumeId });
            } else if (f.kind === 'forward') {
              inbox.forward(who, f.volumeId, f.parts).then(
                () => send({ kind: 'forwarded', id: f.id, error: '' }),
                (e: Error) => send({ kind: 'forwarded', id: f.id, error: e.message }),
              );
            }
          },
          (why) => {
            log.warn({ err: why, from: who.host }, 'raft link closed: a frame could not be read');
            socket.destroy();
          },
        );
      },
    );
    this.server.on('tlsClientError', (e) => log.debug({ err: e.message }, 'raft link handshake failed'));
  }

  listen(at: ListenAddress): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen('path' in at ? { path: at.path } : { port: at.port, host: at.host }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
