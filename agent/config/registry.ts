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
  /** This agent runs a member of the registry's etcd (a management host), as it runs FRR. */
  managed?: ManagedMember;
}

export interface ManagedMember {
  /** The member's data: keep it across restarts (it is the member's identity and its copy). */
  dataDir: string;
  /** Every member as NAME=https://ADDRESS:2380, this host's name among them (etcd's initial cluster). */
  cluster: { name: string; peerUrl: string }[];
  /** The member's certificate and key, of the registry's CA (registry.tls.ca), for clients and peers. */
  cert: string;
  key: string;
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
  if (typeof prefix !== 'string' || !/^\/([A-Za-z0-9._-]+\/)*$/.test(prefix))
    throw toError('registry.prefix: a key prefix that starts and ends with "/", such as "/vxcloud/"');
  const leaseSeconds = o.leaseSeconds ?? 10;
  if (typeof leaseSeconds !== 'number' || !Number.isInteger(leaseSeconds) || leaseSeconds < 2 || leaseSeconds > 3600)
    throw toError('registry.leaseSeconds: a whole number from 2 to 3600');
  let tls: RegistryConfig['tls'];
  if (o.tls !== undefined) {
    const t = o.tls as Obj;
    const file = (k: string): string => {
      if (typeof t?.[k] !== 'string' || t[k] === '') throw toError(`registry.tls.${k}: required, a file path`);
      return rel(t[k]);
    };
    tls = { ca: file('ca'), cert: file('cert'), key: file('key') };
  }
  const https = (endpoints as string[]).filter((e) => e.startsWith('https://')).length;
  if (tls && https !== endpoints.length) throw toError('registry.endpoints: with registry.tls every endpoint must be https://');
  if (!tls && https > 0) throw toError("registry.tls: required for https:// endpoints (etcd's CA and this host's client certificate and key)");
  const managed = o.managed === undefined ? undefined : parseManaged(o.managed, tls, rel, toError);
  return { endpoints: endpoints as string[], prefix, leaseSeconds, ...(tls ? { tls } : {}), ...(managed ? { managed } : {}) };
}

const MEMBER = /^([a-z0-9][a-z0-9-]{0,62})=(https:\/\/[^\s/,]+:\d+)$/;

function parseManaged(raw: unknown, tls: RegistryConfig['tls'], rel: (p: string) => string, toError: (message: string) => Error): ManagedMember {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw toError('registry.managed: must be a mapping (dataDir, cluster, cert, key)');
  if (!tls) throw toError('registry.managed: needs registry.tls — a managed member serves clients and peers over mutual TLS only');
  const m = raw as Obj;
  const str = (k: string, example: string): string => {
    if (typeof m[k] !== 'string' || m[k] === '') throw toError(`registry.managed.${k}: required, ${example}`);
    return m[k];
  };
  const cluster = m.cluster;
  if (!Array.isArray(cluster) || cluster.length === 0 || cluster.some((c) => typeof c !== 'string' || !MEMBER.test(c))) {
    throw toError('registry.managed.cluster: required, every member as NAME=https://ADDRESS:2380, e.g. ["h1=https://192.0.2.11:2380"]');
  }
  return {
    dataDir: rel(str('dataDir', 'a directory such as /var/lib/vxcloud/etcd')),
    cluster: (cluster as string[]).map((c) => {
      const [, name, peerUrl] = MEMBER.exec(c)!;
      return { name: name!, peerUrl: peerUrl! };
    }),
    cert: rel(str('cert', "the member's certificate file, of the registry's CA")),
    key: rel(str('key', "the member's key file")),
  };
}
