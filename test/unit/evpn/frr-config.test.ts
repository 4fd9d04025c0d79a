import { describe, expect, it } from 'vitest';
import { parseControlPlane, type ControlPlaneConfig } from '../../../agent/config/control-plane.js';
import { daemonArgv } from '../../../agent/evpn/daemons.js';
import { configProblems, frrPlan, frrRoles, needsZebra, renderFrrConfig, sessions, vniCounts } from '../../../agent/evpn/frr-config.js';

const cp = (extra: Record<string, unknown> = {}): ControlPlaneConfig =>
  parseControlPlane({ kind: 'evpn', reflectors: ['192.0.2.14', '192.0.2.15'], ...extra }, false, (m) => new Error(m));

describe('FRR config rendering', () => {
  it('a VTEP peers with every reflector over l2vpn evpn and advertises all VNIs', () => {
    const p = frrPlan(cp(), ['compute'], '192.0.2.11', '192.0.2.0/24');
    expect(needsZebra(p)).toBe(true);
    expect(renderFrrConfig(p)).toBe(
      [
        'frr defaults datacenter',
        '!',
        'router bgp 65000',
        ' bgp router-id 192.0.2.11',
        ' no bgp default ipv4-unicast',
        ' coalesce-time 100',
        ' timers bgp 3 9',
        ' neighbor RR peer-group',
        ' neighbor RR remote-as internal',
        ' neighbor RR update-source 192.0.2.11',
        ' neighbor RR timers connect 10',
        ' neighbor 192.0.2.14 peer-group RR',
        ' neighbor 192.0.2.15 peer-group RR',
        ' !',
        ' address-family l2vpn evpn',
        '  neighbor RR activate',
        '  advertise-all-vni',
        ' exit-address-family',
        'exit',
        '!',
        '',
      ].join('\n'),
    );
  });

  it('a reflector runs bgpd alone, accepts VTEPs of the underlay prefix and shares one cluster-id', () => {
    const p = frrPlan(
      cp({ asn: 4200000000, coalesceTimeMs: 50, timers: { keepaliveSeconds: 1, holdSeconds: 3 } }),
      ['management'],
      '192.0.2.15',
      '192.0.2.0/24',
    );
    expect(needsZebra(p)).toBe(false);
    const text = renderFrrConfig(p);
    expect(text).toContain('bgp no-rib\n');
    expect(text).toContain('router bgp 4200000000\n');
    expect(text).toContain(' bgp cluster-id 192.0.2.14\n');
    expect(text).toContain(' coalesce-time 50\n timers bgp 1 3\n');
    expect(text).toContain(' neighbor VTEPS peer-group\n neighbor VTEPS remote-as internal\n bgp listen range 192.0.2.0/24 peer-group VTEPS\n');
    expect(text).toContain('  neighbor VTEPS activate\n  neighbor VTEPS route-reflector-client\n');
    expect(text).not.toContain('advertise-all-vni');
    expect(text).not.toContain('peer-group RR');
  });

  it('a host that is both reflector and VTEP peers only with the other reflectors; configured ranges win', () => {
    const p = frrPlan(
      cp({ listenRanges: ['192.0.2.0/25', '198.51.100.0/24'], clusterId: '10.0.0.1' }),
      ['management', 'compute'],
      '192.0.2.14',
      '192.0.2.0/24',
    );
    const text = renderFrrConfig(p);
    expect(text).toContain(' neighbor 192.0.2.15 peer-group RR\n');
    expect(text).not.toContain('192.0.2.14 peer-group');
    expect(text).toContain(' bgp listen range 192.0.2.0/25 peer-group VTEPS\n bgp listen range 198.51.100.0/24 peer-group VTEPS\n');
    expect(text).toContain(' bgp cluster-id 10.0.0.1\n');
    expect(text).toContain('advertise-all-vni');
    expect(text).not.toContain('no-rib');
  });

  it('roles: compute and route are VTEPs, management reflects, storage has no FRR', () => {
    expect(frrRoles(['route'])).toEqual({ vtep: true, reflector: false });
    expect(frrRoles(['management'])).toEqual({ vtep: false, reflector: true });
    expect(frrRoles(['storage'])).toEqual({ vtep: false, reflector: false });
  });
});

describe('reading FRR back', () => {
  const p = frrPlan(cp(), ['compute'], '192.0.2.11', '192.0.2.0/24');
  const good = { RR: { remoteAs: 65000, type: 'internal', addressFamiliesConfigured: ['L2VPN EVPN'], members: { '192.0.2.14': {}, '192.0.2.15': {} } } };

  it('finds nothing wrong when the config took', () => {
    expect(configProblems(p, good, {})).toEqual([]);
    expect(configProblems(p, good, { routerId: '192.0.2.11', as: 65000 })).toEqual([]);
  });

  it('names what did not take', () => {
    expect(configProblems(p, {}, {})).toEqual(['peer group RR is missing']);
    const partial = { RR: { remoteAs: 65001, addressFamiliesConfigured: [], members: { '192.0.2.14': {} } } };
    expect(configProblems(p, partial, { routerId: '192.0.2.99', as: 65001 })).toEqual([
      'peer group RR has AS 65001, want 65000',
      'peer group RR is not active for l2vpn evpn',
      'reflector 192.0.2.15 is not a member of RR',
      'router-id is 192.0.2.99, want 192.0.2.11',
      'AS is 65001, want 65000',
    ]);
  });

  it('turns FRR JSON into sessions and per-VNI counts', () => {
    expect(sessions({ peers: { '192.0.2.15': { state: 'Active' }, '192.0.2.14': { state: 'Established', pfxRcd: 4, peerUptimeMsec: 1200 } } })).toEqual([
      { peer: '192.0.2.14', state: 'Established', prefixesReceived: 4, uptimeMs: 1200 },
      { peer: '192.0.2.15', state: 'Active', prefixesReceived: 0, uptimeMs: 0 },
    ]);
    const vnis = { '3001': { vni: 3001, numArpNd: 3, numRemoteVteps: 2 }, '3000': { vni: 3000, numRemoteVteps: 'n/a' } };
    const macs = { '3001': { macs: { a: { type: 'local' }, b: { type: 'remote' }, c: { type: 'remote' } } } };
    expect(vniCounts(vnis, macs)).toEqual([
      { vni: 3000, localMacs: 0, remoteMacs: 0, neighbors: 0, remoteVteps: 0 },
      { vni: 3001, localMacs: 1, remoteMacs: 2, neighbors: 3, remoteVteps: 2 },
    ]);
  });
});

describe('managed daemons', () => {
  it('run with argv arrays, no TCP vty, everything in the private run dir', () => {
    const s = cp({ frr: { runDir: '/run/x/frr' } }).frr;
    expect(daemonArgv(s, 'zebra', true)).toEqual([
      '/usr/lib/frr/zebra',
      '-F',
      'datacenter',
      '-P',
      '0',
      '-u',
      'frr',
      '--vty_socket',
      '/run/x/frr',
      '-i',
      '/run/x/frr/zebra/zebra.pid',
      '--log',
      'stdout',
      '-z',
      '/run/x/frr/zserv.api',
    ]);
    expect(daemonArgv(s, 'bgpd', false).slice(-1)).toEqual(['-Z']);
  });
});
