// The hosts a provider manages and a client for each. The registry's inventory is the list of
// hosts (the provider block needs only one agent that answers); calls fan out with bounded
// concurrency, and a host that fails is named in the error while the others' results are kept,
// so that a partial create can still be recorded and repaired or cleaned up later.

import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { randomUUID } from 'node:crypto';
import { AgentClient, type TlsMaterial } from '../../lib/agent-client.js';
import { identityOfPem, type Identity } from '../../lib/identity.js';
import { ADOPT_METADATA, RUN_METADATA } from '../../lib/wire.js';
import type { ExternalNetwork, Host, ObjectPlacement } from '../../gen/vxcloud/agent/v1/host.js';

export interface FleetHost {
  name: string;
  endpoint: string;
  roles: string[];
  /** From the inventory: whether its agent holds its registry lease; true for hosts only configured. */
  up: boolean;
  /** A route host's external network, from the inventory; undefined when unknown or none. */
  external?: ExternalNetwork;
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

/** The id an agent says a create should take instead: an object a killed run left (lib/wire.ts). */
export function adoptedId(e: unknown): string | undefined {
  const se = e as Partial<ServiceError>;
  const v = se.code === grpcStatus.ALREADY_EXISTS ? se.metadata?.get(ADOPT_METADATA)[0] : undefined;
  return typeof v === 'string' && v !== '' ? v : undefined;
}

const CONCURRENCY = 8;

const INVENTORY_DEADLINE_MS = 10_000;

export class Fleet {
  private readonly clients = new Map<string, AgentClient>();
  private readonly described = new Map<string, Promise<Host>>();
  /** The configured host that answered for the registry; lookups go there too. */
  private registryHost: string | undefined;
  private registryProblem = "none of the provider's hosts was asked yet";

  /** Who the provider's certificate says it is (lib/identity.ts). */
  readonly identity: Identity | undefined;

  /**
   * This provider process's run, sent with every call: what it creates stays adoptable by a later
   * run until confirmRun says terraform has it (agent/registry/claims.ts, adoption).
   */
  readonly run = randomUUID();
  private created = false;

  constructor(
    public hosts: FleetHost[],
    private readonly tls: TlsMaterial,
    readonly timeoutMs: number,
  ) {
    this.identity = identityOfPem(tls.cert);
  }

  /**
   * Takes the hosts from the registry's inventory, asking the configured hosts in turn until one
   * answers; an endpoint the provider was given wins over the one the agent registered. Without
   * an answer the configured hosts stay, and lookups say why.
   */
  async loadInventory(): Promise<void> {
    const problems: string[] = [];
    for (const h of this.hosts) {
      try {
        const inv = await this.client(h.name).host.listHosts({ role: '' }, Math.min(this.timeoutMs, INVENTORY_DEADLINE_MS));
        const configured = new Map(this.hosts.map((x) => [x.name, x.endpoint]));
        this.hosts = inv.hosts.map((x) => ({
          name: x.name,
          endpoint: configured.get(x.name) ?? x.endpoints[0] ?? '',
          roles: x.roles,
          up: x.up,
          external: x.externalNetwork,
        }));
        this.registryHost = h.name;
        return;
      } catch (e) {
        problems.push(`${h.name}: ${agentMessage(e as Error)}`);
      }
    }
    this.registryProblem = problems.join('; ');
  }

  host(name: string): FleetHost | undefined {
    return this.hosts.find((h) => h.name === name);
  }

  /** Names of the hosts with any of these roles that are up, in the inventory's order. */
  hostsWithRole(...roles: string[]): string[] {
    return this.hosts.filter((h) => h.up && h.roles.some((r) => roles.includes(r))).map((h) => h.name);
  }

  /** Where an object lives, from the registry; undefined when it has no record of it. */
  async lookup(id: string): Promise<ObjectPlacement | undefined> {
    return this.registryClient()
      .host.lookupObject({ id }, this.timeoutMs)
      .catch((e: unknown) => {
        if (isNotFound(e)) return undefined;
        throw e;
      });
  }

  /**
   * The agent of the host that answered for the registry: lookups and the registry's own objects
   * (security groups, which belong to no host) are asked there.
   */
  registryClient(): AgentClient {
    if (!this.registryHost)
      throw new Error(`no registry answered the provider (${this.registryProblem}): the hosts in its block need a registry (registry in their agent config)`);
    return this.client(this.registryHost);
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
      c = new AgentClient(h.endpoint, this.tls, h.name, { [RUN_METADATA]: this.run });
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

  /** A create of this run reached an agent: confirmRun has something to do. */
  noteCreate(): void {
    this.created = true;
  }

  /**
   * At the run's orderly end (terraform holds every object it created): no later run adopts them.
   * A run that is killed never gets here, and the next one adopts what it left.
   */
  async confirmRun(timeoutMs: number): Promise<void> {
    if (!this.created || !this.registryHost) return;
    await this.client(this.registryHost).host.confirmRun({ run: this.run }, timeoutMs);
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
