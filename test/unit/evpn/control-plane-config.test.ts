import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../agent/config/config.js';

const base = `
host: { name: h1, roles: [compute] }
underlay: { interface: eth0, address: 192.0.2.11 }
listen: ["unix:///run/vx/agent.sock"]
tls: { ca: ca.pem, cert: h1.pem, key: h1-key.pem }
stateDir: state
`;

describe('agent config: controlPlane', () => {
  it('is static when absent, so older configs keep their behaviour', () => {
    expect(parseConfig(base, '/etc/vxcloud').controlPlane.kind).toBe('static');
  });

  it('fills evpn defaults: AS 65000, datacenter timers, coalesce 100 ms, managed FRR', () => {
    const c = parseConfig(base + 'controlPlane: { kind: evpn, reflectors: [192.0.2.14, 192.0.2.15] }\n', '/').controlPlane;
    expect(c).toMatchObject({
      kind: 'evpn',
      asn: 65000,
      reflectors: ['192.0.2.14', '192.0.2.15'],
      listenRanges: [],
      clusterId: '',
      timers: { keepaliveSeconds: 3, holdSeconds: 9, connectRetrySeconds: 10 },
      coalesceTimeMs: 100,
      frr: { mode: 'managed', binDir: '/usr/lib/frr', vtysh: '/usr/bin/vtysh', runDir: '/run/vxcloud/frr', user: 'frr', configFile: '/etc/frr/frr.conf' },
    });
  });

  it('names the field of each mistake', () => {
    const cases: [string, string][] = [
      ['{ kind: bgp }', 'controlPlane.kind'],
      ['{ kind: evpn }', 'controlPlane.reflectors'],
      ['{ kind: evpn, reflectors: [192.0.2.300] }', 'controlPlane.reflectors[0]'],
      ['{ kind: evpn, reflectors: [192.0.2.14], asn: 0 }', 'controlPlane.asn'],
      ['{ kind: evpn, reflectors: [192.0.2.14], clusterId: x }', 'controlPlane.clusterId'],
      ['{ kind: evpn, reflectors: [192.0.2.14], listenRanges: [192.0.2.1/24] }', 'controlPlane.listenRanges[0]'],
      ['{ kind: evpn, reflectors: [192.0.2.14], timers: { keepaliveSeconds: 5, holdSeconds: 9 } }', 'controlPlane.timers.holdSeconds'],
      ['{ kind: evpn, reflectors: [192.0.2.14], coalesceTimeMs: -1 }', 'controlPlane.coalesceTimeMs'],
      ['{ kind: evpn, reflectors: [192.0.2.14], frr: { mode: docker } }', 'controlPlane.frr.mode'],
      ['{ kind: evpn, reflectors: [192.0.2.14], frr: { runDir: relative/dir } }', 'controlPlane.frr.runDir'],
      ['{ kind: evpn, reflectors: [192.0.2.14], frr: { user: "frr; rm" } }', 'controlPlane.frr.user'],
      ['{ kind: etcd }', 'controlPlane.etcd'],
      ['{ kind: registry }', 'controlPlane.kind'],
      ['[evpn]', 'controlPlane'],
    ];
    for (const [value, field] of cases) {
      const text = `${base}controlPlane: ${value}\n`;
      expect(() => parseConfig(text, '/'), field).toThrow(ConfigError);
      expect(() => parseConfig(text, '/'), field).toThrow(new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}:`));
    }
  });
});

describe('agent config: registry', () => {
  const base =
    'host: { name: h1 }\nunderlay: { interface: eth0, address: 192.0.2.11 }\nlisten: ["unix:///run/a.sock"]\ntls: { ca: ca.pem, cert: c.pem, key: k.pem }\nstateDir: /var/lib/vx\n';

  it('makes the registry control plane the default where a registry is configured', () => {
    const c = parseConfig(`${base}registry: { endpoints: ["https://192.0.2.5:2379"], tls: { ca: r/ca.pem, cert: r/c.pem, key: r/k.pem } }\n`, '/etc/vx');
    expect(c.controlPlane.kind).toBe('registry');
    expect(c.registry).toEqual({
      endpoints: ['https://192.0.2.5:2379'],
      prefix: '/vxcloud/',
      leaseSeconds: 10,
      tls: { ca: '/etc/vx/r/ca.pem', cert: '/etc/vx/r/c.pem', key: '/etc/vx/r/k.pem' },
    });
  });

  it('names the field of each mistake', () => {
    const cases: [string, string][] = [
      ['{ endpoints: [] }', 'registry.endpoints'],
      ['{ endpoints: ["192.0.2.5:2379"] }', 'registry.endpoints'],
      ['{ endpoints: ["https://192.0.2.5:2379"] }', 'registry.tls'],
      ['{ endpoints: ["http://192.0.2.5:2379"], prefix: vx }', 'registry.prefix'],
      ['{ endpoints: ["http://192.0.2.5:2379"], leaseSeconds: 1 }', 'registry.leaseSeconds'],
      ['{ endpoints: ["http://192.0.2.5:2379"], tls: { ca: a } }', 'registry.tls.cert'],
    ];
    for (const [value, field] of cases) {
      expect(() => parseConfig(`${base}registry: ${value}\n`, '/'), field).toThrow(new RegExp(`^${field.replaceAll('.', '\\.')}:`));
    }
  });
});
