// A replica's snapshot is its data file plus this metadata: the log index (and term, and the
// group's configuration) that the data file is known to reflect at least. Block writes are
// idempotent overwrites of ranges, so a data file that also reflects some later entries is still
// a valid image at `index`: replaying the log from there yields the same bytes (see README.md).

import { readFile } from 'node:fs/promises';
import type { ConfState } from '../raft/index.js';
import { writeFileAtomic } from '../../../lib/atomic-file.js';

export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  readonly conf: ConfState;
}

export function encodeSnapshotMeta(m: SnapshotMeta): string {
  return JSON.stringify({ index: m.index, term: m.term, voters: m.conf.voters, learners: m.conf.learners }) + '\n';
}

export function decodeSnapshotMeta(text: string): SnapshotMeta {
  const o = JSON.parse(text) as { index: unknown; term: unknown; voters: unknown; learners: unknown };
  const ids = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');
  if (!Number.isSafeInteger(o.index) || !Number.isSafeInteger(o.term) || !ids(o.voters) || !ids(o.learners)) throw new Error('snapshot metadata: malformed');
  return { index: o.index as number, term: o.term as number, conf: { voters: o.voters, learners: o.learners } };
}

export async function readSnapshotMeta(path: string): Promise<SnapshotMeta | undefined> {
  const text = await readFile(path, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  return text === undefined ? undefined : decodeSnapshotMeta(text);
}

export async function writeSnapshotMeta(path: string, m: SnapshotMeta): Promise<void> {
  await writeFileAtomic(path, encodeSnapshotMeta(m));
}
