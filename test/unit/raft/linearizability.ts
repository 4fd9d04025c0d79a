// Linearizability checker for a key-value store of registers (Wing & Gong's search with Lowe's
// memoization, as in Porcupine). Keys are independent registers, so the history is split by key
// and each part checked alone, which keeps the search small.

export interface Operation {
  id: number;
  key: string;
  kind: 'put' | 'get';
  /** The value written by a put. */
  input: string | null;
  /** The value a get returned; null for "absent". */
  output: string | null;
  /** Logical times; every call and return time is distinct. */
  call: number;
  /** Infinity when the outcome is unknown (the client never heard back). */
  ret: number;
}

/** The sequential specification the history is checked against. */
export interface Model<S> {
  readonly init: S;
  /** The state after `op`, or undefined when `op` could not have returned what it did. */
  step(state: S, op: Operation): S | undefined;
  /** Identifies a state for memoization. */
  key(state: S): string;
}

export const registerModel: Model<string | null> = {
  init: null,
  step: (state, op) => (op.kind === 'put' ? op.input : op.output === state ? state : undefined),
  key: (state) => state ?? '\u0000',
};

export interface CheckResult {
  ok: boolean;
  /** The key whose history has no linearization. */
  key?: string;
}

/**
 * Check a register history. Values written must be unique. A put whose outcome is unknown and
 * whose value no get returned can always be linearized last, so it is left out: each such put
 * would otherwise double the search space.
 */
export function checkHistory(history: readonly Operation[], model: Model<string | null> = registerModel): CheckResult {
  const observed = new Set(history.filter((op) => op.kind === 'get').map((op) => `${op.key}/${op.output}`));
  const byKey = new Map<string, Operation[]>();
  for (const op of history) {
    if (op.kind === 'put' && op.ret === Infinity && !observed.has(`${op.key}/${op.input}`)) continue;
    const ops = byKey.get(op.key) ?? [];
    ops.push(op);
    byKey.set(op.key, ops);
  }
  for (const [key, ops] of byKey) if (!linearizable(ops, model)) return { ok: false, key };
  return { ok: true };
}

/** A call or return event in a doubly linked list that the search lifts entries out of. */
interface Event {
  op: number;
  isCall: boolean;
  time: number;
  /** For a call: its return. */
  match: Event | null;
  prev: Event | null;
  next: Event | null;
}

export function linearizable<S>(ops: readonly Operation[], model: Model<S>): boolean {
  const events: Event[] = [];
  ops.forEach((op, i) => {
    const ret: Event = { op: i, isCall: false, time: op.ret, match: null, prev: null, next: null };
    events.push({ op: i, isCall: true, time: op.call, match: ret, prev: null, next: null }, ret);
  });
  // Unknown outcomes all return "at the end"; their relative order does not matter.
  events.sort((a, b) => a.time - b.time || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Event = { op: -1, isCall: false, time: -Infinity, match: null, prev: null, next: null };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }

  const done = new Uint32Array(Math.ceil(ops.length / 32));
  const flip = (i: number): void => {
    done[i >>> 5]! ^= 1 << (i & 31);
  };
  // Two searches reaching the same set of linearized operations in the same state are
  // interchangeable; remembering the pairs already explored is what makes this tractable.
  const seen = new Set<string>();
  const stack: { call: Event; state: S }[] = [];
  let state = model.init;
  let entry = head.next;

  while (head.next !== null) {
    if (entry === null) return false;
    if (entry.isCall) {
      const op = ops[entry.op]!;
      const next = model.step(state, op);
      if (next !== undefined) {
        flip(entry.op);
        const key = `${done.join(',')}|${model.key(next)}`;
        if (!seen.has(key)) {
          seen.add(key);
          stack.push({ call: entry, state });
          state = next;
          lift(entry);
          entry = head.next;
          continue;
        }
        flip(entry.op);
      }
      entry = entry.next;
    } else {
      // A return: the operation it closes must be linearized before anything after it. Undo
      // the most recent choice and try the next candidate instead.
      const top = stack.pop();
      if (top === undefined) return false;
      state = top.state;
      flip(top.call.op);
      unlift(top.call);
      entry = top.call.next;
    }
  }
  return true;
}

function lift(call: Event): void {
  const ret = call.match!;
  call.prev!.next = call.next;
  if (call.next) call.next.prev = call.prev;
  ret.prev!.next = ret.next;
  if (ret.next) ret.next.prev = ret.prev;
}

function unlift(call: Event): void {
  const ret = call.match!;
  ret.prev!.next = ret;
  if (ret.next) ret.next.prev = ret;
  call.prev!.next = call;
  if (call.next) call.next.prev = call;
}
