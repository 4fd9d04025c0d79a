// Bad input is refused with the right code and the field named, and nothing is created.

import { execFileSync } from 'node:child_process';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { NicKind, type NicSpec, type SubnetSpec } from '../../../gen/vxcloud/agent/v1/network.js';
import { hostLinks, startLab, type TestLab } from '../../harness/lab.js';

let t: TestLab;
const okSubnet: SubnetSpec = { id: 'good', vpcId: 'v', name: 'good', cidr: '198.18.1.0/24', vni: 100, vlan: 0, gateway: '' };
const okNic: NicSpec = {
  id: 'nic',
  subnetId: 'good',
  kind: NicKind.NIC_KIND_VETH,
  mac: '02:00:00:00:00:01',
  ip: '198.18.1.10/24',
  namespace: 'x',
  createNamespace: true,
  ifname: 'eth0',
  dhcp: false,
  filter: undefined,
};

beforeAll(async () => {
  t = await startLab({ hosts: 1, controlPlane: 'static' });
  const c = t.client('h1').network;
  await c.putVpc({ vpc: { id: 'v', name: 'v', tenant: 't', cidr: '198.18.0.0/16' } });
  await c.putSubnet({ subnet: okSubnet });
});
afterAll(async () => {
  await t?.down();
});

interface Case {
  what: string;
  call: () => Promise<unknown>;
  code: status;
  field: string;
}

const cases = (): Case[] => {
  const c = t.client('h1').network;
  const subnet = (s: Partial<SubnetSpec>) => () => c.putSubnet({ subnet: { ...okSubnet, id: 'new', vni: 101, cidr: '198.18.2.0/24', ...s } });
  const nic = (n: Partial<NicSpec>) => () => c.putNic({ nic: { ...okNic, namespace: `${t.lab.name}-x`, ...n } });
  return [
    {
      what: 'VPC CIDR syntax',
      call: () => c.putVpc({ vpc: { id: 'v2', name: '', tenant: '', cidr: '198.18.0.0/33' } }),
      code: status.INVALID_ARGUMENT,
      field: 'cidr',
    },
    {
      what: 'VPC CIDR with host bits',
      call: () => c.putVpc({ vpc: { id: 'v2', name: '', tenant: '', cidr: '198.18.0.1/16' } }),
      code: status.INVALID_ARGUMENT,
      field: 'cidr',
    },
    { what: 'subnet CIDR syntax', call: subnet({ cidr: 'nonsense' }), code: status.INVALID_ARGUMENT, field: 'cidr' },
    { what: 'subnet outside its VPC', call: subnet({ cidr: '198.20.0.0/24' }), code: status.INVALID_ARGUMENT, field: 'cidr' },
    { what: 'overlapping subnets in one VPC', call: subnet({ cidr: '198.18.1.128/25' }), code: status.ALREADY_EXISTS, field: 'cidr' },
    { what: 'VNI above 24 bits', call: subnet({ vni: 16_777_216 }), code: status.INVALID_ARGUMENT, field: 'vni' },
    { what: 'VNI already used on the host', call: subnet({ vni: 100 }), code: status.ALREADY_EXISTS, field: 'vni' },
    { what: 'VLAN out of range', call: subnet({ vlan: 4095 }), code: status.INVALID_ARGUMENT, field: 'vlan' },
    { what: 'gateway outside the subnet', call: subnet({ gateway: '198.18.9.1' }), code: status.INVALID_ARGUMENT, field: 'gateway' },
    { what: 'subnet of a missing VPC', call: subnet({ vpcId: 'nope' }), code: status.FAILED_PRECONDITION, field: 'vpc_id' },
    { what: 'MAC syntax', call: nic({ mac: '02:00:00:00:00' }), code: status.INVALID_ARGUMENT, field: 'mac' },
    { what: 'multicast MAC', call: nic({ mac: '01:00:5e:00:00:01' }), code: status.INVALID_ARGUMENT, field: 'mac' },
    { what: 'namespace name', call: nic({ namespace: '../etc' }), code: status.INVALID_ARGUMENT, field: 'namespace' },
    { what: 'NIC address outside the subnet', call: nic({ ip: '198.18.7.10/24' }), code: status.INVALID_ARGUMENT, field: 'ip' },
    { what: "NIC on the subnet's gateway", call: nic({ ip: '198.18.1.1/24' }), code: status.ALREADY_EXISTS, field: 'ip' },
    { what: 'NIC of a missing subnet', call: nic({ subnetId: 'nope' }), code: status.FAILED_PRECONDITION, field: 'subnet_id' },
    {
      what: 'NIC into a missing namespace without create_namespace',
      call: nic({ createNamespace: false }),
      code: status.FAILED_PRECONDITION,
      field: 'namespace',
    },
    { what: 'NIC without a kind', call: nic({ kind: NicKind.NIC_KIND_UNSPECIFIED }), code: status.INVALID_ARGUMENT, field: 'kind' },
    { what: 'deleting a VPC that has subnets', call: () => c.deleteVpc({ id: 'v' }), code: status.FAILED_PRECONDITION, field: 'id' },
    { what: "changing a subnet's VNI", call: () => c.putSubnet({ subnet: { ...okSubnet, vni: 102 } }), code: status.FAILED_PRECONDITION, field: 'vni' },
    {
      what: 'VTEP table with a bad VTEP address',
      call: () => c.putVtepTable({ table: { subnetId: 'good', floodVteps: ['192.0.2.300'], fdb: [], neighbors: [] } }),
      code: status.INVALID_ARGUMENT,
      field: 'flood_vteps[0]',
    },
  ];
};

it('refuses each bad input with its code and field, and creates nothing', async () => {
  const before = await hostLinks(t, 'h1');
  // The namespace list is machine-wide (other tests run beside this one): compare this lab's only.
  const labNamespaces = async (): Promise<string[]> =>
    (await t.exec(t.lab.hosts[0]!.namespace, ['ip', 'netns', 'list'])).stdout
      .split('\n')
      .filter((l) => l.startsWith(`${t.lab.name}-`))
      .sort();
  const nsBefore = await labNamespaces();
  for (const k of cases()) {
    const err = (await k.call().then(
      () => undefined,
      (e: unknown) => e,
    )) as { code: number; details: string } | undefined;
    expect(err, k.what).toBeDefined();
    expect({ what: k.what, code: err!.code }).toEqual({ what: k.what, code: k.code });
    expect(err!.details.startsWith(`${k.field}:`), `${k.what}: "${err!.details}" should name ${k.field}`).toBe(true);
  }
  expect(await hostLinks(t, 'h1')).toEqual(before);
  expect(await labNamespaces()).toEqual(nsBefore);
  const state = await t.client('h1').network.listSubnets({ parentId: '' });
  expect(state.subnets.map((s) => s.spec!.id)).toEqual(['good']);
});

it('refuses a NIC whose interface is already in its namespace, and leaves that interface alone', async () => {
  // Another host's NIC (lab hosts share /run/netns) or a container's own interface: not ours.
  const ns = `${t.lab.name}-taken`;
  const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });
  ip('netns', 'add', ns);
  try {
    ip('-n', ns, 'link', 'add', 'eth0', 'address', '02:00:00:00:aa:01', 'type', 'veth', 'peer', 'name', 'eth0p');
    const before = await hostLinks(t, 'h1');
    const err = (await t
      .client('h1')
      .network.putNic({ nic: { ...okNic, id: 'taker', namespace: ns, createNamespace: true } })
      .catch((e: unknown) => e)) as { code: number; details: string };
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toBe(
      `namespace: namespace "${ns}" already has an interface eth0 that is not this NIC's (another host's NIC, or not made by vxcloud): give the NIC another namespace or ifname`,
    );
    const eth0 = JSON.parse(ip('-n', ns, '-j', 'link', 'show', 'eth0')) as { address: string }[];
    expect(eth0[0]!.address).toBe('02:00:00:00:aa:01');
    expect(await hostLinks(t, 'h1')).toEqual(before);
    expect((await t.client('h1').network.listNics({ parentId: '' })).nics.map((n) => n.spec!.id)).not.toContain('taker');
  } finally {
    ip('netns', 'delete', ns);
  }
});
