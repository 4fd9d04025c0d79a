// examples/hcl/router under the real terraform CLI: NICs on two compute hosts take their addresses
// by DHCP from a router on a third host, reach each other through it, get out to the lab's
// internet behind the router's address (SNAT), and are reached through a port forward (DNAT)
// that their security groups admit.

import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../lab/lab.js';
import { ingressChain } from '../../../agent/firewall/ruleset.js';
import { nicDevice } from '../../../agent/l2/names.js';
import { VXCLOUD_SOURCE } from '../../../provider/plugin/install.js';
import { stopServer, tcpGet, tcpServer } from '../../harness/l3.js';
import { hostLinks, ping, startLab, type TestLab } from '../../harness/lab.js';
import { REPO, TOOLS, Workspace, VERSION } from '../plugin/harness.js';

const EXTERNAL_IP = '203.0.113.10';

interface NicOut {
  namespace: string;
  host: string;
  ip: string;
}

describe('examples/hcl/router with terraform', () => {
  let lab: TestLab;
  let ws: Workspace;
  let web: NicOut;
  let db: NicOut;

  beforeAll(async () => {
    lab = await startLab({ hosts: 3, roles: (i) => (i === 3 ? ['route'] : ['compute']), internet: true, reconcileIntervalSeconds: 3600 });
    ws = await Workspace.create(join(TOOLS, 'terraform'), join(REPO, 'dist/provider/main.js'), VXCLOUD_SOURCE, VERSION);
    await ws.writeConfig(await readFile(join(REPO, 'examples/hcl/router/main.tf'), 'utf8'));
    await writeFile(
      join(ws.dir, 'terraform.tfvars'),
      `lab_file = ${JSON.stringify(join(lab.lab.dir, 'lab.json'))}\nnamespace_prefix = ${JSON.stringify(lab.lab.name)}\nexternal_ip = "${EXTERNAL_IP}"\n`,
    );
  });
  afterAll(async () => {
    await ws?.remove();
    await lab?.down();
  });

  it('applies: a router on the route host, NICs on the compute hosts', async () => {
    await ws.ok(['init', '-no-color']);
    await ws.ok(['apply', '-auto-approve', '-no-color']);
    const out = JSON.parse((await ws.ok(['output', '-json'])).stdout) as Record<string, { value: NicOut }>;
    web = out.web!.value;
    db = out.db!.value;
    expect(web.host).not.toBe(db.host);
    expect(await ws.stateValues('vxcloud_router.shop')).toMatchObject({ host: 'h3', status: 'ready', snat: true });
  });

  it('gives each NIC its address by DHCP', async () => {
    for (const n of [web, db]) {
      await waitFor(`a DHCP lease of ${n.ip} in ${n.namespace}`, 20_000, async () => {
        const addrs = JSON.parse((await lab.exec(n.namespace, ['ip', '-j', '-4', 'addr', 'show', 'eth0'])).stdout) as {
          addr_info: { local: string; prefixlen: number }[];
        }[];
        return addrs[0]!.addr_info.some((a) => `${a.local}/${a.prefixlen}` === n.ip);
      });
    }
  });

  it('routes between the subnets through the router on the third host', async () => {
    expect(await ping(lab, web.namespace, db.ip.split('/')[0]!)).toBe(true);
    expect(await ping(lab, db.namespace, web.ip.split('/')[0]!)).toBe(true);
  });

  it("takes egress out behind the router's external address", async () => {
    const inet = lab.lab.internet!;
    const server = await tcpServer(inet.namespace, 8000, 'internet');
    try {
      expect(await tcpGet(db.namespace, inet.gateway, 8000)).toBe(`internet ${EXTERNAL_IP}`);
    } finally {
      stopServer(server);
    }
  });

  it('forwards the external port to the web NIC', async () => {
    const server = await tcpServer(web.namespace, 80, 'web');
    try {
      const reply = await tcpGet(lab.lab.internet!.namespace, EXTERNAL_IP, 8080);
      expect(reply.startsWith('web ')).toBe(true);
    } finally {
      stopServer(server);
    }
  });

  it('refuses bad NAT rules at validate or plan time, naming the attribute', async () => {
    const rule = (body: string): string => `resource "vxcloud_nat_rule" "bad" {\n  router_id = vxcloud_router.shop.id\n${body}}\n`;
    const cases: [string, 'validate' | 'plan', string, RegExp][] = [
      [
        rule('  type = "dnat"\n  protocol = "tcp"\n  external_ip = "203.0.113.10"\n  external_port = 70000\n  internal_ip = "198.18.1.2"\n'),
        'validate',
        'external_port',
        /whole number from 1 to 65535/,
      ],
      [
        rule(
          '  type = "dnat"\n  protocol = "tcp"\n  external_ip = "203.0.113.10"\n  external_port = 8081\n  internal_ip = "198.18.9.9"\n  internal_port = 80\n',
        ),
        'plan',
        'internal_ip',
        /subnet/,
      ],
      [
        rule(
          '  type = "dnat"\n  protocol = "tcp"\n  external_ip = "203.0.113.10"\n  external_port = 8080\n  internal_ip = "198.18.2.2"\n  internal_port = 80\n',
        ),
        'plan',
        'external_port',
        /8080/,
      ],
    ];
    for (const [hcl, command, attribute, message] of cases) {
      await writeFile(join(ws.dir, 'bad.tf'), hcl);
      try {
        const r = await ws.run([command, '-no-color']);
        expect(r.code, r.stdout).toBe(1);
        expect(r.stderr).toMatch(message);
        // With an attribute path, terraform quotes the offending line of configuration.
        expect(r.stderr).toMatch(new RegExp(`\\n\\s*\\d+:\\s+${attribute}\\s+=`));
      } finally {
        await rm(join(ws.dir, 'bad.tf'));
      }
    }
  });

  it("refuses an external_ip off the route host's external network at plan time, and the router stays", async () => {
    const id = (await ws.stateValues('vxcloud_router.shop'))!.id;
    const inet = lab.lab.internet!;
    const cases: [string, RegExp][] = [
      [
        '203.0.114.10',
        /203\.0\.114\.10 is not a host address of "internet" \(203\.0\.113\.0\/24\)\. Pick a host address of 203\.0\.113\.0\/24 other than the gateway/,
      ],
      [inet.gateway, new RegExp(`${inet.gateway.replaceAll('.', '\\.')} is the gateway of "internet"`)],
    ];
    for (const [ip, message] of cases) {
      const r = await ws.run(['apply', '-auto-approve', '-no-color', `-var=external_ip=${ip}`]);
      expect(r.code, r.stdout).toBe(1);
      expect(r.stderr.replace(/\s+/g, ' ')).toMatch(message);
      expect(r.stderr).toMatch(/\n\s*\d+:\s+external_ip\s+=/);
    }
    expect(await ws.stateValues('vxcloud_router.shop')).toMatchObject({ id, status: 'ready', external_ip: EXTERNAL_IP });
  });

  it("security groups: a NIC's groups change in place, a rule flushed by hand plans a repair, a group imports by id", async () => {
    const config = await readFile(join(REPO, 'examples/hcl/router/main.tf'), 'utf8');
    const both = 'security_group_ids = [vxcloud_security_group.shop.id, vxcloud_security_group.http.id]';
    expect(config).toContain(both);
    const reachable = async (): Promise<boolean> => {
      const server = await tcpServer(web.namespace, 80, 'web');
      try {
        return (await tcpGet(lab.lab.internet!.namespace, EXTERNAL_IP, 8080).catch(() => '')).startsWith('web ');
      } finally {
        stopServer(server);
      }
    };
    // Without the http group the internet no longer gets in; the NIC is changed, not replaced.
    await ws.writeConfig(config.replace(both, 'security_group_ids = [vxcloud_security_group.shop.id]'));
    const plan = await ws.run(['plan', '-no-color']);
    expect(plan.stdout).toMatch(/vxcloud_nic\.web will be updated in-place/);
    await ws.ok(['apply', '-auto-approve', '-no-color']);
    expect(await reachable()).toBe(false);
    await ws.writeConfig(config);
    await ws.ok(['apply', '-auto-approve', '-no-color']);
    expect(await reachable()).toBe(true);

    const nic = (await ws.stateValues('vxcloud_nic.web'))!;
    const hostNs = lab.lab.hosts.find((h) => h.name === web.host)!.namespace;
    await lab.exec(hostNs, ['nft', 'flush', 'chain', 'inet', 'vxsg', ingressChain(nicDevice('veth', String(nic.id)))]);
    const drift = await ws.run(['plan', '-detailed-exitcode', '-no-color']);
    expect(drift.code).toBe(2);
    expect(drift.stdout).toMatch(/vxcloud_nic\.web will be updated in-place/);
    expect(drift.stdout).toMatch(/firewall chain in_vxn\w+ has 0 rules/);
    await ws.ok(['apply', '-auto-approve', '-no-color']);
    expect(await ws.stateValues('vxcloud_nic.web')).toMatchObject({ status: 'ready' });
    expect(await reachable()).toBe(true);

    const group = (await ws.stateValues('vxcloud_security_group.http'))!;
    await ws.ok(['state', 'rm', 'vxcloud_security_group.http']);
    await ws.ok(['import', '-no-color', 'vxcloud_security_group.http', String(group.id)]);
    expect(await ws.stateValues('vxcloud_security_group.http')).toMatchObject({ id: group.id, name: 'http', description: 'HTTP from anywhere' });
  });

  it('plans nothing more, then destroys everything', async () => {
    await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
    await ws.ok(['destroy', '-auto-approve', '-no-color']);
    for (const h of ['h1', 'h2']) expect((await hostLinks(lab, h)).filter((l) => l.startsWith('vx'))).toEqual([]);
    const { stdout } = await lab.exec(lab.lab.hosts[2]!.namespace, ['ip', 'netns', 'list']);
    // The namespace list is machine-wide: look only at this lab's route host's routers.
    expect(stdout).not.toMatch(new RegExp(`${lab.lab.hosts[2]!.namespace}-vxr`));
  });
});
