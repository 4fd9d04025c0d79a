// Desired state on disk. Written atomically (temp file, fsync, rename, fsync of the directory) so
// that a crash at any point leaves either the old or the new state, never a torn file.

import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { emptyState, type DesiredState } from './model.js';

const FILE = 'desired-state.json';

export class StateStore {
  constructor(private readonly dir: string) {}

  async load(): Promise<DesiredState> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let text: string;
    try {
      text = await readFile(join(this.dir, FILE), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
      throw e;
    }
    const state = JSON.parse(text) as DesiredState;
    if (state.version !== 1) throw new Error(`${join(this.dir, FILE)}: unknown state version ${String(state.version)}`);
    return { ...emptyState(), ...state };
  }

  async save(state: DesiredState): Promise<void> {
    const path = join(this.dir, FILE);
    const tmp = `${path}.tmp`;
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(state));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
