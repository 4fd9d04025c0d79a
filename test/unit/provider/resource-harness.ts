// A resource driven as terraform drives it, for the provider's unit tests: validation, plan
// (terraform's proposal, the framework's default, then the resource's hook), and apply checked
// as terraform checks it.

import { expect } from 'vitest';
import { isUnknown, record, type Value, type ValueRecord } from '../../../provider/plugin/cty.js';
import { DiagnosticsError, type Diagnostic } from '../../../provider/plugin/diagnostics.js';
import { validateBlock, type Context, type Resource } from '../../../provider/plugin/framework.js';
import { createLogger } from '../../../provider/plugin/log.js';
import { defaultPlan } from '../../../provider/plugin/plan.js';
import type { Fleet } from '../../../provider/resources/fleet.js';

export const log = createLogger('test', { TF_LOG: 'OFF' });

export const ctx = (fleet: Fleet): Context<Fleet> => ({ signal: new AbortController().signal, provider: fleet, log });

/** The configuration: every attribute, null where `o` leaves it out. */
export const configOf = (r: Resource<Fleet>, o: Record<string, Value>): ValueRecord =>
  record(Object.keys(r.schema.attributes).map((k) => [k, o[k] ?? null] as const));

export function validate(r: Resource<Fleet>, o: Record<string, Value>): Diagnostic[] {
  const c = configOf(r, o);
  return [...validateBlock(r.schema, c), ...(r.validate?.(c, { log }) ?? [])];
}

/** PlanResourceChange as terraform drives it: its proposal, the framework's default, then the hook. */
export async function plan(r: Resource<Fleet>, fleet: Fleet, prior: ValueRecord | null, o: Record<string, Value>) {
  const config = configOf(r, o);
  const proposed = record(
    Object.keys(r.schema.attributes).map((k) => [k, config[k] !== null ? config[k]! : r.schema.attributes[k]!.computed && prior ? prior[k]! : null] as const),
  );
  const base = defaultPlan(r.schema, prior, proposed, config);
  const res = await r.plan!({ prior, proposed, config, planned: base.planned!, requiresReplace: base.requiresReplace }, ctx(fleet));
  return { planned: res.planned ?? base.planned!, requiresReplace: res.requiresReplace ?? base.requiresReplace, diagnostics: res.diagnostics ?? [] };
}

/** Plan then create, checking what terraform checks: every value known in the plan came out the same. */
export async function apply(r: Resource<Fleet>, fleet: Fleet, o: Record<string, Value>): Promise<ValueRecord> {
  const p = await plan(r, fleet, null, o);
  expect(p.diagnostics).toEqual([]);
  const state = await r.create({ planned: p.planned, config: configOf(r, o) }, ctx(fleet));
  for (const [k, v] of Object.entries(p.planned)) if (!isUnknown(v)) expect(state[k], k).toEqual(v);
  return state;
}

export const paths = (ds: readonly Diagnostic[]): unknown[] => ds.map((d) => d.path);
export const text = (ds: readonly Diagnostic[]): string => ds.map((d) => `${d.summary}: ${d.detail}`).join('\n');

/** The DiagnosticsError `p` rejects with. */
export async function failure(p: Promise<unknown>): Promise<DiagnosticsError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(DiagnosticsError);
  return e as DiagnosticsError;
}
