// External addresses are the deployment's to hand out, not each route host's: two tenants with
// routers on two route hosts of one external network cannot both take an address — neither as a
// router's address nor as a floating IP — whichever host each asks.

import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatProtocol, NatType, type NatRuleSpec, type RouterSpec } from '../../../gen/vxcloud/agent/v1/router.js';
import { startLab, type TestLab } from '../../harness/lab.js';

let t: TestLab;

const router = (tenant: string, externalIp: string): RouterSpec => ({
  id: `r-${tenant}`,
  vpcId: `v-${tenant}`,
  name: tenant,
  subnetIds: [`s-${tenant}`],
  externalNetwork: 'internet',
  externalIp,
  snat: true,
  dhcpDisabledSubnetIds: [],
  reservations: [],
  dhcpLeaseSeconds: 0,
});
const floating = (tenant: string, id: string, externalIp: string): NatRuleSpec => ({
  id,
  routerId: `r-${tenant}`,
  type: NatType.NAT_TYPE_DNAT_AND_SNAT,
  protocol: NatProtocol.NAT_PROTOCOL_UNSPECIFIED,
  externalIp,
  externalPort: 0,
  internalIp: '198.18.1.50',
  internalPort: 0,
});
const refusal = (p: Promise<unknown>): Promise<ServiceError> =>
  p.then(
    () => {
      throw new Error('the call succeeded');
    },
    (e: ServiceError) => e,
  );

beforeAll(async () => {
  // h1 compute; h2 and h3 route hosts, both on the lab's "internet".
  t = await startLab({ hosts: 3, roles: (i) => (i === 1 ? ['compute'] : ['route']), internet: true });
  for (const [tenant, host] of [
    ['a', 'h2'],
    ['b', 'h3'],
  ] as const) {
    const c = t.client(host).network;
    await c.putVpc({ vpc: { id: `v-${tenant}`, name: tenant, tenant, cidr: '198.18.0.0/16' } });
    await c.putSubnet({ subnet: { id: `s-${tenant}`, vpcId: `v-${tenant}`, name: tenant, cidr: '198.18.1.0/24', vni: 0, vlan: 0, gateway: '' } });
  }
  await t.client('h2').router.putRouter({ router: router('a', '203.0.113.10') });
  await t.client('h2').router.putNatRule({ rule: floating('a', 'fa', '203.0.113.11') });
}, 120_000);
afterAll(async () => {
  await t?.down();
});

describe('external addresses', () => {
  it("refuse a router on another route host the address of another tenant's router, and make nothing there", async () => {
    const e = await refusal(t.client('h3').router.putRouter({ router: router('b', '203.0.113.10') }));
    expect(e.code).toBe(grpcStatus.ALREADY_EXISTS);
    expect(e.metadata.get('vxcloud-field')).toEqual(['external_ip']);
    expect(e.details).toMatch(/203\.0\.113\.10 on external network "internet" belongs to another router: pick another address/);
    expect((await t.client('h3').router.listRouters({ parentId: '' })).routers).toEqual([]);
    // Nor another tenant's floating IP.
    expect((await refusal(t.client('h3').router.putRouter({ router: router('b', '203.0.113.11') }))).code).toBe(grpcStatus.ALREADY_EXISTS);
  });

  it("refuse a floating IP that is another tenant's, and free an address with its last user", async () => {
    await t.client('h3').router.putRouter({ router: router('b', '203.0.113.20') });
    const e = await refusal(t.client('h3').router.putNatRule({ rule: floating('b', 'fb', '203.0.113.11') }));
    expect([e.code, e.metadata.get('vxcloud-field')]).toEqual([grpcStatus.ALREADY_EXISTS, ['external_ip']]);
    expect((await t.client('h3').router.listNatRules({ parentId: '' })).rules).toEqual([]);
    await t.client('h2').router.deleteNatRule({ id: 'fa' });
    await t.client('h3').router.putNatRule({ rule: floating('b', 'fb', '203.0.113.11') });
    expect((await t.client('h1').host.lookupObject({ id: 'fb' })).hosts).toEqual(['h3']);
  });
});
