// The only path from desired state to the kernel. Every change is validated, persisted, then
// converged; a failed convergence restores the previous state on disk and in the kernel, so no
// half-made object is left. The same converge functions run at start, after each change and
// periodically, which is what heals crashes, restarts and changes made by hand.

import { attempts } from './attempts.js';
import type { Logger } from 'pino';
import { validateNic, validateSubnet, validateVpc, validateVtepTable } from '../../lib/validation.js';
import { parseCidr, contains } from '../../lib/ipv4.js';
import type { PlaneTable } from '../registry/view.js';
import type { L2Context } from '../l2/context.js';
import { l2Layout, type DataplaneLayout, type L2Layout } from '../l2/layout.js';
import { isVxcloudLink, nicDevice, PREFIX } from '../l2/names.js';
import { convergeNic, MissingNamespaceError, nicProblems, removeNic, takenInterface } from '../l2/nic.js';
import { convergeTable, observeTable, type TableDevices, type TableObservation, type VtepTableStore } from '../l2/subnet.js';
import type { LinkSpec } from '../l2/links.js';
import { leasedAddress } from '../l3/dhcp-client.js';
import type { Link, Net } from '../net/types.js';
import { ApiError } from './errors.js';
import type { DesiredState, NicRecord, SubnetRecord, VpcRecord, VtepTableRecord } from './model.js';
import { Mutex } from './mutex.js';
import { RegistryTables, staticTables, type VtepTableSource } from './table-source.js';
import type { StateStore } from './store.js';

/** The host's links by name. */
export type Links = Map<string, Link>;

export interface ObjectStatus {
  ready: boolean;
  devices: string[];
  problems: string[];
}

/** What a subsystem with objects of its own (agent/l3) works with, under the reconciler's mutex. */
export interface Tx {
  readonly state: Readonly<DesiredState>;
  commit(mutate: (draft: DesiredState) => void): Promise<void>;
  converging(mutate: (draft: DesiredState) => void, apply: () => Promise<void>, undo: () => Promise<void>): Promise<void>;
  /** The host end of a veth named `name` plugged into subnet `s`, as the data-plane layout wants it. */
  subnetPort(name: string, s: SubnetRecord): LinkSpec;
}

/** Converged in every reconcileAll after the L2 objects, and told when a NIC changes. */
export interface ReconcilerExtension {
  /** Returns what it failed to converge, as "what: why". */
  reconcile(tx: Tx): Promise<string[]>;
  /** Before a NIC's link is made or changed (its record already in `tx.state`): what must hold from its first frame. */
  nicPlugging?(tx: Tx, n: NicRecord): Promise<void>;
  nicConverged(tx: Tx, n: NicRecord): Promise<void>;
  nicRemoved(n: NicRecord): Promise<void>;
}

const status = (devices: string[], problems: string[]): ObjectStatus => ({ ready: problems.length === 0, devices, problems });

/** Bridges go after their ports when stale links are removed, or the ports would be released one by one. */
const isBridge = (name: string): boolean => name.startsWith(PREFIX.bridge) || name.startsWith(PREFIX.vpcBridge);

export class Reconciler {
  private readonly mutex = new Mutex();
  private readonly extensions: ReconcilerExtension[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly l2: L2Layout;
  private readonly changeListeners: (() => void)[] = [];
  private readonly passListeners: ((seconds: number, failed: readonly string[] | undefined) => void)[] = [];

  private constructor(
    private readonly net: Net,
    private readonly store: StateStore,
    private readonly ctx: L2Context,
    private readonly log: Logger,
    private state: DesiredState,
    layout: DataplaneLayout,
    private readonly tables: VtepTableSource,
  ) {
    this.l2 = l2Layout(layout, ctx);
  }

  /** `layout` is decided once at start (see dataplaneMode); a restart in another mode rebuilds the links. */
  /** `tables`: the control plane that fills VTEP tables; only `static` takes them through the API. */
  static async open(
    net: Net,
    store: StateStore,
    ctx: L2Context,
    log: Logger,
    layout: DataplaneLayout = 'bridge-per-subnet',
    tables: VtepTableSource = staticTables,
  ): Promise<Reconciler> {
    return new Reconciler(net, store, ctx, log, await store.load(), layout, tables);
  }

  /** Where VTEP tables go: the kernel's FDB and neighbours, or the userspace VTEP's under the tap transport. */
  private get tableStore(): VtepTableStore {
    return this.ctx.tap ?? this.net.host;
  }

  /** Where a subnet's VTEP tables live, in this host's layout and transport. */
  tableDevices(s: SubnetRecord): TableDevices {
    return this.l2.tableDevices(s);
  }

  /** The bridge a subnet's ports are on, in this host's layout. */
  subnetBridge(s: SubnetRecord): string {
    return this.l2.bridgeOf(s);
  }

  get layout(): DataplaneLayout {
    return this.l2.name;
  }

  /** A read-only view of desired state. */
  get desired(): Readonly<DesiredState> {
    return this.state;
  }

  extend(e: ReconcilerExtension): void {
    this.extensions.push(e);
  }

  /** Called after desired state changed (the registry control plane derives a new subnet's table). */
  onChange(f: () => void): void {
    this.changeListeners.push(f);
  }

  /**
   * registry: the control plane's tables per VNI; the FDB and neighbours of the subnets of the
   * `changed` VNIs converge to them (a NIC added changes one table, not fifty).
   */
  setPlaneTables(tables: ReadonlyMap<number, PlaneTable>, changed: ReadonlySet<number>): Promise<{ failed: string[] }> {
    return this.mutex.run(async () => {
      if (!(this.tables instanceof RegistryTables)) throw new Error(`the control plane is ${this.tables.kind}, not registry`);
      this.tables.tables = tables;
      const failed: string[] = [];
      for (const s of Object.values(this.state.subnets).filter((s) => changed.has(s.vni))) {
        await this.convergeTables(s).catch((e: unknown) => failed.push(`subnet ${s.id}: ${(e as Error).message}`));
      }
      return { failed };
    });
  }

  /** Runs `f` under the mutex, so an extension's changes never interleave with L2 ones. */
  transaction<T>(f: (tx: Tx) => Promise<T>): Promise<T> {
    return this.mutex.run(() => f(this.tx()));
  }

  private tx(): Tx {
    const current = (): DesiredState => this.state;
    return {
      get state() {
        return current();
      },
      commit: (m) => this.commit(m),
      converging: (m, apply, undo) => this.converging(m, apply, undo),
      // A router leg plugs into its subnet exactly like a veth NIC.
      subnetPort: (name, s) => ({
        ...this.l2.nicHostLink({ id: name, subnet_id: s.id, kind: 'veth', mac: '', ip: '', namespace: '', create_namespace: false, ifname: '' }, s),
        name,
      }),
    };
  }

  /** Reconciles every `intervalMs` until stop(); errors are logged, the loop goes on. */
  start(intervalMs: number): void {
    const loop = (): void => {
      this.timer = setTimeout(() => {
        this.reconcileAll()
          .catch((e: unknown) => this.log.error({ err: e }, 'periodic reconcile failed'))
          .finally(() => {
            if (this.timer) loop();
          });
      }, intervalMs);
    };
    loop();
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  // ---- VPCs ----

  putVpc(v: VpcRecord): Promise<void> {
    return this.mutex.run(async () => {
      const problems = validateVpc(v);
      if (problems.length > 0) throw ApiError.of(problems);
      const net = parseCidr(v.cidr)!;
      const outside = this.subnetsOf(v.id).filter((s) => !contains(net, parseCidr(s.cidr)!));
      if (outside.length > 0) {
        throw new ApiError(
          'FAILED_PRECONDITION',
          'cidr',
          `subnets ${outside.map((s) => `"${s.id}" (${s.cidr})`).join(', ')} would fall outside ${v.cidr}: delete them first`,
        );
      }
      const bridges = this.l2.vpcDevices(v.id);
      const clash = Object.values(this.state.vpcs).find((o) => o.id !== v.id && this.l2.vpcDevices(o.id).some((d) => bridges.includes(d)));
      if (clash)
        throw new ApiError('ALREADY_EXISTS', 'id', `VPC id "${v.id}" maps to the same bridge ${bridges.join(', ')} as VPC "${clash.id}": choose another id`);
      await this.commit((d) => {
        d.vpcs[v.id] = v;
      });
    });
  }

  deleteVpc(id: string): Promise<boolean> {
    return this.mutex.run(async () => {
      if (!this.state.vpcs[id]) return false;
      const children = this.subnetsOf(id);
      if (children.length > 0) {
        throw new ApiError('FAILED_PRECONDITION', 'id', `VPC "${id}" still has subnets ${children.map((s) => `"${s.id}"`).join(', ')}: delete them first`);
      }
      const routers = Object.values(this.state.routers).filter((r) => r.vpc_id === id);
      if (routers.length > 0)
        throw new ApiError('FAILED_PRECONDITION', 'id', `VPC "${id}" still has routers ${routers.map((r) => `"${r.id}"`).join(', ')}: delete them first`);
      await this.commit((d) => {
        delete d.vpcs[id];
      });
      return true;
    });
  }

  /** `links`: one dump shared by the statuses of a listing; otherwise the kernel is read. */
  async vpcStatus(v: VpcRecord, links?: Links): Promise<ObjectStatus> {
    links ??= await this.links();
    const subnets = this.subnetsOf(v.id);
    const devices = [...new Set(subnets.flatMap((s) => this.l2.subnetDevices(s)))];
    return status(
      devices,
      subnets.flatMap((s) => this.l2.subnetProblems(links, s, subnets)),
    );
  }

  // ---- subnets ----

  putSubnet(s: SubnetRecord): Promise<void> {
    return this.mutex.run(async () => {
      const problems = validateSubnet(s, this.state.vpcs[s.vpc_id], Object.values(this.state.subnets));
      if (problems.length > 0) throw ApiError.of(problems);
      const prior = this.state.subnets[s.id];
      if (prior) {
        for (const f of ['vpc_id', 'cidr', 'vni'] as const) {
          if (prior[f] !== s[f])
            throw new ApiError('FAILED_PRECONDITION', f, `cannot change from ${String(prior[f])} to ${String(s[f])}: delete the subnet and create it again`);
        }
      }
      const conflict = this.l2.subnetConflict(s, this.subnetsOf(s.vpc_id));
      if (conflict) throw new ApiError('ALREADY_EXISTS', 'vlan', conflict);
      // A NIC's port follows its subnet's VLAN in VLAN-aware mode; otherwise nothing moves.
      const moved = prior ? this.nicsOf(s.id).filter((n) => JSON.stringify(this.l2.nicHostLink(n, prior)) !== JSON.stringify(this.l2.nicHostLink(n, s))) : [];
      await this.converging(
        (d) => {
          d.subnets[s.id] = s;
        },
        async () => {
          await this.convergeSubnetAll(s);
          for (const n of moved) await convergeNic(this.net, await this.links(), n, s, this.ctx, this.l2.nicHostLink(n, s));
        },
        async () => {
          if (prior) {
            await this.convergeSubnetAll(prior);
            for (const n of moved) await convergeNic(this.net, await this.links(), n, prior, this.ctx, this.l2.nicHostLink(n, prior));
          } else await this.l2.removeSubnet(this.net.host, s, Object.values(this.state.subnets));
        },
      );
    });
  }

  deleteSubnet(id: string): Promise<boolean> {
    return this.mutex.run(async () => {
      const s = this.state.subnets[id];
      if (!s) return false;
      const nics = this.nicsOf(id);
      if (nics.length > 0) {
        throw new ApiError('FAILED_PRECONDITION', 'id', `subnet "${id}" still has NICs ${nics.map((n) => `"${n.id}"`).join(', ')}: delete them first`);
      }
      const routers = Object.values(this.state.routers).filter((r) => r.subnet_ids.includes(id));
      if (routers.length > 0)
        throw new ApiError('FAILED_PRECONDITION', 'id', `subnet "${id}" is attached to routers ${routers.map((r) => `"${r.id}"`).join(', ')}: detach it first`);
      await this.commit((d) => {
        delete d.subnets[id];
        delete d.vtepTables[id];
      });
      await this.l2.removeSubnet(this.net.host, s, Object.values(this.state.subnets));
      return true;
    });
  }

  async subnetStatus(s: SubnetRecord, links?: Links): Promise<ObjectStatus> {
    return status(this.l2.subnetDevices(s), this.l2.subnetProblems(links ?? (await this.links()), s, this.subnetsOf(s.vpc_id)));
  }

  // ---- VTEP tables ----

  /** Returns the kernel's table afterwards (the Put's reply; Get reads the kernel again). */
  putVtepTable(t: VtepTableRecord): Promise<ObjectStatus & TableObservation> {
    return this.mutex.run(async () => {
      const problems = validateVtepTable(t);
      if (problems.length > 0) throw ApiError.of(problems);
      if (this.tables.kind !== 'static')
        throw new ApiError(
          'FAILED_PRECONDITION',
          'subnet_id',
          `this host's control plane is ${this.tables.kind}: it fills the VTEP tables, static tables apply only with controlPlane.kind static`,
        );
      const s = this.state.subnets[t.subnet_id];
      if (!s) throw new ApiError('FAILED_PRECONDITION', 'subnet_id', `subnet "${t.subnet_id}" does not exist on this host: create it first`);
      const prior = this.state.vtepTables[t.subnet_id];
      const dev = this.l2.tableDevices(s);
      let obs: TableObservation | undefined;
      await this.converging(
        (d) => {
          d.vtepTables[t.subnet_id] = t;
        },
        async () => {
          obs = await convergeTable(this.tableStore, dev, t);
        },
        async () => {
          await convergeTable(this.tableStore, dev, prior);
        },
      );
      return { ...obs!, ...status([dev.fdb], obs!.problems) };
    });
  }

  deleteVtepTable(subnetId: string): Promise<boolean> {
    return this.mutex.run(async () => {
      if (!this.state.vtepTables[subnetId]) return false;
      const s = this.state.subnets[subnetId]!;
      await this.commit((d) => {
        delete d.vtepTables[subnetId];
      });
      await convergeTable(this.tableStore, this.l2.tableDevices(s), undefined);
      return true;
    });
  }

  async vtepTableStatus(t: VtepTableRecord): Promise<ObjectStatus & TableObservation> {
    const s = this.state.subnets[t.subnet_id]!;
    const dev = this.l2.tableDevices(s);
    const obs = await observeTable(this.tableStore, dev, t);
    return { ...obs, ...status([dev.fdb], obs.problems) };
  }

  // ---- NICs ----

  putNic(n: NicRecord): Promise<void> {
    return this.mutex.run(async () => {
      const s = this.state.subnets[n.subnet_id];
      const problems = validateNic(n, s, Object.values(this.state.nics));
      if (problems.length > 0) throw ApiError.of(problems);
      const prior = this.state.nics[n.id];
      if (prior) {
        for (const f of ['subnet_id', 'kind', 'namespace', 'ifname'] as const) {
          if (prior[f] !== n[f])
            throw new ApiError('FAILED_PRECONDITION', f, `cannot change from "${prior[f]}" to "${n[f]}": delete the NIC and create it again`);
        }
      }
      const name = nicDevice(n.kind, n.id);
      const clash = Object.values(this.state.nics).find((o) => o.id !== n.id && nicDevice(o.kind, o.id) === name);
      if (clash) throw new ApiError('ALREADY_EXISTS', 'id', `NIC id "${n.id}" maps to the same device ${name} as NIC "${clash.id}": choose another id`);
      if (!prior && (await takenInterface(this.net, n))) {
        throw new ApiError(
          'FAILED_PRECONDITION',
          'namespace',
          `namespace "${n.namespace}" already has an interface ${n.ifname} that is not this NIC's (another host's NIC, or not made by vxcloud): give the NIC another namespace or ifname`,
        );
      }
      const createdNs = n.kind === 'veth' && n.create_namespace && !(await this.net.listNetns()).includes(n.namespace);
      await this.converging(
        (d) => {
          d.nics[n.id] = n;
          if (createdNs && !d.ownedNamespaces.includes(n.namespace)) d.ownedNamespaces.push(n.namespace);
        },
        async () => {
          for (const e of this.extensions) await e.nicPlugging?.(this.tx(), n);
          try {
            await convergeNic(this.net, await this.links(), n, s!, this.ctx, this.l2.nicHostLink(n, s!));
          } catch (e) {
            if (e instanceof MissingNamespaceError) throw new ApiError('FAILED_PRECONDITION', 'namespace', e.message);
            throw e;
          }
          await this.nicsChanged(s!);
          for (const e of this.extensions) await e.nicConverged(this.tx(), n);
        },
        async () => {
          if (prior) await convergeNic(this.net, await this.links(), prior, s!, this.ctx, this.l2.nicHostLink(prior, s!));
          else await removeNic(this.net, n);
          await this.nicsChanged(s!);
          if (createdNs) await this.net.deleteNetns(n.namespace);
        },
      );
    });
  }

  deleteNic(id: string): Promise<boolean> {
    return this.mutex.run(async () => {
      const n = this.state.nics[id];
      if (!n) return false;
      await this.commit((d) => {
        delete d.nics[id];
      });
      // The neighbour goes first, so that zebra withdraws the MAC+IP before the MAC (MAC mobility).
      const s = this.state.subnets[n.subnet_id];
      if (s) await this.nicsChanged(s);
      for (const e of this.extensions) await e.nicRemoved(n);
      await removeNic(this.net, n);
      await this.releaseNamespaces();
      return true;
    });
  }

  async nicStatus(n: NicRecord, links?: Links): Promise<ObjectStatus> {
    const s = this.state.subnets[n.subnet_id]!;
    const devices = [nicDevice(n.kind, n.id), ...(n.kind === 'veth' ? [`${n.namespace}/${n.ifname}`] : [])];
    const problems = await nicProblems(this.net, links ?? (await this.links()), n, s, this.ctx, this.l2.nicHostLink(n, s));
    problems.push(...(await this.tables.nicProblems(this.tableStore, this.l2.tableDevices(s), n, s)));
    return status(devices, problems);
  }

  /** What the DHCP client of a dhcp NIC holds on its interface; '' for none or a static NIC. */
  async nicDhcpAddress(n: NicRecord): Promise<string> {
    return n.dhcp ? leasedAddress(this.net, n) : '';
  }

  // ---- whole-host convergence ----

  /** Told of every whole-host pass: its duration, and what it failed to converge (undefined: the pass failed). */
  onReconciled(f: (seconds: number, failed: readonly string[] | undefined) => void): void {
    this.passListeners.push(f);
  }

  /** Converges every object and removes vxcloud links and namespaces nothing asks for. */
  reconcileAll(): Promise<{ failed: string[] }> {
    return this.mutex.run(async () => {
      const start = performance.now();
      const told = (failed: readonly string[] | undefined): void => {
        for (const f of this.passListeners) f((performance.now() - start) / 1000, failed);
      };
      try {
        const r = await this.convergeAll();
        told(r.failed);
        return r;
      } catch (e) {
        told(undefined);
        throw e;
      }
    });
  }

  /** Under the mutex. */
  private async convergeAll(): Promise<{ failed: string[] }> {
    const { failed, attempt } = attempts();
    const wanted = new Set<string>();
    for (const s of Object.values(this.state.subnets)) {
      for (const name of this.l2.subnetDevices(s)) wanted.add(name);
      await attempt(`subnet ${s.id}`, () => this.convergeSubnetAll(s));
    }
    for (const n of Object.values(this.state.nics)) {
      wanted.add(nicDevice(n.kind, n.id));
      const s = this.state.subnets[n.subnet_id];
      if (s) await attempt(`nic ${n.id}`, async () => convergeNic(this.net, await this.links(), n, s, this.ctx, this.l2.nicHostLink(n, s)));
    }
    const stale = [...(await this.links()).keys()].filter((name) => isVxcloudLink(name) && !wanted.has(name));
    stale.sort((a, b) => Number(isBridge(a)) - Number(isBridge(b)));
    for (const name of stale) await attempt(`stale link ${name}`, () => this.net.host.deleteLink(name));
    for (const e of this.extensions) failed.push(...(await e.reconcile(this.tx())));
    await attempt('namespaces', () => this.releaseNamespaces());
    if (failed.length > 0) this.log.warn({ failed }, 'reconcile left objects unconverged');
    return { failed };
  }

  // ---- helpers ----

  subnetsOf(vpcId: string): SubnetRecord[] {
    return Object.values(this.state.subnets).filter((s) => s.vpc_id === vpcId);
  }

  nicsOf(subnetId: string): NicRecord[] {
    return Object.values(this.state.nics).filter((n) => n.subnet_id === subnetId);
  }

  /** The host's links by name, read once for a listing's statuses. */
  async links(): Promise<Links> {
    return new Map((await this.net.host.links()).map((l) => [l.name, l]));
  }

  private async convergeSubnetAll(s: SubnetRecord): Promise<void> {
    await this.l2.convergeSubnet(this.net.host, await this.links(), s, this.subnetsOf(s.vpc_id));
    await this.convergeTables(s);
  }

  private convergeTables(s: SubnetRecord): Promise<void> {
    return this.tables.converge(this.tableStore, this.l2.tableDevices(s), s, this.state);
  }

  /** evpn: zebra learns local NICs from the neighbour entries; the other sources need nothing. */
  private nicsChanged(s: SubnetRecord): Promise<void> {
    return this.tables.nicsChanged(this.tableStore, this.l2.tableDevices(s), s, this.state);
  }

  /** Removes namespaces the agent created once no NIC uses them. */
  private async releaseNamespaces(): Promise<void> {
    const used = new Set(Object.values(this.state.nics).map((n) => n.namespace));
    const unused = this.state.ownedNamespaces.filter((ns) => !used.has(ns));
    if (unused.length === 0) return;
    for (const ns of unused) await this.net.deleteNetns(ns);
    await this.commit((d) => {
      d.ownedNamespaces = d.ownedNamespaces.filter((ns) => used.has(ns));
    });
  }

  /** Persists a change before anything acts on it. */
  private async commit(mutate: (draft: DesiredState) => void): Promise<void> {
    const draft = structuredClone(this.state);
    mutate(draft);
    await this.store.save(draft);
    this.state = draft;
    for (const f of this.changeListeners) f();
  }

  /** Persist, converge; on failure put back the previous state on disk and in the kernel. */
  private async converging(mutate: (draft: DesiredState) => void, apply: () => Promise<void>, undo: () => Promise<void>): Promise<void> {
    const before = this.state;
    await this.commit(mutate);
    try {
      await apply();
    } catch (e) {
      await this.store.save(before);
      this.state = before;
      for (const f of this.changeListeners) f();
      await undo().catch((u: unknown) => this.log.error({ err: u }, 'undo after a failed change failed; the next reconcile retries'));
      throw e;
    }
  }
}
