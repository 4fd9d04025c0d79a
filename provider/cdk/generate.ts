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

type Flavour = 'cdktf' | 'cdktn';

/** Schema as read from JSON; each generator checks it against its own type. */
type ProviderSchema = ConstructorParameters<typeof Cdktf.TerraformProviderGenerator>[1];

/** What this module uses of codemaker and of a generator package (cdktn's is cdktf's, forked and renamed). */
interface CodeMaker {
  save(dir: string): Promise<unknown>;
}
interface GeneratorModule {
  TerraformProviderGenerator: new (code: CodeMaker, schema: ProviderSchema) => { generateAll(): void };
}

/** Where each package keeps its TypeScript generator. */
const GENERATORS: Record<Flavour, { pkg: string; module: string }> = {
  cdktf: { pkg: '@cdktf/provider-generator', module: './lib/get/generator/provider-generator' },
  cdktn: { pkg: '@cdktn/provider-generator', module: './build/get/generator/provider-generator' },
};

/**
 * Runs one package's generator; the returned CodeMaker holds the files, not yet written. The
 * packages' main modules also load their jsii integration, which require.resolve()s jsii and
 * jsii-pacmak (TypeScript needs neither), so the generator proper is loaded directly, with the
 * CodeMaker of the package's own copy (the two pin different versions). Loaded on demand: a
 * generator's commons runs `terraform version` when loaded (see gen-cdk.sh).
 */
function generate(flavour: Flavour, schema: ProviderSchema): CodeMaker {
  const { pkg, module } = GENERATORS[flavour];
  const fromPackage = createRequire(createRequire(import.meta.url).resolve(`${pkg}/package.json`));
  const { TerraformProviderGenerator } = fromPackage(module) as GeneratorModule;
  const { CodeMaker } = fromPackage('codemaker') as { CodeMaker: new () => CodeMaker };
  const code = new CodeMaker();
  new TerraformProviderGenerator(code, schema).generateAll();
  return code;
}

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

  const code = generate(flavour, schema);
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
