// Promise clients of the volume API (public VolumeService and the agents' internal Raft service)
// over mutual TLS; used between agents and by tests and tools.

import { ChannelCredentials, Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { RaftClient, VolumeServiceClient } from '../../../gen/vxcloud/agent/v1/volume.js';

export interface Tls {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (e: ServiceError | null, r: Res) => void) => ClientUnaryCall;

export type PromiseClient<C> = {
  [K in keyof C as C[K] extends Unary<never, unknown> ? K : never]: C[K] extends Unary<infer Req, infer Res>
    ? (req: Req, timeoutMs?: number, waitForReady?: boolean) => Promise<Res>
    : never;
};

function promiseClient<C extends object>(client: C, defaultTimeoutMs: number): PromiseClient<C> {
  return new Proxy({} as PromiseClient<C>, {
    get(_, method: string) {
      const fn = (client as Record<string, unknown>)[method] as Unary<unknown, unknown>;
      // waitForReady: a channel between reconnect attempts (its peer restarted a moment ago)
      // waits for the connection until the deadline instead of failing at once. grpc-js reads
      // it from the metadata's options; as a call option it is silently ignored.
      return (req: unknown, timeoutMs = defaultTimeoutMs, waitForReady = false) =>
        new Promise((resolve, reject) => {
          fn.call(client, req, new Metadata({ waitForReady }), { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r)));
        });
    },
  });
}

/** `serverName`: the name the agent's certificate carries (the host name), whatever the address. */
export function channelOptions(serverName?: string): Record<string, string | number> {
  return {
    ...(serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {}),
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc.max_send_message_length': 64 * 1024 * 1024,
    // A dead peer is noticed in seconds rather than when the OS gives up on the connection.
    'grpc.keepalive_time_ms': 5000,
    'grpc.keepalive_timeout_ms': 3000,
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 1000,
  };
}

export class VolumeClient {
  readonly volumes: PromiseClient<VolumeServiceClient>;
  private readonly raw: VolumeServiceClient;

  constructor(address: string, tls: Tls, serverName?: string) {
    this.raw = new VolumeServiceClient(address, ChannelCredentials.createSsl(tls.ca, tls.key, tls.cert), channelOptions(serverName));
    this.volumes = promiseClient(this.raw, 60_000);
  }

  close(): void {
    this.raw.close();
  }
}

export class RaftPeerClient {
  readonly raft: PromiseClient<RaftClient>;
  readonly raw: RaftClient;

  constructor(address: string, tls: Tls, serverName?: string) {
    this.raw = new RaftClient(address, ChannelCredentials.createSsl(tls.ca, tls.key, tls.cert), channelOptions(serverName));
    this.raft = promiseClient(this.raw, 10_000);
  }

  close(): void {
    this.raw.close();
  }
}
