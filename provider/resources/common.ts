// What the vxcloud resources share: ids, validators built from the agent's own rules, the status
// attribute that turns drift into a planned repair, and fan-out of one object to its hosts.

import { randomBytes } from 'node:crypto';
import type { Status } from '../../gen/vxcloud/agent/v1/network.js';
import type { Problem } from '../../lib/validation.js';
import { isUnknown, unknown, type Unknown, type Value, type ValueRecord } from '../plugin/cty.js';
import { attributeError, DiagnosticsError, type Diagnostic } from '../plugin/diagnostics.js';
import type { Validator } from '../plugin/validators.js';
import { fleetDiagnostics } from './errors.js';
import { adoptedId, FleetError, isNotFound, type Fleet } from './fleet.js';
import type { AgentClient } from '../../lib/agent-client.js';

export const READY = 'ready';

export const newId = (kind: string): string => `${kind}-${randomBytes(5).toString('hex')}`;

/** A schema validator from one of lib/validation's checks (the agent runs the same check). */
export function rule(check: (field: string, value: never) => Problem[]): Validator {
  return (v, path) => check('', v as never).map((p) => attributeError(path, 'Invalid value', p.message));
}

/** Status text from what each host reported: "ready", or every host's problems. */
export function summarize(perHost: Map<string, Status | null>): string {
  const problems: string[] = [];
  for (const [host, s] of [...perHost].sort(([a], [b]) => a.localeCompare(b))) {
    if (s === null) problems.push(`${host}: missing`);
    else if (!s.ready) problems.push(`${host}: ${s.problems.join('; ')}`);
  }
  return problems.length === 0 ? READY : problems.join(' | ');
}

/**
 * Plans `status`: a drifted object (status not ready) or any change makes it unknown, so that
 * Terraform plans an update — the update's Put repairs every host — and shows the drift.
 */
export function planStatus(prior: ValueRecord | null, planned: ValueRecord): ValueRecord {
  if (prior === null) return planned;
  const changed = Object.keys(planned).some((k) => k !== 'status' && JSON.stringify(planned[k]) !== JSON.stringify(prior[k]));
  return changed || prior.status !== READY ? { ...planned, status: unknown } : planned;
}

/** Diagnostics for host names in `hosts` the provider does not know. */
export function unknownHosts(fleet: Fleet, hosts: Value, attribute: string): Diagnostic[] {
  if (!Array.isArray(hosts)) return [];
  return hosts.flatMap((h, i) =>
    typeof h === 'string' && !fleet.host(h)
      ? [attributeError([attribute, i], 'Unknown host', `"${h}" is not one of the provider's hosts: ${fleet.hosts.map((x) => x.name).join(', ')}.`)]
      : [],
  );
}

export const knownStrings = (v: Value): string[] | undefined => (Array.isArray(v) && !v.some(isUnknown) ? (v as string[]) : undefined);

/** Gets an object from each host; null where the host does not have it. */
export function getEach<T>(fleet: Fleet, hosts: readonly string[], get: (c: AgentClient) => Promise<T>): Promise<Map<string, T | null>> {
  return fleet.each(hosts, (c) =>
    get(c).catch((e: unknown) => {
      if (isNotFound(e)) return null;
      throw e;
    }),
  );
}

/**
 * Runs a Put on every host. If some hosts fail, the error carries `partial` — the state to record
 * for what was made — unless no host succeeded.
 */
export async function putEach<T>(
  fleet: Fleet,
  what: string,
  hosts: readonly string[],
  attributes: readonly string[],
  put: (c: AgentClient, host: string) => Promise<T>,
  partial: () => ValueRecord,
): Promise<Map<string, T>> {
  try {
    return await fleet.each(hosts, put);
  } catch (e) {
    adoptOrPass(e);
    const someDone = e instanceof FleetError && e.done.size > 0;
    throw new DiagnosticsError(fleetDiagnostics(what, e, attributes), someDone ? partial() : undefined);
  }
}

/** An agent's answer to a create: take the object `id` a killed run made instead (agent/registry/claims.ts, adoption). */
export class Adopt extends Error {
  constructor(readonly id: string) {
    super(`adopt "${id}"`);
  }
}

/** Throws Adopt when the hosts that refused a create all named one object to adopt and none made it. */
export function adoptOrPass(e: unknown): void {
  const failures = e instanceof FleetError ? (e.done.size === 0 ? e.failures.map((f) => f.error) : []) : [e];
  const ids = new Set(failures.map(adoptedId));
  const [id] = ids;
  if (ids.size === 1 && id !== undefined) throw new Adopt(id);
}

/**
 * A create under a new id, or — when an agent answers that a provider run killed before terraform
 * recorded it already made this object — under that object's id. `make` runs once or twice.
 */
export async function creating<T>(fleet: Fleet, kind: string, make: (id: string) => Promise<T>): Promise<T> {
  fleet.noteCreate();
  try {
    return await make(newId(kind));
  } catch (e) {
    if (!(e instanceof Adopt)) throw e;
    return make(e.id);
  }
}

/** A state attribute that is set once the object exists (computed values of stored state). */
export function str(v: string | null | undefined, what = 'value'): string {
  if (typeof v !== 'string') throw new Error(`${what} is missing from the state`);
  return v;
}

export function strs(v: readonly (string | null)[] | null | undefined): string[] {
  return (v ?? []).filter((x): x is string => typeof x === 'string');
}

/** The hosts that hold an object, from the registry ([] when it has no record): no other host is asked. */
export async function placedOn(fleet: Fleet, id: string, kind: string): Promise<string[]> {
  const p = await fleet.lookup(id);
  return p && p.kind === kind ? p.hosts : [];
}

/**
 * The `tenant` of a planned object under the provider's certificate: a tenant's certificate makes
 * it the default and refuses any other (on the attribute); an operator's leaves it as configured.
 */
export function planTenant<P extends { tenant: string | null | Unknown }>(fleet: Fleet, planned: P, what: string): { planned: P; diagnostics: Diagnostic[] } {
  const id = fleet.identity;
  if (id?.kind !== 'tenant') return { planned, diagnostics: [] };
  if (planned.tenant === null || isUnknown(planned.tenant)) return { planned: { ...planned, tenant: id.tenant }, diagnostics: [] };
  if (planned.tenant === id.tenant) return { planned, diagnostics: [] };
  return {
    planned,
    diagnostics: [
      attributeError(
        ['tenant'],
        'Not your tenant',
        `The provider's certificate is tenant ${id.tenant}'s: it may create ${what} of tenant "${id.tenant}" only, not "${planned.tenant}". Remove tenant, or use an operator's certificate.`,
      ),
    ],
  };
}

/**
 * An agent's empty value as state: itself where `like` (the plan, or the state read before) has it
 * too, else null — the agent does not tell unset from empty, and terraform does.
 */
export function emptyAs<T extends string | number>(value: T, empty: T, like: Value | undefined): T | null {
  if (value !== empty) return value;
  const l = typeof like === 'bigint' ? Number(like) : like;
  return l === empty ? value : null;
}

/** An agent's refusal as diagnostics, on the attribute it names; the registry's host is not named. */
export const refused =
  (what: string, attributes: readonly string[]) =>
  (e: unknown): never => {
    throw new DiagnosticsError(fleetDiagnostics(what, e, attributes));
  };

/** A create's refusal; or, when the agent says a killed run made the object, its id to adopt. */
export const createRefused =
  (what: string, attributes: readonly string[]) =>
  (e: unknown): never => {
    adoptOrPass(e);
    return refused(what, attributes)(e);
  };

/** The object, or null when the registry has none by that id. */
export const orGone = <T>(p: Promise<T>): Promise<T | null> =>
  p.catch((e: unknown) => {
    if (isNotFound(e)) return null;
    throw e;
  });
