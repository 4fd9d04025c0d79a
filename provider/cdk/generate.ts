// Generates the CDK bindings (TypeScript) from a `terraform providers schema -json` document, for
// CDKTF with @cdktf/provider-generator or for CDK Terrain with @cdktn/provider-generator — the
// code `cdktf get` / `cdktn get` would write, without their CLI or a terraform run. Run by
// scripts/gen-cdk.sh:
//
//   node generate.js cdktf|cdktn SCHEMA.json OUT_DIR
//
// OUT_DIR gets index.ts and one folder per resource, data source and the provider, as ES modules
// (both generators write imports without the extension NodeNext needs; index.ts is rewritten).

import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type * as Cdktf from '@cdktf/provider-generator';
import type * as Cdktn from '@cdktn/provider-generator';

type Flavour = 'cdktf' | 'cdktn';

/** Schema as read from JSON; each generator checks it against its own type. */
type ProviderSchema = ConstructorParameters<typeof Cdktf.TerraformProviderGenerator>[1];

/** What this module uses of a generator package; cdktn's is cdktf's, forked and renamed. */
interface GeneratorApi<C extends Code> {
  TerraformProviderGenerator: new (code: C, schema: ProviderSchema) => { generateAll(): void };
  CodeMaker: new () => C;
}
interface Code {
  save(dir: string): Promise<unknown>;
}

/** Runs one package's generator: the returned CodeMaker holds the files, not yet written. */
type Generate = (schema: ProviderSchema) => Code;

function generatorOf<C extends Code>({ TerraformProviderGenerator, CodeMaker }: GeneratorApi<C>): Generate {
  return (schema) => {
    const code = new CodeMaker();
    new TerraformProviderGenerator(code, schema).generateAll();
    return code;
  };
}

/**
 * The packages' main modules also load their jsii integration, which require.resolve()s jsii and
 * jsii-pacmak (only cdktn's depends on them; TypeScript needs neither). The TypeScript generator
 * proper does not, so it is loaded directly, with the CodeMaker of the generator's own copy (the
 * two pin different versions).
 */
function load<M extends { TerraformProviderGenerator: unknown; CodeMaker: unknown }>(
  pkg: string,
  generatorModule: string,
): Pick<M, 'TerraformProviderGenerator' | 'CodeMaker'> {
  const fromGenerator = createRequire(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  const { TerraformProviderGenerator } = fromGenerator(generatorModule) as Pick<M, 'TerraformProviderGenerator'>;
  const { CodeMaker } = fromGenerator('codemaker') as Pick<M, 'CodeMaker'>;
  return { TerraformProviderGenerator, CodeMaker };
}

// Loaded on demand: a generator's commons runs `terraform version` when loaded (see gen-cdk.sh).
const GENERATORS: Record<Flavour, () => Generate> = {
  cdktf: () => generatorOf(load<typeof Cdktf>('@cdktf/provider-generator', './lib/get/generator/provider-generator')),
  cdktn: () => generatorOf(load<typeof Cdktn>('@cdktn/provider-generator', './build/get/generator/provider-generator')),
};

/**
 * Neither generator marks the members it overrides in the base classes; this project compiles
 * with noImplicitOverride. Members not listed here fail the build, not silently.
 */
const OVERRIDDEN = /^( {2}(?:protected|public) )((?:get |set )?(?:synthesizeAttributes|synthesizeHclAttributes|alias)\()/gm;
const withOverrides = (ts: string): string => ts.replace(OVERRIDDEN, '$1override $2');

/** cdktf writes `from './vpc'`, cdktn `from './vpc/index'`; NodeNext wants the file, with .js. */
const withEsmIndex = (ts: string): string => ts.replace(/from '\.\/([a-z0-9-]+)(?:\/index)?';/g, "from './$1/index.js';");

async function generateBindings(flavour: Flavour, schema: ProviderSchema, outDir: string): Promise<string[]> {
  const addresses = Object.keys(schema.provider_schemas ?? {});
  if (addresses.length !== 1) throw new Error(`expected the schema of one provider, got ${addresses.length}`);
  const type = addresses[0]!.split('/').pop()!;

  const code = GENERATORS[flavour]()(schema);
  // Staged next to outDir (same filesystem), so the finished tree replaces it in one rename.
  await mkdir(dirname(outDir), { recursive: true });
  const staging = await mkdtemp(join(dirname(outDir), `.${flavour}-`));
  try {
    await code.save(staging);
    const root = join(staging, 'providers', type);
    // lazy-index.ts is CommonJS only, and the per-folder READMEs are stubs.
    await rm(join(root, 'lazy-index.ts'));
    for (const e of await readdir(root, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      await rm(join(root, e.name, 'README.md'), { force: true });
      const file = join(root, e.name, 'index.ts');
      await writeFile(file, withOverrides(await readFile(file, 'utf8')));
    }
    const index = join(root, 'index.ts');
    await writeFile(index, withEsmIndex(await readFile(index, 'utf8')));
    await rm(outDir, { recursive: true, force: true });
    await rename(root, outDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return (await readdir(outDir)).sort();
}

const [flavour, schemaFile, outDir] = process.argv.slice(2);
if ((flavour !== 'cdktf' && flavour !== 'cdktn') || !schemaFile || !outDir) {
  process.stderr.write('usage: generate.js cdktf|cdktn SCHEMA.json OUT_DIR\n');
  process.exit(2);
}
const schema = JSON.parse(await readFile(resolve(schemaFile), 'utf8')) as ProviderSchema;
const made = await generateBindings(flavour, schema, resolve(outDir));
process.stdout.write(`${flavour} bindings in ${resolve(outDir)}: ${made.join(', ')}\n`);
