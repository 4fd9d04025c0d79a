// A client of one agent: the host, network, router, security group and volume services over mutual TLS, with promise
// methods and a deadline on every call.

import { ChannelCredentials, Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from '@grpc/grpc-js';
import { readFile } from 'node:fs/promises';
import { HostServiceClient } from '../gen/vxcloud/agent/v1/host.js';
import { NetworkServiceClient } from '../gen/vxcloud/agent/v1/network.js';
import { RouterServiceClient } from '../gen/vxcloud/agent/v1/router.js';
import { SecurityGroupServiceClient } from '../gen/vxcloud/agent/v1/security_group.js';
import { VolumeServiceClient } from '../gen/vxcloud/agent/v1/volume.js';

type Unary<Req, Res> = (req: Req, md: Metadata, opts: Partial<CallOptions>, cb: (e: ServiceError | null, r: Res) => void) => ClientUnaryCall;

/** The unary methods of a generated client, as `(request, timeoutMs?) => Promise<response>`. */
export type Promisified<C> = {
  [K in keyof C as C[K] extends Unary<never, unknown> ? K : never]: C[K] extends Unary<infer Req, infer Res>
    ? (req: Req, timeoutMs?: number) => Promise<Res>
    : never;
};

const DEFAULT_TIMEOUT_MS = 60_000;

function promisify<C extends object>(client: C, headers: Readonly<Record<string, string>>): Promisified<C> {
  return new Proxy({} as Promisified<C>, {
    get(_, method: string) {
      const fn = (client as Record<string, unknown>)[method] as Unary<unknown, unknown>;
      return (req: unknown, timeoutMs = DEFAULT_TIMEOUT_MS) =>
        new Promise((resolve, reject) => {
          const md = new Metadata();
          for (const [k, v] of Object.entries(headers)) md.set(k, v);
          fn.call(client, req, md, { deadline: Date.now() + timeoutMs }, (e, r) => (e ? reject(e) : resolve(r)));
        });
    },
  });
}

export interface TlsMaterial {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export async function readTls(files: { ca: string; cert: string; key: string }): Promise<TlsMaterial> {
  const [ca, cert, key] = await Promise.all([readFile(files.ca), readFile(files.cert), readFile(files.key)]);
  return { ca, cert, key };
}

export class AgentClient {
  readonly host: Promisified<HostServiceClient>;
  readonly network: Promisified<NetworkServiceClient>;
  readonly router: Promisified<RouterServiceClient>;
  /** Answered by any agent with a registry (groups are the registry's, not a host's). */
  readonly securityGroups: Promisified<SecurityGroupServiceClient>;
  /** Storage hosts only; others answer UNIMPLEMENTED. */
  readonly volume: Promisified<VolumeServiceClient>;
  private readonly raw: {
    host: HostServiceClient;
    network: NetworkServiceClient;
    router: RouterServiceClient;
    securityGroups: SecurityGroupServiceClient;
    volume: VolumeServiceClient;
  };

  /**
   * `address` is `unix:///path` or `host:port`; the agent's certificate must name `serverName`.
   * `headers` go with every call (the provider's run, lib/wire.ts).
   */
  constructor(address: string, tls: TlsMaterial, serverName?: string, headers: Readonly<Record<string, string>> = {}) {
    const creds = ChannelCredentials.createSsl(tls.ca, tls.key, tls.cert);
    const options = {
      ...(serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {}),
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.max_send_message_length': 64 * 1024 * 1024,
    };
    this.raw = {
      host: new HostServiceClient(address, creds, options),
      network: new NetworkServiceClient(address, creds, options),
      router: new RouterServiceClient(address, creds, options),
      securityGroups: new SecurityGroupServiceClient(address, creds, options),
      volume: new VolumeServiceClient(address, creds, options),
    };
    this.host = promisify(this.raw.host, headers);
    this.network = promisify(this.raw.network, headers);
    this.router = promisify(this.raw.router, headers);
    this.securityGroups = promisify(this.raw.securityGroups, headers);
    this.volume = promisify(this.raw.volume, headers);
  }

  close(): void {
    this.raw.host.close();
    this.raw.network.close();
    this.raw.router.close();
    this.raw.securityGroups.close();
    this.raw.volume.close();
  }
}
