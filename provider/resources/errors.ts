// Agent failures as Terraform diagnostics: each failing host named, and the attribute the agent
// complained about (its errors start with the field name) pointed at.

import type { Diagnostic, Path } from '../plugin/diagnostics.js';
import { error } from '../plugin/diagnostics.js';
import type { Problem } from '../../lib/validation.js';
import { agentMessage, FleetError } from './fleet.js';

/** Diagnostics for a fan-out failure; `attributes` are the resource's attribute names. */
export function fleetDiagnostics(what: string, e: unknown, attributes: readonly string[]): Diagnostic[] {
  const failures = e instanceof FleetError ? e.failures : [{ host: '', error: e instanceof Error ? e : new Error(String(e)) }];
  return failures.map((f) => {
    const msg = agentMessage(f.error);
    const field = /^([a-z_]+)(?:\[\d+\])?(?:\.[a-z_]+)?:/.exec(msg)?.[1];
    const path: Path | undefined = field && attributes.includes(field) ? [field] : undefined;
    return error(f.host ? `${what} failed on host ${f.host}` : `${what} failed`, msg, path);
  });
}

/** Diagnostics for problems found by a shared validation rule, on the attribute they name. */
export function problemDiagnostics(summary: string, problems: readonly Problem[], attributes: readonly string[]): Diagnostic[] {
  return problems.map((p) => error(summary, p.message, attributes.includes(p.field) ? [p.field] : undefined));
}
