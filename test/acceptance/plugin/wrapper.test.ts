// bin/terraform-provider-vxcloud, the program terraform starts: it runs the built provider and,
// started by anything but terraform, says so instead of waiting for a handshake.

import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './harness.js';

const wrapper = join(REPO, 'bin/terraform-provider-vxcloud');

function run(file: string): Promise<{ code: number; stderr: string; stdout: string }> {
  const env = { ...process.env };
  delete env.TF_PLUGIN_MAGIC_COOKIE;
  return new Promise((resolve) => {
    execFile(file, [], { env, timeout: 20_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

// Needs `npm run build` (npm test runs it first); without it these fail rather than skip.
describe('bin/terraform-provider-vxcloud', () => {
  it('refuses to run outside terraform, printing nothing on stdout', async () => {
    const r = await run(wrapper);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/This binary is a plugin/);
  });

  it('finds the build when started through a symlink elsewhere', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vxcloud-wrapper-'));
    try {
      const link = join(dir, 'terraform-provider-vxcloud_v0.1.0');
      await symlink(wrapper, link);
      const r = await run(link);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/This binary is a plugin/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
