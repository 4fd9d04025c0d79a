// The static control plane, run by the provider for hosts configured with it: after a subnet or
// NIC changes, every static host that has the subnet gets the subnet's full VTEP table — the other
// hosts as flood targets, and the other hosts' NICs as MAC→VTEP and IP→MAC entries. Hosts under
// evpn or etcd fill their tables themselves (and refuse static ones), so they are left out.

import type { Nic, Subnet } from '../../gen/vxcloud/agent/v1/network.js';
import { hostsHaving } from './common.js';
import type { Fleet } from './fleet.js';

/**
 * `nicHost`: after a change of one NIC, its own host, whose table (the other hosts' NICs) that
 * change cannot alter — leaving it out saves a third of the Puts of a 3-host subnet per NIC.
 */
export function syncVtepTables(fleet: Fleet, subnetId: string, nicHost?: string): Promise<void> {
  // One sync per subnet at a time: the last one to start reads everything done before it.
  return fleet.serialize(`vtep:${subnetId}`, async () => {
    const { hosts: spans } = await hostsHaving<Subnet>(fleet, (c) => c.network.getSubnet({ id: subnetId }));
    const kinds = await fleet.each(spans, (_c, host) => fleet.controlPlane(host));
    const takers = spans.filter((h) => kinds.get(h) === 'static' && h !== nicHost);
    if (takers.length === 0) return;
    const nics = await fleet.each<Nic[]>(spans, async (c) => (await c.network.listNics({ parentId: subnetId })).nics);
    const vtep = (host: string): string => fleet.host(host)!.underlayAddress;
    await fleet.each(takers, (c, host) => {
      const remote = spans.filter((h) => h !== host).flatMap((h) => (nics.get(h) ?? []).map((n) => ({ host: h, nic: n.spec! })));
      return c.network.putVtepTable({
        table: {
          subnetId,
          floodVteps: spans.filter((h) => h !== host).map(vtep),
          fdb: remote.map((r) => ({ mac: r.nic.mac, vtep: vtep(r.host) })),
          neighbors: remote.filter((r) => r.nic.ip !== '').map((r) => ({ ip: r.nic.ip.split('/')[0]!, mac: r.nic.mac })),
        },
      });
    });
  });
}
