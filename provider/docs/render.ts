// Registry-layout docs from the provider's schema: docs/index.md for the provider block,
// docs/resources/<name>.md and docs/data-sources/<name>.md. Each page has front matter
// (page_title, subcategory, description), an Example Usage taken from the HCL under examples/,
// the Argument and Attributes References from the schema, and for resources the import syntax.
// The definition's schema is used rather than the JSON document: only it knows what forces
// replacement.

import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { CtyType } from '../plugin/cty.js';
import type { Provider } from '../plugin/framework.js';
import type { AttributeSchema, BlockSchema } from '../plugin/schema.js';

export interface HclFile {
  /** Path relative to the repository, for the generated-from note. */
  readonly file: string;
  readonly text: string;
}

/** Where a page's example comes from: examples/ first; provider/docs/examples/ for types examples/ does not use. */
export const EXAMPLE_DIRS = ['examples', 'provider/docs/examples'] as const;

/** The registry's navigation groups: volumes are storage, other resources the network, data sources describe hosts. */
const subcategory = (kind: 'resource' | 'data', type: string): string => (kind === 'data' ? 'Hosts' : type.endsWith('_volume') ? 'Storage' : 'Networking');

async function tfFiles(repo: string, dir: string): Promise<string[]> {
  const entries = await readdir(join(repo, dir), { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const p = join(dir, e.name);
    if (e.isDirectory() && e.name !== '.terraform') out.push(...(await tfFiles(repo, p)));
    else if (e.isFile() && e.name.endsWith('.tf')) out.push(p);
  }
  return out;
}

/** Every .tf file of the example folders, in a fixed order. */
export async function readExamples(repo: string): Promise<HclFile[]> {
  const out: HclFile[] = [];
  for (const dir of EXAMPLE_DIRS) {
    for (const file of await tfFiles(repo, dir)) out.push({ file: relative(repo, join(repo, file)), text: await readFile(join(repo, file), 'utf8') });
  }
  return out;
}

interface Block {
  readonly name: string;
  readonly text: string;
  readonly counted: boolean;
}

/** The first top-level block `KIND "TYPE" ...` (a block ends at a `}` in column 0). */
function findBlock(examples: readonly HclFile[], kind: 'resource' | 'data' | 'provider', type: string): Block | undefined {
  const head = kind === 'provider' ? `provider "${type}"` : `${kind} "${type}" "([a-z0-9_-]+)"`;
  const re = new RegExp(`^${head} \\{\\n(?:.*\\n)*?\\}$`, 'm');
  for (const { text } of examples) {
    const m = re.exec(text);
    if (m) return { name: m[1] ?? type, text: m[0], counted: /^\s+(count|for_each)\s+=/m.test(m[0]) };
  }
  return undefined;
}

function typeName(type: CtyType): string {
  if (typeof type === 'string') return { string: 'String', number: 'Number', bool: 'Boolean', dynamic: 'Dynamic' }[type] ?? type;
  switch (type.kind) {
    case 'list':
      return `List of ${typeName(type.element)}`;
    case 'set':
      return `Set of ${typeName(type.element)}`;
    case 'map':
      return `Map of ${typeName(type.element)}`;
    case 'object':
      return 'Object';
    case 'tuple':
      return 'Tuple';
  }
}

const oneLine = (s: string | undefined): string => (s ?? '').replace(/\s+/g, ' ').trim();

function attributeLine(name: string, a: AttributeSchema, resource: boolean): string {
  const notes = [typeName(a.type)];
  if (a.required) notes.push('Required');
  else if (a.optional) notes.push(a.computed ? 'Optional, computed when omitted' : 'Optional');
  if (resource && a.requiresReplace && !(a.computed && !a.optional)) notes.push('forces replacement');
  if (a.sensitive) notes.push('Sensitive');
  if (a.deprecated) notes.push('Deprecated');
  return `- \`${name}\` (${notes.join(', ')}) ${oneLine(a.description)}`.trimEnd();
}

const sortedAttributes = (block: BlockSchema): [string, AttributeSchema][] => Object.entries(block.attributes).sort(([a], [b]) => a.localeCompare(b));

/** Arguments (required first, then optional) and nested blocks, each block in its own section. */
function argumentReference(block: BlockSchema, resource: boolean): string[] {
  const attrs = sortedAttributes(block);
  const lines = [
    ...attrs.filter(([, a]) => a.required).map(([n, a]) => attributeLine(n, a, resource)),
    ...attrs.filter(([, a]) => a.optional).map(([n, a]) => attributeLine(n, a, resource)),
  ];
  for (const [name, b] of Object.entries(block.blocks ?? {}).sort(([a], [c]) => a.localeCompare(c))) {
    const count = b.nesting === 'single' ? 'At most one' : b.maxItems ? `Up to ${b.maxItems}` : 'Any number of';
    lines.push(
      `- \`${name}\` (Block ${b.nesting}) ${count} \`${name}\` block${b.nesting === 'single' ? '' : 's'}${b.minItems ? `, at least ${b.minItems}` : ''}, described below. ${oneLine(b.block.description)}`.trimEnd(),
    );
  }
  for (const [name, b] of Object.entries(block.blocks ?? {}).sort(([a], [c]) => a.localeCompare(c))) {
    lines.push('', `### \`${name}\` block`, '', ...argumentReference(b.block, resource));
  }
  return lines;
}

function frontMatter(pageTitle: string, subcategory: string, description: string): string[] {
  return [
    '---',
    `page_title: ${JSON.stringify(pageTitle)}`,
    `subcategory: ${JSON.stringify(subcategory)}`,
    'description: |-',
    `  ${oneLine(description)}`,
    '---',
  ];
}

/** Where a user finds the id to import: the provider makes ids at create (`KIND-` and 10 hex digits). */
const ID_SOURCES: Record<string, string> = {
  vxcloud_vpc:
    'The id (`vpc-…`) was given by the provider that created the VPC: `vxctl vpc list` shows it beside the name and CIDR, and the workspace that made it has it in `terraform state show`. The import asks the registry which hosts the VPC spans.',
  vxcloud_subnet:
    'The id (`subnet-…`) was given by the provider that created the subnet: `vxctl subnet list` shows it beside its name, VPC, CIDR and VNI. The import asks the registry which hosts the subnet spans.',
  vxcloud_nic:
    'The id (`nic-…`) was given by the provider that created the NIC: `vxctl nic list` shows it beside its host, namespace, MAC and address. The import asks the registry for its host.',
  vxcloud_router:
    'The id (`router-…`) was given by the provider that created the router: `vxctl router list` shows it beside its VPC, host and external address. The import asks the registry for its host.',
  vxcloud_nat_rule:
    "The id (`nat-…`) was given by the provider that created the rule: `vxctl router show ROUTER_ID` lists the router's NAT rules with their ids. The import asks the registry for its host.",
  vxcloud_security_group:
    'The id (`sg-…`) was given by the provider that created the group: `vxctl sg list` shows it beside its tenant, name and members. Groups live in the registry, which the import asks.',
  vxcloud_security_group_rule:
    "The id (`sgr-…`) was given by the provider that created the rule: `vxctl sg show GROUP_ID` lists the group's rules with their ids. Rules live in the registry, which the import asks.",
  vxcloud_block_volume: "The id is the volume's `name`, unique in the deployment: `vxctl volume list` shows every volume with its hosts and size.",
};

const GENERATED = (examples: string): string => `<!-- Generated by scripts/gen-docs.sh from the provider's schema and ${examples}; do not edit by hand. -->`;

function page(kind: 'resource' | 'data', type: string, block: BlockSchema, examples: readonly HclFile[]): string {
  const label = kind === 'resource' ? 'Resource' : 'Data Source';
  const example = findBlock(examples, kind, type);
  if (!example) throw new Error(`no example of ${kind} "${type}" in ${EXAMPLE_DIRS.join(' or ')}`);
  const from = examples.find((e) => e.text.includes(example.text))!.file;
  const computed = sortedAttributes(block).filter(([, a]) => a.computed && !a.optional);
  const lines = [
    ...frontMatter(`${type} ${label} - vxcloud`, subcategory(kind, type), block.description ?? ''),
    GENERATED(from),
    '',
    `# ${type} (${label})`,
    '',
    oneLine(block.description),
    '',
    '## Example Usage',
    '',
    '```terraform',
    example.text,
    '```',
    '',
    '## Argument Reference',
    '',
    ...argumentReference(block, kind === 'resource'),
    '',
    '## Attributes Reference',
    '',
    'In addition to the arguments above, these attributes are exported:',
    '',
    ...computed.map(([n, a]) => attributeLine(n, a, kind === 'resource')),
  ];
  if (kind === 'resource') {
    const address = `${type}.${example.name}${example.counted ? '[0]' : ''}`;
    lines.push(
      '',
      '## Import',
      '',
      `An existing ${type} is imported by its \`id\`.${ID_SOURCES[type] ? ` ${ID_SOURCES[type]}` : ''}`,
      '',
      '```shell',
      `terraform import ${example.counted ? `'${address}'` : address} <id>`,
      '```',
    );
  }
  return `${lines.join('\n')}\n`;
}

function indexPage<M>(provider: Provider<M>, examples: readonly HclFile[]): string {
  const block = findBlock(examples, 'provider', provider.name);
  if (!block) throw new Error(`no provider "${provider.name}" block in ${EXAMPLE_DIRS.join(' or ')}`);
  const file = examples.find((e) => e.text.includes(block.text))!;
  const requirements = /^terraform \{\n(?:.*\n)*?\}$/m.exec(file.text)?.[0];
  const lines = [
    ...frontMatter(`Provider: ${provider.name}`, '', provider.schema.description ?? ''),
    GENERATED(file.file),
    '',
    `# ${provider.name} Provider`,
    '',
    oneLine(provider.schema.description),
    '',
    '## Example Usage',
    '',
    '```terraform',
    ...(requirements ? [requirements, ''] : []),
    block.text,
    '```',
    '',
    '## Argument Reference',
    '',
    ...argumentReference(provider.schema, false),
  ];
  return `${lines.join('\n')}\n`;
}

/** Every page, keyed by its path under docs/. */
export function renderDocs<M>(provider: Provider<M>, examples: readonly HclFile[]): Map<string, string> {
  const pages = new Map<string, string>([['index.md', indexPage(provider, examples)]]);
  const short = (type: string): string => type.slice(provider.name.length + 1);
  for (const [type, r] of provider.resources) pages.set(`resources/${short(type)}.md`, page('resource', type, r.schema, examples));
  for (const [type, d] of provider.dataSources) pages.set(`data-sources/${short(type)}.md`, page('data', type, d.schema, examples));
  return pages;
}
