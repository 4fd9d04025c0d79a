// The pure parts of routers: dnsmasq's config, ranges and lease file, the nftables ruleset and its
// counters, kernel names, and the router section of the agent config.

import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../agent/config/config.js';
import { dhcpRanges, parseLeases, renderDnsmasqConf } from '../../../agent/l3/dnsmasq.js';
import { isRouterLeg, isRouterNamespace, legHostDevice, legMac, routerNamespace } from '../../../agent/l3/names.js';
import { natCounters, renderRuleset, ruleCount, tableRuleCount } from '../../../agent/l3/nftables.js';
import type { NatRuleRecord } from '../../../agent/state/model.js';

const rule = (r: Partial<NatRuleRecord> & Pick<NatRuleRecord, 'id' | 'type'>): NatRuleRecord => ({
  router_id: 'r',
  protocol: '',
  external_ip: '203.0.113.10',
  external_port: 0,
  internal_ip: '198.18.1.10',
  internal_port: 0,
  ...r,
});

describe('dnsmasq', () => {
  it('serves every host address but the gateway', () => {
    expect(dhcpRanges('198.18.1.0/24', '198.18.1.1')).toEqual([['198.18.1.2', '198.18.1.254']]);
    expect(dhcpRanges('198.18.1.0/24', '198.18.1.254')).toEqual([['198.18.1.1', '198.18.1.253']]);
    expect(dhcpRanges('198.18.1.0/24', '198.18.1.100')).toEqual([
      ['198.18.1.1', '198.18.1.99'],
      ['198.18.1.101', '198.18.1.254'],
    ]);
    expect(dhcpRanges('198.18.1.0/30', '198.18.1.1')).toEqual([['198.18.1.2', '198.18.1.2']]);
  });

  it('renders DHCP only, per subnet leg, with gateway, MTU and reservations', () => {
    const conf = renderDnsmasqConf({
      leaseFile: '/s/leases',
      pidFile: '/s/process.pid',
      leaseSeconds: 600,
      subnets: [
        {
          vni: 7,
          ifname: 'sn7',
          cidr: '198.18.1.0/24',
          gateway: '198.18.1.1',
          mtu: 1450,
          reservations: [{ mac: '02:00:00:00:00:01', ip: '198.18.1.10', hostname: 'web1' }],
        },
        {
          vni: 8,
          ifname: 'sn8',
          cidr: '198.18.2.0/25',
          gateway: '198.18.2.1',
          mtu: 1450,
          reservations: [{ mac: '02:00:00:00:00:02', ip: '198.18.2.10', hostname: '' }],
        },
      ],
    });
    const lines = conf.split('\n');
    expect(lines).toContain('port=0');
    expect(lines).toContain('dhcp-leasefile=/s/leases');
    expect(lines).toContain('interface=sn7');
    expect(lines).toContain('dhcp-range=set:s7,198.18.1.2,198.18.1.254,255.255.255.0,600');
    expect(lines).toContain('dhcp-range=set:s8,198.18.2.2,198.18.2.126,255.255.255.128,600');
    expect(lines).toContain('dhcp-option=tag:s7,option:router,198.18.1.1');
    expect(lines).toContain('dhcp-option=tag:s8,option:mtu,1450');
    expect(lines).toContain('dhcp-host=02:00:00:00:00:01,198.18.1.10,web1');
    expect(lines).toContain('dhcp-host=02:00:00:00:00:02,198.18.2.10');
  });

  it('reads its lease file, skipping what is not an IPv4 lease', () => {
    const text = '1700000000 02:00:00:00:00:01 198.18.1.10 web1 01:02:00:00:00:00:01\n0 02:00:00:00:00:02 198.18.2.10 * *\nduid 00:01:00:01\n\n';
    expect(parseLeases(text)).toEqual([
      { expires: 1700000000, mac: '02:00:00:00:00:01', ip: '198.18.1.10', hostname: 'web1' },
      { expires: 0, mac: '02:00:00:00:00:02', ip: '198.18.2.10', hostname: '' },
    ]);
  });
});

describe('nftables ruleset', () => {
  const legs = [
    { ifname: 'sn7', cidr: '198.18.1.0/24', dhcp: true },
    { ifname: 'sn8', cidr: '198.18.2.0/24', dhcp: false },
  ];
  const rules = [
    rule({ id: 'pf', type: 'dnat', protocol: 'tcp', external_port: 8080, internal_port: 80 }),
    rule({ id: 'fip', type: 'dnat_and_snat', external_ip: '203.0.113.20', internal_ip: '198.18.2.10' }),
    rule({ id: 'sn', type: 'snat', external_ip: '203.0.113.21', internal_ip: '198.18.1.0/28' }),
  ];
  const text = renderRuleset({ legs, external: { ifname: 'ext0', ip: '203.0.113.10', snat: true }, rules, protectedCidrs: ['192.0.2.0/24'] });
  const lines = text.split('\n').map((l) => l.trim());

  it("replaces the router's table in one file, whether it exists or not", () => {
    expect(lines.slice(1, 4)).toEqual(['table inet vxrouter {}', 'delete table inet vxrouter', 'table inet vxrouter {']);
  });

  it('forwards ports and floating IPs from the external leg, and SNATs the most specific source first', () => {
    expect(lines).toContain('iifname "ext0" ip daddr 203.0.113.10 tcp dport 8080 dnat ip to 198.18.1.10:80 comment "nat:pf"');
    expect(lines).toContain('iifname "ext0" ip daddr 203.0.113.20 dnat ip to 198.18.2.10 comment "nat:fip"');
    const snat = lines.filter((l) => l.includes(' snat ip to '));
    expect(snat).toEqual([
      'oifname "ext0" ip saddr 198.18.2.10 snat ip to 203.0.113.20 comment "nat:fip"',
      'oifname "ext0" ip saddr 198.18.1.0/28 snat ip to 203.0.113.21 comment "nat:sn"',
      'oifname "ext0" ip saddr 198.18.1.0/24 snat ip to 203.0.113.10',
      'oifname "ext0" ip saddr 198.18.2.0/24 snat ip to 203.0.113.10',
    ]);
  });

  it('filters: protected networks first, DHCP only on DHCP legs, from outside only what NAT let in', () => {
    const forward = lines.slice(lines.indexOf('chain forward {'), lines.indexOf('chain output {'));
    expect(forward[1]).toBe('type filter hook forward priority filter; policy drop;');
    expect(forward[2]).toBe('ip daddr 192.0.2.0/24 drop');
    expect(forward).toContain('iifname "ext0" oifname { "sn7", "sn8" } ct status dnat accept');
    expect(forward.indexOf('ct state established,related accept')).toBeGreaterThan(forward.findIndex((l) => l.includes('counter')));
    expect(lines).toContain('iifname "sn7" udp dport 67 accept');
    expect(lines).toContain('type filter hook input priority filter; policy drop;');
    const output = lines.slice(lines.indexOf('chain output {'));
    expect(output).toContain('ip daddr 192.0.2.0/24 drop');
  });

  it('has no NAT and no way out without an external leg', () => {
    const inner = renderRuleset({ legs, rules, protectedCidrs: [] });
    expect(inner).not.toMatch(/dnat ip to|snat ip to|ext0/);
  });

  it('counts its own rules and sums the counters of each NAT rule from nft JSON', () => {
    expect(ruleCount(text)).toBe(text.split('\n').filter((l) => /^ {4}(?!type )\S/.test(l)).length);
    const json = {
      nftables: [
        { metainfo: {} },
        { rule: { comment: 'nat:fip', expr: [{ match: {} }, { counter: { packets: 3, bytes: 300 } }] } },
        { rule: { comment: 'nat:fip', expr: [{ counter: { packets: 2, bytes: 100 } }] } },
        { rule: { expr: [{ accept: null }] } },
      ],
    };
    expect(natCounters(json).get('fip')).toEqual({ packets: 5, bytes: 400 });
    expect(tableRuleCount(json)).toBe(3);
    expect(tableRuleCount(undefined)).toBe(0);
  });
});

describe('router names', () => {
  it('derives namespaces, legs and MACs from ids, within IFNAMSIZ and locally administered', () => {
    const ns = routerNamespace('vxr-', 'r1');
    expect(ns).toMatch(/^vxr-[0-9a-f]{10}$/);
    expect(isRouterNamespace('vxr-', ns)).toBe(true);
    expect(isRouterNamespace('vxr-', 'vxr-web')).toBe(false);
    const legs = [legHostDevice('r1', 'web'), legHostDevice('r1', 'db'), legHostDevice('r1', null), legHostDevice('r2', 'web')];
    expect(new Set(legs).size).toBe(4);
    for (const l of legs) expect(l.length <= 15 && isRouterLeg(l)).toBe(true);
    expect(legMac('r1', 'web')).toMatch(/^02(:[0-9a-f]{2}){5}$/);
    expect(legMac('r1', 'web')).toBe(legMac('r1', 'web'));
    expect(legMac('r1', 'web')).not.toBe(legMac('r1', 'db'));
  });
});

describe('agent config: router', () => {
  const base = `
host: { name: h3, roles: [route] }
underlay: { interface: eth0, address: 192.0.2.13 }
listen: ["unix:///run/vx/agent.sock"]
tls: { ca: ca.pem, cert: h3.pem, key: h3-key.pem }
stateDir: state
`;
  it('defaults to no external network and the vxr- prefix', () => {
    expect(parseConfig(base, '/').router).toEqual({ namespacePrefix: 'vxr-', protectedCidrs: [] });
  });

  it('reads the external network', () => {
    const c = parseConfig(
      base + 'router: { external: { name: internet, bridge: brext, cidr: 203.0.113.0/24, gateway: 203.0.113.1 }, protectedCidrs: [10.0.0.0/8] }\n',
      '/',
    );
    expect(c.router).toEqual({
      external: { name: 'internet', bridge: 'brext', cidr: '203.0.113.0/24', gateway: '203.0.113.1' },
      namespacePrefix: 'vxr-',
      protectedCidrs: ['10.0.0.0/8'],
    });
  });

  it('names the field of each mistake', () => {
    const cases: [string, string][] = [
      ['router: { external: { cidr: 203.0.113.0/24, gateway: 203.0.113.1 } }', 'router.external.bridge'],
      ['router: { external: { bridge: brext, cidr: 203.0.113.1/24, gateway: 203.0.113.1 } }', 'router.external.cidr'],
      ['router: { external: { bridge: brext, cidr: 203.0.113.0/24, gateway: 198.51.100.1 } }', 'router.external.gateway'],
      ['router: { external: { bridge: "br ext", cidr: 203.0.113.0/24, gateway: 203.0.113.1 } }', 'router.external.bridge'],
      ['router: { namespacePrefix: "../x" }', 'router.namespacePrefix'],
      ['router: { protectedCidrs: [10.0.0.1/8] }', 'router.protectedCidrs[0]'],
      ['router: [1]', 'router'],
    ];
    for (const [extra, field] of cases) {
      expect(() => parseConfig(`${base}${extra}\n`, '/'), field).toThrow(ConfigError);
      expect(() => parseConfig(`${base}${extra}\n`, '/'), field).toThrow(new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}:`));
    }
  });
});
