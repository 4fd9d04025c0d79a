// The README's CDKTF example is the stack test/acceptance/cdktf synthesizes and applies, and the
// CDK Terrain one the same stack that test/acceptance/cdktn applies, so the code a new user copies
// is code that ran.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from '../../acceptance/plugin/harness.js';

const readme = await readFile(join(REPO, 'README.md'), 'utf8');
const examples = {
  cdktf: await readFile(join(REPO, 'examples/cdktf/basic/main.ts'), 'utf8'),
  cdktn: await readFile(join(REPO, 'examples/cdktn/basic/main.ts'), 'utf8'),
};

/** The ```ts blocks of the README's CDKTF section, in order. */
function readmeCdkBlocks(): string[] {
  const start = readme.indexOf('### CDKTF');
  const end = readme.indexOf('\n## ', start);
  const section = readme.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```\n/g)].map((m) => m[1]!);
}

function stackRegion(example: string): string {
  return example.slice(example.indexOf('\n', example.indexOf('// README: begin')) + 1, example.indexOf('// README: end')).trimEnd();
}

/** The example's import of the library and of the bindings, as a user outside this tree writes them. */
function userImports(flavour: 'cdktf' | 'cdktn'): string[] {
  const example = examples[flavour];
  const library = new RegExp(`^import \\{ [^}]+ \\} from '${flavour}';$`, 'm').exec(example)![0];
  const bindings = new RegExp(`^import \\{ ([^}]+) \\} from '[./]+/provider/${flavour}/index\\.js';$`, 'm').exec(example)![1];
  return [library, "import type { Construct } from 'constructs';", `import { ${bindings} } from 'vxcloud/${flavour}';`];
}

describe('the README', () => {
  it("shows examples/cdktf/basic's stack verbatim, importing the bindings from vxcloud/cdktf", () => {
    const region = stackRegion(examples.cdktf);
    expect(region).toContain('class BasicStack extends TerraformStack');
    const [block] = readmeCdkBlocks();
    expect(block).toContain(region);
    expect(block).toContain(userImports('cdktf').join('\n'));
  });

  it("shows examples/cdktn/basic's imports, from cdktn and vxcloud/cdktn, for the same stack", () => {
    expect(stackRegion(examples.cdktn)).toBe(stackRegion(examples.cdktf));
    const blocks = readmeCdkBlocks();
    expect(blocks).toHaveLength(2);
    expect(blocks[1]).toContain(userImports('cdktn').join('\n'));
    expect(readme).toContain('examples/cdktn/basic');
  });

  it('names every resource type and points nowhere outside the repository', () => {
    for (const type of ['vpc', 'subnet', 'nic', 'router', 'nat_rule', 'block_volume']) expect(readme).toContain(`\`vxcloud_${type}\``);
    expect(readme).not.toContain('../shared');
  });
});
