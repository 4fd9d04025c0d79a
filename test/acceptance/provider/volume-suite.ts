// examples/hcl/volume under a real CLI (terraform or tofu) against a lab of four storage hosts:
// apply (three replicas), write and read back through NBD on different replicas, grow in place
// with the data kept, a shrink refused at plan time on size_bytes, bad input refused, a replica
// moved to the fourth host by changing hosts, import, and destroy leaving no replica and no export. volume.test.ts and volume-tofu.test.ts run it, in parallel.

import { execFile } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { status as grpcStatus, type ServiceError } from '@grpc/grpc-js';
import { nbdSocketPath } from '../../../lab/lab.js';
import { VXCLOUD_SOURCE } from '../../../provider/plugin/install.js';
import { startLab, type TestLab } from '../../harness/lab.js';
import { REPO, TOOLS, Workspace, VERSION } from '../plugin/harness.js';

const MiB = 1024 * 1024;
const HOSTS = ['h1', 'h2', 'h3', 'h4'];
const ADDRESS = 'vxcloud_block_volume.data';

/** An NBD client program (argv, never a shell), bounded in time; the system's libnbd tools first in PATH. */
function nbd(file: string, args: readonly string[], timeoutMs = 60_000): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, PATH: `/usr/bin:/bin:${process.env.PATH ?? ''}`, LANG: 'C', LC_ALL: 'C' };
  return new Promise((resolve) => {
    execFile(file, [...args], { env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

async function nbdOk(file: string, args: readonly string[]): Promise<string> {
  const r = await nbd(file, args);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.code}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

export function volumeSuite(cliName: 'terraform' | 'tofu'): void {
  describe(`examples/hcl/volume with ${cliName}`, () => {
    let lab: TestLab;
    let ws: Workspace;
    let tmp: string;
    let written: Buffer;
    /** Where the provider placed the volume. */
    let placed: string[];
    /** The export on one storage host, through its unix socket (reachable from the root namespace). */
    const uri = (host: string): string => `nbd+unix:///data?socket=${nbdSocketPath(lab.lab, host)}`;
    const setVars = (mib: number, hosts?: string[]): Promise<void> =>
      writeFile(
        join(ws.dir, 'terraform.tfvars'),
        `lab_file = ${JSON.stringify(join(lab.lab.dir, 'lab.json'))}\nsize_mib = ${mib}\n${hosts ? `hosts = ${JSON.stringify(hosts)}\n` : ''}`,
      );
    /** The whole export as read through one host. */
    const readBack = async (host: string): Promise<Buffer> => {
      const file = join(tmp, `back-${host}.img`);
      await nbdOk('nbdcopy', [uri(host), file]);
      const data = await readFile(file);
      await rm(file);
      return data;
    };

    beforeAll(async () => {
      lab = await startLab({ hosts: 4, roles: () => ['storage'], reconcileIntervalSeconds: 3600 });
      tmp = await mkdtemp(join(tmpdir(), 'vxcloud-vol-'));
      ws = await Workspace.create(join(TOOLS, cliName), join(REPO, 'dist/provider/main.js'), VXCLOUD_SOURCE, VERSION);
      await ws.writeConfig(await readFile(join(REPO, 'examples/hcl/volume/main.tf'), 'utf8'));
      await setVars(16);
    });
    afterAll(async () => {
      await ws?.remove();
      if (tmp) await rm(tmp, { recursive: true, force: true });
      await lab?.down();
    });

    it('applies: a healthy volume of three replicas on the storage hosts, exported by each', async () => {
      await ws.ok(['init', '-no-color']);
      expect(await ws.plannedActions()).toEqual({ [ADDRESS]: ['create'] });
      await ws.ok(['apply', '-auto-approve', '-no-color']);
      const v = (await ws.stateValues(ADDRESS))!;
      expect(v).toMatchObject({ id: 'data', name: 'data', size_bytes: 16 * MiB, replicas: 3, status: 'healthy' });
      placed = v.hosts as string[];
      expect(new Set(placed).size).toBe(3);
      for (const h of placed) expect(HOSTS).toContain(h);
      expect(placed).toContain(v.leader);
      const first = placed[0]!;
      expect(v.export_uri).toBe(`nbd://192.0.2.1${first.slice(1)}:10809/data`);
      for (const h of placed) expect((await nbdOk('nbdinfo', ['--size', uri(h)])).trim()).toBe(String(16 * MiB));
      // The export URI works from inside the lab, over the underlay.
      const other = lab.lab.hosts.find((h) => h.name !== first)!;
      expect((await lab.exec(other.namespace, ['nbdinfo', '--size', v.export_uri as string], 30_000)).stdout.trim()).toBe(String(16 * MiB));
      await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
    });

    it('writes through one replica and reads the same bytes back through the others', async () => {
      written = randomFillSync(Buffer.alloc(16 * MiB));
      const source = join(tmp, 'source.img');
      await writeFile(source, written);
      await nbdOk('nbdcopy', [source, uri(placed[0]!)]);
      for (const h of placed.slice(1)) expect(sha256(await readBack(h))).toBe(sha256(written));
    });

    it('grows in place when size_mib grows, keeping the data', async () => {
      await setVars(32);
      expect(await ws.plannedActions()).toEqual({ [ADDRESS]: ['update'] });
      await ws.ok(['apply', '-auto-approve', '-no-color']);
      expect(await ws.stateValues(ADDRESS)).toMatchObject({ id: 'data', size_bytes: 32 * MiB, status: 'healthy' });
      for (const h of placed) expect((await nbdOk('nbdinfo', ['--size', uri(h)])).trim()).toBe(String(32 * MiB));
      const back = await readBack(placed[1]!);
      expect(back.length).toBe(32 * MiB);
      expect(sha256(back.subarray(0, 16 * MiB))).toBe(sha256(written));
      expect(back.subarray(16 * MiB).every((b) => b === 0)).toBe(true);
      await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
    });

    it('refuses a shrink at plan time on size_bytes, and changes nothing', async () => {
      await setVars(8);
      try {
        const r = await ws.run(['plan', '-no-color']);
        expect(r.code).toBe(1);
        const out = r.stderr + r.stdout;
        const words = out.replace(/\s+/g, ' ');
        expect(out).toContain('Volumes cannot shrink');
        expect(words).toMatch(/Volume "data" has 33554432 bytes \(32 MiB\); size_bytes = 8388608 \(8 MiB\)/);
        expect(words).toContain('terraform taint ADDRESS');
        // With the attribute path, terraform quotes the line of configuration.
        expect(out).toMatch(/\n\s*\d+:\s+size_bytes = var\.size_mib \* 1024 \* 1024/);
        expect((await nbdOk('nbdinfo', ['--size', uri(placed[0]!)])).trim()).toBe(String(32 * MiB));
        // What the diagnostic offers: a tainted volume is planned as a new one, at the smaller size.
        await ws.ok(['taint', '-no-color', ADDRESS]);
        try {
          expect(await ws.plannedActions()).toEqual({ [ADDRESS]: ['delete', 'create'] });
        } finally {
          await ws.ok(['untaint', '-no-color', ADDRESS]);
        }
      } finally {
        await setVars(32);
      }
    });

    it('refuses bad input at validate or plan time, naming the attribute', async () => {
      const bad = async (hcl: string, command: 'validate' | 'plan', attribute: string, message: RegExp): Promise<void> => {
        await writeFile(join(ws.dir, 'bad.tf'), hcl);
        try {
          const r = await ws.run([command, '-no-color']);
          expect(r.code, r.stdout).toBe(1);
          const out = r.stderr + r.stdout;
          // Terraform wraps long details.
          expect(out.replace(/\s+/g, ' ')).toMatch(message);
          expect(out).toMatch(new RegExp(`\\n\\s*\\d+:\\s+${attribute}\\s+=`));
        } finally {
          await rm(join(ws.dir, 'bad.tf'));
        }
      };
      await bad('resource "vxcloud_block_volume" "x" {\n  name       = "Bad_Name"\n  size_bytes = 4096\n}\n', 'validate', 'name', /1-63 lower-case letters/);
      await bad(
        'resource "vxcloud_block_volume" "x" {\n  name       = "x"\n  size_bytes = 5000\n}\n',
        'validate',
        'size_bytes',
        /5000 is not a multiple of 4096\. Give a positive multiple of 4096 bytes, e\.g\. 8192 \(8 KiB\)/,
      );
      await bad(
        'resource "vxcloud_block_volume" "x" {\n  name       = "x"\n  size_bytes = 4096\n  replicas   = 5\n}\n',
        'plan',
        'replicas',
        /5 replicas need 5 storage hosts, one per replica; the provider has 4 \(h\d, h\d, h\d, h\d\)/,
      );
      await bad(
        'resource "vxcloud_block_volume" "x" {\n  name       = "x"\n  size_bytes = 4096\n  hosts      = ["h1", "h9"]\n}\n',
        'plan',
        'hosts',
        /"h9" is not one of the provider's hosts/,
      );
    });

    it('moves a replica to the spare host when hosts changes: updated in place, data kept, the old host holds nothing', async () => {
      const spare = HOSTS.find((h) => !placed.includes(h))!;
      const leaving = placed[2]!;
      const moved = [placed[0]!, placed[1]!, spare];
      // A host that cannot hold a replica is refused at plan time.
      await setVars(32, [placed[0]!, placed[1]!, 'h9']);
      const r = await ws.run(['plan', '-no-color']);
      expect(r.code).toBe(1);
      expect((r.stderr + r.stdout).replace(/\s+/g, ' ')).toMatch(/"h9" is not one of the provider's hosts/);

      await setVars(32, moved);
      expect(await ws.plannedActions()).toEqual({ [ADDRESS]: ['update'] });
      await ws.ok(['apply', '-auto-approve', '-no-color']);
      expect(await ws.stateValues(ADDRESS)).toMatchObject({ hosts: moved, status: 'healthy', size_bytes: 32 * MiB });
      expect(sha256((await readBack(spare)).subarray(0, 16 * MiB))).toBe(sha256(written));
      const e = (await lab
        .client(leaving)
        .volume.getVolume({ id: 'data' }, 5000)
        .catch((x: unknown) => x)) as ServiceError;
      expect(e.code).toBe(grpcStatus.NOT_FOUND);
      expect((await nbd('nbdinfo', ['--size', uri(leaving)], 30_000)).code).not.toBe(0);
      await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
    });

    it('imports the volume by name, with nothing to change afterwards', async () => {
      await ws.ok(['state', 'rm', '-no-color', ADDRESS]);
      await ws.ok(['import', '-no-color', ADDRESS, 'data']);
      await ws.ok(['plan', '-detailed-exitcode', '-no-color']);
    });

    it('destroys: no host holds a replica, and no export is left', async () => {
      await ws.ok(['destroy', '-auto-approve', '-no-color']);
      for (const h of HOSTS) {
        const e = (await lab
          .client(h)
          .volume.getVolume({ id: 'data' }, 5000)
          .catch((x: unknown) => x)) as ServiceError;
        expect(e.code).toBe(grpcStatus.NOT_FOUND);
        const r = await nbd('nbdinfo', ['--size', uri(h)], 30_000);
        expect(r.code).not.toBe(0);
      }
    });
  });
}
