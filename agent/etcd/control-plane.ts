// The etcd control plane: this host's registrations kept under its lease, and a watch of the
// whole prefix whose view becomes the VTEP tables the reconciler converges the kernel to. Nothing
// here touches the kernel. etcd being away never blocks the agent: the last view stays in the
// kernel, the problem is reported, and the client retries.

import { Etcd3, type IKeyValue, type Lease, type Watcher } from 'etcd3';
import type { Logger } from 'pino';
import type { ControlPlaneStatus } from '../../gen/vxcloud/agent/v1/host.js';
import type { AgentConfig } from '../config/config.js';
import type { Reconciler } from '../state/reconciler.js';
import { registrations, viewOf, type View } from './registry.js';

const RETRY_MS = 1000;

/**
 * Runs `task` whenever asked, never twice at once; asks made while it runs fold into one more run.
 * A failed run is retried after RETRY_MS until one succeeds or `stopped()` says so.
 */
function serial(task: () => Promise<void>, onError: (e: unknown) => void, stopped: () => boolean): () => void {
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

export class EtcdControlPlane {
  private readonly client: Etcd3;
  private readonly prefix: string;
  private lease: Lease | undefined;
  private leaseId = '';
  /** What this host has written under the current lease, key → value. */
  private readonly written = new Map<string, string>();
  private readonly kvs = new Map<string, string>();
  private revision = 0;
  private loaded = false;
  private watcher: Watcher | undefined;
  private view: View = { members: [], tables: new Map(), malformed: [] };
  /** The tables last handed to the reconciler, as JSON, so an unchanged view is not converged again. */
  private pushed = '';
  private readonly errors = { register: '', watch: '', push: '' };
  private stopped = false;
  readonly register: () => void;
  private readonly load: () => void;
  private readonly push: () => void;

  constructor(
    private readonly cfg: AgentConfig,
    private readonly reconciler: Reconciler,
    private readonly log: Logger,
  ) {
    const e = cfg.controlPlane.etcd;
    this.prefix = e.prefix;
    this.client = new Etcd3({ hosts: e.endpoints, dialTimeout: 5000 });
    const failed = (what: keyof typeof this.errors) => (err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      if (this.errors[what] !== message) log.warn({ err }, `etcd: ${what} failed; retrying`);
      this.errors[what] = message;
    };
    const stopped = (): boolean => this.stopped;
    this.register = serial(() => this.syncRegistrations(), failed('register'), stopped);
    this.load = serial(() => this.loadAndWatch(), failed('watch'), stopped);
    this.push = serial(() => this.pushTables(), failed('push'), stopped);
  }

  /** Starts registering and watching in the background; returns at once. */
  start(): void {
    this.reconciler.onChange(this.register);
    this.register();
    this.load();
  }

  private currentLease(): Lease {
    if (this.lease) return this.lease;
    const lease = this.client.lease(this.cfg.controlPlane.etcd.leaseSeconds);
    lease.on('lost', (err) => {
      if (this.lease !== lease) return;
      // A grant that never came is retried by the failed sync; a granted lease that expired while
      // this host could not renew it (etcd away, the agent stopped) took its keys: write them again.
      const granted = this.leaseId !== '';
      this.lease = undefined;
      this.leaseId = '';
      this.written.clear();
      if (granted) {
        this.log.warn({ err }, 'etcd: lease lost; registering again');
        this.register();
      }
    });
    this.lease = lease;
    return lease;
  }

  private async syncRegistrations(): Promise<void> {
    const d = this.reconciler.desired;
    const want = registrations(this.prefix, this.cfg.host.name, this.cfg.underlay.address, Object.values(d.subnets), Object.values(d.nics));
    const lease = this.currentLease();
    this.leaseId = BigInt(await lease.grant()).toString(16);
    for (const [key, value] of want) {
      if (this.written.get(key) === value) continue;
      await lease.put(key).value(value).exec();
      this.written.set(key, value);
    }
    for (const key of [...this.written.keys()].filter((k) => !want.has(k))) {
      await this.client.delete().key(key).exec();
      this.written.delete(key);
    }
    this.errors.register = '';
  }

  /** Reads the prefix, then watches it from the next revision; again from scratch if the watch breaks. */
  private async loadAndWatch(): Promise<void> {
    await this.watcher?.cancel().catch(() => undefined);
    this.watcher = undefined;
    const res = await this.client.getAll().prefix(this.prefix).exec();
    this.kvs.clear();
    for (const kv of res.kvs) this.kvs.set(kv.key.toString(), kv.value.toString());
    this.revision = Number(res.header.revision);
    this.loaded = true;
    this.push();
    const w = await this.client.watch().prefix(this.prefix).startRevision(String(this.revision + 1)).create();
    const moved = (kv: IKeyValue): void => {
      this.revision = Math.max(this.revision, Number(kv.mod_revision));
      this.push();
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

  private async pushTables(): Promise<void> {
    if (!this.loaded) return;
    this.view = viewOf(this.prefix, this.cfg.host.name, this.kvs);
    const json = JSON.stringify([...this.view.tables].sort(([a], [b]) => a - b));
    if (json === this.pushed) return;
    const { failed } = await this.reconciler.setPlaneTables(this.view.tables);
    if (failed.length > 0) throw new Error(failed.join('; '));
    this.pushed = json;
    this.errors.push = '';
  }

  status(): ControlPlaneStatus {
    const e = this.cfg.controlPlane.etcd;
    const d = this.reconciler.desired;
    const problems = [
      ...Object.entries(this.errors)
        .filter(([, m]) => m !== '')
        .map(([what, m]) => `etcd ${what}: ${m}`),
      ...this.view.malformed.map((m) => `etcd key ${m}`),
    ];
    if (!this.loaded) problems.push(`etcd: no view yet from ${e.endpoints.join(', ')}`);
    return {
      kind: 'etcd',
      frrMode: '',
      vtep: true,
      reflector: false,
      routerId: '',
      asn: 0,
      sessions: [],
      vnis: Object.values(d.subnets)
        .map((s) => {
          const t = this.view.tables.get(s.vni);
          return {
            vni: s.vni,
            localMacs: Object.values(d.nics).filter((n) => n.subnet_id === s.id).length,
            remoteMacs: t?.fdb.length ?? 0,
            neighbors: t?.neighbors.length ?? 0,
            remoteVteps: t?.flood_vteps.length ?? 0,
          };
        })
        .sort((a, b) => a.vni - b.vni),
      daemons: [],
      problems,
      etcd: {
        endpoints: e.endpoints,
        prefix: e.prefix,
        leaseId: this.leaseId,
        leaseSeconds: e.leaseSeconds,
        members: this.view.members,
        keys: this.kvs.size,
        revision: this.revision,
      },
    };
  }

  /**
   * Stops renewing without revoking: the keys live out their lease, so the other hosts keep
   * reaching this one's NICs (the kernel keeps forwarding) while the agent restarts.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.watcher?.cancel().catch(() => undefined);
    this.lease?.release();
    this.client.close();
  }
}
