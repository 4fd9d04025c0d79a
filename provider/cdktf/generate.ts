// Generates the CDKTF bindings (TypeScript) from a `terraform providers schema -json` document,
// with @cdktf/provider-generator — the code `cdktf get` would write, without the cdktf CLI or a
// terraform run. Run by scripts/gen-cdktf.sh:
//
//   node generate.js SCHEMA.json OUT_DIR
//
// OUT_DIR gets index.ts and one folder per resource, data source and the provider, as ES modules
// (the generator writes extensionless CommonJS-style imports; index.ts is rewritten for NodeNext).

import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

// The package's main module also loads its jsii-pacmak integration, which require.resolve()s
// jsii and jsii-pacmak (not installed: TypeScript needs neither). The TypeScript generator
// proper does not, so it is loaded directly, with the CodeMaker of the generator's own copy.
const fromGenerator = createRequire(createRequire(import.meta.url).resolve('@cdktf/provider-generator/package.json'));
const { TerraformProviderGenerator } = fromGenerator(
  './lib/get/generator/provider-generator',
) as typeof import('@cdktf/provider-generator/lib/get/generator/provider-generator.js');
const { CodeMaker } = fromGenerator('codemaker') as typeof import('codemaker');

type ProviderSchema = ConstructorParameters<typeof TerraformProviderGenerator>[1];

/**
 * The generator does not mark the members it overrides in cdktf's base classes; this project
 * compiles with noImplicitOverride. Members not listed here fail the build, not silently.
 */
const OVERRIDDEN = /^( {2}(?:protected|public) )((?:get |set )?(?:synthesizeAttributes|synthesizeHclAttributes|alias)\()/gm;
const withOverrides = (ts: string): string => ts.replace(OVERRIDDEN, '$1override $2');

async function generateBindings(schema: ProviderSchema, outDir: string): Promise<string[]> {
  const addresses = Object.keys(schema.provider_schemas ?? {});
  if (addresses.length !== 1) throw new Error(`expected the schema of one provider, got ${addresses.length}`);
  const type = addresses[0]!.split('/').pop()!;

  const code = new CodeMaker();
  new TerraformProviderGenerator(code, schema).generateAll();
  // Staged next to outDir (same filesystem), so the finished tree replaces it in one rename.
  await mkdir(dirname(outDir), { recursive: true });
  const staging = await mkdtemp(join(dirname(outDir), '.cdktf-'));
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
    await writeFile(index, (await readFile(index, 'utf8')).replace(/from '\.\/([a-z0-9-]+)';/g, "from './$1/index.js';"));
    await rm(outDir, { recursive: true, force: true });
    await rename(root, outDir);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return (await readdir(outDir)).sort();
}

const [schemaFile, outDir] = process.argv.slice(2);
if (!schemaFile || !outDir) {
  process.stderr.write('usage: generate.js SCHEMA.json OUT_DIR\n');
  process.exit(2);
}
const schema = JSON.parse(await readFile(resolve(schemaFile), 'utf8')) as ProviderSchema;
const made = await generateBindings(schema, resolve(outDir));
process.stdout.write(`cdktf bindings in ${resolve(outDir)}: ${made.join(', ')}\n`);
