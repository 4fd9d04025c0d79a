// The replicas this storage host holds, one directory each under <dataDir>/volumes/<id>, opened at
// start; and the NBD export table (export name = volume id). A deleted volume leaves a tombstone
// so that a leader which still believes in it cannot re-create it as a "repair".

import type { Identity } from '../../../lib/identity.js';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ApiError } from '../../state/errors.js';
import type { ExportResolver, ExportSummary, NbdExport } from '../nbd/exports.js';
import type { Tls } from './client.js';
import { VolumeDevice } from './device.js';
import { DEFAULT_REPLICA_OPTIONS, Replica, type ReplicaOptions, type ReplicaSpec, type VolumeHost } from './replica.js';
import { GrpcTransport } from './transport.js';
import { writeFileAtomic } from '../../../lib/atomic-file.js';
import { hostOf, newIncarnation, readMember, writeMember } from './member.js';

const REPAIR_INTERVAL_MS = 5000;
const CATCH_UP_MS = 2000;

export class VolumeStore implements ExportResolver {
  readonly transport: GrpcTransport;
  private readonly replicas = new Map<string, Replica>();
  /** Create/delete of one id run one at a time. */
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly repairs = new Map<string, number>();

  private constructor(
    readonly self: string,
    private readonly dataDir: string,
    tls: Tls,
    private readonly log: Logger,
    private readonly opts: ReplicaOptions,
  ) {
    this.transport = new GrpcTransport(tls, log, (id, peer) => this.repair(id, peer));
  }

  static async open(self: string, dataDir: string, tls: Tls, log: Logger, opts: ReplicaOptions = DEFAULT_REPLICA_OPTIONS): Promise<VolumeStore> {
    const store = new VolumeStore(self, dataDir, tls, log, opts);
    await mkdir(join(dataDir, 'volumes'), { recursive: true, mode: 0o700 });
    await mkdir(join(dataDir, 'deleted'), { recursive: true, mode: 0o700 });
    for (const id of await readdir(join(dataDir, 'volumes'))) {
      const dir = join(dataDir, 'volumes', id);
      const spec = await readSpec(join(dir, 'volume.json'));
      if (!spec) continue; // creation interrupted before the spec was written: nothing acknowledged
      store.replicas.set(id, await Replica.open(dir, await readMember(dir, self), spec, store.transport, log, opts));
    }
    log.info({ volumes: [...store.replicas.keys()] }, 'volume store open');
    return store;
  }

  get(id: string): Replica | undefined {
    return this.replicas.get(id);
  }

  all(): Replica[] {
    return [...this.replicas.values()];
  }

  /**
   * Idempotent: the same spec returns the replica, a different one is refused. A repair (the
   * leader re-creating a replica this host lost) names the new member id the replica joins as.
   */
  createReplica(spec: ReplicaSpec, repair: { member: string } | null): Promise<Replica> {
    return this.locked(spec.id, async () => {
      const have = this.replicas.get(spec.id);
      if (have) {
        if (!sameSpec(have.spec, spec)) throw new ApiError('ALREADY_EXISTS', 'id', `volume "${spec.id}" exists with another size, placement or tenant`);
        return have;
      }
      const tomb = join(this.dataDir, 'deleted', spec.id);
      if (repair && (await exists(tomb))) throw new ApiError('FAILED_PRECONDITION', 'id', `volume "${spec.id}" was deleted on ${this.self}`);
      const member = repair?.member ?? this.self;
      if (hostOf(member) !== this.self) throw new ApiError('INVALID_ARGUMENT', 'member_id', `"${member}" is not a member id of ${this.self}`);
      const dir = join(this.dataDir, 'volumes', spec.id);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeMember(dir, member);
      // The spec is written last: a directory without it is an interrupted creation.
      const replica = await Replica.open(dir, member, spec, this.transport, this.log, this.opts);
      await writeFileAtomic(join(dir, 'volume.json'), JSON.stringify(spec, null, 2) + '\n');
      await rm(tomb, { force: true });
      this.replicas.set(spec.id, replica);
      this.log.info({ volume: spec.id, member, repair: repair !== null }, 'replica created');
      return replica;
    });
  }

  deleteReplica(id: string): Promise<boolean> {
    return this.locked(id, async () => {
      await writeFile(join(this.dataDir, 'deleted', id), '');
      const r = this.replicas.get(id);
      this.replicas.delete(id);
      await r?.close();
      await rm(join(this.dataDir, 'volumes', id), { recursive: true, force: true });
      return r !== undefined;
    });
  }

  /**
   * A tenant's volume is exported to its tenant's and operators' certificates only (so over TLS
   * only); a volume of no tenant (an operator's) to anyone the host's NBD TLS policy lets in but
   * tenants.
   */
  private static admits(r: Replica, who: Identity | undefined): boolean {
    const tenant = r.spec.tenant ?? '';
    if (tenant === '') return who?.kind !== 'tenant';
    return who?.kind === 'operator' || (who?.kind === 'tenant' && who.tenant === tenant);
  }

  async resolve(name: string, who?: Identity): Promise<NbdExport | undefined> {
    const r = this.replicas.get(name);
    if (!r || !VolumeStore.admits(r, who)) return undefined;
    // A client is told the size now: catch up with the leader first, so that one connecting to a
    // follower right after a grow sees the new size. Without a quorum, say what we have.
    await Promise.race([r.read(0, 0).catch(() => undefined), new Promise((ok) => setTimeout(ok, CATCH_UP_MS).unref())]);
    return { name, description: `vxcloud volume ${name}`, device: new VolumeDevice(r) };
  }

  list(who?: Identity): readonly ExportSummary[] {
    return [...this.replicas].filter(([, r]) => VolumeStore.admits(r, who)).map(([name]) => ({ name }));
  }

  async close(): Promise<void> {
    await Promise.all([...this.replicas.values()].map((r) => r.close()));
    this.transport.close();
  }

  /** A peer lost its replica (data directory wiped): the leader re-creates it; raft refills it with a snapshot. */
  private repair(id: string, peer: VolumeHost): void {
    const r = this.replicas.get(id);
    const key = `${id}/${peer.name}`;
    if (!r || r.state().role !== 'leader' || Date.now() - (this.repairs.get(key) ?? 0) < REPAIR_INTERVAL_MS) return;
    this.repairs.set(key, Date.now());
    this.log.warn({ volume: id, peer: peer.name }, 'peer lost its replica: re-creating it');
    this.transport
      .peer(peer)
      .raft.createReplica({
        id,
        sizeBytes: r.spec.sizeBytes,
        hosts: [...r.spec.hosts],
        repair: true,
        memberId: newIncarnation(peer.name),
        tenant: r.spec.tenant ?? '',
      })
      // An earlier attempt may have made it already: join it under the id it has.
      .then((made) => r.rejoin(peer.name, made.memberId))
      .catch((e: Error) => this.log.warn({ volume: id, peer: peer.name, err: e.message }, 'repair failed'));
  }

  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.locks.set(id, settled);
    void settled.then(() => {
      if (this.locks.get(id) === settled) this.locks.delete(id);
    });
    return next;
  }
}

function sameSpec(a: ReplicaSpec, b: ReplicaSpec): boolean {
  return (
    (a.tenant ?? '') === (b.tenant ?? '') &&
    a.sizeBytes === b.sizeBytes &&
    a.hosts.length === b.hosts.length &&
    a.hosts.every((h, i) => h.name === b.hosts[i]!.name && h.endpoint === b.hosts[i]!.endpoint)
  );
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readSpec(path: string): Promise<ReplicaSpec | undefined> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as ReplicaSpec);
}
