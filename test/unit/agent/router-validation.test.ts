// The shared router and NAT rule validation rules, as the agent and the provider run them.

import { describe, expect, it } from 'vitest';
import { validateNatRule, validateRouter, type NatRuleInput, type RouterInput } from '../../../lib/router-validation.js';

const vpc = { id: 'v', cidr: '198.18.0.0/16' };
const subnets = [
  { id: 'web', vpc_id: 'v', cidr: '198.18.1.0/24', vni: 1, vlan: 0, gateway: '' },
  { id: 'db', vpc_id: 'v', cidr: '198.18.2.0/24', vni: 2, vlan: 0, gateway: '198.18.2.254' },
  { id: 'other', vpc_id: 'w', cidr: '198.18.3.0/24', vni: 3, vlan: 0, gateway: '' },
];
const router: RouterInput = {
  id: 'r',
  vpc_id: 'v',
  subnet_ids: ['web', 'db'],
  external_network: 'internet',
  external_ip: '203.0.113.10',
  snat: true,
  dhcp_disabled_subnet_ids: [],
  reservations: [{ subnet_id: 'web', mac: '02:00:00:00:00:01', ip: '198.18.1.10', hostname: 'web1' }],
  dhcp_lease_seconds: 0,
};
const env = { vpc, subnets, routers: [], externalCidr: '203.0.113.0/24' };
const fields = (ps: { field: string; code: string }[]): string[] => ps.map((p) => `${p.code} ${p.field}`);

describe('validateRouter', () => {
  it('accepts a router with legs, an external address and reservations', () => {
    expect(validateRouter(router, env)).toEqual([]);
  });

  it('names the field of each mistake', () => {
    const cases: [Partial<RouterInput>, string][] = [
      [{ subnet_ids: ['web', 'web'] }, 'INVALID_ARGUMENT subnet_ids[1]'],
      [{ dhcp_disabled_subnet_ids: ['nope'] }, 'INVALID_ARGUMENT dhcp_disabled_subnet_ids[0]'],
      [{ external_network: '', external_ip: '', snat: true }, 'INVALID_ARGUMENT snat'],
      [{ external_ip: '' }, 'INVALID_ARGUMENT external_ip'],
      [{ external_ip: '203.0.113.10/24' }, 'INVALID_ARGUMENT external_ip'],
      [{ external_ip: '198.51.100.1' }, 'INVALID_ARGUMENT external_ip'],
      [{ dhcp_lease_seconds: 30 }, 'INVALID_ARGUMENT dhcp_lease_seconds'],
      [{ reservations: [{ subnet_id: 'web', mac: '02:00:00:00:00:01', ip: '198.18.1.1', hostname: '' }] }, 'INVALID_ARGUMENT reservations[0].ip'],
      [{ reservations: [{ subnet_id: 'db', mac: '02:00:00:00:00:01', ip: '198.18.1.10', hostname: '' }] }, 'INVALID_ARGUMENT reservations[0].ip'],
      [{ reservations: [{ subnet_id: 'web', mac: '01:00:00:00:00:01', ip: '198.18.1.10', hostname: '' }] }, 'INVALID_ARGUMENT reservations[0].mac'],
      [{ reservations: [{ subnet_id: 'web', mac: '02:00:00:00:00:01', ip: '198.18.1.10', hostname: 'a b' }] }, 'INVALID_ARGUMENT reservations[0].hostname'],
      [{ subnet_ids: ['web', 'gone'] }, 'FAILED_PRECONDITION subnet_ids[1]'],
      [{ subnet_ids: ['web', 'other'] }, 'INVALID_ARGUMENT subnet_ids[1]'],
      [{ vpc_id: 'x' }, 'FAILED_PRECONDITION vpc_id'],
    ];
    for (const [change, want] of cases) {
      const r = { ...router, ...change };
      expect(fields(validateRouter(r, { ...env, vpc: r.vpc_id === 'v' ? vpc : undefined })), want).toContain(want);
    }
  });

  it('gives a subnet one router and an external address one owner', () => {
    const other = { ...router, id: 'r2', subnet_ids: ['db'], external_ip: '203.0.113.10', reservations: [] };
    expect(fields(validateRouter(router, { ...env, routers: [other] }))).toEqual(['ALREADY_EXISTS subnet_ids', 'ALREADY_EXISTS external_ip']);
  });
});

describe('validateNatRule', () => {
  const base: NatRuleInput = {
    id: 'n',
    router_id: 'r',
    type: 'dnat',
    protocol: 'tcp',
    external_ip: '203.0.113.10',
    external_port: 80,
    internal_ip: '198.18.1.10',
    internal_port: 8080,
  };
  const nenv = { router, subnets: subnets.slice(0, 2), routers: [router], rules: [], externalCidr: '203.0.113.0/24' };

  it('accepts a port forward, a floating IP and an SNAT of a network', () => {
    expect(validateNatRule(base, nenv)).toEqual([]);
    expect(validateNatRule({ ...base, type: 'dnat_and_snat', protocol: '', external_ip: '203.0.113.20', external_port: 0, internal_port: 0 }, nenv)).toEqual(
      [],
    );
    expect(
      validateNatRule(
        { ...base, type: 'snat', protocol: '', external_ip: '203.0.113.21', external_port: 0, internal_ip: '198.18.2.0/28', internal_port: 0 },
        nenv,
      ),
    ).toEqual([]);
  });

  it('names the field of each mistake', () => {
    const cases: [Partial<NatRuleInput>, string][] = [
      [{ protocol: '' }, 'INVALID_ARGUMENT protocol'],
      [{ external_port: 0 }, 'INVALID_ARGUMENT external_port'],
      [{ internal_port: 70000 }, 'INVALID_ARGUMENT internal_port'],
      [{ internal_ip: '198.18.3.10' }, 'INVALID_ARGUMENT internal_ip'],
      [{ internal_ip: '198.18.1.1' }, 'INVALID_ARGUMENT internal_ip'],
      [{ external_ip: '198.51.100.1' }, 'INVALID_ARGUMENT external_ip'],
      [{ type: 'dnat_and_snat', protocol: '', external_port: 0, internal_port: 0 }, 'INVALID_ARGUMENT external_ip'],
      [{ type: 'snat', protocol: 'tcp' }, 'INVALID_ARGUMENT protocol'],
      [{ router_id: 'x' }, 'FAILED_PRECONDITION router_id'],
    ];
    for (const [change, want] of cases) {
      const n = { ...base, ...change };
      expect(fields(validateNatRule(n, { ...nenv, router: n.router_id === 'r' ? router : undefined })), want).toContain(want);
    }
  });

  it('refuses duplicates: a forwarded port, a floating IP in use, an internal address translated twice', () => {
    const fip: NatRuleInput = {
      ...base,
      id: 'f',
      type: 'dnat_and_snat',
      protocol: '',
      external_ip: '203.0.113.20',
      external_port: 0,
      internal_ip: '198.18.2.10',
      internal_port: 0,
    };
    const rules = [{ ...base, id: 'old' }, fip];
    expect(fields(validateNatRule({ ...base, internal_ip: '198.18.1.11' }, { ...nenv, rules }))).toEqual(['ALREADY_EXISTS external_port']);
    expect(fields(validateNatRule({ ...base, external_ip: '203.0.113.20' }, { ...nenv, rules }))).toEqual(['ALREADY_EXISTS external_ip']);
    expect(fields(validateNatRule({ ...fip, id: 'g', external_ip: '203.0.113.21' }, { ...nenv, rules }))).toEqual(['ALREADY_EXISTS internal_ip']);
    expect(fields(validateNatRule({ ...base, external_port: 81 }, { ...nenv, rules }))).toEqual([]);
  });
});
