import fc from 'fast-check';
import { it } from 'vitest';
import { checkHistory } from './linearizability.js';
it('frac', () => {
  const arb = fc.array(fc.record({ kind: fc.constantFrom('put' as const, 'get' as const), value: fc.constantFrom(null, 'a', 'b', 'c'), start: fc.integer({ min: 0, max: 30 }), length: fc.integer({ min: 1, max: 15 }), pending: fc.boolean() }), { maxLength: 6 });
  let ok = 0, bad = 0;
  for (const specs of fc.sample(arb, 2000)) {
    let w = 0;
    const h = specs.map((s, i) => s.kind === 'put' ? { id: i, key: 'x', kind: 'put' as const, input: `w${w++}`, output: null, call: s.start*100+i, ret: s.pending ? Infinity : (s.start+s.length)*100+50+i } : { id: i, key: 'x', kind: 'get' as const, input: null, output: s.value === null ? null : `w${'abc'.indexOf(s.value)}`, call: s.start*100+i, ret: (s.start+s.length)*100+50+i });
    if (checkHistory(h).ok) ok++; else bad++;
  }
  console.log({ ok, bad });
});
