// Shared setup for the NBD integration tests: an in-process server on 127.0.0.1:<ephemeral> over
// sparse-file exports in a temp dir, and bounded runs of the real client programs.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { BlockDevice } from '../../../agent/sbs/backend/block-device.js';
import { SparseFileDevice, type SparseFileOptions } from '../../../agent/sbs/backend/sparse-file.js';
import { StaticExportResolver } from '../../../agent/sbs/nbd/exports.js';
import { NbdServer, type NbdServerOptions } from '../../../agent/sbs/nbd/server.js';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

// nbdsh is a wrapper that runs `python3 -m nbd`; the libnbd binding lives in the system Python,
// which a pyenv shim earlier in PATH would hide.
const CLIENT_ENV = { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}`, LANG: 'C', LC_ALL: 'C' };

/** Runs a program (argv array, never a shell) with a hard timeout; never throws on exit status. */
export function run(file: string, args: readonly string[], timeoutMs = 60_000, env: Record<string, string> = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env: { ...CLIENT_ENV, ...env }, encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== 'number' && !err.killed && err.signal == null) {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- err is an Error; its type (Omit<ExecException, 'code'>) hides that
          reject(err); // could not start at all
          return;
        }
        resolve({
          code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
          signal: err?.signal ?? null,
          stdout,
          stderr,
        });
      },
    );
  });
}

/** Like run, but fails with the program's stderr unless it exits 0. */
export async function runOk(file: string, args: readonly string[], timeoutMs = 60_000, env: Record<string, string> = {}): Promise<RunResult> {
  const result = await run(file, args, timeoutMs, env);
  if (result.code !== 0) {
    throw new Error(`${file} ${args.join(' ')} exited ${result.code ?? result.signal}:\n${result.stderr}${result.stdout}`);
  }
  return result;
}

/**
 * Runs a Python script in nbdsh with NBD_URI set to `uri`: `lines` (which connect `h`) fill the
 * dict `r`, printed as JSON after shutdown and returned parsed.
 */
export async function nbdshJson(uri: string, lines: readonly string[]): Promise<Record<string, unknown>> {
  const script = ['import json, os', ...lines, 'h.shutdown()', 'print(json.dumps(r))'].join('\n');
  const { stdout } = await runOk('nbdsh', ['-c', script], 60_000, { NBD_URI: uri });
  return JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `vxcloud-nbd-${prefix}-`));
}

export interface ExportSpec extends SparseFileOptions {
  readonly name: string;
  readonly size: number;
  readonly description?: string;
  /** Decorates the sparse-file device, e.g. to record or delay the calls the server makes. */
  readonly wrap?: (device: BlockDevice) => BlockDevice;
}

export interface RunningServer {
  readonly server: NbdServer;
  readonly port: number;
  readonly dir: string;
  readonly devices: ReadonlyMap<string, SparseFileDevice>;
  /** Backing file of an export, for checking data behind the server's back. */
  path(name: string): string;
  uri(name: string, scheme?: 'nbd' | 'nbds', query?: string): string;
  stop(): Promise<void>;
}

export async function startServer(exports: readonly ExportSpec[], options: Omit<NbdServerOptions, 'resolver'> = {}): Promise<RunningServer> {
  const dir = await makeTempDir('srv');
  const devices = new Map<string, SparseFileDevice>();
  const fileOf = (name: string): string => join(dir, `${Buffer.from(name).toString('hex') || 'default'}.img`);
  let server: NbdServer | undefined;
  const stop = async (): Promise<void> => {
    try {
      await server?.close();
    } finally {
      await Promise.allSettled([...devices.values()].map((d) => d.close()));
      await rm(dir, { recursive: true, force: true });
    }
  };
  try {
    for (const spec of exports) {
      // A read-only device will not create its file; give it an empty (sparse) one.
      if (spec.readOnly)
        await truncate(fileOf(spec.name), spec.size).catch(async () => {
          await writeFile(fileOf(spec.name), '');
          await truncate(fileOf(spec.name), spec.size);
        });
      devices.set(spec.name, await SparseFileDevice.open(fileOf(spec.name), spec));
    }
    const resolver = new StaticExportResolver(
      exports.map((spec) => ({
        name: spec.name,
        ...(spec.description !== undefined ? { description: spec.description } : {}),
        device: spec.wrap ? spec.wrap(devices.get(spec.name)!) : devices.get(spec.name)!,
      })),
    );
    server = new NbdServer({ ...options, resolver });
    const { port } = await server.listen(0, '127.0.0.1');
    return {
      server,
      port,
      dir,
      devices,
      path: fileOf,
      uri: (name, scheme = 'nbd', query) => `${scheme}://127.0.0.1:${port}/${encodeURIComponent(name)}${query ? `?${query}` : ''}`,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export const MiB = 1024 * 1024;
