import { describe, expect, it } from 'vitest';
import {
  checkVolumeId,
  checkVolumeSize,
  validateNic,
  validateSubnet,
  validateVpc,
  validateVtepTable,
  type NicInput,
  type SubnetInput,
} from '../../../lib/validation.js';

const vpc = { id: 'v', cidr: '198.18.0.0/16' };
const subnet: SubnetInput = { id: 's', vpc_id: 'v', cidr: '198.18.1.0/24', vni: 10, vlan: 0, gateway: '' };
const nic: NicInput = { id: 'n', subnet_id: 's', kind: 'veth', mac: '02:00:00:00:00:01', ip: '198.18.1.10/24', namespace: 'ns1', ifname: 'eth0' };
const fields = (ps: { field: string }[]): string[] => ps.map((p) => p.field);

describe('validateVpc', () => {
  it('accepts a good VPC and names the field of a bad one', () => {
    expect(validateVpc(vpc)).toEqual([]);
    expect(fields(validateVpc({ id: 'v', cidr: '198.18.0.0' }))).toEqual(['cidr']);
    expect(fields(validateVpc({ id: '', cidr: '198.18.0.0/16' }))).toEqual(['id']);
    expect(validateVpc({ id: 'v', cidr: '198.18.0.1/16' })[0]!.message).toContain('198.18.0.0/16');
  });
});

describe('validateSubnet', () => {
  it('accepts a subnet inside its VPC', () => {
    expect(validateSubnet(subnet, vpc, [])).toEqual([]);
  });

  it('refuses ranges, overlaps and duplicates with the right code', () => {
    expect(validateSubnet({ ...subnet, vni: 0 }, vpc, [])[0]).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'vni' });
    expect(validateSubnet({ ...subnet, vni: 16_777_216 }, vpc, [])[0]).toMatchObject({ field: 'vni' });
    expect(validateSubnet({ ...subnet, vlan: 4095 }, vpc, [])[0]).toMatchObject({ field: 'vlan' });
    expect(validateSubnet({ ...subnet, cidr: '198.19.1.0/24' }, vpc, [])[0]).toMatchObject({ code: 'INVALID_ARGUMENT', field: 'cidr' });
    expect(validateSubnet(subnet, undefined, [])[0]).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'vpc_id' });
    const other = { ...subnet, id: 'o', cidr: '198.18.1.128/25', vni: 11 };
    expect(validateSubnet(subnet, vpc, [other])[0]).toMatchObject({ code: 'ALREADY_EXISTS', field: 'cidr' });
    // The same CIDR in another VPC is fine; the same VNI anywhere on the host is not.
    expect(validateSubnet(subnet, vpc, [{ ...other, vpc_id: 'w' }])).toEqual([]);
    expect(validateSubnet(subnet, vpc, [{ ...other, vpc_id: 'w', vni: 10 }])[0]).toMatchObject({ code: 'ALREADY_EXISTS', field: 'vni' });
  });

  it('checks the gateway is a host address of the subnet', () => {
    expect(validateSubnet({ ...subnet, gateway: '198.18.1.254' }, vpc, [])).toEqual([]);
    expect(fields(validateSubnet({ ...subnet, gateway: '198.18.1.255' }, vpc, []))).toEqual(['gateway']);
    expect(fields(validateSubnet({ ...subnet, gateway: 'x' }, vpc, []))).toEqual(['gateway']);
  });
});

describe('validateNic', () => {
  it('accepts a good NIC', () => {
    expect(validateNic(nic, subnet, [])).toEqual([]);
    expect(validateNic({ ...nic, kind: 'tap', namespace: '', ifname: '' }, subnet, [])).toEqual([]);
  });

  it('refuses bad MACs, names and addresses, naming the field', () => {
    expect(fields(validateNic({ ...nic, mac: '02:00:00:00:00:0G' }, subnet, []))).toEqual(['mac']);
    expect(fields(validateNic({ ...nic, mac: '03:00:00:00:00:01' }, subnet, []))).toEqual(['mac']);
    expect(fields(validateNic({ ...nic, mac: '02:00:00:00:00:AA' }, subnet, []))).toEqual(['mac']);
    expect(fields(validateNic({ ...nic, namespace: 'a/b' }, subnet, []))).toEqual(['namespace']);
    expect(fields(validateNic({ ...nic, namespace: '' }, subnet, []))).toEqual(['namespace']);
    expect(fields(validateNic({ ...nic, ifname: 'a-name-longer-than-15' }, subnet, []))).toEqual(['ifname']);
    expect(fields(validateNic({ ...nic, ip: '198.18.1.10' }, subnet, []))).toEqual(['ip']);
    expect(fields(validateNic({ ...nic, ip: '198.18.1.10/16' }, subnet, []))).toEqual(['ip']);
    expect(fields(validateNic({ ...nic, ip: '198.18.1.255/24' }, subnet, []))).toEqual(['ip']);
    expect(validateNic({ ...nic, ip: '198.18.1.1/24' }, subnet, [])[0]).toMatchObject({ code: 'ALREADY_EXISTS', field: 'ip' });
    expect(fields(validateNic({ ...nic, kind: 'tap', ifname: '' }, subnet, []))).toEqual(['namespace']);
  });

  it('refuses clashes with other NICs on the host', () => {
    const other = { ...nic, id: 'o', ip: '198.18.1.11/24', mac: '02:00:00:00:00:02', namespace: 'ns2' };
    expect(validateNic(nic, subnet, [other])).toEqual([]);
    expect(validateNic(nic, subnet, [{ ...other, mac: nic.mac }])[0]).toMatchObject({ code: 'ALREADY_EXISTS', field: 'mac' });
    expect(validateNic(nic, subnet, [{ ...other, ip: '198.18.1.10/24' }])[0]).toMatchObject({ code: 'ALREADY_EXISTS', field: 'ip' });
    expect(validateNic(nic, subnet, [{ ...other, namespace: 'ns1' }])[0]).toMatchObject({ code: 'ALREADY_EXISTS', field: 'ifname' });
    expect(validateNic(nic, undefined, [])[0]).toMatchObject({ code: 'FAILED_PRECONDITION', field: 'subnet_id' });
  });
});

describe('validateVtepTable', () => {
  it('names the index of a bad entry', () => {
    const t = {
      subnet_id: 's',
      flood_vteps: ['192.0.2.1'],
      fdb: [{ mac: '02:00:00:00:00:01', vtep: '192.0.2.1' }],
      neighbors: [{ ip: '198.18.1.2', mac: '02:00:00:00:00:01' }],
    };
    expect(validateVtepTable(t)).toEqual([]);
    expect(fields(validateVtepTable({ ...t, fdb: [t.fdb[0]!, { mac: 'zz', vtep: '192.0.2.1' }] }))).toEqual(['fdb[1].mac']);
    expect(fields(validateVtepTable({ ...t, neighbors: [{ ip: '1.2.3', mac: '02:00:00:00:00:01' }] }))).toEqual(['neighbors[0].ip']);
  });
});

describe('volume checks', () => {
  it('takes 1-63 lower-case letters, digits or - as a volume id, the NBD export name', () => {
    for (const ok of ['data', 'vol-1', '0', 'a'.repeat(63)]) expect(checkVolumeId('id', ok)).toEqual([]);
    for (const bad of ['', 'Data', 'vol_1', '-vol', 'a'.repeat(64), 'vol/1', 'vol.1']) expect(fields(checkVolumeId('id', bad))).toEqual(['id']);
  });

  it('takes a positive multiple of 4096 as a size, saying what is wrong otherwise', () => {
    expect(checkVolumeSize('size_bytes', 4096)).toEqual([]);
    expect(checkVolumeSize('size_bytes', 64 * 1024 * 1024)).toEqual([]);
    expect(checkVolumeSize('size_bytes', 0)[0]!.message).toBe('0 is not a positive number of bytes');
    expect(checkVolumeSize('size_bytes', -4096)[0]!.message).toBe('-4096 is not a positive number of bytes');
    expect(checkVolumeSize('size_bytes', 1.5)[0]!.message).toBe('1.5 is not a whole number of bytes');
    expect(checkVolumeSize('size_bytes', 2 ** 60)[0]!.message).toBe(`${2 ** 60} bytes is more than the largest size, ${Number.MAX_SAFE_INTEGER}`);
    expect(checkVolumeSize('size_bytes', 4097)).toEqual([{ code: 'INVALID_ARGUMENT', field: 'size_bytes', message: '4097 is not a multiple of 4096' }]);
  });
});
