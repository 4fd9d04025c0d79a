// The schema command (dist/provider/schema-cli.js) prints exactly what the real CLIs print for
// `providers schema -json` on examples/hcl/basic after an offline init. No lab: neither init nor
// `providers schema` configures the provider, so no host is ever contacted.

import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { VXCLOUD_SOURCE } from '../../../provider/plugin/install.js';
import { REPO, TOOLS, Workspace, VERSION, PROVIDER_ENTRY } from '../plugin/harness.js';

describe('provider schema command', () => {
  let ws: Workspace | undefined;
  afterEach(async () => {
    await ws?.remove();
    ws = undefined;
  });

  for (const cli of ['terraform', 'tofu']) {
    it(`prints what \`${cli} providers schema -json\` prints for examples/hcl/basic`, async () => {
      const cmd = await promisify(execFile)(process.execPath, [join(REPO, 'dist/provider/schema-cli.js')], { maxBuffer: 16 << 20 });
      ws = await Workspace.create(join(TOOLS, cli), PROVIDER_ENTRY, VXCLOUD_SOURCE, VERSION);
      await ws.writeConfig(await readFile(join(REPO, 'examples/hcl/basic/main.tf'), 'utf8'));
      await ws.ok(['init', '-no-color']);
      const real = await ws.ok(['providers', 'schema', '-json']);
      expect(JSON.parse(cmd.stdout)).toEqual(JSON.parse(real.stdout));
    });
  }
});
