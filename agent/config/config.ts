// vxcloud-agent's configuration file (YAML), checked field by field so that a mistake is reported
// with its path and what to write instead.

import { readFile } from 'node:fs/promises';
import { resolve, dirname } from 'node:path';
import { parse } from 'yaml';
import { parseIp } from '../../lib/ipv4.js';
import { parseControlPlane, type ControlPlaneConfig } from './control-plane.js';
import { parseRegistryConfig, type RegistryConfig } from './registry.js';
import { parseRouterConfig, type RouterConfig } from './router.js';

export const ROLES = ['compute', 'route', 'management', 'storage'] as const;
export type Role = (typeof ROLES)[number];

/** `auto`: VLAN-aware where the kernel has bridge VLAN filtering, bridge-per-subnet elsewhere. */
export const DATAPLANE_SETTINGS = ['auto', 'bridge-per-subnet', 'vlan-aware'] as const;
export type DataplaneSetting = (typeof DATAPLANE_SETTINGS)[number];

/**
 * NBD on storage hosts: `off` (plaintext only), `optional` (STARTTLS offered), `required` (plaintext
 * refused with NBD_REP_ERR_TLS_REQD). With TLS the server presents `tls.cert` and clients must
 * present a certificate of the deployment CA `tls.ca`, as on the agent API. Applies to every
 * `nbdListen` address, unix sockets included.
 */
/**
 * How VTEPs carry frames: `vxlan`, kernel vxlan devices; `tap`, a TAP device per subnet whose
 * frames the agent encapsulates in userspace (agent/vtep), which answers ARP for known addresses.
 */
export const TRANSPORTS = ['vxlan', 'tap'] as const;
export type Transport = (typeof TRANSPORTS)[number];

/** The raft link's default port (agent/sbs/volume/link-server.ts). */
export const RAFT_PORT = 7444;

export const NBD_TLS_SETTINGS = ['off', 'optional', 'required'] as const;
export type NbdTlsSetting = (typeof NBD_TLS_SETTINGS)[number];

export interface AgentConfig {
  host: { name: string; roles: Role[] };
  underlay: { interface: string; address: string };
  /** gRPC listen addresses: `unix:///path` or `host:port`. */
  listen: string[];
  tls: { ca: string; cert: string; key: string };
  stateDir: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  reconcile: { intervalSeconds: number };
  vxlanPort: number;
  dataplane: DataplaneSetting;
  transport: Transport;
  /** The deployment's registry; undefined on a host without one (see registry.ts). */
  registry?: RegistryConfig;
  controlPlane: ControlPlaneConfig;
  /** Route hosts: the external network and namespaces of routers (see router.ts). */
  router: RouterConfig;
  /**
   * Storage hosts: where volume replicas live, the NBD listen addresses (`host:port`, `unix:///path`)
   * and their TLS policy; `rebuildAfterSeconds` (0: never): a volume whose leader is here gets a
   * new replica on a spare storage host when one of its hosts was silent that long.
   */
  /** `raftListen`: where the raft link listens (default the underlay address, port 7444); peers dial its TCP address. */
  storage?: { dataDir: string; nbdListen: string[]; nbdTls: NbdTlsSetting; raftListen: string[]; rebuildAfterSeconds: number };
  /** Prometheus metrics over HTTPS with the API's mutual TLS (`host:port`, `unix:///path`); none when absent. */
  metrics?: { listen: string[] };
}

export class ConfigError extends Error {}

/** A TCP or unix socket listen address of the NBD and metrics servers. */
const LISTEN = /^(unix:\/\/\/.+|[^:]+:\d{1,5})$/;

type Obj = Record<string, unknown>;

function section(o: Obj, key: string, path: string): Obj {
  const v = o[key];
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`${path}${key}: must be a mapping`);
  return v as Obj;
}

function str(o: Obj, key: string, path: string, fallback?: string): string {
  const v = o[key] ?? fallback;
  if (typeof v !== 'string' || v === '') throw new ConfigError(`${path}${key}: required, a non-empty string`);
  return v;
}

export function parseConfig(text: string, baseDir: string): AgentConfig {
  const raw = (parse(text) ?? {}) as Obj;
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError('the config must be a YAML mapping');
  const host = section(raw, 'host', '');
  const underlay = section(raw, 'underlay', '');
  const tls = section(raw, 'tls', '');
  const reconcile = section(raw, 'reconcile', '');
  const rel = (p: string): string => resolve(baseDir, p);

  const name = str(host, 'name', 'host.');
  if (!/^[a-z0-9]([a-z0-9-]{0,62})$/.test(name)) throw new ConfigError(`host.name: "${name}" must be 1-63 lower-case letters, digits or '-'`);
  const roles = host.roles ?? ['compute'];
  if (!Array.isArray(roles) || roles.some((r) => !ROLES.includes(r as Role))) {
    throw new ConfigError(`host.roles: must be a list of ${ROLES.join(', ')}`);
  }
  const address = str(underlay, 'address', 'underlay.');
  if (parseIp(address) === undefined) throw new ConfigError(`underlay.address: "${address}" is not an IPv4 address`);
  const listen = raw.listen;
  if (!Array.isArray(listen) || listen.length === 0 || listen.some((l) => typeof l !== 'string' || l === '')) {
    throw new ConfigError('listen: required, a list of addresses such as "unix:///run/vxcloud/agent.sock" or "192.0.2.11:7443"');
  }
  const logLevel = (raw.logLevel ?? 'info') as AgentConfig['logLevel'];
  if (!['trace', 'debug', 'info', 'warn', 'error'].includes(logLevel)) throw new ConfigError('logLevel: one of trace, debug, info, warn, error');
  const interval = reconcile.intervalSeconds ?? 10;
  if (typeof interval !== 'number' || !(interval > 0)) throw new ConfigError('reconcile.intervalSeconds: a positive number of seconds');
  const vxlanPort = raw.vxlanPort ?? 4789;
  if (typeof vxlanPort !== 'number' || !Number.isInteger(vxlanPort) || vxlanPort < 1 || vxlanPort > 65535)
    throw new ConfigError('vxlanPort: a UDP port, 1..65535');
  const dataplane = raw.dataplane ?? 'auto';
  if (!DATAPLANE_SETTINGS.includes(dataplane as DataplaneSetting)) throw new ConfigError(`dataplane: one of ${DATAPLANE_SETTINGS.join(', ')}`);
  const transport = raw.transport ?? 'vxlan';
  if (!TRANSPORTS.includes(transport as Transport)) throw new ConfigError(`transport: one of ${TRANSPORTS.join(', ')}`);
  const registry = parseRegistryConfig(raw.registry, rel, (m) => new ConfigError(m));
  if (registry?.managed) {
    const self = registry.managed.cluster.find((c) => c.name === name);
    if (!self) throw new ConfigError(`registry.managed.cluster: names no member "${name}" (host.name): add ${name}=https://${address}:2380`);
    if (new URL(self.peerUrl).hostname !== address)
      throw new ConfigError(
        `registry.managed.cluster: member ${name} must be at this host's underlay address ${address}, not ${new URL(self.peerUrl).hostname}`,
      );
  }

  return {
    host: { name, roles: roles as Role[] },
    underlay: { interface: str(underlay, 'interface', 'underlay.'), address },
    listen: listen as string[],
    tls: { ca: rel(str(tls, 'ca', 'tls.')), cert: rel(str(tls, 'cert', 'tls.')), key: rel(str(tls, 'key', 'tls.')) },
    stateDir: rel(str(raw, 'stateDir', '')),
    logLevel,
    reconcile: { intervalSeconds: interval },
    vxlanPort,
    dataplane: dataplane as DataplaneSetting,
    transport: transport as Transport,
    ...(registry ? { registry } : {}),
    controlPlane: parseControlPlane(raw.controlPlane, registry !== undefined, (m) => new ConfigError(m)),
    router: parseRouterConfig(raw.router, (m) => new ConfigError(m)),
    ...parseStorage(raw, rel, raw.registry !== undefined, address),
    ...parseMetrics(raw),
  };
}

function parseMetrics(raw: Obj): Pick<AgentConfig, 'metrics'> {
  if (raw.metrics === undefined) return {};
  const listen = section(raw, 'metrics', '').listen;
  if (!Array.isArray(listen) || listen.length === 0 || listen.some((l) => typeof l !== 'string' || !LISTEN.test(l))) {
    throw new ConfigError('metrics.listen: a list of "host:port" (e.g. "192.0.2.11:9464") or "unix:///path" addresses');
  }
  return { metrics: { listen: listen as string[] } };
}

function parseStorage(raw: Obj, rel: (p: string) => string, registry: boolean, underlayAddress: string): Pick<AgentConfig, 'storage'> {
  if (raw.storage === undefined) return {};
  const s = section(raw, 'storage', '');
  const nbdListen = s.nbdListen ?? [];
  if (!Array.isArray(nbdListen) || nbdListen.some((l) => typeof l !== 'string' || !LISTEN.test(l))) {
    throw new ConfigError('storage.nbdListen: a list of "host:port" (e.g. "192.0.2.11:10809") or "unix:///path" addresses');
  }
  const raftListen = s.raftListen ?? [`${underlayAddress}:${RAFT_PORT}`];
  if (
    !Array.isArray(raftListen) ||
    raftListen.some((l) => typeof l !== 'string' || !LISTEN.test(l)) ||
    !raftListen.some((l) => !(l as string).startsWith('unix://'))
  ) {
    throw new ConfigError(
      `storage.raftListen: a list of addresses with one "host:port" other storage hosts reach (default ["${underlayAddress}:${RAFT_PORT}"]), and "unix:///path" ones if wanted`,
    );
  }
  // Default off: what agents did before the setting existed.
  const nbdTls = s.nbdTls ?? 'off';
  if (!NBD_TLS_SETTINGS.includes(nbdTls as NbdTlsSetting)) throw new ConfigError('storage.nbdTls: must be off, optional or required');
  const rebuildAfterSeconds = s.rebuildAfterSeconds ?? 0;
  if (typeof rebuildAfterSeconds !== 'number' || !(rebuildAfterSeconds >= 0)) {
    throw new ConfigError('storage.rebuildAfterSeconds: a number of seconds, 0 (never rebuild on its own) or more (e.g. 600)');
  }
  // The spare hosts and whether they are up come from the registry's inventory.
  if (rebuildAfterSeconds > 0 && !registry)
    throw new ConfigError('storage.rebuildAfterSeconds: rebuilding needs a registry (the registry section) to find spare storage hosts; set it to 0');
  return {
    storage: {
      dataDir: rel(str(s, 'dataDir', 'storage.')),
      nbdListen: nbdListen as string[],
      nbdTls: nbdTls as NbdTlsSetting,
      raftListen: raftListen as string[],
      rebuildAfterSeconds,
    },
  };
}

export async function loadConfig(path: string): Promise<AgentConfig> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    throw new ConfigError(`${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  });
  try {
    return parseConfig(text, dirname(resolve(path)));
  } catch (e) {
    throw new ConfigError(`${path}: ${(e as Error).message}`);
  }
}
