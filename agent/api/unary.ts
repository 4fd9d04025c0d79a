// Wraps a handler so that every outcome becomes a gRPC status (lib/wire.ts): API errors keep their
// code, and their field travels in the trailing metadata so that callers never parse it out of
// the message; kernel and unexpected errors become INTERNAL with their message.

import { Metadata, status as Status, type handleUnaryCall, type ServerUnaryCall, type sendUnaryData } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { FIELD_METADATA } from '../../lib/wire.js';
import { ApiError, type ApiCode } from '../state/errors.js';

const CODES: Record<ApiCode, Status> = {
  INVALID_ARGUMENT: Status.INVALID_ARGUMENT,
  ALREADY_EXISTS: Status.ALREADY_EXISTS,
  FAILED_PRECONDITION: Status.FAILED_PRECONDITION,
  NOT_FOUND: Status.NOT_FOUND,
  INTERNAL: Status.INTERNAL,
  ABORTED: Status.ABORTED,
  UNAVAILABLE: Status.UNAVAILABLE,
};


export function unary<Req, Res>(log: Logger, name: string, fn: (req: Req) => Promise<Res>): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    fn(call.request).then(
      (res) => callback(null, res),
      (e: unknown) => {
        if (e instanceof ApiError) {
          log.info({ rpc: name, code: e.code }, e.message);
          const metadata = new Metadata();
          if (e.field) metadata.set(FIELD_METADATA, e.field);
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
