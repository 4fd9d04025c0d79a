import { describe, expect, it } from 'vitest';
import { unknown } from '../../../provider/plugin/cty.js';
import { pathToString } from '../../../provider/plugin/diagnostics.js';
import type { FleetHost } from '../../../provider/resources/fleet.js';
import { externalProblems } from '../../../provider/resources/router.js';

const r3: FleetHost = { name: 'r3', endpoint: '', roles: ['route'], up: true, external: { name: 'internet', cidr: '203.0.113.0/24', gateway: '203.0.113.1' } };
const bare: FleetHost = { name: 'r4', endpoint: '', roles: ['route'], up: true };

const problems = (p: { external_network: unknown; external_ip: unknown; snat?: unknown }, host: FleetHost | undefined = r3): [string, string][] =>
  externalProblems({ snat: null, ...p }, host).map((d) => [pathToString(d.path!), d.detail!]);

describe("vxcloud_router's external leg at plan time", () => {
  it("accepts a host address of the route host's external network, and no external leg at all", () => {
    expect(problems({ external_network: 'internet', external_ip: '203.0.113.10', snat: true })).toEqual([]);
    expect(problems({ external_network: null, external_ip: null })).toEqual([]);
  });

  it('waits for values known only at apply', () => {
    expect(problems({ external_network: 'internet', external_ip: unknown })).toEqual([]);
    expect(problems({ external_network: unknown, external_ip: '198.51.100.7' })).toEqual([]);
  });

  it('names the attribute and the fix', () => {
    expect(problems({ external_network: 'internet', external_ip: '203.0.114.10' })).toEqual([
      [
        'external_ip',
        '203.0.114.10 is not a host address of "internet" (203.0.113.0/24). Pick a host address of 203.0.113.0/24 other than the gateway 203.0.113.1.',
      ],
    ]);
    expect(problems({ external_network: 'internet', external_ip: '203.0.113.1' })[0]).toEqual([
      'external_ip',
      expect.stringMatching(/is the gateway of "internet"/),
    ]);
    expect(problems({ external_network: 'internet', external_ip: '203.0.113.255' })[0]![0]).toBe('external_ip');
    expect(problems({ external_network: 'internet', external_ip: '203.0.113' })[0]).toEqual(['external_ip', expect.stringMatching(/not an IPv4 address/)]);
    expect(problems({ external_network: 'wan', external_ip: '203.0.113.10' })).toEqual([
      ['external_network', '"wan" is not an external network of route host "r3": it has "internet".'],
    ]);
    expect(problems({ external_network: 'internet', external_ip: '203.0.113.10' }, bare)[0]).toEqual([
      'external_network',
      expect.stringMatching(/^Route host "r4" has no external network/),
    ]);
    expect(problems({ external_network: null, external_ip: '203.0.113.10' })[0]).toEqual([
      'external_ip',
      expect.stringMatching(/route host "r3" has external network "internet" \(203\.0\.113\.0\/24/),
    ]);
    expect(problems({ external_network: null, external_ip: null, snat: true })[0]![0]).toBe('snat');
    expect(problems({ external_network: 'internet', external_ip: null })[0]).toEqual([
      'external_ip',
      'Give the router\'s address on "internet" (203.0.113.0/24, not the gateway 203.0.113.1).',
    ]);
  });
});
