// Installs a provider build into a local filesystem mirror and writes the CLI configuration that
// makes terraform and tofu install it from there, offline. One source address works for both:
// an explicit host, so neither falls back to its own default registry.

import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { pathToFileURL } from 'node:url';

export const SOURCE_HOST = 'registry.vxcloud.dev';
export const SOURCE_NAMESPACE = 'vxcloud';

export interface ProviderSource {
  readonly host: string;
  readonly namespace: string;
  /** The provider's type name, e.g. `vxcloud`. */
  readonly type: string;
}

/** The address vxcloud's provider is published under, in `required_providers` and everywhere else. */
export const VXCLOUD_SOURCE: ProviderSource = { host: SOURCE_HOST, namespace: SOURCE_NAMESPACE, type: 'vxcloud' };

export const sourceAddress = (s: ProviderSource): string => `${s.host}/${s.namespace}/${s.type}`;

export interface InstallOptions {
  /** Folder to create the mirror and the CLI config in (e.g. a test's temp dir). */
  readonly dir: string;
  /** Absolute path of the JavaScript module that serves the provider when run. */
  readonly entry: string;
  readonly version: string;
  readonly source?: ProviderSource;
  /** Absolute path of node; the one running this by default. */
  readonly node?: string;
}

export interface Installed {
  readonly mirrorDir: string;
  /** For TF_CLI_CONFIG_FILE. */
  readonly cliConfigFile: string;
  readonly executable: string;
  readonly sourceAddress: string;
}

/** HCL string literal: JSON escapes, plus template sequences HCL would otherwise interpret. */
const hclString = (s: string): string => JSON.stringify(s).replace(/\$\{/g, '$${').replace(/%\{/g, '%%{');

export async function installProvider(opts: InstallOptions): Promise<Installed> {
  if (!isAbsolute(opts.entry)) throw new Error(`entry must be an absolute path: ${opts.entry}`);
  if (!/^\d+\.\d+\.\d+$/.test(opts.version)) throw new Error(`version must be MAJOR.MINOR.PATCH: ${opts.version}`);
  const source = opts.source ?? VXCLOUD_SOURCE;
  const mirrorDir = join(opts.dir, 'mirror');
  const packageDir = join(mirrorDir, source.host, source.namespace, source.type, opts.version, 'linux_amd64');
  await mkdir(packageDir, { recursive: true });

  // A node script (no shell in between): go-plugin signals and kills node itself. It behaves as
  // `node ENTRY`, argv included, so an entry that checks whether it is the main module still is.
  const executable = join(packageDir, `terraform-provider-${source.type}_v${opts.version}`);
  const node = opts.node ?? process.execPath;
  const launcher = [
    `#!${node}`,
    `process.argv[1] = ${JSON.stringify(opts.entry)};`,
    `import(${JSON.stringify(pathToFileURL(opts.entry).href)}).catch((err) => {`,
    '  process.stderr.write(String(err && err.stack || err) + "\\n");',
    '  process.exit(1);',
    '});',
    '',
  ].join('\n');
  await writeFile(executable, launcher);
  await chmod(executable, 0o755);

  const address = sourceAddress(source);
  const cliConfigFile = join(opts.dir, 'terraform.rc');
  const pattern = hclString(`${source.host}/*/*`);
  await writeFile(
    cliConfigFile,
    [
      'provider_installation {',
      '  filesystem_mirror {',
      `    path    = ${hclString(mirrorDir)}`,
      `    include = [${pattern}]`,
      '  }',
      '  direct {',
      `    exclude = [${pattern}]`,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  return { mirrorDir, cliConfigFile, executable, sourceAddress: address };
}
