// Raft between agents: one gRPC channel per peer (mutual TLS with the agent's own certificate),
// long-lived Step streams on it for the messages of every volume the two hosts share (a batch
// per Ready) and for the client writes a follower forwards to the leader, snapshots streamed from
// the live data file.
//
// Appends go on a stream of their own, in order (a follower rejects an append that overtook its
// predecessor); everything else — heartbeats, votes, acknowledgements — on the other, so that it
// never queues behind megabytes of entries: a heartbeat late by the time a window of 1 MiB
// appends takes to drain looks like a dead leader to the follower. Forwarded writes have a third:
// a unary call per batch had cost the leader more CPU than the writes themselves (grpc-js reads
// the peer certificate again for every call).

import { status, type ClientDuplexStream } from '@grpc/grpc-js';
import { open } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { StepReply, StepRequest } from '../../../gen/vxcloud/agent/v1/volume.js';
import type { Message, SnapshotMessage } from '../raft/index.js';
import { RaftPeerClient, type Tls } from './client.js';
import type { PeerTransport, VolumeHost } from './replica.js';
import { encodeMessage } from './wire.js';

const CHUNK = 1024 * 1024;
/** Written to a stream the peer does not drain; past this, raft's own retries take over. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;
/**
 * One StepRequest stays below the receiving server's 4 MiB message limit. A Ready can hold
 * several 1 MiB appends for one follower (up to the in-flight window); sent as one request they
 * were refused (RESOURCE_EXHAUSTED), which broke the stream and lost them all, and every
 * sequential 1 MiB write stream crawled through raft's retries (10 MiB/s).
 */
const MAX_STEP_BYTES = 3 * 1024 * 1024;

interface PeerStream {
  readonly call: ClientDuplexStream<StepRequest, StepReply>;
  /** Bytes handed to the stream since it last drained. */
  buffered: number;
  /** Forwarded batches awaiting their reply. */
  readonly forwards: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
}

type Lane = 'append' | 'control' | 'forward';

export class GrpcTransport implements PeerTransport {
  private readonly clients = new Map<string, RaftPeerClient>();
  private readonly streams = new Map<string, PeerStream>();
  private forwardSeq = 0;

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

  /** Fire and forget: what a broken or stalled stream loses, raft sends again. */
  send(volumeId: string, to: VolumeHost, messages: readonly Message[]): void {
    const appends = messages.filter((m) => m.type === 'append');
    if (appends.length > 0) this.write(this.stream(to, 'append'), volumeId, appends);
    if (appends.length < messages.length)
      this.write(
        this.stream(to, 'control'),
        volumeId,
        messages.filter((m) => m.type !== 'append'),
      );
  }

  private write(s: PeerStream, volumeId: string, messages: readonly Message[]): void {
    if (s.buffered > MAX_BUFFERED_BYTES) return;
    for (const batch of stepBatches(messages.map(encodeMessage), MAX_STEP_BYTES)) {
      for (const b of batch) s.buffered += b.length;
      if (s.call.write({ volumeId, messages: batch, forwardId: 0, commands: [] })) s.buffered = 0;
    }
  }

  private stream(to: VolumeHost, lane: Lane): PeerStream {
    const key = `${to.name}@${to.endpoint}/${lane}`;
    const open = this.streams.get(key);
    if (open) return open;
    const call = this.peer(to).raw.step();
    const s: PeerStream = { call, buffered: 0, forwards: new Map() };
    this.streams.set(key, s);
    const drop = (): void => {
      if (this.streams.get(key) === s) this.streams.delete(key);
      for (const f of s.forwards.values()) f.reject(new Error(`the stream to ${to.name} broke`));
      s.forwards.clear();
    };
    call.on('data', (r: StepReply) => {
      if (r.missingVolumeId !== '') this.onMissingReplica(r.missingVolumeId, to);
      const f = r.forwardId > 0 ? s.forwards.get(r.forwardId) : undefined;
      if (!f) return;
      s.forwards.delete(r.forwardId);
      if (r.forwardError === '') f.resolve();
      else f.reject(new Error(`${to.name}: ${r.forwardError}`));
    });
    call.on('drain', () => (s.buffered = 0));
    call.on('error', (e: Error & { code?: number }) => {
      drop();
      // A refused message is our bug, not the network's: say so.
      const level = e.code === status.RESOURCE_EXHAUSTED ? 'warn' : 'debug';
      this.log[level]({ err: e.message, to: to.name }, 'raft stream broke; the next message opens another');
    });
    call.on('end', () => {
      drop();
      call.end();
    });
    return s;
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
    const s = this.stream(to, 'forward');
    const id = ++this.forwardSeq;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        s.forwards.delete(id);
        reject(new Error(`${to.name}: no answer to forwarded writes within ${timeoutMs} ms`));
      }, timeoutMs);
      s.forwards.set(id, {
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      s.call.write({ volumeId, messages: [], forwardId: id, commands: commands.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)) });
    });
  }

  close(): void {
    for (const s of this.streams.values()) s.call.cancel();
    this.streams.clear();
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
