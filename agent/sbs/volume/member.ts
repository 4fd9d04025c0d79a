// Raft member ids of a volume's replicas. A replica's first incarnation is its host's name; one
// re-created after its host lost the data (a wipe) joins as `<host>#<suffix>`, a member that has
// never voted: the old id with a fresh hard state could grant a second vote in a term that the
// lost incarnation had already voted in. Host names never contain '#' (agent config rule).

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../../lib/atomic-file.js';

export const hostOf = (member: string): string => member.split('#', 1)[0]!;

/** An id no earlier incarnation on `host` had: repairs of one volume and host are seconds apart. */
export const newIncarnation = (host: string, now = Date.now()): string => `${host}#${now.toString(36)}`;

const FILE = 'member';

/** The member id kept in a replica's directory; replicas made before ids had incarnations are their host. */
export async function readMember(dir: string, host: string): Promise<string> {
  const text = await readFile(join(dir, FILE), 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  const member = text?.trim() || host;
  if (hostOf(member) !== host) throw new Error(`${join(dir, FILE)}: member "${member}" is not of host ${host}`);
  return member;
}

export function writeMember(dir: string, member: string): Promise<void> {
  return writeFileAtomic(join(dir, FILE), `${member}\n`);
}
