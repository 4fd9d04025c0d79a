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
    expect(c).toMatchObject({ logLevel: 'info', reconcile: { intervalSeconds: 10 }, vxlanPort: 4789 });
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
    ];
    for (const [text, field] of cases) {
      expect(() => parseConfig(text, '/'), field).toThrow(ConfigError);
      expect(() => parseConfig(text, '/'), field).toThrow(new RegExp(`^${field.replace('.', '\\.')}:`));
    }
  });
});
