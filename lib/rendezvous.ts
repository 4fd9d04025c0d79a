// Rendezvous (highest random weight) hashing: each candidate gets a weight from a key and its own
// name. The order depends only on the key and the candidates — never on the order they come in —
// spreads keys across candidates, and a new candidate only comes first for keys where it
// outweighs the others.

import { createHash } from 'node:crypto';

/** The candidates, heaviest for `key` first (ties, which SHA-256 makes theoretical, by name). */
export function rendezvous(key: string, candidates: readonly string[]): string[] {
  const weight = (name: string): string => createHash('sha256').update(`${key}\n${name}`).digest('hex');
  return candidates
    .map((name) => ({ name, w: weight(name) }))
    .sort((a, b) => (a.w === b.w ? a.name.localeCompare(b.name) : a.w < b.w ? 1 : -1))
    .map((x) => x.name);
}
