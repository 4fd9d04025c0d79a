// Prints the provider's schema as `terraform providers schema -json` would, straight from the
// definition (no terraform, no hosts): what CDKTF's binding generator and the docs generator read.
//
//   node dist/provider/schema-cli.js [--out FILE]

import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { vxcloudSchemaDocument } from './schema-document.js';

const program = new Command()
  .name('vxcloud-provider-schema')
  .description('Print the vxcloud provider schema in the `terraform providers schema -json` format.')
  .option('--out <file>', 'write to this file instead of stdout')
  .parse();

const { out } = program.opts<{ out?: string }>();
const text = `${JSON.stringify(vxcloudSchemaDocument())}\n`;
if (out) await writeFile(resolve(out), text);
else process.stdout.write(text);
