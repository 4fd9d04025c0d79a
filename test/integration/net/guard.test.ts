// The `netlink` addon aborts the process when JavaScript it calls throws — also from a nextTick
// queued by a promise reaction that runs before the native call unwinds. These tests run a child
// node process that throws that way after a failed request: with agent/net it must surface as an
// ordinary uncaught exception; the unguarded control shows the abort is real.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab, run, sweepLeftovers } from './lab.js';

const lab = new Lab();
const root = path.resolve(__dirname, '../../..');
// inside the repo so the compiled files resolve `netlink` and `koffi` from its node_modules
const build = path.join(root, 'test/integration/net', `.build-${lab.prefix}`);
let ns: string;

interface Outcome {
  code: number | null;
  signal: string | null;
  stdout: string;
}

function child(script: string): Promise<Outcome> {
  const file = path.join(build, `child-${Math.random().toString(36).slice(2)}.mjs`);
  fs.writeFileSync(file, script);
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', ns, process.execPath, file], { timeout: 20_000 }, (err, stdout) => {
      const e = err as (Error & { code?: number; signal?: string }) | null;
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, signal: e?.signal ?? null, stdout });
    });
  });
}

beforeAll(async () => {
  await sweepLeftovers();
  ns = await lab.netns('guard');
  fs.mkdirSync(build, { recursive: true });
  fs.writeFileSync(path.join(build, 'package.json'), '{"type":"module"}');
  await run(
    [
      path.join(root, 'node_modules/.bin/tsc'),
      '--outDir',
      build,
      '--rootDir',
      root,
      '--module',
      'NodeNext',
      '--moduleResolution',
      'NodeNext',
      '--target',
      'ES2022',
      '--strict',
      '--skipLibCheck',
      '--types',
      'node',
      path.join(root, 'agent/net/index.ts'),
    ],
    60_000,
  );
}, 90_000);

afterAll(async () => {
  fs.rmSync(build, { recursive: true, force: true });
  await lab.cleanup();
});

describe('the netlink callback guard', () => {
  it('keeps the process alive when code after a failed request throws', async () => {
    const out = await child(`
      import { openNetHandle } from './agent/net/index.js';
      process.on('uncaughtException', (e) => console.log('uncaught:', e.message));
      const h = await openNetHandle(null);
      await h.createBridge('gb0', {});
      h.createBridge('gb0', {}).catch((e) => {
        console.log('rejected:', e.message);
        process.nextTick(() => { throw new Error('boom'); });
      });
      h.deleteLink('nope0').then(() => { throw new Error('boom2'); });
      await new Promise((r) => setTimeout(r, 200));
      await h.deleteLink('gb0');
      console.log('alive:', (await h.link('gb0')) === undefined);
      h.close();
    `);
    expect(out.signal).toBeNull();
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('rejected: create bridge gb0: EEXIST');
    expect(out.stdout).toContain('uncaught: boom');
    expect(out.stdout).toContain('uncaught: boom2');
    expect(out.stdout).toContain('alive: true');
  });

  it('control: the same pattern on the bare library aborts the process', async () => {
    const out = await child(`
      import { createRequire } from 'node:module';
      const { createRtNetlink } = createRequire('${path.join(root, 'package.json')}')('netlink');
      process.on('uncaughtException', (e) => console.log('uncaught:', e.message));
      const s = createRtNetlink();
      s.getLink({ index: 999999 }).catch(() => process.nextTick(() => { throw new Error('boom'); }));
      setTimeout(() => console.log('alive'), 500);
    `);
    expect(out.signal).toBe('SIGABRT');
    expect(out.stdout).not.toContain('alive');
  });
});
