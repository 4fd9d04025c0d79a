import { getSystemErrorName } from 'node:util';
import { NetError } from './types.js';

/** 'EEXIST' for 17; the number itself when libuv has no name for it. */
export function errnoName(errno: number): string {
  // libuv calls 95 ENOTSUP; the kernel (and iproute2's messages) mean EOPNOTSUPP.
  if (Math.abs(errno) === 95) return 'EOPNOTSUPP';
  const name = getSystemErrorName(-Math.abs(errno));
  return /^E[A-Z0-9]+$/.test(name) ? name : `errno ${Math.abs(errno)}`;
}

/** Anything thrown below agent/net (ErrnoException, fs errors, NetError) as a NetError. */
export function toNetError(err: unknown, operation: string, object: string): NetError {
  if (err instanceof NetError) return err;
  const e = err as { code?: unknown; errno?: unknown; message?: unknown };
  if (typeof e?.errno === 'number') return new NetError(errnoName(e.errno), operation, object);
  if (typeof e?.code === 'string' && /^E[A-Z0-9]+$/.test(e.code)) return new NetError(e.code, operation, object);
  return new NetError('EIO', operation, object, String(e?.message ?? err));
}
