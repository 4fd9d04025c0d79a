// Wraps a handler so that every outcome becomes a gRPC status (lib/wire.ts): API errors keep their
// code, and their field travels in the trailing metadata so that callers never parse it out of
// the message; kernel and unexpected errors become INTERNAL with their message.

import { Metadata, status as Status, type handleUnaryCall, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { describeIdentity, type Identity } from '../../lib/identity.js';
import { ADOPT_METADATA, FIELD_METADATA, RUN_ID, RUN_METADATA } from '../../lib/wire.js';
import { callerOf } from './caller.js';
import { ApiError, type ApiCode } from '../state/errors.js';

const CODES: Record<ApiCode, Status> = {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  ALREADY_EXISTS: Status.ALREADY_EXISTS,
  FAILED_PRECONDITION: Status.FAILED_PRECONDITION,
  NOT_FOUND: Status.NOT_FOUND,
  INTERNAL: Status.INTERNAL,
  ABORTED: Status.ABORTED,
  UNAVAILABLE: Status.UNAVAILABLE,
  PERMISSION_DENIED: Status.PERMISSION_DENIED,
};

/** Calls that change something: each gets an audit line (who, what, which object, result). */
const CHANGES = /^(Put|Delete|Create|Grow)/;

/** The object a request names: its id, or the id of the spec it carries. */
function objectOf(req: unknown): string {
  const r = req as Record<string, unknown> | null;
  if (typeof r?.id === 'string') return r.id;
  for (const v of Object.values(r ?? {})) {
    const o = v as Record<string, unknown> | null;
    if (typeof o === 'object' && o !== null) {
      if (typeof o.id === 'string') return o.id;
      if (typeof o.subnetId === 'string') return o.subnetId;
    }
  }
  return '';
}

/** The provider run a call comes from ('' for none, or one not shaped like a run id). */
function runOf(call: ServerUnaryCall<unknown, unknown>): string {
  const v = call.metadata.get(RUN_METADATA)[0];
  return typeof v === 'string' && RUN_ID.test(v) ? v : '';
}

/** The handler gets the caller's identity (a call without one never reaches it) and its provider run. */
export function unary<Req, Res>(log: Logger, name: string, fn: (req: Req, caller: Identity, run: string) => Promise<Res>): handleUnaryCall<Req, Res> {
  const audited = CHANGES.test(name);
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    let who = '';
    const start = performance.now();
    const audit = (result: string): void => {
      if (audited) log.info({ audit: { who, rpc: name, object: objectOf(call.request), result, ms: Math.round(performance.now() - start) } }, 'audit');
    };
    new Promise<Res>((resolve) => {
      const caller = callerOf(call);
      who = describeIdentity(caller);
      resolve(fn(call.request, caller, runOf(call)));
    }).then(
      (res) => {
        audit('ok');
        callback(null, res);
      },
      (e: unknown) => {
        audit(e instanceof ApiError ? e.code : 'INTERNAL');
        if (e instanceof ApiError) {
          log.info({ rpc: name, code: e.code }, e.message);
          const metadata = new Metadata();
          if (e.field) metadata.set(FIELD_METADATA, e.field);
          if (e.adopt) metadata.set(ADOPT_METADATA, e.adopt);
          callback({ code: CODES[e.code], details: e.message, metadata });
        } else {
          log.error({ rpc: name, err: e }, 'request failed');
          callback({ code: Status.INTERNAL, details: e instanceof Error ? e.message : String(e) });
        }
      },
    );
  };
}

/** A message field the caller must send. */
export function required<T>(value: T | undefined, field: string): T {
  if (value === undefined || value === null) throw new ApiError('INVALID_ARGUMENT', field, 'required');
  return value;
}
