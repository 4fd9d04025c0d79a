// The agent's side of the registry: this host's inventory record and liveness lease, a watch of
// the whole deployment prefix (the view other parts derive tables and reservations from), and
// transactions for the claims the API makes. The data plane never waits on it: with etcd away,
// the last view stays in the kernel, changes fail with UNAVAILABLE, and the client retries.

import type { Etcd3, IKeyValue, Lease, Watcher } from 'etcd3';
import type { Logger } from 'pino';
import { ApiError } from '../state/errors.js';
import { EtcdBackend, etcdClient, type EtcdSettings } from './etcd.js';
import { keys, type HostRecord, type Keys } from './model.js';
import { optimistic, type Txn } from './txn.js';
import { viewOf, type RegistryView } from './view.js';

export interface RegistrySettings extends EtcdSettings {
  prefix: string;
  leaseSeconds: number;
}

const RETRY_MS = 1000;

/**
 * Runs `task` whenever asked, never twice at once; asks made while it runs fold into one more run.
 * A failed run is retried after RETRY_MS until one succeeds or `stopped()` says so.
 */
export function serial(task: () => Promise<void>, onError: (e: unknown) => void, stopped: () => boolean): () => void {
  let running = false;
  let again = false;
  const run = async (): Promise<void> => {
    running = true;
    do {
      again = false;
      try {
        await task();
      } catch (e) {
        onError(e);
        if (!stopped()) setTimeout(trigger, RETRY_MS).unref();
      }
    } while (again && !stopped());
    running = false;
  };
  const trigger = (): void => {
    if (running) again = true;
    else if (!stopped()) void run();
  };
  return trigger;
}

export interface RegistryStatus {
  endpoints: string[];
  prefix: string;
  leaseId: string;
  leaseSeconds: number;
  keys: number;
  revision: number;
  problems: string[];
}

export class Registry {
  readonly keys: Keys;
  private readonly client: Etcd3;
  private readonly backend: EtcdBackend;
  private lease: Lease | undefined;
  private leaseId = '';
  private readonly kvs = new Map<string, string>();
  private revision = 0;
  private watcher: Watcher | undefined;
  private current: RegistryView | undefined;
  private readonly listeners: ((v: RegistryView) => void)[] = [];
  private readonly errors = { register: '', watch: '' };
  private stopped = false;
  private readonly register: () => void;
  private readonly load: () => void;
  private readonly changed: () => void;

  constructor(
    private readonly settings: RegistrySettings,
    private readonly self: HostRecord,
    private readonly log: Logger,
  ) {
    this.keys = keys(settings.prefix);
    this.client = etcdClient(settings);
    this.backend = new EtcdBackend(this.client);
    const failed = (what: keyof typeof this.errors) => (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (this.errors[what] !== message) log.warn({ err }, `registry: ${what} failed; retrying`);
      this.errors[what] = message;
    };
    const stopped = (): boolean => this.stopped;
    this.register = serial(() => this.registerSelf(), failed('register'), stopped);
    this.load = serial(() => this.loadAndWatch(), failed('watch'), stopped);
    this.changed = serial(
      async () => this.publish(),
      () => undefined,
      stopped,
    );
  }

  get host(): string {
    return this.self.name;
  }

  /** The watched deployment; undefined until the first read. */
  get view(): RegistryView | undefined {
    return this.current;
  }

  onView(f: (v: RegistryView) => void): void {
    this.listeners.push(f);
  }

  /** Starts registering and watching in the background; returns at once (etcd may come up later). */
  start(): void {
    this.register();
    this.load();
  }

  /** Runs an optimistic transaction; an etcd that cannot be reached becomes UNAVAILABLE, naming it. */
  async transact<T>(fn: (tx: Txn, k: Keys) => Promise<T>): Promise<T> {
    try {
      return await optimistic(this.backend, (tx) => fn(tx, this.keys));
    } catch (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError(
        'UNAVAILABLE',
        '',
        `the registry (etcd at ${this.settings.endpoints.join(', ')}) did not answer: ${(e as Error).message}; nothing was changed, retry when it is back`,
      );
    }
  }

  private currentLease(): Lease {
    if (this.lease) return this.lease;
    const lease = this.client.lease(this.settings.leaseSeconds);
    lease.on('lost', (err) => {
      if (this.lease !== lease) return;
      const granted = this.leaseId !== '';
      this.lease = undefined;
      this.leaseId = '';
      if (granted) {
        this.log.warn({ err }, 'registry: liveness lease lost; registering again');
        this.register();
      }
    });
    this.lease = lease;
    return lease;
  }

  /** The inventory record stays when the agent stops (its NICs keep forwarding); liveness does not. */
  private async registerSelf(): Promise<void> {
    await this.client.put(this.keys.host(this.self.name)).value(JSON.stringify(this.self)).exec();
    const lease = this.currentLease();
    this.leaseId = BigInt(await lease.grant()).toString(16);
    await lease.put(this.keys.alive(this.self.name)).value('').exec();
    this.errors.register = '';
  }

  /** Reads the prefix, then watches it from the next revision; again from scratch if the watch breaks. */
  private async loadAndWatch(): Promise<void> {
    await this.watcher?.cancel().catch(() => undefined);
    this.watcher = undefined;
    const res = await this.client.getAll().prefix(this.settings.prefix).exec();
    this.kvs.clear();
    for (const kv of res.kvs) this.kvs.set(kv.key.toString(), kv.value.toString());
    this.revision = Number(res.header.revision);
    this.changed();
    const w = await this.client
      .watch()
      .prefix(this.settings.prefix)
      .startRevision(String(this.revision + 1))
      .create();
    // Allocation keys and pending marks are read in transactions, not in the view: a change of
    // one rebuilds nothing (an apply of a hundred objects writes several hundred of them).
    const k = this.keys;
    const viewed = [k.hosts, k.alives, k.objects, k.deleted('')];
    const moved = (kv: IKeyValue): void => {
      this.revision = Math.max(this.revision, Number(kv.mod_revision));
      const key = kv.key.toString();
      if (viewed.some((p) => key.startsWith(p))) this.changed();
    };
    w.on('put', (kv) => {
      this.kvs.set(kv.key.toString(), kv.value.toString());
      moved(kv);
    });
    w.on('delete', (kv) => {
      this.kvs.delete(kv.key.toString());
      moved(kv);
    });
    w.on('disconnected', (err) => (this.errors.watch = `watch disconnected: ${err.message}`));
    w.on('connected', () => (this.errors.watch = ''));
    // Cancelled by etcd (the revision compacted away, say): nothing but a fresh read is trustworthy.
    w.on('error', (err) => {
      this.errors.watch = `watch cancelled: ${err.message}`;
      if (this.watcher === w) this.load();
    });
    this.watcher = w;
    this.errors.watch = '';
  }

  private publish(): void {
    const v = viewOf(this.keys, this.kvs);
    this.current = v;
    for (const f of this.listeners) f(v);
  }

  status(): RegistryStatus {
    const problems = Object.entries(this.errors)
      .filter(([, m]) => m !== '')
      .map(([what, m]) => `registry ${what}: ${m}`);
    if (!this.current) problems.push(`registry: no view yet from ${this.settings.endpoints.join(', ')}`);
    problems.push(...(this.current?.malformed ?? []).map((m) => `registry key ${m}`));
    return {
      endpoints: this.settings.endpoints,
      prefix: this.settings.prefix,
      leaseId: this.leaseId,
      leaseSeconds: this.settings.leaseSeconds,
      keys: this.kvs.size,
      revision: this.revision,
      problems,
    };
  }

  /**
   * Stops renewing without revoking: the host shows as down when the lease runs out, while its
   * inventory record and objects stay, so the other hosts keep reaching its NICs.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher?.cancel().catch(() => undefined);
    this.lease?.release();
    this.client.close();
  }
}
