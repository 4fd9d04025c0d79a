// Kernel names and MACs of routers, derived from ids like the L2 names (agent/l2/names.ts).

import { createHash } from 'node:crypto';

/** 40 bits of SHA-256; collisions between routers of one host are refused at Put. */
function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 10);
}

/** Host ends of router legs: `vxr` + 40 bits. Not an L2 prefix, so the L2 sweep leaves them alone. */
export const LEG_PREFIX = 'vxr';
const LEG = /^vxr[0-9a-f]{10}$/;

export function routerNamespace(prefix: string, routerId: string): string {
  return `${prefix}${digest(routerId)}`;
}

export function isRouterNamespace(prefix: string, name: string): boolean {
  return name.startsWith(prefix) && /^[0-9a-f]{10}$/.test(name.slice(prefix.length));
}

/** The leg's key: a subnet id, or null for the external leg. */
function legKey(routerId: string, subnetId: string | null): string {
  return `${routerId}\0${subnetId ?? 'external'}`;
}

export function legHostDevice(routerId: string, subnetId: string | null): string {
  return `${LEG_PREFIX}${digest(legKey(routerId, subnetId))}`;
}

export function isRouterLeg(name: string): boolean {
  return LEG.test(name);
}

/** Inside the router namespace: one leg per VNI, and the external one. */
export function legIfname(vni: number | null): string {
  return vni === null ? 'ext0' : `sn${vni}`;
}

/**
 * The router's MAC on a leg: fixed, so that a rebuilt router keeps the gateway MAC that NICs have
 * cached and that the control plane has put into the VTEP tables. Locally administered unicast.
 */
export function legMac(routerId: string, subnetId: string | null): string {
  const h = createHash('sha256')
    .update(`mac\0${legKey(routerId, subnetId)}`)
    .digest();
  return ['02', ...[...h.subarray(0, 5)].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
