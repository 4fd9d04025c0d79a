// Agent failures as Terraform diagnostics: each failing host named, and the attribute the agent
// complained about (the field it names in the trailing metadata) pointed at.

import type { ServiceError } from '@grpc/grpc-js';
import { FIELD_METADATA } from '../../lib/wire.js';
import type { Diagnostic, Path } from '../plugin/diagnostics.js';
import { error } from '../plugin/diagnostics.js';
import type { Problem } from '../../lib/validation.js';
import { agentMessage, FleetError } from './fleet.js';

/** Diagnostics for a fan-out failure; `attributes` are the resource's attribute names. */
export function fleetDiagnostics(what: string, e: unknown, attributes: readonly string[]): Diagnostic[] {
  const failures = e instanceof FleetError ? e.failures : [{ host: '', error: e instanceof Error ? e : new Error(String(e)) }];
  return failures.map((f) => {
    const msg = agentMessage(f.error);
    // "subnet_ids[2]" or "reservations[0].ip" point at their top-level attribute.
    const named = (f.error as Partial<ServiceError>).metadata?.get(FIELD_METADATA)[0];
    const field = typeof named === 'string' ? /^[a-z_]+/.exec(named)?.[0] : undefined;
    const path: Path | undefined = field && attributes.includes(field) ? [field] : undefined;
    return error(f.host ? `${what} failed on host ${f.host}` : `${what} failed`, msg, path);
  });
}

/** Diagnostics for problems found by a shared validation rule, on the attribute they name. */
export function problemDiagnostics(summary: string, problems: readonly Problem[], attributes: readonly string[]): Diagnostic[] {
  return problems.map((p) => error(summary, p.message, attributes.includes(p.field) ? [p.field] : undefined));
}
