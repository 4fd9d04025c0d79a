// Raft messages between agents: msgpack of the core's own message objects (entries carry their
// data as binary). Peers are authenticated by mutual TLS; decoding still checks the shape so that
// a bug on one side is an error here rather than a corrupt raft state.

import { decode, encode } from '@msgpack/msgpack';
import type { Message } from '../raft/index.js';

const TYPES = new Set(['vote', 'voteResp', 'append', 'appendResp', 'heartbeat', 'heartbeatResp', 'snapshot', 'timeoutNow', 'readIndex', 'readIndexResp']);

export function encodeMessage(m: Message): Buffer {
  const b = encode(m);
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

export function decodeMessage(b: Uint8Array): Message {
  const m = decode(b) as Message;
  if (typeof m !== 'object' || m === null || !TYPES.has(m.type) || typeof m.from !== 'string' || typeof m.to !== 'string' || typeof m.term !== 'number') {
    throw new Error('raft message: malformed');
  }
  return m;
}
