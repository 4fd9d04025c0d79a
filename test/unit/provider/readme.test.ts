// The README's CDKTF example is the stack test/acceptance/cdktf synthesizes and applies, so the
// code a new user copies is code that ran.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../../acceptance/plugin/harness.js';

const readme = await readFile(join(REPO, 'README.md'), 'utf8');
const example = await readFile(join(REPO, 'examples/cdktf/basic/main.ts'), 'utf8');

function readmeCdktfBlock(): string {
  const section = readme.slice(readme.indexOf('### CDKTF'));
  const start = section.indexOf('```ts\n') + '```ts\n'.length;
  return section.slice(start, section.indexOf('```\n', start));
}

describe('the README', () => {
  it("shows examples/cdktf/basic's stack verbatim, importing the bindings from vxcloud/cdktf", () => {
    const region = example.slice(example.indexOf('\n', example.indexOf('// README: begin')) + 1, example.indexOf('// README: end')).trimEnd();
    expect(region).toContain('class BasicStack extends TerraformStack');
    const block = readmeCdktfBlock();
    expect(block).toContain(region);
    const bindings = /^import \{ ([^}]+) \} from '[./]+\/provider\/cdktf\/index\.js';$/m.exec(example)![1];
    expect(block).toContain(`import { ${bindings} } from 'vxcloud/cdktf';`);
  });

  it('names every resource type and points nowhere outside the repository', () => {
    for (const type of ['vpc', 'subnet', 'nic', 'router', 'nat_rule', 'block_volume']) expect(readme).toContain(`\`vxcloud_${type}\``);
    expect(readme).not.toContain('../shared');
  });
});
