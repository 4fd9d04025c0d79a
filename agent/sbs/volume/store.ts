// The replicas this storage host holds, one directory each under <dataDir>/volumes/<id>, opened at
// start; and the NBD export table (export name = volume id). A deleted volume leaves a tombstone
// so that a leader which still believes in it cannot re-create it as a "repair".

import { status, type ServiceError } from '@grpc/grpc-js';
import type { Identity } from '../../../lib/identity.js';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ApiError } from '../../state/errors.js';
import type { ExportResolver, ExportSummary, NbdExport } from '../nbd/exports.js';
import type { Tls } from './client.js';
import { VolumeDevice } from './device.js';
import { DEFAULT_REPLICA_OPTIONS, NotLeaderError, Replica, type ReplicaOptions, type ReplicaSpec, type VolumeHost } from './replica.js';
import type { MoveHosts } from './mover.js';
import { LinkTransport } from './transport.js';
import { writeFileAtomic } from '../../../lib/atomic-file.js';
import { hostOf, newIncarnation, readMember, writeMember } from './member.js';

const REPAIR_INTERVAL_MS = 5000;
const CATCH_UP_MS = 2000;
/** A forwarded move waits this long for the leader: it may copy a whole volume. */
export const MOVE_TIMEOUT_MS = 30 * 60_000;

export class VolumeStore implements ExportResolver {
  readonly transport: LinkTransport;
  private readonly replicas = new Map<string, Replica>();
  /** Create/delete of one id run one at a time, and so do its moves (which create and delete). */
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly moves = new Map<string, Promise<unknown>>();
  private readonly repairs = new Map<string, number>();

  private constructor(
    readonly self: string,
    private readonly dataDir: string,
    tls: Tls,
    private readonly log: Logger,
    private readonly opts: ReplicaOptions,
  ) {
    this.transport = new LinkTransport(tls, log, (id, peer) => this.repair(id, peer));
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
   * leader re-creating a replica this host lost) and a move name the new member id the replica
   * joins as; a repair is refused where the volume was deleted.
   */
  createReplica(spec: ReplicaSpec, joining: { member: string; repair: boolean } | null): Promise<Replica> {
    return this.locked(spec.id, async () => {
      const have = this.replicas.get(spec.id);
      if (have) {
        if (!sameSpec(have.spec, spec)) throw new ApiError('ALREADY_EXISTS', 'id', `volume "${spec.id}" exists with another size, placement or tenant`);
        return have;
      }
      const tomb = join(this.dataDir, 'deleted', spec.id);
      if (joining?.repair && (await exists(tomb))) throw new ApiError('FAILED_PRECONDITION', 'id', `volume "${spec.id}" was deleted on ${this.self}`);
      const member = joining?.member ?? this.self;
      if (hostOf(member) !== this.self) throw new ApiError('INVALID_ARGUMENT', 'member_id', `"${member}" is not a member id of ${this.self}`);
      const dir = join(this.dataDir, 'volumes', spec.id);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeMember(dir, member);
      // The spec is written last: a directory without it is an interrupted creation.
      const replica = await Replica.open(dir, member, spec, this.transport, this.log, this.opts);
      await writeFileAtomic(join(dir, 'volume.json'), JSON.stringify(replica.spec, null, 2) + '\n');
      await rm(tomb, { force: true });
      this.replicas.set(spec.id, replica);
      this.log.info({ volume: spec.id, member, repair: joining?.repair ?? false }, 'replica created');
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

  /** How a move reaches the other storage hosts (mover.ts). */
  readonly moveHosts: MoveHosts = {
    create: async (host, spec, member) => {
      if (host.name === this.self) return (await this.createReplica(spec, { member, repair: false })).self;
      return this.createOn(host, spec, { member, repair: false }, 30_000, true);
    },
    remove: async (host, id) => {
      if (host.name === this.self) await this.deleteReplica(id);
      // Not waiting for a connection: a retired host is often down, and the upkeep tries again.
      else await this.transport.peer(host).raft.deleteReplica({ id }, 15_000);
    },
    forward: (host, id, target) =>
      this.transport
        .peer(host)
        .raft.moveReplicas({ id, hosts: [...target] }, MOVE_TIMEOUT_MS, true)
        .then(
          () => undefined,
          (e: ServiceError) => {
            throw e.code === status.FAILED_PRECONDITION && e.details.includes(NOT_LEADING) ? new NotLeaderError(null) : e;
          },
        ),
  };

  /** A peer lost its replica (data directory wiped): the leader re-creates it; raft refills it with a snapshot. */
  private repair(id: string, peer: VolumeHost): void {
    const r = this.replicas.get(id);
    const key = `${id}/${peer.name}`;
    if (!r || r.state().role !== 'leader' || Date.now() - (this.repairs.get(key) ?? 0) < REPAIR_INTERVAL_MS) return;
    this.repairs.set(key, Date.now());
    this.log.warn({ volume: id, peer: peer.name }, 'peer lost its replica: re-creating it');
    this.createOn(peer, r.spec, { member: newIncarnation(peer.name), repair: true })
      // An earlier attempt may have made it already: join it under the id it has.
      .then((member) => r.rejoin(peer.name, member))
      .catch((e: Error) => this.log.warn({ volume: id, peer: peer.name, err: e.message }, 'repair failed'));
  }

  /** A replica of `spec` on another host, joining as `member`; resolves with the member id it has. */
  private async createOn(
    host: VolumeHost,
    spec: ReplicaSpec,
    join: { member: string; repair: boolean },
    timeoutMs?: number,
    waitForReady?: boolean,
  ): Promise<string> {
    const made = await this.transport.peer(host).raft.createReplica(
      {
        id: spec.id,
        sizeBytes: spec.sizeBytes,
        hosts: [...spec.hosts],
        repair: join.repair,
        memberId: join.member,
        tenant: spec.tenant ?? '',
        placedAt: spec.placedAt ?? 0,
      },
      timeoutMs,
      waitForReady,
    );
    return made.memberId;
  }

  /** Moves of a volume (MoveVolume, the upkeep's rebuilds and deletes of retired replicas) run one at a time. */
  moving<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return chained(this.moves, id, fn);
  }

  isMoving(id: string): boolean {
    return this.moves.has(id);
  }

  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    return chained(this.locks, id, fn);
  }
}

function chained<T>(chains: Map<string, Promise<unknown>>, id: string, fn: () => Promise<T>): Promise<T> {
  const prev = chains.get(id) ?? Promise.resolve();
  const next = prev.then(fn, fn);
  const settled = next.catch(() => undefined);
  chains.set(id, settled);
  void settled.then(() => {
    if (chains.get(id) === settled) chains.delete(id);
  });
  return next;
}

/** What a host that was asked to carry out a move says when it does not lead the volume. */
export const NOT_LEADING = 'does not lead volume';

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
