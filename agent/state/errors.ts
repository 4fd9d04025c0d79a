// Errors the agent API returns, carrying the gRPC code and the field they concern.

import type { Problem, ProblemCode } from '../../lib/validation.js';

/**
 * ABORTED: a conflict that a retry may not meet; UNAVAILABLE: the registry cannot be reached;
 * PERMISSION_DENIED: the caller's identity may not do this.
 */
export type ApiCode = ProblemCode | 'NOT_FOUND' | 'INTERNAL' | 'ABORTED' | 'UNAVAILABLE' | 'PERMISSION_DENIED';

export class ApiError extends Error {
  constructor(
    readonly code: ApiCode,
    readonly field: string,
    message: string,
    /** The id of an object the caller should take instead of making this one (claims.ts, adoption). */
    readonly adopt?: string,
  ) {
    super(field ? `${field}: ${message}` : message);
    this.name = 'ApiError';
  }

  /**
   * A tenant's refusal of an object that is not its own: the same words whether another tenant
   * has it or nobody does, so that no call tells a tenant what another has.
   */
  static notYours(kind: string, id: string, tenant: string, field = 'id'): ApiError {
    return new ApiError('PERMISSION_DENIED', field, `${kind} "${id}" is not an object of tenant ${tenant}`);
  }

  /** One error for a list of problems: the first problem's code, every message joined. */
  static of(problems: Problem[]): ApiError {
    const first = problems[0]!;
    return new ApiError(first.code, first.field, problems.map((p, i) => (i === 0 ? p.message : `${p.field}: ${p.message}`)).join('; '));
  }
}
