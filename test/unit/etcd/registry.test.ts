// The etcd key layout and the tables a host derives from it, without etcd (pure functions).

import { describe, expect, it } from 'vitest';
import { registrations, viewOf } from '../../../agent/etcd/registry.js';
import type { NicRecord, SubnetRecord } from '../../../agent/state/model.js';

const P = '/vx/';
const subnet = (id: string, vni: number): SubnetRecord => ({ id, vpc_id: 'v', name: id, cidr: '198.18.1.0/24', vni, vlan: 0, gateway: '' }) as SubnetRecord;
const nic = (id: string, subnet_id: string, mac: string, ip: string): NicRecord => ({ id, subnet_id, kind: 'veth', mac, ip, namespace: id, create_namespace: true, ifname: 'eth0' }) as NicRecord;

describe('etcd registry', () => {
  it('registers membership and, per local subnet, the VTEP with its NICs (a subnet without NICs still floods)', () => {
    const regs = registrations(P, 'h1', '192.0.2.11', [subnet('a', 10), subnet('b', 20)], [nic('n2', 'a', '02:00:00:00:00:02', ''), nic('n1', 'a', '02:00:00:00:00:01', '198.18.1.5/24')]);
    expect(Object.fromEntries(regs)).toEqual({
      '/vx/hosts/h1': '{"vtep":"192.0.2.11"}',
      '/vx/vni/10/h1': '{"vtep":"192.0.2.11","nics":[{"mac":"02:00:00:00:00:01","ip":"198.18.1.5"},{"mac":"02:00:00:00:00:02","ip":""}]}',
      '/vx/vni/20/h1': '{"vtep":"192.0.2.11","nics":[]}',
    });
  });

  it("derives the other hosts' tables, leaving out its own entries and skipping what does not parse", () => {
    const kvs = new Map([
      ...registrations(P, 'h1', '192.0.2.11', [subnet('a', 10)], [nic('n1', 'a', '02:00:00:00:00:01', '198.18.1.5/24')]),
      ...registrations(P, 'h2', '192.0.2.12', [subnet('a', 10)], [nic('n2', 'a', '02:00:00:00:00:02', '198.18.1.6/24'), nic('n3', 'a', '02:00:00:00:00:03', '')]),
      ...registrations(P, 'h3', '192.0.2.13', [subnet('a', 10)], []),
      ['/vx/vni/10/h4', '{"vtep":"192.0.2.14","nics":[{"mac":"01:00:5e:00:00:01","ip":""}]}'],
      ['/vx/vni/x/h5', '{}'],
    ]);
    const v = viewOf(P, 'h1', kvs);
    expect(v.tables.get(10)).toEqual({
      flood_vteps: ['192.0.2.12', '192.0.2.13'],
      fdb: [
        { mac: '02:00:00:00:00:02', vtep: '192.0.2.12' },
        { mac: '02:00:00:00:00:03', vtep: '192.0.2.12' },
      ],
      neighbors: [{ ip: '198.18.1.6', mac: '02:00:00:00:00:02' }],
    });
    expect(v.members.map((m) => [m.name, m.vtep, m.vnis, m.macs])).toEqual([
      ['h1', '192.0.2.11', [10], 1],
      ['h2', '192.0.2.12', [10], 2],
      ['h3', '192.0.2.13', [10], 0],
    ]);
    expect(v.malformed).toEqual(['/vx/vni/10/h4: nics[0].mac: not a unicast MAC address', '/vx/vni/x/h5: not a key vxcloud writes']);
  });

  it('a MAC registered by two hosts at once (a NIC moving) points at one VTEP only', () => {
    const kvs = new Map([
      ...registrations(P, 'h2', '192.0.2.12', [subnet('a', 10)], [nic('m', 'a', '02:00:00:00:00:09', '198.18.1.9/24')]),
      ...registrations(P, 'h3', '192.0.2.13', [subnet('a', 10)], [nic('m2', 'a', '02:00:00:00:00:09', '198.18.1.9/24')]),
    ]);
    const t = viewOf(P, 'h1', kvs).tables.get(10)!;
    expect(t.fdb).toEqual([{ mac: '02:00:00:00:00:09', vtep: '192.0.2.12' }]);
    expect(t.neighbors).toHaveLength(1);
  });
});
