import type { ConfChange, ConfState, NodeId } from './types.js';

export function isVoter(conf: ConfState, id: NodeId): boolean {
  return conf.voters.includes(id);
}

export function members(conf: ConfState): NodeId[] {
  return [...conf.voters, ...conf.learners];
}

/** The configuration after `change`, or null when the change makes no sense in `conf`. */
export function applyConfChange(conf: ConfState, change: ConfChange): ConfState | null {
  const { node } = change;
  const voter = conf.voters.includes(node);
  const learner = conf.learners.includes(node);
  switch (change.type) {
    case 'addVoter':
      if (voter) return null;
      return { voters: [...conf.voters, node], learners: conf.learners.filter((l) => l !== node) };
    case 'addLearner':
      // Demoting a voter would be a second kind of change to reason about; remove it instead.
      if (voter || learner) return null;
      return { voters: conf.voters, learners: [...conf.learners, node] };
    case 'removeNode':
      if (!voter && !learner) return null;
      if (voter && conf.voters.length === 1) return null; // a group with no voters is dead
      return { voters: conf.voters.filter((v) => v !== node), learners: conf.learners.filter((l) => l !== node) };
  }
}
