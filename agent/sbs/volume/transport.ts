// Raft between agents, sending end: raft messages and forwarded writes on the raft link
// (link-server.ts is the receiving end), snapshots and replica calls over gRPC (the Raft
// service), all with the agent's own certificate.
//
// Three links per peer, each a TLS connection: appends, in order (a follower rejects an append
// that overtook its predecessor); everything else — heartbeats, votes, acknowledgements — so
// that it never queues behind megabytes of entries (a heartbeat late by the time a window of
// 1 MiB appends takes to drain looks like a dead leader to the follower); and the writes a
// follower forwards to the leader, with their answers. A peer's link address is asked of it over
// gRPC (Raft.LinkAddress) once per connection: the placement names only its gRPC endpoint.

import { open } from 'node:fs/promises';
import { connect, type TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { parseListen } from '../../../lib/listen.js';
import type { Message, SnapshotMessage } from '../raft/index.js';
import { RaftPeerClient, type Tls } from './client.js';
import { LINK_PROTOCOL, type Frame } from './link-frames.js';
import { readFrames, writeFrame } from './link-socket.js';
import type { PeerTransport, VolumeHost } from './replica.js';
import { encodeMessage } from './wire.js';

const CHUNK = 1024 * 1024;
/** Written to a link the peer does not drain; past this, raft's own retries take over. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/** A Ready's messages to one peer go in frames of about this size (several 1 MiB appends may queue). */
const MAX_STEP_BYTES = 4 * 1024 * 1024;
/** After a link fails, messages to that peer are dropped this long (raft resends) rather than each opening one. */
const RETRY_MS = 500;
/**
 * A link with bytes waiting this long and none taken is given up and opened again: a peer cut
 * off by a partition would otherwise hold our messages in TCP retransmission for minutes.
 */
const STALL_MS = 5000;

interface Link {
  /** Undefined while the peer's link address is asked for. */
  socket?: TLSSocket;
  /** Frames written before the socket existed, and their bytes. */
  readonly early: Frame[];
  earlyBytes: number;
  /** When the socket last had nothing waiting to be written. */
  idleAt: number;
  /** Forwarded batches awaiting their answer. */
  readonly forwards: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
}

type Lane = 'append' | 'control' | 'forward';

export class LinkTransport implements PeerTransport {
  private readonly clients = new Map<string, RaftPeerClient>();
  private readonly links = new Map<string, Link>();
  private readonly failedAt = new Map<string, number>();
  private forwardSeq = 0;
  private closed = false;

  constructor(
    private readonly tls: Tls,
    private readonly log: Logger,
    /** A peer answered that it holds no replica of a volume placed on it: it lost it. */
    private readonly onMissingReplica: (volumeId: string, peer: VolumeHost) => void,
  ) {}

  peer(to: VolumeHost): RaftPeerClient {
    const key = `${to.name}@${to.endpoint}`;
    let c = this.clients.get(key);
    if (!c) {
      c = new RaftPeerClient(to.endpoint, this.tls, to.name);
      this.clients.set(key, c);
    }
    return c;
  }

  /** Fire and forget: what a broken or stalled link loses, raft sends again. */
  send(volumeId: string, to: VolumeHost, messages: readonly Message[]): void {
    const appends = messages.filter((m) => m.type === 'append');
    if (appends.length > 0) this.sendSteps(to, 'append', volumeId, appends);
    if (appends.length < messages.length)
      this.sendSteps(
        to,
        'control',
        volumeId,
        messages.filter((m) => m.type !== 'append'),
      );
  }

  private sendSteps(to: VolumeHost, lane: Lane, volumeId: string, messages: readonly Message[]): void {
    const link = this.link(to, lane);
    if (!link) return;
    for (const parts of stepBatches(messages.map(encodeMessage), MAX_STEP_BYTES)) this.write(link, { kind: 'step', volumeId, parts });
  }

  /** Writes or queues the frame; drops it (raft resends) when the peer has taken nothing for a while. */
  private write(link: Link, f: Frame): void {
    const s = link.socket;
    if (!s) {
      const bytes = 'parts' in f ? f.parts.reduce((n, p) => n + p.length, 0) : 0;
      if (link.earlyBytes + bytes > MAX_BUFFERED_BYTES) return;
      link.early.push(f);
      link.earlyBytes += bytes;
      return;
    }
    if (s.writableLength === 0) link.idleAt = Date.now();
    else if (Date.now() - link.idleAt > STALL_MS) s.destroy(new Error(`nothing taken for ${STALL_MS} ms`));
    if (s.writableLength <= MAX_BUFFERED_BYTES) writeFrame(s, f);
  }

  /** The open (or opening) link, or undefined while the last attempt to this peer is recent. */
  private link(to: VolumeHost, lane: Lane): Link | undefined {
    const key = `${to.name}@${to.endpoint}/${lane}`;
    const open = this.links.get(key);
    if (open) return open;
    if (this.closed || Date.now() - (this.failedAt.get(key) ?? 0) < RETRY_MS) return undefined;
    const link: Link = { early: [], earlyBytes: 0, idleAt: Date.now(), forwards: new Map() };
    this.links.set(key, link);
    const drop = (why: string): void => {
      if (this.links.get(key) !== link) return;
      this.links.delete(key);
      this.failedAt.set(key, Date.now());
      link.socket?.destroy();
      for (const f of link.forwards.values()) f.reject(new Error(`the raft link to ${to.name} broke: ${why}`));
      link.forwards.clear();
      this.log.debug({ to: to.name, lane, err: why }, 'raft link broke; messages to it wait for the next');
    };
    this.peer(to)
      .raft.linkAddress({})
      .then(({ address }) => {
        if (this.links.get(key) !== link) return;
        const at = parseListen(address);
        if ('path' in at) throw new Error(`link address ${address} is not host:port`);
        const socket = connect({
          host: at.host,
          port: at.port,
          servername: to.name,
          ca: this.tls.ca,
          cert: this.tls.cert,
          key: this.tls.key,
          ALPNProtocols: [LINK_PROTOCOL],
        });
        link.socket = socket;
        link.idleAt = Date.now();
        socket.setNoDelay(true);
        socket.on('drain', () => (link.idleAt = Date.now()));
        socket.on('error', (e: Error) => drop(e.message));
        socket.on('close', () => drop('closed'));
        readFrames(socket, (f) => this.received(f, link, to), drop);
        for (const f of link.early.splice(0)) writeFrame(socket, f);
        link.earlyBytes = 0;
      })
      .catch((e: Error) => drop(e.message));
    return link;
  }

  private received(f: Frame, link: Link, from: VolumeHost): void {
    if (f.kind === 'missing') this.onMissingReplica(f.volumeId, from);
    if (f.kind !== 'forwarded') return;
    const w = link.forwards.get(f.id);
    if (!w) return;
    link.forwards.delete(f.id);
    if (f.error === '') w.resolve();
    else w.reject(new Error(`${from.name}: ${f.error}`));
  }

  async sendSnapshot(volumeId: string, to: VolumeHost, message: SnapshotMessage, path: string): Promise<void> {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      await new Promise<void>((resolve, reject) => {
        const call = this.peer(to).raw.installSnapshot((e) => (e ? reject(e) : resolve()));
        const pump = async (): Promise<void> => {
          call.write({ volumeId, message: encodeMessage(message), sizeBytes: size, offset: 0, data: Buffer.alloc(0) });
          const buf = Buffer.alloc(CHUNK);
          for (let at = 0; at < size; at += CHUNK) {
            const { bytesRead } = await fh.read(buf, 0, Math.min(CHUNK, size - at), at);
            const data = buf.subarray(0, bytesRead);
            // Holes stay holes: the receiver starts from an all-zero sparse file.
            if (data.every((b) => b === 0)) continue;
            if (!call.write({ volumeId: '', message: Buffer.alloc(0), sizeBytes: 0, offset: at, data: Buffer.from(data) })) {
              await new Promise<void>((r) => call.once('drain', r));
            }
          }
          call.end();
        };
        // Reads and stream writes fail with Errors.
        pump().catch((e: Error) => {
          call.cancel();
          reject(e);
        });
      });
    } finally {
      await fh.close();
    }
  }

  /** Proposes the commands on the leader `to`; resolves once they are applied there. */
  propose(volumeId: string, to: VolumeHost, commands: readonly Uint8Array[], timeoutMs: number): Promise<void> {
    const link = this.link(to, 'forward');
    if (!link) return Promise.reject(new Error(`the raft link to ${to.name} failed a moment ago`));
    const id = (this.forwardSeq = (this.forwardSeq % 0xffffffff) + 1);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        link.forwards.delete(id);
        reject(new Error(`${to.name}: no answer to forwarded writes within ${timeoutMs} ms`));
      }, timeoutMs);
      link.forwards.set(id, {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.write(link, { kind: 'forward', id, volumeId, parts: [...commands] });
    });
  }

  close(): void {
    this.closed = true;
    for (const l of this.links.values()) l.socket?.destroy();
    this.links.clear();
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/** Encoded messages in order, grouped so that each group totals at most `maxBytes` (a larger message goes alone). */
export function stepBatches(encoded: readonly Buffer[], maxBytes: number): Buffer[][] {
  const out: Buffer[][] = [];
  let batch: Buffer[] = [];
  let bytes = 0;
  for (const b of encoded) {
    if (batch.length > 0 && bytes + b.length > maxBytes) {
      out.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(b);
    bytes += b.length;
  }
  if (batch.length > 0) out.push(batch);
  return out;
}
