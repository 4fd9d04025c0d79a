import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory, type Operation } from './linearizability.js';

let nextId = 0;
const put = (key: string, value: string, call: number, ret = Infinity): Operation => ({
  id: nextId++,
  key,
  kind: 'put',
  input: value,
  output: null,
  call,
  ret,
});
const get = (key: string, value: string | null, call: number, ret: number): Operation => ({
  id: nextId++,
  key,
  kind: 'get',
  input: null,
  output: value,
  call,
  ret,
});

describe('linearizability checker: known histories', () => {
  const ok: [string, Operation[]][] = [
    ['an empty history', []],
    ['a read of the initial value', [get('x', null, 1, 2)]],
    ['sequential write then read', [put('x', 'a', 1, 2), get('x', 'a', 3, 4)]],
    ['a read concurrent with a write sees the old value', [put('x', 'a', 1, 4), get('x', null, 2, 3)]],
    ['a read concurrent with a write sees the new value', [put('x', 'a', 1, 4), get('x', 'a', 2, 3)]],
    ['concurrent writes observed in either order', [put('x', 'a', 1, 5), put('x', 'b', 2, 6), get('x', 'b', 7, 8), get('x', 'b', 9, 10)]],
    ['a write with unknown outcome that took effect', [put('x', 'a', 1), get('x', 'a', 5, 6)]],
    ['a write with unknown outcome that did not take effect', [put('x', 'a', 1), get('x', null, 5, 6)]],
    ['independent keys', [put('x', 'a', 1, 2), put('y', 'b', 3, 4), get('x', 'a', 5, 6), get('y', 'b', 7, 8)]],
  ];
  for (const [name, history] of ok) it(`accepts ${name}`, () => expect(checkHistory(history).ok).toBe(true));

  const bad: [string, Operation[], string][] = [
    ['a stale read after a completed write', [put('x', 'a', 1, 2), put('x', 'b', 3, 4), get('x', 'a', 5, 6)], 'x'],
    ['a read of a value never written', [put('x', 'a', 1, 2), get('x', 'c', 3, 4)], 'x'],
    ['reads that see the new value and then the old one', [put('x', 'a', 1, 10), get('x', 'a', 2, 3), get('x', null, 4, 5)], 'x'],
    ['a write with unknown outcome seen, then unseen', [put('x', 'a', 1), get('x', 'a', 5, 6), get('x', null, 7, 8)], 'x'],
    [
      'two readers disagreeing on the order of two writes',
      [put('y', 'a', 1, 20), put('y', 'b', 2, 20), get('y', 'a', 3, 4), get('y', 'b', 5, 6), get('y', 'a', 7, 8)],
      'y',
    ],
    ['a violation on one key among good ones', [put('x', 'a', 1, 2), get('x', 'a', 3, 4), get('z', 'q', 5, 6)], 'z'],
  ];
  for (const [name, history, key] of bad) {
    it(`rejects ${name}`, () => expect(checkHistory(history)).toEqual({ ok: false, key }));
  }
});

/** Every interleaving that respects real time, tried one by one: the oracle for small histories. */
function bruteForce(history: readonly Operation[]): boolean {
  const search = (left: readonly Operation[], state: string | null): boolean => {
    if (left.every((op) => op.ret === Infinity && op.kind === 'put')) return true; // the rest may never happen
    return left.some((op, i) => {
      // op may go next only if nothing left returned before op was called.
      if (left.some((other) => other !== op && other.ret < op.call)) return false;
      const rest = left.filter((_, j) => j !== i);
      if (op.kind === 'put') return search(rest, op.input);
      return op.output === state && search(rest, state);
    });
  };
  return search(history, null);
}

/** Random small register histories with distinct event times; some writes never return. */
const smallHistory = fc
  .array(
    fc.record({
      kind: fc.constantFrom('put' as const, 'get' as const),
      value: fc.constantFrom(null, 'a', 'b', 'c'),
      start: fc.integer({ min: 0, max: 30 }),
      length: fc.integer({ min: 1, max: 15 }),
      pending: fc.boolean(),
    }),
    { maxLength: 6 },
  )
  .map((specs) => {
    let written = 0;
    return specs.map((s, i): Operation => {
      const call = s.start * 100 + i; // distinct times
      const ret = (s.start + s.length) * 100 + 50 + i;
      if (s.kind === 'put') {
        return { id: i, key: 'x', kind: 'put', input: `w${written++}`, output: null, call, ret: s.pending ? Infinity : ret };
      }
      const output = s.value === null ? null : `w${'abc'.indexOf(s.value)}`;
      return { id: i, key: 'x', kind: 'get', input: null, output, call, ret };
    });
  });

describe('linearizability checker: properties', () => {
  it('agrees with brute force on small random histories', () => {
    fc.assert(
      fc.property(smallHistory, (h) => {
        expect(checkHistory(h).ok).toBe(bruteForce(h));
      }),
      { numRuns: 2000 },
    );
  });

  it('accepts every history produced by a real register', () => {
    // Operations take effect at distinct instants inside their [call, ret] window.
    const ops = fc.array(fc.record({ isPut: fc.boolean(), key: fc.constantFrom('x', 'y'), before: fc.nat(20), after: fc.nat(20) }), { maxLength: 40 });
    fc.assert(
      fc.property(ops, (specs) => {
        const state = new Map<string, string>();
        const history = specs.map((s, i): Operation => {
          const at = (i + 1) * 1000;
          const base = { id: i, key: s.key, call: at - 1 - s.before * 40, ret: at + 1 + s.after * 40 };
          if (s.isPut) {
            state.set(s.key, `v${i}`);
            return { ...base, kind: 'put', input: `v${i}`, output: null };
          }
          return { ...base, kind: 'get', input: null, output: state.get(s.key) ?? null };
        });
        expect(checkHistory(history).ok).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
