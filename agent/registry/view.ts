// What a host derives from the registry: the VTEP tables of its subnets (the registry control
// plane) and the DHCP reservations of its routers' subnets. Pure: agent/registry/registry.ts keeps
// the watched keys and hands them here.

import type { VtepTableRecord } from '../state/model.js';
import { parseHost, parseObject, type HostRecord, type Keys, type NicObject, type RegistryObject } from './model.js';

/** A VNI's table as the control plane fills it; the reconciler converges the subnet of that VNI to it. */
export type PlaneTable = Omit<VtepTableRecord, 'subnet_id'>;

export interface Reservation {
  mac: string;
  /** Without prefix length. */
  ip: string;
}

export interface RegistryView {
  hosts: Map<string, HostRecord>;
  alive: Set<string>;
  objects: Map<string, RegistryObject>;
  /** NICs per subnet id. */
  nics: Map<string, { id: string; nic: NicObject }[]>;
  /** Ids deleted lately, and whose they were. */
  deleted: Map<string, string>;
  /** Keys that did not parse, as "key: why" (another writer, or a newer agent). */
  malformed: string[];
}

function tombstoneTenant(raw: string): string {
  try {
    const tenant = (JSON.parse(raw) as { tenant?: unknown }).tenant;
    return typeof tenant === 'string' ? tenant : '';
  } catch {
    return '';
  }
}

export function viewOf(k: Keys, kvs: ReadonlyMap<string, string>): RegistryView {
  const v: RegistryView = { hosts: new Map(), alive: new Set(), objects: new Map(), nics: new Map(), deleted: new Map(), malformed: [] };
  const deleted = k.deleted('');
  for (const [key, raw] of kvs) {
    if (key.startsWith(k.hosts)) {
      const h = parseHost(raw);
      if (h) v.hosts.set(h.name, h);
      else v.malformed.push(`${key}: not a host record`);
    } else if (key.startsWith(k.alives)) v.alive.add(key.slice(k.alives.length));
    else if (key.startsWith(deleted)) v.deleted.set(key.slice(deleted.length), tombstoneTenant(raw));
    else if (key.startsWith(k.objects)) {
      const id = key.slice(k.objects.length);
      const o = parseObject(raw);
      if (!o) {
        v.malformed.push(`${key}: not an object record`);
        continue;
      }
      v.objects.set(id, o);
      if (o.kind === 'nic') {
        const list = v.nics.get(o.subnet) ?? [];
        list.push({ id, nic: o });
        v.nics.set(o.subnet, list);
      }
    }
  }
  return v;
}

/** Remote entries of every subnet `self` spans, by VNI: the other hosts as flood targets, their NICs. */
export function vtepTables(v: RegistryView, self: string): Map<number, PlaneTable> {
  const out = new Map<number, PlaneTable>();
  const vtep = (host: string): string | undefined => v.hosts.get(host)?.underlay;
  for (const [id, o] of v.objects) {
    if (o.kind !== 'subnet' || !o.hosts.includes(self)) continue;
    const t: PlaneTable = { flood_vteps: [], fdb: [], neighbors: [] };
    for (const h of o.hosts) {
      const a = vtep(h);
      if (h !== self && a !== undefined && !t.flood_vteps.includes(a)) t.flood_vteps.push(a);
    }
    for (const { nic } of [...(v.nics.get(id) ?? [])].sort((a, b) => a.nic.mac.localeCompare(b.nic.mac))) {
      const a = vtep(nic.host);
      if (nic.host === self || a === undefined) continue;
      t.fdb.push({ mac: nic.mac, vtep: a });
      if (nic.ip !== '') t.neighbors.push({ ip: nic.ip.split('/')[0]!, mac: nic.mac });
    }
    out.set(o.vni, t);
  }
  return out;
}

/** Every NIC address of a subnet, which its router's DHCP server hands out to that NIC alone. */
export function reservations(v: RegistryView, subnetId: string): Reservation[] {
  return (v.nics.get(subnetId) ?? [])
    .filter(({ nic }) => nic.ip !== '')
    .map(({ nic }) => ({ mac: nic.mac, ip: nic.ip.split('/')[0]! }))
    .sort((a, b) => a.ip.localeCompare(b.ip, undefined, { numeric: true }));
}
