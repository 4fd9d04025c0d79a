// DHCP reservations, kept by the provider: a router's dnsmasq must hand each NIC the address the
// provider allocated for it, so every NIC of the router's subnets is a reservation. After a NIC
// or router changes, the routers of the affected subnets get the full list again.

import type { Nic, Subnet } from '../../gen/vxcloud/agent/v1/network.js';
import type { DhcpReservation, Router } from '../../gen/vxcloud/agent/v1/router.js';
import { hostsHaving } from './common.js';
import type { Fleet } from './fleet.js';

export async function reservationsFor(fleet: Fleet, subnetIds: readonly string[]): Promise<DhcpReservation[]> {
  const out: DhcpReservation[] = [];
  for (const subnetId of subnetIds) {
    const { hosts } = await hostsHaving<Subnet>(fleet, (c) => c.network.getSubnet({ id: subnetId }));
    const nics = await fleet.each<Nic[]>(hosts, async (c) => (await c.network.listNics({ parentId: subnetId })).nics);
    for (const n of [...nics.values()].flat()) {
      if (n.spec!.ip !== '') out.push({ subnetId, mac: n.spec!.mac, ip: n.spec!.ip.split('/')[0]!, hostname: '' });
    }
  }
  // A stable order, so that an unchanged set is recognised as unchanged.
  return out.sort((a, b) => `${a.subnetId}/${a.ip}`.localeCompare(`${b.subnetId}/${b.ip}`));
}

const same = (a: DhcpReservation[], b: DhcpReservation[]): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Re-puts every router that serves `subnetId` with the subnet's current NICs as reservations. */
export function syncRouterReservations(fleet: Fleet, subnetId: string): Promise<void> {
  return fleet.serialize('routers', async () => {
    const routes = fleet.hostsWithRole('route');
    const listed = await fleet.each<Router[]>(routes, async (c) => (await c.router.listRouters({ parentId: '' })).routers);
    await fleet.each(routes, async (c, host) => {
      for (const r of listed.get(host) ?? []) {
        const spec = r.spec!;
        if (!spec.subnetIds.includes(subnetId)) continue;
        const reservations = await reservationsFor(fleet, spec.subnetIds);
        if (!same(reservations, spec.reservations)) await c.router.putRouter({ router: { ...spec, reservations } }, fleet.timeoutMs);
      }
    });
  });
}
