// nftables inside a namespace (null: the agent's own) through the nft CLI: a ruleset file applied as one transaction, and a
// table read back as JSON (for rule counters).

import { execInNetns } from './nsexec.js';
import { NetError } from './types.js';

/** Applies `file` atomically: nft runs the whole file as one transaction or nothing of it. */
export async function applyNftables(netns: string | null, file: string): Promise<void> {
  await execInNetns(netns, ['nft', '-f', file]);
}

/** `nft -j list table` output, or undefined when the table does not exist. */
export async function listNftTable(netns: string | null, family: 'inet' | 'ip' | 'bridge', table: string): Promise<unknown> {
  if (!/^[a-z][a-z0-9_]*$/.test(table)) throw new NetError('EINVAL', 'list nftables table', table, 'bad name');
  try {
    return JSON.parse(await execInNetns(netns, ['nft', '-j', 'list', 'table', family, table]));
  } catch (e) {
    if (e instanceof NetError && /No such file or directory/.test(e.message)) return undefined;
    throw e;
  }
}

/** `nft -j list chain` output, or undefined when the chain (or its table) does not exist. */
export async function listNftChain(netns: string | null, family: 'inet' | 'ip' | 'bridge', table: string, chain: string): Promise<unknown> {
  for (const name of [table, chain]) if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) throw new NetError('EINVAL', 'list nftables chain', name, 'bad name');
  try {
    return JSON.parse(await execInNetns(netns, ['nft', '-j', 'list', 'chain', family, table, chain]));
  } catch (e) {
    if (e instanceof NetError && /No such file or directory/.test(e.message)) return undefined;
    throw e;
  }
}
