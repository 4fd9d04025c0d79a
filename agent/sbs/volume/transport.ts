// Raft between agents: one gRPC channel per peer (mutual TLS with the agent's own certificate),
// messages batched per Ready in a unary Step, snapshots streamed from the live data file.

import { status as Status, type ServiceError } from '@grpc/grpc-js';
import { open } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Message, SnapshotMessage } from '../raft/index.js';
import { RaftPeerClient, type Tls } from './client.js';
import type { PeerTransport, VolumeHost } from './replica.js';
import { encodeMessage } from './wire.js';

const STEP_TIMEOUT_MS = 5000;
const CHUNK = 1024 * 1024;
const MAX_BATCH_BYTES = 3 * 1024 * 1024;
const MAX_QUEUED_BYTES = 64 * 1024 * 1024;

interface PeerQueue {
  readonly volumeId: string;
  readonly to: VolumeHost;
  busy: boolean;
  pending: Buffer[];
  bytes: number;
}

export class GrpcTransport implements PeerTransport {
  private readonly clients = new Map<string, RaftPeerClient>();
  private readonly queues = new Map<string, PeerQueue>();

  constructor(
    private readonly tls: Tls,
    private readonly log: Logger,
    /** A peer answered NOT_FOUND for a volume it is placed on: it lost its replica. */
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

  /**
   * In order, per peer and volume: separate calls on one HTTP/2 connection can overtake each
   * other (a small heartbeat passes a 1 MiB append), and a follower rejects an append that
   * arrives before its predecessor, sending the leader back to probing. So one call is in flight
   * at a time, and whatever queued meanwhile leaves in the next.
   */
  send(volumeId: string, to: VolumeHost, messages: readonly Message[]): void {
    const key = `${volumeId}/${to.name}@${to.endpoint}`;
    let q = this.queues.get(key);
    if (!q) {
      q = { volumeId, to, busy: false, pending: [], bytes: 0 };
      this.queues.set(key, q);
    }
    for (const m of messages) {
      const b = encodeMessage(m);
      q.pending.push(b);
      q.bytes += b.length;
    }
    if (q.bytes > MAX_QUEUED_BYTES) {
      // The peer is not taking them; raft re-sends whatever it still needs.
      q.pending = [];
      q.bytes = 0;
    }
    if (!q.busy) this.flush(q);
  }

  private flush(q: PeerQueue): void {
    if (q.pending.length === 0) {
      q.busy = false;
      return;
    }
    q.busy = true;
    // One call must fit the receiving agent's 4 MiB message limit.
    let n = 0;
    let bytes = 0;
    while (n < q.pending.length && (n === 0 || bytes + q.pending[n]!.length <= MAX_BATCH_BYTES)) bytes += q.pending[n++]!.length;
    const batch = q.pending.splice(0, n);
    q.bytes -= bytes;
    this.peer(q.to)
      .raft.step({ volumeId: q.volumeId, messages: batch }, STEP_TIMEOUT_MS)
      .catch((e: ServiceError) => {
        if (e.code === Status.NOT_FOUND) this.onMissingReplica(q.volumeId, q.to);
        else this.log.debug({ err: e.message, to: q.to.name, volumeId: q.volumeId }, 'raft step not delivered');
      })
      .finally(() => this.flush(q));
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
        pump().catch((e: unknown) => {
          call.cancel();
          reject(e as Error);
        });
      });
    } finally {
      await fh.close();
    }
  }

  async propose(volumeId: string, to: VolumeHost, command: Buffer, timeoutMs: number): Promise<number> {
    return (await this.peer(to).raft.propose({ volumeId, command }, timeoutMs)).index;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
