// Raft messages between agents: msgpack of the core's own message objects (entries carry their
// data as binary). Peers are authenticated by mutual TLS; decoding still checks the shape so that
// a bug on one side is an error here rather than a corrupt raft state.
//
// Appends carry up to a megabyte of entries, so encoding copies each byte as few times as it can:
// one msgpack encoder whose buffer is reused (a fresh one grows by doubling, copying each time),
// and StepRequest framed by hand into one buffer (the generated writer copies into chunks, joins
// them, and the generated serializer copies that once more).

import { decode, Encoder } from '@msgpack/msgpack';
import type { StepRequest } from '../../../gen/vxcloud/agent/v1/volume.js';
import type { Message } from '../raft/index.js';

const TYPES = new Set(['vote', 'voteResp', 'append', 'appendResp', 'heartbeat', 'heartbeatResp', 'snapshot', 'timeoutNow', 'readIndex', 'readIndexResp']);

const encoder = new Encoder({ initialBufferSize: 4 * 1024 * 1024 });

export function encodeMessage(m: Message): Buffer {
  return Buffer.from(encoder.encodeSharedRef(m));
}

export function decodeMessage(b: Uint8Array): Message {
  const m = decode(b) as Message;
  if (typeof m !== 'object' || m === null || !TYPES.has(m.type) || typeof m.from !== 'string' || typeof m.to !== 'string' || typeof m.term !== 'number') {
    throw new Error('raft message: malformed');
  }
  return m;
}

const varintLength = (n: number): number => {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    len++;
  }
  return len;
};

function writeVarint(buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) {
    buf[at++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 0x80);
  }
  buf[at++] = n;
  return at;
}

/** StepRequest in protobuf's encoding (field 1: volume_id, field 2: each message), one copy of each message. */
export function encodeStepRequest(req: StepRequest): Buffer {
  const id = Buffer.from(req.volumeId, 'utf8');
  let size = id.length > 0 ? 1 + varintLength(id.length) + id.length : 0;
  for (const m of req.messages) size += 1 + varintLength(m.length) + m.length;
  const out = Buffer.allocUnsafe(size);
  let at = 0;
  if (id.length > 0) {
    out[at++] = (1 << 3) | 2;
    at = writeVarint(out, at, id.length);
    at += id.copy(out, at);
  }
  for (const m of req.messages) {
    out[at++] = (2 << 3) | 2;
    at = writeVarint(out, at, m.length);
    out.set(m, at);
    at += m.length;
  }
  return out;
}
