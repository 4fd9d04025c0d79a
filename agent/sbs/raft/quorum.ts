import type { NodeId } from './types.js';

export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * The highest value that a majority of voters has reached: the commit index when the values are
 * match indexes, the highest confirmed read when they are acknowledged read sequence numbers.
 */
export function quorumValue(voters: readonly NodeId[], valueOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const values = voters.map(valueOf).sort((a, b) => b - a);
  return values[majority(voters.length) - 1] ?? 0;
}

export type VoteResult = 'won' | 'lost' | 'pending';

export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const v of voters) {
    const vote = votes.get(v);
    if (vote === true) granted++;
    else if (vote === false) rejected++;
  }
  const need = majority(voters.length);
  if (granted >= need) return 'won';
  if (voters.length - rejected < need) return 'lost';
  return 'pending';
}
