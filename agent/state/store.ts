// Desired state on disk. Written atomically (temp file, fsync, rename, fsync of the directory) so
// that a crash at any point leaves either the old or the new state, never a torn file.

import { mkdir, readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../lib/atomic-file.js';
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
    await writeFileAtomic(join(this.dir, FILE), JSON.stringify(state));
  }
}
