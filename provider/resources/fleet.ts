// The hosts a provider manages and a client for each: calls fan out with bounded concurrency,
// and a host that fails is named in the error while the others' results are kept, so that a
// partial create can still be recorded and repaired or cleaned up later.

import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { AgentClient, type TlsMaterial } from '../../lib/agent-client.js';
import type { Host } from '../../gen/vxcloud/agent/v1/host.js';

export interface FleetHost {
  name: string;
  endpoint: string;
  roles: string[];
}

export interface HostFailure {
  host: string;
  error: Error;
}

/** Some hosts failed; `done` holds the results of those that did not. */
export class FleetError<T = unknown> extends Error {
  constructor(
    readonly failures: HostFailure[],
    readonly done: Map<string, T>,
  ) {
    super(failures.map((f) => `${f.host}: ${agentMessage(f.error)}`).join('\n'));
    this.name = 'FleetError';
  }
}

export function agentMessage(e: Error): string {
  return (e as Partial<ServiceError>).details ?? e.message;
}

export const isNotFound = (e: unknown): boolean => (e as Partial<ServiceError>).code === grpcStatus.NOT_FOUND;

const CONCURRENCY = 8;

export class Fleet {
  private readonly clients = new Map<string, AgentClient>();
  private readonly described = new Map<string, Promise<Host>>();

  constructor(
    readonly hosts: FleetHost[],
    private readonly tls: TlsMaterial,
    readonly timeoutMs: number,
  ) {}

  host(name: string): FleetHost | undefined {
    return this.hosts.find((h) => h.name === name);
  }

  /** Names of the hosts with any of these roles, in the provider's order. */
  hostsWithRole(...roles: string[]): string[] {
    return this.hosts.filter((h) => h.roles.some((r) => roles.includes(r))).map((h) => h.name);
  }

  /**
   * What the host's agent says about itself (roles, underlay endpoint, control plane), asked once
   * per provider run: the agent, not the provider's config, is the source of truth.
   */
  describe(name: string): Promise<Host> {
    let host = this.described.get(name);
    if (!host) {
      host = this.client(name).host.getHost({}, this.timeoutMs);
      // A failed ask is not remembered: the next call asks again.
      host.catch(() => this.described.delete(name));
      this.described.set(name, host);
    }
    return host;
  }

  client(name: string): AgentClient {
    let c = this.clients.get(name);
    if (!c) {
      const h = this.host(name);
      if (!h) throw new Error(`unknown host "${name}": the provider knows ${this.hosts.map((x) => x.name).join(', ')}`);
      c = new AgentClient(h.endpoint, this.tls, h.name);
      this.clients.set(name, c);
    }
    return c;
  }

  /** Runs `fn` for every host, at most CONCURRENCY at a time; throws a FleetError if any failed. */
  async each<T>(names: readonly string[], fn: (c: AgentClient, host: string) => Promise<T>): Promise<Map<string, T>> {
    const done = new Map<string, T>();
    const failures: HostFailure[] = [];
    const queue = [...names];
    const worker = async (): Promise<void> => {
      for (let host = queue.shift(); host !== undefined; host = queue.shift()) {
        try {
          done.set(host, await fn(this.client(host), host));
        } catch (e) {
          failures.push({ host, error: e instanceof Error ? e : new Error(String(e)) });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, names.length) }, worker));
    if (failures.length > 0) throw new FleetError(failures, done);
    return done;
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
