// RPC latency by method and status: every unary handler of a service, timed from the call arriving
// to its answer (streams, the raft traffic between agents, are not timed per call).

import { status as Status } from '@grpc/grpc-js';
import type { AgentMetrics } from './metrics.js';

/** "OK", "NOT_FOUND", ... by code: the names users know from grpc status codes. */
const NAME_OF = new Map(Object.entries(Status).flatMap(([name, code]) => (typeof code === 'number' ? [[code, name] as const] : [])));

type Callback = (err: { code?: number } | null, ...rest: unknown[]) => void;
type Handler = (call: unknown, callback?: Callback) => unknown;

/** `impl` with every unary handler timed under "Service/Method". */
export function instrument<S extends object>(service: string, impl: S, metrics: AgentMetrics): S {
  const out: Record<string, Handler> = {};
  for (const [name, handler] of Object.entries(impl as Record<string, Handler>)) {
    const method = `${service}/${name[0]!.toUpperCase()}${name.slice(1)}`;
    out[name] = (call, callback) => {
      if (typeof callback !== 'function') return handler(call, callback);
      const end = metrics.rpcDuration.startTimer({ method });
      return handler(call, (err, ...rest) => {
        end({ code: NAME_OF.get(err ? (err.code ?? Status.UNKNOWN) : Status.OK) ?? 'UNKNOWN' });
        callback(err, ...rest);
      });
    };
  }
  return out as S;
}
