// Installs this checkout's provider build (dist/) into a filesystem mirror and writes a CLI config
// for it, so that terraform or tofu can `init` offline:
//
//   node dist/provider/plugin/install-cli.js --dir /tmp/vx [--version 0.1.0]
//   TF_CLI_CONFIG_FILE=/tmp/vx/terraform.rc terraform init
//
// with `source = "registry.vxcloud.dev/vxcloud/vxcloud"` in required_providers.

import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { installProvider } from './install.js';

const program = new Command()
  .name('install-provider')
  .description('Install the vxcloud provider build into a local filesystem mirror.')
  .requiredOption('--dir <dir>', 'folder for the mirror and the CLI config')
  .option('--version <version>', 'provider version to install as', '0.1.0')
  .option('--entry <file>', 'module that serves the provider', fileURLToPath(new URL('../main.js', import.meta.url)))
  .parse();

const opts = program.opts<{ dir: string; version: string; entry: string }>();
const installed = await installProvider({ dir: resolve(opts.dir), entry: resolve(opts.entry), version: opts.version });
process.stdout.write(
  [`source:             ${installed.sourceAddress}`, `mirror:             ${installed.mirrorDir}`, `TF_CLI_CONFIG_FILE: ${installed.cliConfigFile}`, ''].join(
    '\n',
  ),
);
