// examples/hcl/basic under a real CLI against a fresh lab: init offline, plan, apply, pings,
// an empty plan, in-place and replacing changes, drift repaired, import of every resource type,
// and destroy leaving the hosts without a vxcloud device. The lab's second compute host may be a
// VM (`vmHosts`), or the lab one that VXCLOUD_LAB names (test/harness/lab.ts).

import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VXCLOUD_SOURCE } from '../../../provider/plugin/install.js';
import { waitFor } from '../../../lab/lab.js';
import { startEvpnLab } from '../../harness/evpn.js';
import { hostLinks, ping, startLab, type TestLab } from '../../harness/lab.js';
import { lockVms, VM_LOCK_WAIT_MS } from '../../harness/vm/qemu.js';
import { REPO, TOOLS, Workspace, VERSION, PROVIDER_ENTRY } from '../plugin/harness.js';

interface NicOut {
  host: string;
  ip: string;
  mac: string;
}

/**
 * `controlPlane`: the lab's, when not the registry; `vmHosts`: how many of the two compute hosts
 * are VMs. The example and the provider's config stay the same.
 */
export function providerSuite(cliName: 'terraform' | 'tofu', opts: { full: boolean; controlPlane?: 'evpn'; vmHosts?: 1 | 2 }): void {
  const on = [opts.controlPlane, opts.vmHosts ? `${opts.vmHosts} VM host${opts.vmHosts > 1 ? 's' : ''}` : ''].filter(Boolean).join(', ');
  describe(`examples/hcl/basic with ${cliName}${on ? ` on ${on}` : ''}`, () => {
    let lab: TestLab;
    let ws: Workspace;
    /** The compute hosts the example places NICs on, and their links before it. */
    let compute: string[];
    const baseline = new Map<string, string[]>();
    let unlockVms: (() => Promise<void>) | undefined;
    const file = (name: string, text: string): Promise<void> => writeFile(join(ws.dir, name), text);
    const outputs = async (): Promise<Record<string, Record<string, NicOut>>> => {
      const r = await ws.ok(['output', '-json']);
      return Object.fromEntries(Object.entries(JSON.parse(r.stdout) as Record<string, { value: Record<string, NicOut> }>).map(([k, v]) => [k, v.value]));
    };
    /** Planned actions, without the resources that stay as they are. */
    const changes = async (): Promise<Record<string, string[]>> =>
      Object.fromEntries(Object.entries(await ws.plannedActions()).filter(([, a]) => a.join() !== 'no-op'));
    const pingsAcross = async (subnet: 'web' | 'db'): Promise<void> => {
      const nics = Object.entries((await outputs())[subnet]!);
      expect(nics).toHaveLength(2);
      const [[nsA, a], [, b]] = nics as [[string, NicOut], [string, NicOut]];
      expect(a.host).not.toBe(b.host);
      // The control plane converges just after apply returns.
      await waitFor(`${nsA} to reach ${b.ip}`, 10_000, () => ping(lab, nsA, b.ip.split('/')[0]!, 1));
      expect(await ping(lab, nsA, b.ip.split('/')[0]!)).toBe(true);
    };

    // Waiting for another file's VMs has a bound of its own, apart from the lab's setup.
    beforeAll(async () => {
      if (opts.vmHosts) unlockVms = await lockVms();
    }, VM_LOCK_WAIT_MS);

    beforeAll(async () => {
      // Agents reconcile only hourly here, so that drift made by hand stays until plan sees it.
      // evpn: h1 and h2 are the VTEPs (the compute hosts the example uses), h3 the route reflector.
      if (opts.controlPlane === 'evpn') lab = await startEvpnLab({ vteps: 2, reflectors: 1, reconcileIntervalSeconds: 3600 });
      else lab = await startLab({ hosts: 2 - (opts.vmHosts ?? 0), vmHosts: opts.vmHosts, reconcileIntervalSeconds: 3600 });
      compute = lab.lab.hosts.filter((h) => h.roles.includes('compute')).map((h) => h.name);
      for (const h of compute) baseline.set(h, await hostLinks(lab, h));
      ws = await Workspace.create(join(TOOLS, cliName), PROVIDER_ENTRY, VXCLOUD_SOURCE, VERSION);
      await ws.writeConfig(await readFile(join(REPO, 'examples/hcl/basic/main.tf'), 'utf8'));
      await file('terraform.tfvars', `lab_file = ${JSON.stringify(join(lab.lab.dir, 'lab.json'))}\nnamespace_prefix = ${JSON.stringify(lab.lab.name)}\n`);
    }, 300_000);
    afterAll(async () => {
      await ws?.remove();
      await lab?.down();
      await unlockVms?.();
    });

    it('inits offline from the local mirror and plans the creates', async () => {
      const init = await ws.ok(['init', '-no-color']);
      expect(init.stdout).toContain(`Installing ${VXCLOUD_SOURCE.host}/${VXCLOUD_SOURCE.namespace}/${VXCLOUD_SOURCE.type} v${VERSION}`);
      expect(await changes()).toEqual({
        'vxcloud_vpc.demo': ['create'],
        'vxcloud_subnet.web': ['create'],
        'vxcloud_subnet.db': ['create'],
        'vxcloud_nic.web[0]': ['create'],
        'vxcloud_nic.web[1]': ['create'],
        'vxcloud_nic.db[0]': ['create'],
        'vxcloud_nic.db[1]': ['create'],
      });
    });

    it('applies, and NICs ping across hosts in both subnets', async () => {
      await ws.ok(['apply', '-auto-approve', '-no-color']);
      await pingsAcross('web');
      await pingsAcross('db');
    });

    it('plans nothing more after apply', async () => {
      await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
    });

    if (opts.full) {
      it('adds a subnet without touching the rest, and updates a name in place', async () => {
        await file('cache.tf', 'resource "vxcloud_subnet" "cache" {\n  vpc_id = vxcloud_vpc.demo.id\n  cidr   = "198.18.3.0/24"\n}\n');
        await file('main_override.tf', 'resource "vxcloud_vpc" "demo" {\n  name = "demo-renamed"\n}\n');
        expect(await changes()).toEqual({ 'vxcloud_subnet.cache': ['create'], 'vxcloud_vpc.demo': ['update'] });
        await ws.ok(['apply', '-auto-approve', '-no-color']);
        expect(await ws.stateValues('vxcloud_vpc.demo')).toMatchObject({ name: 'demo-renamed', status: 'ready' });
        expect(await ws.stateValues('vxcloud_subnet.cache')).toMatchObject({ cidr: '198.18.3.0/24', vni: expect.any(Number) as unknown, hosts: compute });
        await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
      });

      it('replaces a subnet whose CIDR changes', async () => {
        await file('cache.tf', 'resource "vxcloud_subnet" "cache" {\n  vpc_id = vxcloud_vpc.demo.id\n  cidr   = "198.18.4.0/24"\n}\n');
        const before = await ws.stateValues('vxcloud_subnet.cache');
        expect(await changes()).toEqual({ 'vxcloud_subnet.cache': ['delete', 'create'] });
        await ws.ok(['apply', '-auto-approve', '-no-color']);
        const after = await ws.stateValues('vxcloud_subnet.cache');
        expect(after).toMatchObject({ cidr: '198.18.4.0/24', status: 'ready' });
        expect(after!.id).not.toBe(before!.id);
      });

      it('shows a vxlan device deleted by hand in plan, and apply repairs it', async () => {
        const web = await ws.stateValues('vxcloud_subnet.web');
        const dev = `vxlan${web!.vni as number}`;
        const second = compute[1]!;
        await lab.onHost(second, ['ip', 'link', 'del', dev]);
        const plan = await ws.run(['plan', '-detailed-exitcode', '-no-color']);
        expect(plan.code).toBe(2);
        expect(plan.stdout).toContain(`${second}: vxlan ${dev} is missing`);
        await ws.ok(['apply', '-auto-approve', '-no-color']);
        expect(await hostLinks(lab, second)).toContain(dev);
        await pingsAcross('web');
        await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
      });

      it('imports every resource type by id, with nothing to change afterwards', async () => {
        for (const address of ['vxcloud_vpc.demo', 'vxcloud_subnet.web', 'vxcloud_nic.web[1]']) {
          const id = (await ws.stateValues(address))!.id as string;
          await ws.ok(['state', 'rm', '-no-color', address]);
          await ws.ok(['import', '-no-color', address, id]);
        }
        await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
      });

      it('refuses bad input at validate or plan time, naming the attribute', async () => {
        const bad = async (name: string, hcl: string, command: 'validate' | 'plan', attribute: string, message: RegExp): Promise<void> => {
          await file(name, hcl);
          try {
            const r = await ws.run([command, '-no-color']);
            expect(r.code, `${name}: ${r.stdout}`).toBe(1);
            const out = r.stderr + r.stdout;
            expect(out).toMatch(message);
            // With an attribute path, terraform quotes the offending line of configuration.
            expect(out).toMatch(new RegExp(`\\n\\s*\\d+:\\s+${attribute}\\s+=`));
          } finally {
            await rm(join(ws.dir, name));
          }
        };
        await bad('bad1.tf', 'resource "vxcloud_vpc" "x" {\n  name = "x"\n  cidr = "198.18.0.0/33"\n}\n', 'validate', 'cidr', /not an IPv4 CIDR/);
        await bad(
          'bad2.tf',
          'resource "vxcloud_subnet" "x" {\n  vpc_id = "v"\n  cidr   = "198.18.9.0/24"\n  vni    = 16777216\n}\n',
          'validate',
          'vni',
          /whole number from 1 to 16777215/,
        );
        await bad(
          'bad3.tf',
          'resource "vxcloud_nic" "x" {\n  subnet_id = "s"\n  host      = "h9"\n  namespace = "n"\n  mac       = "01:00:5e:00:00:01"\n}\n',
          'validate',
          'mac',
          /multicast/,
        );
        await bad(
          'bad4.tf',
          'resource "vxcloud_subnet" "x" {\n  vpc_id = vxcloud_vpc.demo.id\n  cidr   = "198.19.9.0/24"\n}\n',
          'plan',
          'cidr',
          /not inside the VPC/,
        );
        await bad(
          'bad5.tf',
          'resource "vxcloud_subnet" "x" {\n  vpc_id = vxcloud_vpc.demo.id\n  cidr   = "198.18.1.128/25"\n}\n',
          'plan',
          'cidr',
          /overlaps subnet/,
        );
        await bad(
          'bad6.tf',
          'resource "vxcloud_nic" "x" {\n  subnet_id = vxcloud_subnet.web.id\n  host      = "h9"\n  namespace = "n"\n}\n',
          'plan',
          'host',
          /not one of the provider's hosts/,
        );
      });
    }

    it('destroys everything: no vxcloud device is left on any host', async () => {
      await ws.ok(['destroy', '-auto-approve', '-no-color']);
      for (const h of compute) expect(await hostLinks(lab, h)).toEqual(baseline.get(h));
      for (const h of compute) expect((await lab.onHost(h, ['ip', 'netns', 'list'])).stdout).not.toMatch(new RegExp(`${lab.lab.name}-(web|db)`));
    });
  });
}
