// VolumeService (public) and Raft (agent to agent) on storage hosts: validation, fan-out of
// create/delete to the placed hosts, and status gathered from every replica.

import type { NbdTlsSetting } from '../config/config.js';
import { describeIdentity, type Identity } from '../../lib/identity.js';
import { callerOf, requireKind } from './caller.js';
import { tenantFor } from './ownership.js';
import { status as Status, type handleClientStreamingCall, type ServiceError } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { RaftServer, ReplicaStatus, SnapshotChunk, Volume, VolumeHost, VolumeServiceServer } from '../../gen/vxcloud/agent/v1/volume.js';
import { NotLeaderError, type Replica, type ReplicaSpec } from '../sbs/volume/replica.js';
import { MOVE_TIMEOUT_MS, NOT_LEADING, type VolumeStore } from '../sbs/volume/store.js';
import { moveHere, moveVolume } from '../sbs/volume/mover.js';
import type { StorageHosts } from '../sbs/volume/upkeep.js';
import { decodeMessage } from '../sbs/volume/wire.js';
import type { Message } from '../sbs/raft/index.js';
import type { LinkInbox } from '../sbs/volume/link-server.js';
import { checkVolumeId, checkVolumeSize } from '../../lib/validation.js';
import { ApiError } from '../state/errors.js';
import { released, type Authorities } from '../registry/authority.js';
import { unary } from './unary.js';

const DEFAULT_REPLICAS = 3;
// The agent config's rule for host.name.
const HOST_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const PEER_STATUS_TIMEOUT_MS = 1500;
/** A replica this far behind the leader's commit is reported unhealthy (catching up). */
const HEALTHY_LAG = 64;

// The provider runs the same checks at plan time (lib/validation).
function checkId(id: string): void {
  const problems = checkVolumeId('id', id);
  if (problems.length > 0) throw ApiError.of(problems);
}

function checkSize(field: string, size: number): void {
  const problems = checkVolumeSize(field, size);
  if (problems.length > 0) throw ApiError.of(problems);
}

function found(store: VolumeStore, id: string): Replica {
  checkId(id);
  const r = store.get(id);
  if (!r) throw new ApiError('NOT_FOUND', 'id', `volume "${id}" has no replica on ${store.self}`);
  return r;
}

/** An error of a peer agent, kept as an API error naming the host. */
function peerError(host: string, e: unknown): ApiError {
  const se = e as Partial<ServiceError>;
  const msg = `${host}: ${se.details ?? (e as Error).message}`;
  if (se.code === Status.ALREADY_EXISTS) return new ApiError('ALREADY_EXISTS', 'id', msg);
  if (se.code === Status.FAILED_PRECONDITION || se.code === Status.UNIMPLEMENTED) return new ApiError('FAILED_PRECONDITION', 'hosts', msg);
  if (se.code === Status.INVALID_ARGUMENT) return new ApiError('INVALID_ARGUMENT', 'hosts', msg);
  return new ApiError('FAILED_PRECONDITION', 'hosts', `${msg} (is it a storage host, and reachable?)`);
}

/** Hosts of a placement, checked: names, endpoints, no host twice. */
function checkHosts(hosts: readonly VolumeHost[]): { name: string; endpoint: string }[] {
  const names = new Set<string>();
  for (const [i, h] of hosts.entries()) {
    if (!HOST_NAME.test(h.name)) throw new ApiError('INVALID_ARGUMENT', `hosts[${i}].name`, `"${h.name}" is not a host name`);
    if (h.endpoint === '') throw new ApiError('INVALID_ARGUMENT', `hosts[${i}].endpoint`, 'required, e.g. 192.0.2.11:7443');
    if (names.has(h.name)) throw new ApiError('INVALID_ARGUMENT', `hosts[${i}].name`, `"${h.name}" is placed twice`);
    names.add(h.name);
  }
  return hosts.map((h) => ({ name: h.name, endpoint: h.endpoint }));
}

/** A volume this host holds no replica of, as far as it knows it. */
function emptyView(id: string, sizeBytes: number, hosts: readonly VolumeHost[], tenant: string): Volume {
  return { id, sizeBytes, replicas: hosts.length, hosts: [...hosts], status: '', leader: '', appliedIndex: 0, replicaStatus: [], exportUri: '', tenant };
}

export interface VolumeServices {
  volume: VolumeServiceServer;
  raft: RaftServer;
  /** What the raft link (link-server.ts) delivers. */
  inbox: LinkInbox;
}

/**
 * `nbdAddress`: this host's NBD ADDRESS:PORT (undefined: it listens on none). A volume's export URI
 * is nbds:// where a client must start TLS: under required TLS, and for a tenant's volume, whose
 * export is served over TLS only (to its tenant's and operators' certificates). `authorities`: the
 * registry, which keeps volume names unique in the deployment and knows their owners.
 * `storageHosts`: the inventory's storage hosts.
 */
export function volumeServices(
  store: VolumeStore,
  nbdAddress: string | undefined,
  nbdTls: NbdTlsSetting,
  authorities: Authorities,
  storageHosts: StorageHosts,
  /** Where this host's raft link listens, as peers dial it. */
  linkAddress: string,
  log: Logger,
): VolumeServices {
  const storageHost = (name: string): boolean => storageHosts.has(name);
  const claims = (caller: Identity) => authorities(caller.kind === 'tenant' ? caller.tenant : undefined);
  const exportUri = (spec: ReplicaSpec): string => {
    if (!nbdAddress) return '';
    const tls = nbdTls === 'required' || (spec.tenant ?? '') !== '';
    return `${tls ? 'nbds' : 'nbd'}://${nbdAddress}/${spec.id}`;
  };
  const replicaStatus = (r: Replica, host: VolumeHost): ReplicaStatus => {
    const s = r.state();
    return {
      host,
      role: s.role,
      term: s.term,
      commitIndex: s.commit,
      appliedIndex: s.applied,
      healthy: r.error === null,
      detail: r.error?.message ?? '',
      memberId: r.self,
    };
  };

  const view = async (r: Replica): Promise<Volume> => {
    const spec = r.spec;
    const statuses = await Promise.all(
      spec.hosts.map(async (h): Promise<ReplicaStatus> => {
        if (h.name === store.self) return replicaStatus(r, h);
        try {
          return { ...(await store.transport.peer(h).raft.getReplica({ id: spec.id }, PEER_STATUS_TIMEOUT_MS)), host: h };
        } catch (e) {
          return {
            host: h,
            role: 'unreachable',
            term: 0,
            commitIndex: 0,
            appliedIndex: 0,
            healthy: false,
            detail: (e as ServiceError).details ?? (e as Error).message,
            memberId: '',
          };
        }
      }),
    );
    const leader = statuses.find((s) => s.role === 'leader');
    const commit = leader?.commitIndex ?? Math.max(...statuses.map((s) => s.commitIndex));
    for (const s of statuses) if (s.healthy && s.appliedIndex + HEALTHY_LAG < commit) s.healthy = false;
    const healthy = statuses.filter((s) => s.healthy).length;
    const status = !leader ? 'unavailable' : healthy === statuses.length ? 'healthy' : 'degraded';
    return {
      id: spec.id,
      sizeBytes: r.size,
      replicas: spec.hosts.length,
      hosts: [...spec.hosts],
      status,
      leader: leader?.host?.name ?? r.state().leader ?? '',
      appliedIndex: r.state().applied,
      replicaStatus: statuses,
      exportUri: exportUri(spec),
      tenant: spec.tenant ?? '',
    };
  };

  /**
   * A tenant manages its own volumes only; an operator every one; a host none (raft is its way).
   * A volume a tenant does not own is refused alike whether it exists or not.
   */
  const owned = (caller: Identity, id: string): Replica | undefined => {
    requireKind(caller, ['tenant', 'operator'], `manage volume "${id}"`);
    const r = store.get(id);
    if (caller.kind === 'tenant' && (r?.spec.tenant ?? '') !== caller.tenant) throw ApiError.notYours('volume', id, caller.tenant);
    return r;
  };

  /** Every replica of a new volume, made on its hosts (idempotent per host). */
  const createReplicas = async (spec: ReplicaSpec): Promise<void> => {
    // Every placed host must be a storage agent we can reach before any replica is made: a
    // volume that only some hosts hold would never be healthy. A peer that restarted a moment
    // ago gets the probe's 5 s to be reconnected (waitForReady).
    const probes = await Promise.allSettled(
      spec.hosts
        .filter((h) => h.name !== store.self)
        .map((h) =>
          store.transport
            .peer(h)
            .raft.getReplica({ id: spec.id }, 5000, true)
            .catch((e: ServiceError) => {
              if (e.code !== Status.NOT_FOUND) throw peerError(h.name, e);
            }),
        ),
    );
    for (const p of probes) if (p.status === 'rejected') throw p.reason as ApiError;
    const results = await Promise.allSettled(
      spec.hosts.map((h) =>
        h.name === store.self
          ? store.createReplica(spec, null)
          : store.transport
              .peer(h)
              .raft.createReplica(
                { id: spec.id, sizeBytes: spec.sizeBytes, hosts: [...spec.hosts], repair: false, memberId: '', tenant: spec.tenant ?? '', placedAt: 0 },
                30_000,
                true,
              ),
      ),
    );
    for (const [i, res] of results.entries()) {
      if (res.status === 'rejected') throw res.reason instanceof ApiError ? res.reason : peerError(spec.hosts[i]!.name, res.reason);
    }
  };

  const volume: VolumeServiceServer = {
    createVolume: unary(log, 'CreateVolume', async (req, caller) => {
      requireKind(caller, ['tenant', 'operator'], 'create volumes');
      const tenant = tenantFor(caller, req.tenant, 'volumes');
      if (store.get(req.id)) owned(caller, req.id);
      if (tenant !== '' && nbdTls === 'off')
        throw new ApiError(
          'FAILED_PRECONDITION',
          'tenant',
          `${store.self} serves NBD without TLS (storage.nbdTls off): a tenant's volume is exported over TLS only, to its tenant's certificate; set storage.nbdTls to optional or required`,
        );
      checkId(req.id);
      checkSize('size_bytes', req.sizeBytes);
      const replicas = req.replicas === 0 ? DEFAULT_REPLICAS : req.replicas;
      if (req.hosts.length < replicas) {
        throw new ApiError('INVALID_ARGUMENT', 'replicas', `${replicas} replicas need ${replicas} storage hosts; ${req.hosts.length} given in hosts`);
      }
      const hosts = checkHosts(req.hosts.slice(0, replicas));
      const spec: ReplicaSpec = { id: req.id, sizeBytes: req.sizeBytes, hosts, tenant };
      const claim = claims(caller);
      const isNew = await claim.claimVolume({ id: spec.id, tenant, hosts: spec.hosts.map((h) => h.name) });
      try {
        await createReplicas(spec);
      } catch (e) {
        // A name this call claimed goes back, so that a corrected retry may take it.
        if (isNew) await claim.releaseVolume(spec.id).catch((u: unknown) => log.error({ err: u }, 'giving back a volume name after a failed create failed'));
        throw e;
      }
      const local = store.get(spec.id);
      if (local) return view(local);
      // Not placed here: describe it from a replica host.
      const s = await store.transport.peer(spec.hosts[0]!).raft.getReplica({ id: spec.id });
      return { ...emptyView(spec.id, spec.sizeBytes, spec.hosts, tenant), appliedIndex: s.appliedIndex };
    }),
    getVolume: unary(log, 'GetVolume', async (req, caller) => {
      owned(caller, req.id);
      return view(found(store, req.id));
    }),

    growVolume: unary(log, 'GrowVolume', async (req, caller) => {
      owned(caller, req.id);
      const r = found(store, req.id);
      checkSize('size_bytes', req.sizeBytes);
      await r.read(0, 0); // catch up with the leader: the size we compare with is the latest
      if (req.sizeBytes < r.size)
        throw new ApiError('INVALID_ARGUMENT', 'size_bytes', `${req.sizeBytes} is smaller than the volume (${r.size} bytes): volumes only grow`);
      if (req.sizeBytes > r.size) {
        await r.submit({ op: 'grow', size: req.sizeBytes });
        await r.read(0, 0);
      }
      return view(r);
    }),

    deleteVolume: unary(log, 'DeleteVolume', async (req, caller) => {
      checkId(req.id);
      const r = owned(caller, req.id);
      if (!r) return { existed: false };
      const claim = claims(caller);
      // The name goes last: a delete that fails on a peer keeps it, and is retried.
      return released(
        () => claim.reachable(req.id),
        async () => {
          const others = r.spec.hosts.filter((h) => h.name !== store.self);
          const results = await Promise.allSettled(others.map((h) => store.transport.peer(h).raft.deleteReplica({ id: req.id }, 15_000, true)));
          await store.deleteReplica(req.id);
          for (const [i, res] of results.entries()) if (res.status === 'rejected') throw peerError(others[i]!.name, res.reason);
          return true;
        },
        () => claim.releaseVolume(req.id),
      );
    }),

    moveVolume: unary(log, 'MoveVolume', async (req, caller) => {
      owned(caller, req.id);
      const r = found(store, req.id);
      if (req.hosts.length === 0) throw new ApiError('INVALID_ARGUMENT', 'hosts', 'at least one storage host');
      const target = checkHosts(req.hosts);
      for (const [i, h] of target.entries()) {
        if (!r.spec.hosts.some((p) => p.name === h.name) && !storageHost(h.name))
          throw new ApiError(
            'INVALID_ARGUMENT',
            `hosts[${i}].name`,
            `"${h.name}" is not a storage host of the deployment (no storage role in its agent's config)`,
          );
      }
      await moveVolume(r, target, store.moveHosts, Date.now() + MOVE_TIMEOUT_MS, log, (fn) => store.moving(req.id, fn));
      await claims(caller).placeVolume(
        req.id,
        target.map((h) => h.name),
      );
      // This host may have left the group: then a host of the new placement describes it.
      const here = store.get(req.id);
      if (here) return view(here);
      const s = await store.transport.peer(target[0]!).raft.getReplica({ id: req.id });
      return { ...emptyView(req.id, r.size, target, r.spec.tenant ?? ''), appliedIndex: s.appliedIndex };
    }),

    listVolumes: unary(log, 'ListVolumes', async (_req, caller) => {
      requireKind(caller, ['tenant', 'operator'], 'list volumes');
      const mine = store.all().filter((r) => caller.kind === 'operator' || (caller.kind === 'tenant' && (r.spec.tenant ?? '') === caller.tenant));
      return { volumes: await Promise.all(mine.map(view)) };
    }),
  };

  /** Raft traffic and proposals come only from the hosts of a volume's placement. */
  const fromPlacement = (who: Identity, r: Replica): void => {
    if (who.kind !== 'host' || !r.spec.hosts.some((h) => h.name === who.host)) {
      throw new ApiError('PERMISSION_DENIED', 'volume_id', `${describeIdentity(who)} is not a host of volume "${r.spec.id}"`);
    }
  };

  /** Writes a follower forwarded: proposed here together (they reach raft as one batch), if this replica leads. */
  const forward = async (from: Identity & { kind: 'host' }, volumeId: string, commands: readonly Uint8Array[]): Promise<void> => {
    const r = store.get(volumeId);
    if (!r) throw new ApiError('NOT_FOUND', 'volume_id', `volume "${volumeId}" has no replica on ${store.self}`);
    fromPlacement(from, r);
    r.forwardedFrom(from.host, commands.length);
    await Promise.all(commands.map((c) => r.proposeLocal(c)));
  };

  // Said once a second per volume at most (the sender repairs every few seconds at most), the
  // rest once per 10 s: a host of another version or outside the group says it until it is fixed.
  const reported = new Map<string, number>();
  const undecodable = new Map<string, number>();
  const outsiders = new Map<string, number>();
  const due = (seen: Map<string, number>, volumeId: string, everyMs: number): boolean => {
    if (Date.now() - (seen.get(volumeId) ?? 0) < everyMs) return false;
    seen.set(volumeId, Date.now());
    return true;
  };
  const step = (from: Identity & { kind: 'host' }, volumeId: string, parts: readonly Uint8Array[]): 'missing' | undefined => {
    const r = store.get(volumeId);
    if (!r) return due(reported, volumeId, 1000) ? 'missing' : undefined;
    if (!r.spec.hosts.some((h) => h.name === from.host)) {
      // A host that left the group while it was down says so until its replica is deleted.
      if (due(outsiders, volumeId, 10_000)) log.warn({ volume: volumeId, from: from.host }, 'raft messages from a host outside the placement dropped');
      return undefined;
    }
    let messages: Message[];
    try {
      messages = parts.map(decodeMessage);
    } catch (e) {
      // Agents of different wire versions, or a bug: it stalls the volume, so it is said.
      if (due(undecodable, volumeId, 10_000)) log.warn({ err: (e as Error).message, volume: volumeId, from: from.host }, 'raft messages could not be decoded');
      return undefined;
    }
    try {
      r.step(messages);
    } catch (e) {
      // A closing or failed replica: raft's retries cover it.
      log.debug({ err: (e as Error).message, volume: volumeId }, 'raft messages not stepped');
    }
    return undefined;
  };

  const installSnapshot: handleClientStreamingCall<SnapshotChunk, Record<string, never>> = (call, callback) => {
    const it = call[Symbol.asyncIterator]() as AsyncIterator<SnapshotChunk>;
    (async () => {
      const who = callerOf(call);
      const first = await it.next();
      if (first.done) throw new ApiError('INVALID_ARGUMENT', 'message', 'empty snapshot stream');
      const r = found(store, first.value.volumeId);
      fromPlacement(who, r);
      const m = decodeMessage(first.value.message);
      if (m.type !== 'snapshot') throw new ApiError('INVALID_ARGUMENT', 'message', 'the first chunk must carry a snapshot message');
      const chunks = async function* (): AsyncGenerator<{ offset: number; data: Uint8Array }> {
        for (;;) {
          const c = await it.next();
          if (c.done) return;
          yield { offset: c.value.offset, data: c.value.data };
        }
      };
      await r.receiveSnapshot(m, first.value.sizeBytes, chunks());
    })().then(
      () => callback(null, {}),
      (e: unknown) => {
        log.warn({ err: e }, 'InstallSnapshot failed');
        const code =
          e instanceof ApiError
            ? e.code === 'NOT_FOUND'
              ? Status.NOT_FOUND
              : e.code === 'PERMISSION_DENIED'
                ? Status.PERMISSION_DENIED
                : Status.INTERNAL
            : Status.INTERNAL;
        callback({ code, details: (e as Error).message });
      },
    );
  };

  const raft: RaftServer = {
    linkAddress: unary(log, 'LinkAddress', async () => ({ address: linkAddress })),
    installSnapshot,
    createReplica: unary(log, 'CreateReplica', async (req, caller) => {
      // A replica is made by the storage host coordinating a CreateVolume, or by the leader
      // (a host of the placement) re-creating one a host lost; no other host may plant one.
      if (caller.kind !== 'host' || (!req.hosts.some((h) => h.name === caller.host) && !storageHost(caller.host))) {
        throw new ApiError('PERMISSION_DENIED', 'hosts', `${describeIdentity(caller)} is neither a host of volume "${req.id}" nor a storage host`);
      }
      checkId(req.id);
      checkSize('size_bytes', req.sizeBytes);
      const self = req.hosts.find((h) => h.name === store.self);
      if (!self) throw new ApiError('INVALID_ARGUMENT', 'hosts', `${store.self} is not in the placement`);
      if (req.repair && !req.memberId) throw new ApiError('INVALID_ARGUMENT', 'member_id', 'a repair names the member id the replica joins as');
      const r = await store.createReplica(
        {
          id: req.id,
          sizeBytes: req.sizeBytes,
          hosts: req.hosts.map((h) => ({ name: h.name, endpoint: h.endpoint })),
          tenant: req.tenant,
          ...(req.placedAt > 0 ? { placedAt: req.placedAt } : {}),
        },
        req.memberId ? { member: req.memberId, repair: req.repair } : null,
      );
      return replicaStatus(r, self);
    }),
    deleteReplica: unary(log, 'DeleteReplica', async (req, caller) => {
      const r = store.get(req.id);
      if (!r) return { existed: false };
      // DeleteVolume runs on a host of the placement; the leader deleting the replica of a host
      // that left the group may have joined it after this replica last heard of a placement, and
      // then the registry's record of the volume names it.
      if (!(caller.kind === 'host' && storageHosts.placed(req.id)?.includes(caller.host))) fromPlacement(caller, r);
      return { existed: await store.deleteReplica(req.id) };
    }),
    getReplica: unary(log, 'GetReplica', async (req) => {
      const r = found(store, req.id);
      return replicaStatus(r, r.spec.hosts.find((h) => h.name === store.self) ?? { name: store.self, endpoint: '' });
    }),
    moveReplicas: unary(log, 'MoveReplicas', async (req, caller) => {
      const r = found(store, req.id);
      fromPlacement(caller, r);
      const target = checkHosts(req.hosts);
      // Only the leader carries a move out: forwarding on from here could go round in circles.
      if (r.state().role !== 'leader') throw new ApiError('FAILED_PRECONDITION', 'id', `${store.self} ${NOT_LEADING} "${req.id}"`);
      const deadline = Date.now() + MOVE_TIMEOUT_MS;
      const exclusive = <T>(fn: () => Promise<T>): Promise<T> => store.moving(req.id, fn);
      const to = await moveHere(r, target, store.moveHosts, deadline, log, exclusive).catch((e: unknown) => {
        // Leadership moved on meanwhile: the caller finds the new leader and asks it.
        throw e instanceof NotLeaderError ? new ApiError('FAILED_PRECONDITION', 'id', `${store.self} ${NOT_LEADING} "${req.id}"`) : e;
      });
      if (to !== null) await moveVolume(r, target, store.moveHosts, deadline, log, exclusive);
      return {};
    }),
  };
  return { volume, raft, inbox: { step, forward } };
}
