import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isUnknown, record, t, unknown, valueEquals } from '../../../provider/plugin/cty.js';
import type { Value, ValueRecord } from '../../../provider/plugin/cty.js';
import { defaultPlan } from '../../../provider/plugin/plan.js';
import type { Schema } from '../../../provider/plugin/schema.js';

const schema: Schema = {
  attributes: {
    id: { type: t.string, computed: true },
    name: { type: t.string, required: true },
    size: { type: t.number, optional: true },
    zone: { type: t.string, optional: true, computed: true, requiresReplace: true },
    serial: { type: t.number, computed: true },
  },
  blocks: {
    rule: { nesting: 'list', block: { attributes: { port: { type: t.number, required: true }, key: { type: t.string, computed: true } } } },
    peer: { nesting: 'set', block: { attributes: { ip: { type: t.string, required: true }, mac: { type: t.string, computed: true } } } },
  },
};

const obj = (o: Record<string, Value>): ValueRecord => record(Object.entries(o));
const config = (o: Record<string, Value>): ValueRecord => obj({ id: null, name: null, size: null, zone: null, serial: null, rule: [], peer: [], ...o });

describe('defaultPlan on create', () => {
  it('marks unset computed attributes unknown and keeps config values', () => {
    const c = config({ name: 'a', size: 3 });
    const { planned, requiresReplace } = defaultPlan(schema, null, c, c);
    expect(isUnknown(planned!.id)).toBe(true);
    expect(isUnknown(planned!.zone)).toBe(true);
    expect(isUnknown(planned!.serial)).toBe(true);
    expect(planned!.name).toBe('a');
    expect(planned!.size).toBe(3);
    expect(requiresReplace).toEqual([]);
  });

  it('keeps an optional+computed value set in config, and unknown config stays unknown', () => {
    const c = config({ name: unknown, zone: 'zone-b' });
    const { planned } = defaultPlan(schema, null, c, c);
    expect(planned!.zone).toBe('zone-b');
    expect(isUnknown(planned!.name)).toBe(true);
  });

  it('marks computed attributes of nested blocks unknown', () => {
    const c = config({ name: 'a', rule: [obj({ port: 80, key: null })], peer: [obj({ ip: '10.0.0.1', mac: null })] });
    const { planned } = defaultPlan(schema, null, c, c);
    expect(isUnknown(((planned!.rule as Value[])[0] as ValueRecord).key)).toBe(true);
    expect(isUnknown(((planned!.peer as Value[])[0] as ValueRecord).mac)).toBe(true);
  });
});

describe('defaultPlan on update', () => {
  const prior = config({
    id: 'x',
    name: 'a',
    size: 3,
    zone: 'zone-a',
    serial: 1,
    rule: [obj({ port: 80, key: 'k1' })],
    peer: [obj({ ip: '10.0.0.1', mac: 'm1' })],
  });

  it('keeps prior computed values (terraform proposes them) and plans no change when nothing changed', () => {
    const c = config({ name: 'a', size: 3, rule: [obj({ port: 80, key: null })], peer: [obj({ ip: '10.0.0.1', mac: null })] });
    const { planned, requiresReplace } = defaultPlan(schema, prior, prior, c);
    expect(valueEquals(planned, prior)).toBe(true);
    expect(requiresReplace).toEqual([]);
  });

  it('changes in place without replacement for ordinary attributes', () => {
    const proposed = obj({ ...prior, size: 4 });
    const { planned, requiresReplace } = defaultPlan(schema, prior, proposed, config({ name: 'a', size: 4 }));
    expect(planned!.size).toBe(4);
    expect(planned!.id).toBe('x');
    expect(planned!.serial).toBe(1);
    expect(requiresReplace).toEqual([]);
  });

  it('asks for replacement when a replace-only attribute changes or becomes unknown', () => {
    expect(defaultPlan(schema, prior, obj({ ...prior, zone: 'zone-b' }), config({ name: 'a', zone: 'zone-b' })).requiresReplace).toEqual([['zone']]);
    expect(defaultPlan(schema, prior, obj({ ...prior, zone: unknown }), config({ name: 'a', zone: unknown })).requiresReplace).toEqual([['zone']]);
  });

  it('marks computed attributes unknown only in nested elements that are new', () => {
    const proposed = obj({ ...prior, rule: [obj({ port: 80, key: 'k1' }), obj({ port: 81, key: null })] });
    const { planned } = defaultPlan(schema, prior, proposed, config({ name: 'a', rule: [obj({ port: 80, key: null }), obj({ port: 81, key: null })] }));
    const rules = planned!.rule as ValueRecord[];
    expect(rules[0]!.key).toBe('k1');
    expect(isUnknown(rules[1]!.key)).toBe(true);
  });

  it('plans null for a destroy', () => {
    expect(defaultPlan(schema, prior, null, null)).toEqual({ planned: null, requiresReplace: [] });
  });

  it('never changes a known config value (property)', () => {
    fc.assert(
      fc.property(fc.option(fc.integer(), { nil: null }), fc.string(), fc.boolean(), (size, name, create) => {
        const c = config({ name, size });
        const { planned } = defaultPlan(schema, create ? null : prior, c, c);
        return planned!.name === name && planned!.size === size;
      }),
    );
  });
});
