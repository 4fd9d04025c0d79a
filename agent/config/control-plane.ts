// The `controlPlane` section of the agent config: which control plane fills the VTEP tables
// (derived from the registry, FRR's BGP EVPN, or static tables put through the API), and how FRR
// is run. Checked field by field like the rest of the config.

import { FieldError, mapping } from './fields.js';
import { isAbsolute } from 'node:path';
import { parseCidr, parseIp } from '../../lib/ipv4.js';

export const CONTROL_PLANES = ['registry', 'evpn', 'static'] as const;
export type ControlPlaneKind = (typeof CONTROL_PLANES)[number];

export interface BgpTimers {
  keepaliveSeconds: number;
  holdSeconds: number;
  /** How long a VTEP waits before retrying a reflector it could not reach. */
  connectRetrySeconds: number;
}

export interface FrrSettings {
  /** managed: the agent runs zebra and bgpd for its host; system: the host's frr service, the agent owns only its config. */
  mode: 'managed' | 'system';
  /** Where zebra, bgpd and frr-reload.py live. */
  binDir: string;
  vtysh: string;
  /** managed: pid files, vty sockets, zserv socket, logs and frr.conf; must be reachable by `user`. */
  runDir: string;
  /** managed: the user the daemons drop to. */
  user: string;
  /** system: the integrated config file the frr service reads. */
  configFile: string;
}

export interface ControlPlaneConfig {
  kind: ControlPlaneKind;
  asn: number;
  /** Underlay addresses of the route reflectors (hosts with the management role). */
  reflectors: string[];
  /** Prefixes reflectors accept VTEP sessions from; [] = the underlay interface's prefix. */
  listenRanges: string[];
  /** '' = the first reflector's address, shared by all reflectors. */
  clusterId: string;
  timers: BgpTimers;
  /** BGP update-group coalescing: lower converges faster after a start. */
  coalesceTimeMs: number;
  frr: FrrSettings;
}

function int(v: unknown, path: string, fallback: number, min: number, max: number): number {
  const n = v ?? fallback;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) throw new FieldError(`${path}: a whole number from ${min} to ${max}`);
  return n;
}

function absPath(v: unknown, path: string, fallback: string): string {
  const p = v ?? fallback;
  if (typeof p !== 'string' || !isAbsolute(p)) throw new FieldError(`${path}: an absolute path`);
  return p;
}

function list(v: unknown, path: string, check: (s: string) => boolean, what: string): string[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new FieldError(`${path}: a list of ${what}`);
  v.forEach((x, i) => {
    if (typeof x !== 'string' || !check(x)) throw new FieldError(`${path}[${i}]: "${String(x)}" is not ${what}`);
  });
  return v as string[];
}

const isIp = (s: string): boolean => parseIp(s) !== undefined;

/**
 * Parses `controlPlane`. Absent means `registry` on a host with a registry and `static` on one
 * without. A mistake becomes `toError(message)`, the message starting with the field's path.
 */
export function parseControlPlane(raw: unknown, hasRegistry: boolean, toError: (message: string) => Error): ControlPlaneConfig {
  try {
    return parse(raw, hasRegistry);
  } catch (e) {
    throw e instanceof FieldError ? toError(e.message) : e;
  }
}

function parse(raw: unknown, hasRegistry: boolean): ControlPlaneConfig {
  const o = mapping(raw, 'controlPlane');
  const kind = (o.kind ?? (hasRegistry ? 'registry' : 'static')) as ControlPlaneKind;
  if (kind === ('etcd' as ControlPlaneKind) || o.etcd !== undefined)
    throw new FieldError(
      'controlPlane.etcd: the etcd control plane is now the registry: move the endpoints to the top-level registry section and use kind registry',
    );
  if (!CONTROL_PLANES.includes(kind)) throw new FieldError(`controlPlane.kind: one of ${CONTROL_PLANES.join(', ')}`);
  if (kind === 'registry' && !hasRegistry) throw new FieldError('controlPlane.kind: registry needs the top-level registry section (the etcd endpoints)');
  const reflectors = list(o.reflectors, 'controlPlane.reflectors', isIp, 'an IPv4 address');
  if (kind === 'evpn' && reflectors.length === 0)
    throw new FieldError('controlPlane.reflectors: required for evpn, the underlay addresses of the route reflectors (two or more for redundancy)');
  const clusterId = o.clusterId ?? '';
  if (typeof clusterId !== 'string' || (clusterId !== '' && !isIp(clusterId))) throw new FieldError('controlPlane.clusterId: an IPv4 address');
  const timers = mapping(o.timers, 'controlPlane.timers');
  const keepaliveSeconds = int(timers.keepaliveSeconds, 'controlPlane.timers.keepaliveSeconds', 3, 1, 65535);
  const holdSeconds = int(timers.holdSeconds, 'controlPlane.timers.holdSeconds', 9, 3, 65535);
  if (holdSeconds < 3 * keepaliveSeconds) throw new FieldError('controlPlane.timers.holdSeconds: at least three keepalives long');
  const frr = mapping(o.frr, 'controlPlane.frr');
  const mode = frr.mode ?? 'managed';
  if (mode !== 'managed' && mode !== 'system') throw new FieldError('controlPlane.frr.mode: managed or system');
  const user = frr.user ?? 'frr';
  if (typeof user !== 'string' || !/^[a-z_][a-z0-9_-]{0,31}$/.test(user)) throw new FieldError('controlPlane.frr.user: a user name');
  return {
    kind,
    asn: int(o.asn, 'controlPlane.asn', 65000, 1, 4294967295),
    reflectors,
    listenRanges: list(o.listenRanges, 'controlPlane.listenRanges', (s) => parseCidr(s) !== undefined, 'an IPv4 prefix such as 192.0.2.0/24'),
    clusterId,
    timers: { keepaliveSeconds, holdSeconds, connectRetrySeconds: int(timers.connectRetrySeconds, 'controlPlane.timers.connectRetrySeconds', 10, 1, 65535) },
    coalesceTimeMs: int(o.coalesceTimeMs, 'controlPlane.coalesceTimeMs', 100, 0, 4294967295),
    frr: {
      mode,
      binDir: absPath(frr.binDir, 'controlPlane.frr.binDir', '/usr/lib/frr'),
      vtysh: absPath(frr.vtysh, 'controlPlane.frr.vtysh', '/usr/bin/vtysh'),
      runDir: absPath(frr.runDir, 'controlPlane.frr.runDir', '/run/vxcloud/frr'),
      user,
      configFile: absPath(frr.configFile, 'controlPlane.frr.configFile', '/etc/frr/frr.conf'),
    },
  };
}
