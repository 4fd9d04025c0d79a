// nftables inside a namespace (null: the agent's own) through the nft CLI: a ruleset file applied
// as one transaction, and a table or chain read back as JSON (for rule counters).

import { execInNetns } from './nsexec.js';
import { NetError } from './types.js';

/** Applies `file` atomically: nft runs the whole file as one transaction or nothing of it. */
export async function applyNftables(netns: string | null, file: string): Promise<void> {
  await execInNetns(netns, ['nft', '-f', file]);
}

type Family = 'inet' | 'ip' | 'bridge';

/** `nft -j list OBJECT FAMILY NAMES…` output, or undefined when it does not exist. */
async function listJson(netns: string | null, object: 'table' | 'chain', family: Family, names: string[]): Promise<unknown> {
  for (const name of names) if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) throw new NetError('EINVAL', `list nftables ${object}`, name, 'bad name');
  try {
    return JSON.parse(await execInNetns(netns, ['nft', '-j', 'list', object, family, ...names]));
  } catch (e) {
    if (e instanceof NetError && /No such file or directory/.test(e.message)) return undefined;
    throw e;
  }
}

/** `nft -j list table` output, or undefined when the table does not exist. */
export const listNftTable = (netns: string | null, family: Family, table: string): Promise<unknown> => listJson(netns, 'table', family, [table]);

/** `nft -j list chain` output, or undefined when the chain (or its table) does not exist. */
export const listNftChain = (netns: string | null, family: Family, table: string, chain: string): Promise<unknown> =>
  listJson(netns, 'chain', family, [table, chain]);
