// Runs the fixture provider under the real terraform and tofu CLIs: builds it to JavaScript,
// installs it into a filesystem mirror in a temp dir, and runs the CLI with bounded waits.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { installProvider, SOURCE_HOST, SOURCE_NAMESPACE } from '../../../provider/plugin/install.js';
import type { Installed, ProviderSource } from '../../../provider/plugin/install.js';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '../../..');
export const TOOLS = process.env.VXCLOUD_TOOLS ?? '/root/.cache/vxcloud-tools/bin';
/** The built vxcloud provider and the version it is installed under (package.json's). */
export const PROVIDER_ENTRY = join(REPO, 'dist/provider/main.js');
export const VERSION = (JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
export const FIXTURE_VERSION = '0.0.1';
export const FIXTURE_SOURCE = { host: SOURCE_HOST, namespace: SOURCE_NAMESPACE, type: 'vxtest' } as const;

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await tsFiles(p)));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

/**
 * Transpiles the plugin layer, the generated protocol code and the fixture into `out` (no type
 * check: tsc does that). Returns the fixture's entry point.
 */
export async function buildFixture(out: string): Promise<string> {
  if (!existsSync(join(REPO, 'gen/tfplugin6/tfplugin6.ts'))) throw new Error('gen/ is missing: run `npm run gen` first');
  const sources = [
    join(REPO, 'provider/main.ts'),
    ...(await tsFiles(join(REPO, 'provider/plugin'))),
    ...(await tsFiles(join(REPO, 'gen/tfplugin6'))),
    ...(await tsFiles(join(REPO, 'gen/plugin'))),
    ...(await tsFiles(join(REPO, 'test/acceptance/plugin/fixture'))),
  ];
  for (const file of sources) {
    const js = ts.transpileModule(await readFile(file, 'utf8'), {
      fileName: file,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    }).outputText;
    const dest = join(out, relative(REPO, file)).replace(/\.ts$/, '.js');
    await mkdir(dirname(dest), { recursive: true });
    await writeFile(dest, js);
  }
  await writeFile(join(out, 'package.json'), '{"type":"module"}\n');
  // Bare imports (@grpc/grpc-js, pino, ...) resolve from the build's own node_modules.
  await symlink(join(REPO, 'node_modules'), join(out, 'node_modules'));
  return join(out, 'test/acceptance/plugin/fixture/main.js');
}

export interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

export class Workspace {
  private constructor(
    readonly dir: string,
    readonly cli: string,
    readonly installed: Installed,
  ) {}

  /** A temp dir with the provider at `entry` installed in a mirror (the fixture by default). */
  static async create(cli: string, entry: string, source: ProviderSource = FIXTURE_SOURCE, version = FIXTURE_VERSION): Promise<Workspace> {
    const dir = await mkdtemp(join(tmpdir(), 'vxcloud-acc-'));
    const installed = await installProvider({ dir: join(dir, '.provider'), entry, version, source });
    return new Workspace(dir, cli, installed);
  }

  get storeFile(): string {
    return join(this.dir, 'things.json');
  }

  async writeConfig(hcl: string): Promise<void> {
    await writeFile(join(this.dir, 'main.tf'), hcl);
  }

  /** Runs the CLI with argv (never a shell); a hung CLI is killed after timeoutMs. */
  run(args: readonly string[], timeoutMs = 90_000): Promise<Result> {
    return this.start(args, timeoutMs).result;
  }

  /** Starts the CLI and returns at once: its pid, and its result when it exits. */
  start(args: readonly string[], timeoutMs = 90_000): { pid: number; result: Promise<Result> } {
    const env = {
      ...process.env,
      TF_CLI_CONFIG_FILE: this.installed.cliConfigFile,
      TF_IN_AUTOMATION: '1',
      TF_INPUT: '0',
      CHECKPOINT_DISABLE: '1',
      TF_LOG_PATH: join(this.dir, 'cli.log'),
      TF_LOG: process.env.TF_LOG ?? 'DEBUG',
    };
    let pid = 0;
    const result = new Promise<Result>((resolve) => {
      pid = execFile(this.cli, [...args], { cwd: this.dir, env, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
        resolve({ code, stdout, stderr });
      }).pid!;
    });
    return { pid, result };
  }

  /** Runs and fails with the CLI's output unless it exits with `expect`. */
  async ok(args: readonly string[], expect = 0): Promise<Result> {
    const r = await this.run(args);
    if (r.code !== expect) {
      throw new Error(
        `${this.cli} ${args.join(' ')} exited ${r.code}, expected ${expect}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}\n--- log tail\n${await this.logTail()}`,
      );
    }
    return r;
  }

  async logTail(lines = 60): Promise<string> {
    const log = await readFile(join(this.dir, 'cli.log'), 'utf8').catch(() => '');
    return log.split('\n').slice(-lines).join('\n');
  }

  /** The actions planned per resource address, from a saved plan. */
  async plannedActions(extra: readonly string[] = []): Promise<Record<string, string[]>> {
    await this.ok(['plan', '-no-color', '-out=tfplan', ...extra]);
    const show = await this.ok(['show', '-json', 'tfplan']);
    const plan = JSON.parse(show.stdout) as { resource_changes?: { address: string; change: { actions: string[] } }[] };
    return Object.fromEntries((plan.resource_changes ?? []).map((c) => [c.address, c.change.actions]));
  }

  /** Attribute values of a resource in state. */
  async stateValues(address: string): Promise<Record<string, unknown> | undefined> {
    const show = await this.ok(['show', '-json']);
    const state = JSON.parse(show.stdout) as { values?: { root_module?: { resources?: { address: string; values: Record<string, unknown> }[] } } };
    return state.values?.root_module?.resources?.find((r) => r.address === address)?.values;
  }

  async remove(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
