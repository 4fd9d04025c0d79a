// Writes docs/ from the provider's schema (see render.ts), removing pages of types that no longer
// exist. Run by scripts/gen-docs.sh after a build:
//
//   node dist/provider/docs/main.js [DOCS_DIR]

import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import definition from '../definition.js';
import { readExamples, renderDocs } from './render.js';

/** The checkout: dist/provider/docs/main.js lies three levels below it. */
const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const docs = resolve(process.argv[2] ?? join(repo, 'docs'));

const pages = renderDocs(definition, await readExamples(repo));
for (const dir of ['resources', 'data-sources']) {
  for (const f of await readdir(join(docs, dir)).catch((): string[] => [])) {
    if (f.endsWith('.md') && !pages.has(`${dir}/${f}`)) await rm(join(docs, dir, f));
  }
}
for (const [path, text] of pages) {
  await mkdir(dirname(join(docs, path)), { recursive: true });
  await writeFile(join(docs, path), text);
}
process.stdout.write(`${pages.size} pages in ${docs}\n`);
