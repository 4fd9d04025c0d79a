// Diagnostics: how the provider reports problems. Terraform shows the config snippet of the
// attribute a diagnostic names, so validation errors should always carry a path.

import { Diagnostic_Severity } from '../../gen/tfplugin6/tfplugin6.js';
import type { AttributePath, Diagnostic as ProtoDiagnostic } from '../../gen/tfplugin6/tfplugin6.js';
import type { ValueRecord } from './cty.js';

/** One step: an attribute name, a list/tuple index, or a map key. */
export type PathStep = string | number | { readonly key: string };
export type Path = readonly PathStep[];

export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly summary: string;
  readonly detail?: string;
  readonly path?: Path;
}

export const error = (summary: string, detail?: string, path?: Path): Diagnostic => ({ severity: 'error', summary, detail, path });
export const warning = (summary: string, detail?: string, path?: Path): Diagnostic => ({ severity: 'warning', summary, detail, path });
export const attributeError = (path: Path, summary: string, detail?: string): Diagnostic => error(summary, detail, path);

export const hasErrors = (diags: readonly Diagnostic[]): boolean => diags.some((d) => d.severity === 'error');

/** An exception as a diagnostic; the stack stays in the log, not in the user's output. */
export function fromError(summary: string, err: unknown, path?: Path): Diagnostic {
  return error(summary, err instanceof Error ? err.message : String(err), path);
}

export function pathToProto(path: Path): AttributePath {
  return {
    steps: path.map((s) => (typeof s === 'string' ? { attributeName: s } : typeof s === 'number' ? { elementKeyInt: s } : { elementKeyString: s.key })),
  };
}

export function pathToString(path: Path): string {
  return path.map((s, i) => (typeof s === 'string' ? (i === 0 ? s : `.${s}`) : typeof s === 'number' ? `[${s}]` : `[${JSON.stringify(s.key)}]`)).join('');
}

export function diagnosticToProto(d: Diagnostic): ProtoDiagnostic {
  return {
    severity: d.severity === 'error' ? Diagnostic_Severity.ERROR : Diagnostic_Severity.WARNING,
    summary: d.summary,
    detail: d.detail ?? '',
    attribute: d.path && d.path.length > 0 ? pathToProto(d.path) : undefined,
  };
}

/**
 * Thrown by a handler to fail with these diagnostics (paths kept) instead of one made from the
 * message. From create or update, `state` is what exists despite the failure (say, some hosts
 * done): terraform records it (a failed create as tainted, so the next apply replaces it).
 */
export class DiagnosticsError extends Error {
  constructor(
    readonly diagnostics: readonly Diagnostic[],
    readonly state?: ValueRecord,
  ) {
    super(diagnostics.map((d) => (d.detail ? `${d.summary}: ${d.detail}` : d.summary)).join('\n'));
    this.name = 'DiagnosticsError';
  }
}

/** The diagnostics an exception stands for. */
export function diagnosticsOf(summary: string, err: unknown): Diagnostic[] {
  return err instanceof DiagnosticsError ? [...err.diagnostics] : [fromError(summary, err)];
}
