// examples/<flavour>/basic synthesized in-process with that flavour's App.synth() (cdktf, or CDK
// Terrain's cdktn), then the synthesized JSON applied with the real terraform CLI against a fresh
// lab: init offline from the mirror, apply, pings across hosts between NICs, an empty plan, and
// destroy leaving no vxcloud device.

import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VXCLOUD_SOURCE } from '../../../provider/plugin/install.js';
import { VXCLOUD_ADDRESS } from '../../../provider/schema-document.js';
import { hostLinks, ping, startLab, type TestLab } from '../../harness/lab.js';
import { REPO, TOOLS, Workspace, VERSION, PROVIDER_ENTRY } from '../plugin/harness.js';

interface NicOut {
  host: string;
  ip: string;
  mac: string;
}

/** What the suite uses of examples/<flavour>/basic/main.ts. */
export interface BasicExample {
  readonly STACK: string;
  readonly synthBasic: (outdir: string, opts: { labFile: string; namespacePrefix: string }) => string;
}

export function cdkBasicSuite(flavour: 'cdktf' | 'cdktn', example: BasicExample): void {
  const { STACK, synthBasic } = example;

  describe(`examples/${flavour}/basic synthesized and applied with terraform`, () => {
    let lab: TestLab;
    let ws: Workspace;

    beforeAll(async () => {
      lab = await startLab({ hosts: 2 });
      ws = await Workspace.create(join(TOOLS, 'terraform'), PROVIDER_ENTRY, VXCLOUD_SOURCE, VERSION);
    });
    afterAll(async () => {
      await ws?.remove();
      await lab?.down();
    });

    it(`synthesizes stacks/${STACK}/cdk.tf.json with ${flavour}, requiring the provider from ${VXCLOUD_ADDRESS}`, async () => {
      const out = synthBasic(join(ws.dir, 'cdktf.out'), { labFile: join(lab.lab.dir, 'lab.json'), namespacePrefix: lab.lab.name });
      expect(out).toBe(join(ws.dir, 'cdktf.out', 'stacks', STACK, 'cdk.tf.json'));
      const json = JSON.parse(await readFile(out, 'utf8')) as {
        '//': { metadata: { version: string } };
        terraform: { required_providers: Record<string, { source: string }> };
        resource: Record<string, Record<string, unknown>>;
      };
      // The stack's metadata names the library version that synthesized it: this flavour's.
      const library = JSON.parse(await readFile(join(REPO, 'node_modules', flavour, 'package.json'), 'utf8')) as { version: string };
      expect(json['//'].metadata.version).toBe(library.version);
      expect(json.terraform.required_providers).toEqual({ vxcloud: { source: VXCLOUD_ADDRESS } });
      expect(Object.fromEntries(Object.entries(json.resource).map(([type, rs]) => [type, Object.keys(rs).sort()]))).toEqual({
        vxcloud_vpc: ['demo'],
        vxcloud_subnet: ['db', 'web'],
        vxcloud_nic: ['db0', 'db1', 'web0', 'web1'],
      });
      // terraform runs where the stack's JSON is, as the cdktf and cdktn CLIs do.
      await copyFile(out, join(ws.dir, 'cdk.tf.json'));
    });

    it('inits offline from the local mirror and applies', async () => {
      const init = await ws.ok(['init', '-no-color']);
      expect(init.stdout).toContain(`Installing ${VXCLOUD_ADDRESS} v${VERSION}`);
      await ws.ok(['apply', '-auto-approve', '-no-color']);
    });

    it('pings across hosts between the NICs of each subnet', async () => {
      const outputs = JSON.parse((await ws.ok(['output', '-json'])).stdout) as Record<string, { value: Record<string, NicOut> }>;
      for (const subnet of ['web', 'db']) {
        const nics = Object.entries(outputs[subnet]!.value);
        expect(nics).toHaveLength(2);
        const [[nsA, a], [, b]] = nics as [[string, NicOut], [string, NicOut]];
        expect(a.host).not.toBe(b.host);
        expect(await ping(lab, nsA, b.ip.split('/')[0]!)).toBe(true);
      }
    });

    it('plans nothing more after apply', async () => {
      await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
    });

    it('destroys everything: no vxcloud device is left on any host', async () => {
      await ws.ok(['destroy', '-auto-approve', '-no-color']);
      for (const h of lab.lab.hosts) expect(await hostLinks(lab, h.name)).toEqual(['eth0', 'lo']);
      const { stdout } = await lab.exec(lab.lab.hosts[0]!.namespace, ['ip', 'netns', 'list']);
      expect(stdout).not.toMatch(new RegExp(`${lab.lab.name}-(web|db)`));
    });
  });
}
