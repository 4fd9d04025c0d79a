export { RaftNode } from './node.js';
export { applyConfChange, isVoter, members } from './conf.js';
export type * from './types.js';
