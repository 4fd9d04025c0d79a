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

export class GrpcTransport implements PeerTransport {
  private readonly clients = new Map<string, RaftPeerClient>();

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

  send(volumeId: string, to: VolumeHost, messages: readonly Message[]): void {
    this.peer(to)
      .raft.step({ volumeId, messages: messages.map(encodeMessage) }, STEP_TIMEOUT_MS)
      .catch((e: ServiceError) => {
        if (e.code === Status.NOT_FOUND) this.onMissingReplica(volumeId, to);
        else this.log.trace({ err: e.message, to: to.name, volumeId }, 'raft step not delivered');
      });
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
