// The committed docs/ are what the generator makes from the current schema and examples.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import definition from '../../../provider/definition.js';
import { readExamples, renderDocs } from '../../../provider/docs/render.js';

const REPO = join(import.meta.dirname, '../../..');
const STALE = 'docs/ is stale: run `npm run build && bash scripts/gen-docs.sh` and commit docs/';

describe('docs/', async () => {
  const pages = renderDocs(definition, await readExamples(REPO));

  it('has a page per resource and data source, and the index', async () => {
    const committed = ['index.md'];
    for (const dir of ['resources', 'data-sources']) committed.push(...(await readdir(join(REPO, 'docs', dir))).map((f) => `${dir}/${f}`));
    expect(committed.sort(), STALE).toEqual([...pages.keys()].sort());
    expect(pages.keys()).toContain('resources/vpc.md');
    expect(pages.keys()).toContain('data-sources/hosts.md');
  });

  it.each([...pages.keys()])('%s is up to date', async (path) => {
    expect(await readFile(join(REPO, 'docs', path), 'utf8'), STALE).toBe(pages.get(path));
  });

  it('notes what forces replacement and shows the import syntax', () => {
    const vpc = pages.get('resources/vpc.md')!;
    expect(vpc).toMatch(/^---\npage_title: "vxcloud_vpc Resource - vxcloud"\nsubcategory: "Networking"\ndescription: \|-\n/);
    expect(vpc).toContain('- `cidr` (String, Required, forces replacement)');
    expect(vpc).toContain('- `name` (String, Required) A name for people.');
    expect(vpc).toContain('terraform import vxcloud_vpc.demo <id>');
    expect(pages.get('resources/nic.md')).toContain("terraform import 'vxcloud_nic.web[0]' <id>");
    expect(pages.get('data-sources/host.md')).not.toContain('## Import');
  });
});
