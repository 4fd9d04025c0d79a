// The one place agent/net hands callbacks to the `netlink` addon. The addon calls JavaScript from
// native code; anything thrown there — including from a nextTick or a promise reaction run when
// that call unwinds — aborts the process. So every callback below catches everything, and every
// promise is settled from setImmediate, outside the native call.

import { RawNetlinkSocket } from 'netlink';
import { NETLINK_ROUTE, NLMSG_DONE, NLMSG_ERROR, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST } from './constants.js';
import { decodeMsgs, encodeMsg, errorCode, type NlMsg } from './codec.js';
import { errnoName, toNetError } from './errors.js';
import { NetError } from './types.js';

/** One reply wait: a single request, a dump, or a batch of seqs first..last. */
interface Pending {
  first: number;
  last: number;
  dump: boolean;
  replies: NlMsg[];
  /** errno by seq, for batches. */
  errors: Map<number, number>;
  interrupted: boolean;
  timer: NodeJS.Timeout;
  resolve(v: Reply): void;
  reject(e: unknown): void;
}

interface Reply {
  msgs: NlMsg[];
  errors: Map<number, number>;
  interrupted: boolean;
}

export interface RtnlMessage {
  type: number;
  flags: number;
  payload: Buffer;
}

export interface BatchError {
  /** Index in the batch. */
  index: number;
  errno: string;
}

const TIMEOUT_MS = 10_000;
const DUMP_RETRIES = 5;

export class Rtnl {
  private readonly sock: RawNetlinkSocket;
  private readonly pending = new Map<number, Pending>();
  /** seq of each batch member → its batch's first seq. */
  private readonly batchOf = new Map<number, number>();
  private seq = 1;
  private closed = false;
  /** The kernel runs one dump per socket at a time (EBUSY otherwise), so dumps queue here. */
  private dumpQueue: Promise<unknown> = Promise.resolve();

  /** Creates the socket in the calling thread's current network namespace. */
  constructor() {
    // 4 MiB asked; the kernel caps it at rmem_max, which is still enough for a batch's errors.
    this.sock = new RawNetlinkSocket(NETLINK_ROUTE, { recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    this.sock.unref();
    this.sock.on('message', (buf) => {
      try {
        this.onDatagram(buf);
      } catch (err) {
        this.failAll(err);
      }
    });
    // Without a listener, EventEmitter would throw the error back into native code.
    this.sock.on('error', (err) => {
      try {
        this.failAll(err);
      } catch {
        // nothing left to do safely here
      }
    });
  }

  /** A request answered by an ACK (or, for GET by name, a reply then an ACK). */
  async request(type: number, flags: number, payload: Buffer, op: string, obj: string): Promise<NlMsg[]> {
    const reply = await this.exchange([{ type, flags: flags | NLM_F_REQUEST | NLM_F_ACK, payload }], false);
    const errno = reply.errors.values().next().value;
    if (errno !== undefined) throw new NetError(errnoName(errno), op, obj);
    return reply.msgs;
  }

  /** All objects of a dump; restarts when the kernel flags the dump as interrupted by a change. */
  dump(type: number, payload: Buffer, op: string, obj: string): Promise<NlMsg[]> {
    const result = this.dumpQueue.then(() => this.dumpNow(type, payload, op, obj));
    this.dumpQueue = result.catch(() => undefined);
    return result;
  }

  private async dumpNow(type: number, payload: Buffer, op: string, obj: string): Promise<NlMsg[]> {
    for (let attempt = 0; ; attempt++) {
      const reply = await this.exchange([{ type, flags: NLM_F_REQUEST | NLM_F_DUMP, payload }], true);
      const errno = reply.errors.values().next().value;
      if (errno !== undefined) throw new NetError(errnoName(errno), op, obj);
      if (!reply.interrupted || attempt >= DUMP_RETRIES) return reply.msgs;
    }
  }

  /**
   * Many requests in one datagram. Only the last asks for an ACK: the kernel handles the
   * messages in order and reports every failure, so its ACK means all earlier errors have
   * already been queued, and each error carries the seq of the message it concerned.
   */
  async batch(msgs: RtnlMessage[]): Promise<BatchError[]> {
    if (msgs.length === 0) return [];
    const framed = msgs.map((m, i) => ({
      type: m.type,
      flags: m.flags | NLM_F_REQUEST | (i === msgs.length - 1 ? NLM_F_ACK : 0),
      payload: m.payload,
    }));
    const reply = await this.exchange(framed, false);
    const first = reply.first;
    return [...reply.errors].map(([seq, errno]) => ({ index: (seq - first) >>> 0, errno: errnoName(errno) }));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.failAll(new NetError('EBADF', 'use', 'netlink socket', 'closed'));
    this.sock.close();
  }

  private exchange(msgs: RtnlMessage[], dump: boolean): Promise<Reply & { first: number }> {
    if (this.closed) return Promise.reject(new NetError('EBADF', 'use', 'netlink socket', 'closed'));
    const first = this.nextSeqs(msgs.length);
    const last = (first + msgs.length - 1) >>> 0;
    const bufs = msgs.map((m, i) => encodeMsg(m.type, m.flags, (first + i) >>> 0, m.payload));
    return new Promise<Reply & { first: number }>((resolve, reject) => {
      const p: Pending = {
        first,
        last,
        dump,
        replies: [],
        errors: new Map(),
        interrupted: false,
        timer: setTimeout(() => {
          this.settle(p, new NetError('ETIMEDOUT', 'wait for', 'netlink reply'));
        }, TIMEOUT_MS),
        resolve: (v) => resolve({ ...v, first }),
        reject,
      };
      this.pending.set(first, p);
      for (let i = 1; i < msgs.length; i++) this.batchOf.set((first + i) >>> 0, first);
      if (this.pending.size === 1) this.sock.ref();
      try {
        // An array is one sendmsg with an iovec, i.e. one datagram.
        this.sock.send(bufs.length === 1 ? bufs[0]! : bufs, {}, (err) => {
          try {
            if (err) this.settle(p, toNetError(err, 'send', 'netlink request'));
          } catch {
            // settle never throws; this guards native code regardless
          }
        });
      } catch (err) {
        this.settle(p, toNetError(err, 'send', 'netlink request'));
      }
    });
  }

  private nextSeqs(n: number): number {
    const first = this.seq;
    this.seq = (this.seq + n) % 0x7fffffff || 1;
    return first;
  }

  private onDatagram(buf: Buffer): void {
    for (const msg of decodeMsgs(buf)) {
      const first = this.pending.has(msg.seq) ? msg.seq : this.batchOf.get(msg.seq);
      const p = first === undefined ? undefined : this.pending.get(first);
      if (!p) continue; // a late reply to a request that timed out
      if (msg.flags & NLM_F_DUMP_INTR) p.interrupted = true;
      if (msg.type === NLMSG_ERROR) {
        const errno = errorCode(msg.data);
        if (errno !== 0) p.errors.set(msg.seq, errno);
        if (msg.seq === p.last || p.dump) this.settle(p);
      } else if (msg.type === NLMSG_DONE) {
        const errno = errorCode(msg.data);
        if (errno !== 0) p.errors.set(msg.seq, errno);
        this.settle(p);
      } else {
        p.replies.push(msg);
      }
    }
  }

  private settle(p: Pending, err?: unknown): void {
    if (this.pending.get(p.first) !== p) return;
    this.pending.delete(p.first);
    for (let s = p.first; s !== p.last; s = (s + 1) >>> 0) this.batchOf.delete((s + 1) >>> 0);
    clearTimeout(p.timer);
    if (this.pending.size === 0 && !this.closed) this.sock.unref();
    setImmediate(() => {
      if (err !== undefined) p.reject(err);
      else p.resolve({ msgs: p.replies, errors: p.errors, interrupted: p.interrupted });
    });
  }

  private failAll(err: unknown): void {
    const netErr = toNetError(err, 'receive', 'netlink reply');
    for (const p of [...this.pending.values()]) this.settle(p, netErr);
  }
}
