// `vxcloud-agent --check-config FILE` against real files: a good config, a missing key, another
// host's certificate, a bad field — each named, and the exit code a systemd ExecStartPre sees.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConfig } from '../../../agent/config/check.js';
import { createCa, issue, writePair } from '../../../lib/certs.js';
import { REPO } from '../../acceptance/plugin/harness.js';

let dir: string;

const config = (cert: string, key = 'h1-key.pem'): string => `
host: { name: h1, roles: [compute] }
underlay: { interface: eth0, address: 192.0.2.11 }
listen: ["unix:///run/vx/agent.sock"]
tls: { ca: ca.pem, cert: ${cert}, key: ${key} }
stateDir: state
`;

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vxcloud-check-'));
  const ca = await createCa('test CA');
  await writePair(dir, 'ca', ca);
  for (const h of ['h1', 'h2'])
    await writePair(dir, h, await issue(ca, { commonName: h, role: 'host', ips: ['192.0.2.11'], identity: { kind: 'host', host: h } }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('vxcloud-agent --check-config', () => {
  it('says what it found in a good config', async () => {
    const path = await write('good.yaml', config('h1.pem'));
    expect(await checkConfig(path)).toBe(`${path}: good — host h1 (compute), underlay eth0 192.0.2.11, transport vxlan, control plane static, no registry`);
  });

  it("names the field of a file that cannot be read, of another host's certificate, and of a bad value", async () => {
    const missing = await write('missing.yaml', config('h1.pem', 'nowhere-key.pem'));
    await expect(checkConfig(missing)).rejects.toThrow(`${missing}: tls.key: ${join(dir, 'nowhere-key.pem')} cannot be read (ENOENT)`);
    const other = await write('other.yaml', config('h2.pem'));
    await expect(checkConfig(other)).rejects.toThrow(
      `${other}: tls.cert: ${join(dir, 'h2.pem')} is the certificate of host h2, not of host h1: mint one with \`vxctl certs host h1 --ip 192.0.2.11\``,
    );
    const bad = await write('bad.yaml', config('h1.pem').replace('192.0.2.11', '192.0.2'));
    await expect(checkConfig(bad)).rejects.toThrow(/underlay\.address/);
  });

  it('exits 0 for a good config and 1 for a bad one, as a systemd ExecStartPre needs', async () => {
    const run = (file: string): Promise<{ code: number; out: string }> =>
      new Promise((resolve) => {
        execFile(join(REPO, 'bin/vxcloud-agent'), ['--check-config', file], (err, stdout, stderr) =>
          resolve({ code: err ? Number(err.code) : 0, out: stdout + stderr }),
        );
      });
    const good = await run(join(dir, 'good.yaml'));
    expect(good).toMatchObject({ code: 0 });
    expect(good.out).toMatch(/good — host h1/);
    const other = await run(join(dir, 'other.yaml'));
    expect(other.code).toBe(1);
    expect(other.out).toMatch(/^vxcloud-agent: .*tls\.cert: .* is the certificate of host h2/);
  });

  it('is what packaging/systemd/vxcloud-agent.service runs before each start; the unit verifies', async () => {
    const unit = await readFile(join(REPO, 'packaging/systemd/vxcloud-agent.service'), 'utf8');
    expect(unit).toMatch(/^ExecStartPre=\/opt\/vxcloud\/bin\/vxcloud-agent --check-config \/etc\/vxcloud\/agent\.yaml$/m);
    // Pointed at this tree and the good config, systemd's own checker finds nothing to say.
    const here = await write('vxcloud-agent.service', unit.replaceAll('/opt/vxcloud', REPO).replaceAll('/etc/vxcloud/agent.yaml', join(dir, 'good.yaml')));
    const out = await new Promise<{ code: number; text: string }>((resolve) => {
      execFile('systemd-analyze', ['verify', here], (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, text: stdout + stderr }));
    });
    expect(out).toEqual({ code: 0, text: '' });
  });
});
