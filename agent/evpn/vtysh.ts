// Talking to FRR: vtysh and frr-reload.py with argv arrays. Commands are constants of this
// module's callers and files are rendered from validated values; no shell is ever involved.

import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const TIMEOUT_MS = 15_000;

export class FrrCommandError extends Error {}

export class Vtysh {
  /**
   * `socketDir` set: the daemons of a managed run dir (vtysh.conf is read from there too);
   * unset: the host's frr service at its default paths.
   */
  constructor(
    private readonly vtysh: string,
    private readonly binDir: string,
    private readonly socketDir?: string,
  ) {}

  private common(): string[] {
    return this.socketDir ? ['--vty_socket', this.socketDir, '--config_dir', this.socketDir] : [];
  }

  private async exec(file: string, args: string[], what: string): Promise<string> {
    try {
      return (await run(file, args, { timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 })).stdout;
    } catch (e) {
      const err = e as { stderr?: string; stdout?: string; message: string };
      const detail = (err.stderr || err.stdout || err.message).trim().split('\n').slice(-5).join(' | ');
      throw new FrrCommandError(`${what}: ${detail}`);
    }
  }

  /** A `show … json` command, parsed; FRR prints nothing for some empty tables. */
  async json<T>(command: string): Promise<T> {
    const out = await this.exec(this.vtysh, [...this.common(), '-c', command], `vtysh -c "${command}"`);
    return (out.trim() === '' ? {} : JSON.parse(out)) as T;
  }

  /** Applies a config file to daemons that have none yet (fresh starts). */
  async applyFile(path: string): Promise<void> {
    await this.exec(this.vtysh, [...this.common(), '-f', path], `vtysh -f ${path}`);
  }

  /** Moves running daemons to the config in `path` by applying only the difference: no restart. */
  async reload(path: string): Promise<void> {
    const dir = this.socketDir;
    const where = dir ? ['--confdir', dir, '--rundir', dir, '--vty_socket', dir] : [];
    await this.exec(join(this.binDir, 'frr-reload.py'), ['--reload', '--stdout', '--bindir', dirname(this.vtysh), ...where, path], `frr-reload.py ${path}`);
  }
}
