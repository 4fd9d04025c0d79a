// The `registry` section of the agent config: the etcd cluster that is the deployment's one
// authority (inventory, ownership, allocations, membership), reached over etcd's own mutual TLS.
// Absent: the host has no registry, and every VNI, MAC and address must be given by the caller.

export interface RegistryConfig {
  /** etcd client URLs: https:// with `tls`, http:// only without. */
  endpoints: string[];
  /** Key prefix of the deployment, ending in "/". */
  prefix: string;
  /** The liveness lease: a host whose agent stops shows as down this long after. */
  leaseSeconds: number;
  /** etcd's CA and this host's client pair (files); etcd's, not the agent API's, so tenants cannot reach etcd. */
  tls?: { ca: string; cert: string; key: string };
}

type Obj = Record<string, unknown>;

export function parseRegistryConfig(raw: unknown, rel: (p: string) => string, toError: (message: string) => Error): RegistryConfig | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw toError('registry: must be a mapping');
  const o = raw as Obj;
  const endpoints = o.endpoints;
  if (!Array.isArray(endpoints) || endpoints.length === 0 || endpoints.some((e) => typeof e !== 'string' || !/^https?:\/\/[^\s/]+$/.test(e))) {
    throw toError('registry.endpoints: required, a list of etcd client URLs such as "https://192.0.2.5:2379"');
  }
  const prefix = o.prefix ?? '/vxcloud/';
  if (typeof prefix !== 'string' || !/^\/([A-Za-z0-9._-]+\/)*$/.test(prefix)) throw toError('registry.prefix: a key prefix that starts and ends with "/", such as "/vxcloud/"');
  const leaseSeconds = o.leaseSeconds ?? 10;
  if (typeof leaseSeconds !== 'number' || !Number.isInteger(leaseSeconds) || leaseSeconds < 2 || leaseSeconds > 3600) throw toError('registry.leaseSeconds: a whole number from 2 to 3600');
  let tls: RegistryConfig['tls'];
  if (o.tls !== undefined) {
    const t = o.tls as Obj;
    const file = (k: string): string => {
      if (typeof t?.[k] !== 'string' || t[k] === '') throw toError(`registry.tls.${k}: required, a file path`);
      return rel(t[k] as string);
    };
    tls = { ca: file('ca'), cert: file('cert'), key: file('key') };
  }
  const https = (endpoints as string[]).filter((e) => e.startsWith('https://')).length;
  if (tls && https !== endpoints.length) throw toError('registry.endpoints: with registry.tls every endpoint must be https://');
  if (!tls && https > 0) throw toError('registry.tls: required for https:// endpoints (etcd\'s CA and this host\'s client certificate and key)');
  return { endpoints: endpoints as string[], prefix, leaseSeconds, ...(tls ? { tls } : {}) };
}
