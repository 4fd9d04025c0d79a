// The plugin layer under a real CLI (terraform or tofu), through the real process handshake
// (AutoMTLS), against the fixture provider installed in a filesystem mirror. One test file per
// CLI calls cliSuite, so the two run in parallel.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { providerSchemaDocument } from '../../../provider/plugin/schema.js';
import { buildFixture, FIXTURE_SOURCE, TOOLS, Workspace } from './harness.js';
import fixture from './fixture/provider.js';

const SOURCE = `${FIXTURE_SOURCE.host}/${FIXTURE_SOURCE.namespace}/${FIXTURE_SOURCE.type}`;

interface Thing {
  name?: string;
  size?: number;
  zone?: string;
  /** HCL expression for tags. */
  tags?: string;
  extra?: string;
}

function config(things: Record<string, Thing>, extra = ''): string {
  const blocks = Object.entries(things).map(([key, th]) =>
    [
      `resource "vxtest_thing" "${key}" {`,
      `  name = "${th.name ?? key}"`,
      th.size !== undefined ? `  size = ${th.size}` : '',
      th.zone !== undefined ? `  zone = "${th.zone}"` : '',
      `  tags = ${th.tags ?? '{ env = "test" }'}`,
      '  secret = "hunter2"',
      '  rule {',
      '    port = 80',
      '  }',
      '  rule {',
      '    port  = 53',
      '    proto = "udp"',
      '  }',
      th.extra ?? '',
      '}',
    ].join('\n'),
  );
  return [
    'terraform {',
    '  required_providers {',
    `    vxtest = { source = "${SOURCE}" }`,
    '  }',
    '}',
    'provider "vxtest" {',
    '  store = "${path.module}/things.json"',
    '}',
    ...blocks,
    extra,
    '',
  ].join('\n');
}

export function cliSuite(name: 'terraform' | 'tofu'): void {
  // Built by scripts/install-terraform.sh (setup runs it); a missing CLI fails the suite.
  describe(name, () => {
    suite(join(TOOLS, name));
  });
}

function suite(cli: string): void {
  let buildDir = '';
  let entry = '';
  beforeAll(async () => {
    buildDir = await mkdtemp(join(tmpdir(), 'vxcloud-fixture-'));
    entry = await buildFixture(buildDir);
  });
  afterAll(async () => {
    if (buildDir) await rm(buildDir, { recursive: true, force: true });
  });

  let ws: Workspace | undefined;
  const workspace = async (): Promise<Workspace> => (ws = await Workspace.create(cli, entry));
  afterEach(async () => {
    await ws?.remove();
    ws = undefined;
  });

  it('inits offline from the mirror, then validate names the bad attribute', { timeout: 180_000 }, async () => {
    const w = await workspace();
    await w.writeConfig(config({ a: { size: 500 } }));
    const init = await w.ok(['init', '-no-color']);
    expect(init.stdout).toMatch(/Installing registry\.vxcloud\.dev\/vxcloud\/vxtest v0\.0\.1/);

    const bad = await w.ok(['validate', '-no-color'], 1);
    expect(bad.stderr).toContain('Must be a whole number from 1 to 100; got 500.');
    // The diagnostic carries the attribute's path, so the CLI quotes that line of config.
    expect(bad.stderr).toMatch(/size = 500/);

    await w.writeConfig(config({ a: { name: 'Bad Name' } }));
    const badName = await w.ok(['validate', '-no-color'], 1);
    expect(badName.stderr).toMatch(/name = "Bad Name"/);

    await w.writeConfig(config({ a: { extra: '  rule {\n    port = 0\n  }' } }));
    const badRule = await w.ok(['validate', '-no-color'], 1);
    expect(badRule.stderr).toMatch(/port = 0/);

    // The resource's own cross-attribute check, pointing at its attribute.
    await w.writeConfig(config({ a: { name: 'hunter2' } }));
    const same = await w.ok(['validate', '-no-color'], 1);
    expect(same.stderr).toContain('Secret equals name');
    expect(same.stderr).toMatch(/secret = "hunter2"/);

    await w.writeConfig(config({ a: { size: 5 } }));
    await w.ok(['validate', '-no-color']);
  });

  it('plans, applies, settles, updates in place, replaces and destroys', { timeout: 300_000 }, async () => {
    const w = await workspace();
    // b's tags hold a's id: unknown inside a map while planning, known when b is applied.
    const bTags = '{ env = "test", peer = vxtest_thing.a.id }';
    await w.writeConfig(config({ a: { size: 3 }, b: { tags: bTags } }));
    await w.ok(['init', '-no-color']);

    expect(await w.plannedActions()).toEqual({ 'vxtest_thing.a': ['create'], 'vxtest_thing.b': ['create'] });
    await w.ok(['apply', '-no-color', '-auto-approve']);
    const a1 = await w.stateValues('vxtest_thing.a');
    expect(a1).toMatchObject({
      name: 'a',
      size: 3,
      zone: 'zone-a',
      tags: { env: 'test' },
      rule: [
        { port: 80, proto: null },
        { port: 53, proto: 'udp' },
      ],
    });
    expect(typeof a1?.id).toBe('string');
    const stored = JSON.parse(await readFile(w.storeFile, 'utf8')) as Record<string, unknown>;
    expect(Object.keys(stored)).toHaveLength(2);
    expect(await w.stateValues('vxtest_thing.b')).toMatchObject({ tags: { env: 'test', peer: a1?.id } });

    // Nothing changed: no diff (computed values are kept, nothing is normalised).
    await w.ok(['plan', '-no-color', '-detailed-exitcode'], 0);

    // An ordinary attribute: update in place, computed values kept.
    await w.writeConfig(config({ a: { size: 7 }, b: { tags: bTags } }));
    expect(await w.plannedActions()).toEqual({ 'vxtest_thing.a': ['update'], 'vxtest_thing.b': ['no-op'] });
    await w.ok(['apply', '-no-color', '-auto-approve']);
    const a2 = await w.stateValues('vxtest_thing.a');
    expect(a2).toMatchObject({ size: 7, id: a1?.id, serial: a1?.serial });
    await w.ok(['plan', '-no-color', '-detailed-exitcode'], 0);

    // A replace-only attribute: delete and create, a new id.
    await w.writeConfig(config({ a: { size: 7, zone: 'zone-b' }, b: { tags: bTags } }));
    expect((await w.plannedActions())['vxtest_thing.a']).toEqual(['delete', 'create']);
    await w.ok(['apply', '-no-color', '-auto-approve']);
    const a3 = await w.stateValues('vxtest_thing.a');
    expect(a3).toMatchObject({ zone: 'zone-b', size: 7 });
    expect(a3?.id).not.toBe(a1?.id);
    await w.ok(['plan', '-no-color', '-detailed-exitcode'], 0);

    // Drift made outside terraform shows up through ReadResource.
    const drifted = JSON.parse(await readFile(w.storeFile, 'utf8')) as Record<string, { size: number | null }>;
    for (const th of Object.values(drifted)) th.size = 9;
    await (await import('node:fs/promises')).writeFile(w.storeFile, JSON.stringify(drifted));
    await w.ok(['plan', '-no-color', '-detailed-exitcode'], 2);

    await w.ok(['destroy', '-no-color', '-auto-approve']);
    expect(JSON.parse(await readFile(w.storeFile, 'utf8'))).toEqual({});
    expect(await w.stateValues('vxtest_thing.a')).toBeUndefined();
  });

  it('imports an existing object by id', { timeout: 240_000 }, async () => {
    const w = await workspace();
    await w.writeConfig(config({ a: { size: 4 } }));
    await w.ok(['init', '-no-color']);
    await w.ok(['apply', '-no-color', '-auto-approve']);
    const id = (await w.stateValues('vxtest_thing.a'))?.id as string;
    await w.ok(['state', 'rm', '-no-color', 'vxtest_thing.a']);
    expect(await w.stateValues('vxtest_thing.a')).toBeUndefined();

    await w.ok(['import', '-no-color', 'vxtest_thing.a', id]);
    expect(await w.stateValues('vxtest_thing.a')).toMatchObject({ id, name: 'a', size: 4 });
    await w.ok(['plan', '-no-color', '-detailed-exitcode'], 0);

    // A data source finds it by name.
    const lookup = 'data "vxtest_thing" "found" {\n  name = vxtest_thing.a.name\n}\noutput "found" {\n  value = data.vxtest_thing.found\n}';
    await w.writeConfig(config({ a: { size: 4 } }, lookup));
    await w.ok(['apply', '-no-color', '-auto-approve']);
    const out = JSON.parse((await w.ok(['output', '-json', 'found'])).stdout) as Record<string, unknown>;
    expect(out).toEqual({ name: 'a', id, size: 4 });

    await w.writeConfig(config({ a: { size: 4 }, b: {} }));
    const missing = await w.ok(['import', '-no-color', 'vxtest_thing.b', 'no-such-id'], 1);
    expect(missing.stderr).toMatch(/non-existent remote object/);
  });

  it('reports the same schema document as providerSchemaDocument', { timeout: 120_000 }, async () => {
    const w = await workspace();
    await w.writeConfig(config({}));
    await w.ok(['init', '-no-color']);
    const out = await w.ok(['providers', 'schema', '-json']);
    expect(JSON.parse(out.stdout)).toEqual(providerSchemaDocument(fixture, SOURCE));
  });
}
