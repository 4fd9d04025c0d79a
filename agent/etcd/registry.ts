// What agents write under the etcd prefix, and the VTEP tables a host derives from what the
// others wrote. Pure: agent/etcd/control-plane.ts moves these values to and from etcd.
//
//   PREFIX hosts/NAME       {"vtep":"192.0.2.11"}                               membership
//   PREFIX vni/VNI/NAME     {"vtep":"192.0.2.11","nics":[{"mac":..,"ip":..}]}   a host's part of a VNI
//
// Every key of a host hangs on that host's lease, so a host that stops renewing it disappears from
// the others' tables when the lease expires. One key per host and VNI keeps a VTEP and its
// bindings consistent with each other: a watcher never sees the MACs of a VTEP it lacks.

import { checkMac } from '../../lib/validation.js';
import { parseIp } from '../../lib/ipv4.js';
import type { NicRecord, SubnetRecord, VtepTableRecord } from '../state/model.js';

/** A VNI's table as the control plane fills it; the reconciler converges the subnet of that VNI to it. */
export type PlaneTable = Omit<VtepTableRecord, 'subnet_id'>;

export interface Binding {
  mac: string;
  /** Without prefix length; '' for a NIC without a static address. */
  ip: string;
}

interface VniValue {
  vtep: string;
  nics: Binding[];
}

export interface Member {
  name: string;
  vtep: string;
  vnis: number[];
  macs: number;
}

export interface View {
  members: Member[];
  /** Remote entries per VNI: the other hosts only. */
  tables: Map<number, PlaneTable>;
  /** Keys that did not parse, as "key: why" (another writer, or a newer agent). */
  malformed: string[];
}

const HOST_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const hostKey = (prefix: string, host: string): string => `${prefix}hosts/${host}`;
export const vniKey = (prefix: string, vni: number, host: string): string => `${prefix}vni/${vni}/${host}`;

/** The keys and values this host owns: its membership and, per local subnet, its VTEP and NICs. */
export function registrations(prefix: string, host: string, vtep: string, subnets: readonly SubnetRecord[], nics: readonly NicRecord[]): Map<string, string> {
  const out = new Map<string, string>([[hostKey(prefix, host), JSON.stringify({ vtep })]]);
  for (const s of subnets) {
    const bindings = nics.filter((n) => n.subnet_id === s.id && n.mac !== '').map((n): Binding => ({ mac: n.mac, ip: n.ip.split('/')[0]! }));
    bindings.sort((a, b) => a.mac.localeCompare(b.mac));
    out.set(vniKey(prefix, s.vni, host), JSON.stringify({ vtep, nics: bindings } satisfies VniValue));
  }
  return out;
}

const isIp = (s: unknown): s is string => typeof s === 'string' && parseIp(s) !== undefined;

function parseVni(raw: string): VniValue | string {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return 'not JSON';
  }
  const o = v as Partial<VniValue>;
  if (!isIp(o?.vtep)) return 'vtep: not an IPv4 address';
  if (!Array.isArray(o.nics)) return 'nics: not a list';
  for (const [i, b] of o.nics.entries()) {
    if (typeof b?.mac !== 'string' || checkMac('mac', b.mac).length > 0) return `nics[${i}].mac: not a unicast MAC address`;
    if (b.ip !== '' && !isIp(b.ip)) return `nics[${i}].ip: not an IPv4 address`;
  }
  return { vtep: o.vtep, nics: o.nics };
}

/** The tables `self` should hold, from every key under `prefix` (values as etcd returned them). */
export function viewOf(prefix: string, self: string, kvs: ReadonlyMap<string, string>): View {
  const malformed: string[] = [];
  const members = new Map<string, Member>();
  const tables = new Map<number, PlaneTable>();
  const member = (name: string, vtep: string): Member => {
    const m = members.get(name) ?? { name, vtep, vnis: [], macs: 0 };
    members.set(name, m);
    return m;
  };
  for (const [key, raw] of [...kvs].sort(([a], [b]) => a.localeCompare(b))) {
    const rest = key.slice(prefix.length).split('/');
    if (rest[0] === 'hosts' && rest.length === 2 && HOST_NAME.test(rest[1]!)) {
      const vtep = (() => {
        try {
          return (JSON.parse(raw) as { vtep?: unknown }).vtep;
        } catch {
          return undefined;
        }
      })();
      if (isIp(vtep)) member(rest[1]!, vtep).vtep = vtep;
      else malformed.push(`${key}: vtep: not an IPv4 address`);
      continue;
    }
    const vni = Number(rest[1]);
    if (rest[0] !== 'vni' || rest.length !== 3 || !Number.isInteger(vni) || vni < 1 || vni > 0xffffff || !HOST_NAME.test(rest[2]!)) {
      malformed.push(`${key}: not a key vxcloud writes`);
      continue;
    }
    const v = parseVni(raw);
    if (typeof v === 'string') {
      malformed.push(`${key}: ${v}`);
      continue;
    }
    const host = rest[2]!;
    const m = member(host, v.vtep);
    m.vnis.push(vni);
    m.macs += v.nics.length;
    if (host === self) continue;
    const t = tables.get(vni) ?? { flood_vteps: [], fdb: [], neighbors: [] };
    tables.set(vni, t);
    if (!t.flood_vteps.includes(v.vtep)) t.flood_vteps.push(v.vtep);
    // A MAC or IP on two hosts at once (a NIC moving) keeps its first: the kernel holds one of each.
    for (const b of v.nics) {
      if (!t.fdb.some((e) => e.mac === b.mac)) t.fdb.push({ mac: b.mac, vtep: v.vtep });
      if (b.ip !== '' && !t.neighbors.some((e) => e.ip === b.ip)) t.neighbors.push({ ip: b.ip, mac: b.mac });
    }
  }
  return { members: [...members.values()], tables, malformed };
}
