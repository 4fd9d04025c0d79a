// vxcloud_block_volume: a replicated block volume — a raft group with one replica on each of its
// storage hosts, every one of which exports it over NBD under the volume's name. The size grows
// in place; a smaller size is refused at plan time, since shrinking would cut off data.

import { rendezvous } from '../../lib/rendezvous.js';
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import type { Volume } from '../../gen/vxcloud/agent/v1/volume.js';
import { checkVolumeId, checkVolumeSize, VOLUME_SIZE_ALIGNMENT } from '../../lib/validation.js';
import { asNumber, known, knownOr, numberText, t, unknown, valueEquals, type Value } from '../plugin/cty.js';
import { attributeError, DiagnosticsError, error, type Diagnostic } from '../plugin/diagnostics.js';
import { defineResource, type Planned } from '../plugin/framework.js';
import type { StateOf } from '../plugin/schema.js';
import type { Validator } from '../plugin/validators.js';
import { knownStrings, planTenant, rule, str, strs, unknownHosts } from './common.js';
import { agentMessage, isNotFound, type Fleet } from './fleet.js';

const DEFAULT_REPLICAS = 3;
const STORAGE_ROLE = 'storage';
const HEALTHY = 'healthy';
const POLL_MS = 200;
const MiB = 1024 * 1024;
/** A move copies whole replicas; the agent answers once it is done. */
const MOVE_TIMEOUT_MS = 60 * 60_000;

/** A whole number from a value, or undefined when it is unknown, null or not whole. */
const whole = (v: Value | undefined): number | undefined => {
  const n = asNumber(v);
  return n !== undefined && Number.isSafeInteger(n) ? n : undefined;
};

/** "64 MiB" for sizes that are whole units, else bytes. */
export function humanSize(n: number): string {
  for (const [unit, size] of [
    ['TiB', 2 ** 40],
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${n} bytes`;
}

const sizeBytes: Validator = (v, path) => {
  const n = asNumber(v);
  if (n === undefined) return [];
  const up = Math.ceil(n / VOLUME_SIZE_ALIGNMENT) * VOLUME_SIZE_ALIGNMENT;
  const example = n > 0 && Number.isSafeInteger(up) ? up : 64 * MiB;
  return checkVolumeSize('', n).map((p) =>
    attributeError(
      path,
      'Invalid volume size',
      `${p.message}. Give a positive multiple of ${VOLUME_SIZE_ALIGNMENT} bytes, e.g. ${example} (${humanSize(example)}).`,
    ),
  );
};

const atLeastOne: Validator = (v, path) => {
  const n = asNumber(v);
  return n === undefined || (Number.isInteger(n) && n >= 1)
    ? []
    : [attributeError(path, 'Invalid value', `Must be a whole number of replicas, at least 1; got ${numberText(v as number)}.`)];
};

const schema = {
  version: 0,
  description:
    'A replicated block volume: a raft group with one replica on each of its storage hosts, every one of which exports it over NBD under its name. Its size grows in place; it never shrinks.',
  attributes: {
    id: { type: t.string, computed: true, description: 'The volume id: the same as name.' },
    name: {
      type: t.string,
      required: true,
      requiresReplace: true,
      validators: [rule(checkVolumeId)],
      description: "The volume's id and NBD export name: 1-63 lower-case letters, digits or '-', starting with a letter or digit.",
    },
    size_bytes: {
      type: t.number,
      required: true,
      validators: [sizeBytes],
      description:
        'Size in bytes, a positive multiple of 4096 (e.g. 64 * 1024 * 1024). A larger value grows the volume in place, keeping its data; a smaller one is refused at plan time (to recreate the volume smaller, losing its data, `terraform taint` it first).',
    },
    replicas: {
      type: t.number,
      optional: true,
      computed: true,
      requiresReplace: true,
      validators: [atLeastOne],
      description: 'Number of replicas, one per storage host (default 3, or as many as `hosts` lists). An odd number n tolerates (n-1)/2 failed hosts.',
    },
    hosts: {
      type: t.list(t.string),
      optional: true,
      computed: true,
      description:
        "The storage hosts holding its replicas, exactly `replicas` of them (default: the provider chooses among the hosts whose agent has the storage role, by rendezvous hashing of the name, and records its choice so later plans keep it). Changing it moves the replicas online, keeping the data and the clients' connections to hosts that stay: each new host's replica is added and filled from a snapshot before an old one is removed and deleted. Agents with storage.rebuildAfterSeconds move a replica off a host that was down that long on their own; a refresh shows it. Calls go to the first one; its NBD address is in export_uri.",
    },
    tenant: {
      type: t.string,
      optional: true,
      computed: true,
      requiresReplace: true,
      description:
        "The owning tenant (default: the tenant of the provider's certificate; \"\" for an operator's). A tenant's volume is exported over TLS only, to its tenant's and operators' certificates.",
    },
    export_uri: {
      type: t.string,
      computed: true,
      description:
        "NBD URI of the export on the first placed host that answered, e.g. nbd://192.0.2.11:10809/NAME; every placed host exports the volume under the same name. nbds:// when a client must start TLS (a tenant's volume, or a host requiring NBD TLS): connect with the tenant's certificate, e.g. `nbdinfo 'nbds://ADDRESS/NAME?tls-certificates=DIR'` where DIR holds ca-cert.pem, client-cert.pem and client-key.pem.",
    },
    status: {
      type: t.string,
      computed: true,
      description: '"healthy" (every replica caught up), "degraded" (a majority) or "unavailable" (no leader), as the agents report it.',
    },
    leader: { type: t.string, computed: true, description: 'The storage host whose replica leads the raft group, when last read.' },
  },
} as const;

type VolumeState = StateOf<typeof schema>;
const ATTRS = Object.keys(schema.attributes);

/**
 * The `replicas` heaviest candidates by rendezvous hashing of the volume name, heaviest first:
 * volumes (and the first host, where calls and export_uri go) spread across hosts, and a new
 * storage host only takes volumes for which it outweighs one already chosen.
 */
export function placeVolume(name: string, candidates: readonly string[], replicas: number): string[] {
  return rendezvous(name, candidates).slice(0, replicas);
}

/** Problems of a `hosts` list on its own: missing names, duplicates, a count other than replicas. */
function hostListProblems(hosts: readonly Value[], replicas: number | undefined): Diagnostic[] {
  const out: Diagnostic[] = [];
  const seen = new Map<string, number>();
  hosts.forEach((h, i) => {
    if (h === null) out.push(attributeError(['hosts', i], 'Missing host name', 'Each element of hosts names a storage host.'));
    if (typeof h !== 'string') return;
    const first = seen.get(h);
    if (first !== undefined)
      out.push(
        attributeError(['hosts', i], 'Duplicate host', `"${h}" is listed twice (also as hosts[${first}]): each replica needs a storage host of its own.`),
      );
    else seen.set(h, i);
  });
  if (replicas !== undefined && hosts.length !== replicas) {
    out.push(
      attributeError(
        ['hosts'],
        'Hosts and replicas disagree',
        `hosts lists ${hosts.length} host(s) but replicas is ${replicas}: list exactly ${replicas} storage hosts, or leave hosts out and the provider places the volume.`,
      ),
    );
  }
  return out;
}

/** Why a host cannot hold a replica, by what its agent says; undefined when it can. */
async function storageProblem(fleet: Fleet, name: string): Promise<string | undefined> {
  try {
    const h = await fleet.describe(name);
    if (!h.roles.includes(STORAGE_ROLE)) return `"${name}" is not a storage host: its agent has the roles ${h.roles.join(', ') || 'none'}`;
    if (h.peerEndpoint === '')
      return `"${name}" listens on no TCP address that the other storage hosts could reach: add one on its underlay address (e.g. ${h.underlayAddress}:7443) to its agent's listen list`;
    return undefined;
  } catch (e) {
    return `cannot ask "${name}"'s agent: ${agentMessage(e as Error)}`;
  }
}

interface Placement {
  replicas: number;
  hosts: string[];
}

/**
 * The given hosts, checked, or a placement among the storage hosts. `name` is needed only to
 * place; without it (unknown at plan) only the number of storage hosts is checked.
 */
async function place(
  fleet: Fleet,
  name: string | null,
  replicas: number | null,
  hosts: string[] | null,
): Promise<{ placement?: Partial<Placement>; diagnostics: Diagnostic[] }> {
  if (hosts !== null) {
    const listed = [...unknownHosts(fleet, hosts, 'hosts'), ...hostListProblems(hosts, replicas ?? undefined)];
    if (listed.length > 0) return { diagnostics: listed };
    const problems = await Promise.all(hosts.map((h) => storageProblem(fleet, h)));
    const diagnostics = problems.flatMap((p, i) => (p ? [attributeError(['hosts', i], 'Not a usable storage host', `${p}.`)] : []));
    return diagnostics.length > 0 ? { diagnostics } : { placement: { replicas: hosts.length, hosts }, diagnostics: [] };
  }
  const want = replicas ?? DEFAULT_REPLICAS;
  const names = fleet.hostsWithRole('storage');
  const problems = await Promise.all(names.map((h) => storageProblem(fleet, h)));
  const usable = names.filter((_, i) => problems[i] === undefined);
  if (usable.length < want) {
    // Hosts that are not storage hosts at all are not worth listing; unreachable or misconfigured ones are.
    const notes = problems.filter((p): p is string => p !== undefined && !p.includes('is not a storage host'));
    return {
      diagnostics: [
        attributeError(
          ['replicas'],
          'Not enough storage hosts',
          `${want} replicas need ${want} storage hosts, one per replica; the provider has ${usable.length}${usable.length > 0 ? ` (${usable.join(', ')})` : ''}${notes.length > 0 ? `. Not usable: ${notes.join('; ')}` : ''}. Lower replicas, or add storage hosts.`,
        ),
      ],
    };
  }
  return { placement: { replicas: want, ...(name !== null ? { hosts: placeVolume(name, usable, want) } : {}) }, diagnostics: [] };
}

/**
 * Terraform plans a tainted object as a create (no prior state), so taint is the way to ask for a
 * smaller volume; `apply -replace` is not: terraform plans the update first, and this refuses it.
 */
function shrinkRefused(name: string, from: number, to: number): Diagnostic {
  return attributeError(
    ['size_bytes'],
    'Volumes cannot shrink',
    `Volume "${name}" has ${from} bytes (${humanSize(from)}); size_bytes = ${to} (${humanSize(to)}) would cut off its end, and a volume only grows. ` +
      `Keep size_bytes at ${from} or more. To recreate the volume smaller, losing all its data, mark it for replacement first: terraform taint ADDRESS (ADDRESS as in terraform state list), then apply.`,
  );
}

const errorCode = (e: unknown): number | undefined => (e as Partial<ServiceError>).code;

/** An agent's error as a diagnostic on the attribute it names first ("size_bytes: ..."; its "id" is our name). */
function agentDiagnostic(what: string, host: string, e: unknown): Diagnostic {
  const msg = agentMessage(e instanceof Error ? e : new Error(String(e)));
  const field = /^([a-z_]+)(?:\[\d+\])?(?:\.[a-z_]+)?:/.exec(msg)?.[1];
  const attribute = field === 'id' ? 'name' : field;
  return error(`${what} failed on host ${host}`, msg, attribute && ATTRS.includes(attribute) ? [attribute] : undefined);
}

/**
 * The volume as the first of `hosts` that has it describes it (any replica host answers for the
 * whole group); null when every host answers that it has none. Any other failure throws: a host
 * that cannot be asked may still hold it.
 */
async function view(fleet: Fleet, id: string, hosts: readonly string[]): Promise<Volume | null> {
  const answers = await Promise.allSettled(hosts.map((h) => fleet.client(h).volume.getVolume({ id }, fleet.timeoutMs)));
  for (const a of answers) if (a.status === 'fulfilled') return a.value;
  const failed = answers.flatMap((a, i) =>
    a.status === 'rejected' && !isNotFound(a.reason) ? [agentDiagnostic('Reading the volume', hosts[i]!, a.reason)] : [],
  );
  if (failed.length === 0) return null;
  throw new DiagnosticsError(failed);
}

function toState(v: Volume): VolumeState {
  return {
    id: v.id,
    name: v.id,
    size_bytes: v.sizeBytes,
    replicas: v.replicas,
    hosts: v.hosts.map((h) => h.name),
    tenant: v.tenant,
    export_uri: v.exportUri,
    status: v.status,
    leader: v.leader || '',
  };
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason as Error)), { once: true });
  });

/** Waits until every replica has caught up, so that an applied volume is ready for clients. */
async function waitHealthy(fleet: Fleet, id: string, hosts: readonly string[], signal: AbortSignal): Promise<Volume> {
  const deadline = Date.now() + fleet.timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    signal.throwIfAborted();
    const v = await view(fleet, id, hosts).catch((e: unknown) => {
      last = e instanceof Error ? e.message : String(e);
      return null;
    });
    if (v?.status === HEALTHY) return v;
    if (v) last = `${v.status}; ${v.replicaStatus.map((r) => `${r.host?.name}: ${r.role}${r.detail ? ` (${r.detail})` : ''}`).join(', ')}`;
    if (Date.now() >= deadline) throw new Error(`volume "${id}" was not healthy within ${fleet.timeoutMs / 1000} s: ${last}`);
    await sleep(POLL_MS, signal);
  }
}

/**
 * DeleteVolume on each host in turn: the first with a replica removes every replica (and fails if
 * it cannot reach one); the rest find none. `skipUnreachable`, when cleaning up after a failed
 * create: a host we cannot reach at all is passed over, since a replica there would be reported by
 * the hosts with replicas, whose fan-out cannot reach it either (CreateVolume makes every replica
 * at once, after every host answered its probe).
 */
async function deleteEverywhere(fleet: Fleet, id: string, hosts: readonly string[], skipUnreachable = false): Promise<Diagnostic[]> {
  const failed: Diagnostic[] = [];
  for (const h of hosts) {
    await fleet
      .client(h)
      .volume.deleteVolume({ id }, fleet.timeoutMs)
      .catch((e: unknown) => {
        if (!(skipUnreachable && errorCode(e) === grpcStatus.UNAVAILABLE)) failed.push(agentDiagnostic('Deleting the volume', h, e));
      });
  }
  return failed;
}

/**
 * `call` on the first of `hosts` that can be reached: any replica host takes a change to the
 * leader. A refusal would be the same on every host, so only unreachable hosts are skipped.
 */
async function onAnyHost(hosts: readonly string[], what: string, call: (host: string) => Promise<unknown>): Promise<void> {
  const failed: Diagnostic[] = [];
  for (const h of hosts) {
    try {
      await call(h);
      return;
    } catch (e) {
      const d = agentDiagnostic(what, h, e);
      if (errorCode(e) !== grpcStatus.UNAVAILABLE && errorCode(e) !== grpcStatus.DEADLINE_EXCEEDED) throw new DiagnosticsError([d]);
      failed.push(d);
    }
  }
  throw new DiagnosticsError(failed);
}

export const blockVolume = defineResource<typeof schema, Fleet>({
  typeName: 'vxcloud_block_volume',
  schema,
  validate(c) {
    return Array.isArray(c.hosts) ? hostListProblems(c.hosts, whole(c.replicas)) : [];
  },
  async plan({ prior, planned, config, requiresReplace }, { provider }) {
    const t = planTenant(provider, planned, 'volumes');
    const diagnostics: Diagnostic[] = [...t.diagnostics];
    let p: Planned<typeof schema> = { ...t.planned };
    if (prior === null) {
      const name = typeof planned.name === 'string' ? planned.name : null;
      if (name !== null) p = { ...p, id: name };
      // Place now, when what placement depends on is known, so the plan shows where it goes.
      const replicas = config.replicas === null ? null : whole(config.replicas);
      const hosts = config.hosts === null ? null : (knownStrings(config.hosts) ?? undefined);
      if (replicas !== undefined && hosts !== undefined) {
        const r = await place(provider, name, replicas, hosts);
        diagnostics.push(...r.diagnostics);
        if (r.placement?.replicas !== undefined) p = { ...p, replicas: r.placement.replicas };
        if (r.placement?.hosts !== undefined) p = { ...p, hosts: r.placement.hosts };
      }
      return { planned: p, diagnostics };
    }
    // A move: the new hosts are checked now, as at create.
    if (requiresReplace.length === 0 && !valueEquals(planned.hosts, prior.hosts)) {
      const hosts = knownStrings(planned.hosts);
      if (hosts) {
        const r = await place(provider, prior.name, Number(prior.replicas), hosts);
        diagnostics.push(...r.diagnostics);
      }
      p = { ...p, status: unknown, leader: unknown, export_uri: unknown };
    }
    // Terraform plans a replacement again with no prior state: only an in-place change is a shrink.
    if (requiresReplace.length === 0 && !valueEquals(planned.size_bytes, prior.size_bytes)) {
      const to = whole(planned.size_bytes);
      const from = Number(prior.size_bytes);
      if (to !== undefined && to < from) diagnostics.push(shrinkRefused(prior.name, from, to));
      // A grow: leadership, health and the host that answers may all change meanwhile.
      p = { ...p, status: unknown, leader: unknown, export_uri: unknown };
    }
    return { planned: p, diagnostics };
  },
  async create({ planned }, { provider, signal }) {
    const name = known(planned.name);
    const size = Number(known(planned.size_bytes));
    let replicas = whole(knownOr(planned.replicas, null));
    let hosts = knownOr(planned.hosts, null) as string[] | null;
    if (replicas === undefined || hosts === null) {
      // Not placed at plan time (the name was unknown then).
      const r = await place(provider, name, replicas ?? null, hosts);
      if (!r.placement?.hosts) throw new DiagnosticsError(r.diagnostics);
      replicas = r.placement.replicas!;
      hosts = r.placement.hosts;
    }
    const placed = await Promise.all(hosts.map(async (h) => ({ name: h, endpoint: (await provider.describe(h)).peerEndpoint })));
    // A volume of that name is someone else's (or an earlier one's): neither adopt it nor, on failure, delete it.
    const existing = await view(provider, name, hosts).catch(() => null);
    if (existing) {
      throw new DiagnosticsError([
        attributeError(
          ['name'],
          'Volume exists',
          `Storage hosts ${existing.hosts.map((h) => h.name).join(', ')} already hold a volume named "${name}" (${existing.sizeBytes} bytes). Import it (terraform import ADDRESS ${name}) or pick another name.`,
        ),
      ]);
    }
    const first = hosts[0]!;
    try {
      await provider
        .client(first)
        .volume.createVolume({ id: name, sizeBytes: size, replicas, hosts: placed, tenant: knownOr(planned.tenant, null) ?? '' }, provider.timeoutMs);
      return toState(await waitHealthy(provider, name, hosts, signal));
    } catch (e) {
      const failure = e instanceof DiagnosticsError ? [...e.diagnostics] : [agentDiagnostic('Creating the volume', first, e)];
      if (errorCode(e) === grpcStatus.ALREADY_EXISTS) throw new DiagnosticsError(failure);
      // No half-made volume is left behind: replicas some hosts made are deleted again.
      const cleanup = await deleteEverywhere(provider, name, hosts, true);
      if (cleanup.length === 0) throw new DiagnosticsError(failure);
      const partial: VolumeState = {
        id: name,
        name,
        size_bytes: size,
        replicas,
        hosts,
        tenant: knownOr(planned.tenant, null) ?? '',
        export_uri: '',
        status: 'partially created',
        leader: '',
      };
      throw new DiagnosticsError(
        [
          ...failure,
          ...cleanup,
          error('The half-made volume is left', 'Deleting it again failed too; it is recorded as tainted, and the next apply deletes it and creates it again.'),
        ],
        partial,
      );
    }
  },
  async read(state, { provider }) {
    const v = await view(provider, str(state.id), strs(state.hosts));
    return v ? toState(v) : null;
  },
  async update({ prior, planned }, { provider, signal }) {
    const id = str(prior.id);
    const hosts = strs(prior.hosts);
    const size = Number(known(planned.size_bytes));
    const from = Number(prior.size_bytes);
    // Known only now (it was unknown at plan time): refused here instead.
    if (size < from) throw new DiagnosticsError([shrinkRefused(prior.name, from, size)]);
    if (size !== from) await onAnyHost(hosts, 'Growing the volume', (h) => provider.client(h).volume.growVolume({ id, sizeBytes: size }, provider.timeoutMs));
    const target = knownOr(planned.hosts, null) as string[] | null;
    if (target !== null && target.join() !== hosts.join()) {
      const placed = await Promise.all(target.map(async (h) => ({ name: h, endpoint: (await provider.describe(h)).peerEndpoint })));
      // The replicas' data is copied before the call returns: no deadline of ours cuts a long copy short.
      await onAnyHost(hosts, 'Moving the volume', (h) => provider.client(h).volume.moveVolume({ id, hosts: placed }, MOVE_TIMEOUT_MS));
      return toState(await waitHealthy(provider, id, target, signal));
    }
    const v = await view(provider, id, hosts);
    if (!v) throw new DiagnosticsError([error('The volume is gone', `No host of ${hosts.join(', ')} has volume "${id}" any more.`)]);
    return toState(v);
  },
  async delete(state, { provider }) {
    const failed = await deleteEverywhere(provider, str(state.id), strs(state.hosts));
    if (failed.length > 0) throw new DiagnosticsError(failed);
  },
  async importState(id, { provider }) {
    const problems = checkVolumeId('id', id);
    if (problems.length > 0) throw new Error(`${problems[0]!.message}: import a volume by its name`);
    const names = provider.hostsWithRole('storage');
    const answers = await Promise.allSettled(names.map((h) => provider.client(h).volume.getVolume({ id }, provider.timeoutMs)));
    const found = answers.find((a) => a.status === 'fulfilled');
    if (!found) {
      // Hosts without the storage role answer UNIMPLEMENTED; those that could not be asked are worth naming.
      const unreachable = answers.flatMap((a, i) =>
        a.status === 'rejected' && !isNotFound(a.reason) && errorCode(a.reason) !== grpcStatus.UNIMPLEMENTED
          ? [`${names[i]}: ${agentMessage(a.reason as Error)}`]
          : [],
      );
      throw new Error(`no storage host has a volume named "${id}"${unreachable.length > 0 ? ` (not asked: ${unreachable.join('; ')})` : ''}`);
    }
    return { id, name: id, hosts: found.value.hosts.map((h) => h.name) };
  },
});
