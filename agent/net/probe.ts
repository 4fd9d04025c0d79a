// What this kernel can do, found by creating a throwaway of each kind and removing it again.

import { randomBytes } from 'node:crypto';
import { createBridge, createVethPair, createVxlan, deleteLink } from './links.js';
import { createNetns, deleteNetns } from './netns.js';
import type { Rtnl } from './rtnl.js';
import { createTapDevice } from './tap.js';
import type { Capabilities } from './types.js';

/** A name no one else uses: fits IFNAMSIZ, marked as ours, unique per process and call. */
function scratchName(tag: string): string {
  return `vxp${tag}${randomBytes(5).toString('hex')}`;
}

async function tryCreate(create: (name: string) => Promise<void> | void, remove: (name: string) => Promise<void>, tag: string): Promise<boolean> {
  const name = scratchName(tag);
  try {
    await create(name);
    return true;
  } catch {
    return false;
  } finally {
    await remove(name).catch(() => undefined);
  }
}

/** Probes the namespace `rtnl` lives in (`netns`, null for our own). */
export async function probe(rtnl: Rtnl, netns: string | null): Promise<Capabilities> {
  const del = (name: string): Promise<void> => deleteLink(rtnl, name);
  return {
    bridge: await tryCreate((n) => createBridge(rtnl, n, {}), del, 'b'),
    bridgeVlanFiltering: await tryCreate((n) => createBridge(rtnl, n, { vlanFiltering: true }), del, 'f'),
    // port 1 with a high VNI so the throwaway never clashes with a real VTEP (same VNI+port → EEXIST)
    vxlan: await tryCreate((n) => createVxlan(rtnl, n, { vni: 0xfffff0 + (randomBytes(1)[0]! % 15), local: '192.0.2.1', port: 1 }), del, 'x'),
    veth: await tryCreate((n) => createVethPair(rtnl, n, { peer: { name: `${n}p` } }), del, 'v'),
    // not persistent: the TAP disappears as soon as its fd is closed
    tun: await tryCreate((n) => createTapDevice(netns, n, false), del, 't'),
    netns: await tryCreate(
      (n) => createNetns(n),
      (n) => deleteNetns(n),
      'n',
    ),
  };
}
