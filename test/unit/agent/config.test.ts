import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../../agent/config/config.js';

const good = `
host: { name: h1, roles: [compute, route] }
underlay: { interface: eth0, address: 192.0.2.11 }
listen: ["unix:///run/vx/agent.sock"]
tls: { ca: pki/ca.pem, cert: pki/h1.pem, key: pki/h1-key.pem }
stateDir: state
`;

describe('agent config', () => {
  it('reads a config, resolving files against its directory and filling defaults', () => {
    const c = parseConfig(good, '/etc/vxcloud');
    expect(c.host).toEqual({ name: 'h1', roles: ['compute', 'route'] });
    expect(c.tls.ca).toBe('/etc/vxcloud/pki/ca.pem');
    expect(c.stateDir).toBe('/etc/vxcloud/state');
    expect(c).toMatchObject({ logLevel: 'info', reconcile: { intervalSeconds: 10 }, vxlanPort: 4789, transport: 'vxlan' });
    expect(parseConfig(good + 'transport: tap\n', '/').transport).toBe('tap');
    expect(c.metrics).toBeUndefined();
    expect(parseConfig(good + 'metrics: { listen: ["192.0.2.11:9464", "unix:///run/vx/metrics.sock"] }\n', '/').metrics).toEqual({
      listen: ['192.0.2.11:9464', 'unix:///run/vx/metrics.sock'],
    });
  });

  it('names the field of each mistake', () => {
    const cases: [string, string][] = [
      [good.replace('192.0.2.11', '192.0.2'), 'underlay.address'],
      [good.replace('[compute, route]', '[compute, router]'), 'host.roles'],
      [good.replace('name: h1', 'name: H_1'), 'host.name'],
      [good.replace('listen: ["unix:///run/vx/agent.sock"]', 'listen: []'), 'listen'],
      [good.replace('key: pki/h1-key.pem', 'key: ""'), 'tls.key'],
      [good + 'reconcile: { intervalSeconds: 0 }\n', 'reconcile.intervalSeconds'],
      [good + 'vxlanPort: 70000\n', 'vxlanPort'],
      [good + 'metrics: { listen: ["9464"] }\n', 'metrics.listen'],
      [good + 'metrics: { listen: [] }\n', 'metrics.listen'],
      [good + 'transport: udp\n', 'transport'],
    ];
    for (const [text, field] of cases) {
      expect(() => parseConfig(text, '/'), field).toThrow(ConfigError);
      expect(() => parseConfig(text, '/'), field).toThrow(new RegExp(`^${field.replace('.', '\\.')}:`));
    }
  });

  it('reads a managed registry member, and refuses one that is not this host at its underlay address', () => {
    const reg = (managed: string): string =>
      `${good}registry:\n  endpoints: ["https://192.0.2.11:2379"]\n  tls: { ca: r/ca.pem, cert: r/c.pem, key: r/c-key.pem }\n  managed: ${managed}\n`;
    const ok = parseConfig(
      reg('{ dataDir: etcd, cluster: ["h1=https://192.0.2.11:2380", "h2=https://192.0.2.12:2380"], cert: r/m.pem, key: r/m-key.pem }'),
      '/etc/vx',
    );
    expect(ok.registry?.managed).toEqual({
      dataDir: '/etc/vx/etcd',
      cluster: [
        { name: 'h1', peerUrl: 'https://192.0.2.11:2380' },
        { name: 'h2', peerUrl: 'https://192.0.2.12:2380' },
      ],
      cert: '/etc/vx/r/m.pem',
      key: '/etc/vx/r/m-key.pem',
    });
    const refused = (managed: string): string => {
      try {
        parseConfig(reg(managed), '/');
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(refused('{ dataDir: etcd, cluster: ["h2=https://192.0.2.12:2380"], cert: m.pem, key: k.pem }')).toBe(
      'registry.managed.cluster: names no member "h1" (host.name): add h1=https://192.0.2.11:2380',
    );
    expect(refused('{ dataDir: etcd, cluster: ["h1=https://192.0.2.99:2380"], cert: m.pem, key: k.pem }')).toMatch(
      /^registry\.managed\.cluster: member h1 must be at this host's underlay address 192\.0\.2\.11/,
    );
    expect(refused('{ dataDir: etcd, cluster: ["h1=http://192.0.2.11:2380"], cert: m.pem, key: k.pem }')).toMatch(
      /^registry\.managed\.cluster: required, every member as NAME=https:/,
    );
    expect(refused('{ cluster: ["h1=https://192.0.2.11:2380"], cert: m.pem, key: k.pem }')).toMatch(/^registry\.managed\.dataDir: required/);
  });
});
