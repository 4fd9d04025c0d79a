// The raft core for replicated block volumes: a pure state machine, no I/O, no timers.
//
//   const node = new RaftNode(config, persisted);   // persisted: what storage holds (types.ts)
//   node.tick();                 // on a timer the application owns
//   node.step(message);          // for every message received from a peer
//   node.propose(data);          // leader only; { ok, index, term } lets a client await apply
//   node.readIndex(ctx);         // linearizable read; answered by a ReadState in a later Ready
//   node.proposeConfChange(c);   // one member at a time
//   node.transferLeader(to);
//   node.compact(applied, image); // after the state machine captured an image of itself
//
//   while (node.hasReady()) {
//     const rd = node.ready();
//     persist(rd.snapshot, rd.entries, rd.hardState); fsync();   // before sending anything
//     send(rd.messages);
//     install(rd.snapshot); apply(rd.committedEntries); serve(rd.readStates);
//     node.advance();
//   }
export { RaftNode } from './node.js';
export { applyConfChange, isVoter, members } from './conf.js';
export type * from './types.js';
